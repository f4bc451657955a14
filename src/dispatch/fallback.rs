//! Fallback: what happens when the GPU fails. An out-of-memory error is retried
//! once after freeing tandem's cached device memory; a device failure (lost
//! device, out of memory that persists, timeout) under Auto or Split re-runs the
//! call on the CPU (see `dispatch::run`). Tests inject faults here.

use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::gpu::GpuBackend;

/// A GPU fault to simulate on the next GPU attempts, for fault tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimulatedFault {
    /// [`Error::OutOfMemory`], as if a buffer could not be allocated.
    OutOfMemory,
    /// [`Error::Timeout`], as if the GPU never finished.
    Timeout,
}

/// The fault-injection hook: a fault to simulate on the next GPU attempts.
#[derive(Default)]
pub(crate) struct Faults {
    pending: Mutex<Option<(SimulatedFault, u32)>>,
}

impl Faults {
    /// Makes the next `times` GPU attempts fail with `fault` (0: none).
    pub fn set(&self, fault: SimulatedFault, times: u32) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) =
            (times > 0).then_some((fault, times));
    }

    /// The simulated fault for this GPU attempt, if one is pending.
    pub fn take(&self, op: &'static str, g: &GpuBackend) -> Option<Error> {
        let mut f = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, left) = (*f)?;
        *f = (left > 1).then_some((fault, left - 1));
        Some(match fault {
            SimulatedFault::OutOfMemory => Error::OutOfMemory {
                op,
                message: "simulated out-of-memory".into(),
            },
            SimulatedFault::Timeout => Error::Timeout {
                op,
                after: g.timeout,
            },
        })
    }
}

impl Faults {
    /// The simulated fault for a deferred GPU attempt, if a timeout is
    /// pending: it joins the batch and surfaces when the batch is submitted.
    /// A simulated out-of-memory stays with the attempt (allocation happens
    /// while recording).
    pub fn take_deferrable(&self, op: &'static str, g: &GpuBackend) -> Option<Error> {
        let pending = *self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending {
            Some((SimulatedFault::Timeout, _)) => self.take(op, g),
            _ => None,
        }
    }
}

/// Runs `gpu` after any simulated fault, with a lost device's error for
/// whatever failed on it; on an out-of-memory error frees tandem's cached
/// device memory and tries once more.
pub(crate) fn attempt_gpu<R>(
    faults: &Faults,
    g: &Arc<GpuBackend>,
    op: &'static str,
    mut gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    let mut once = || match faults.take(op, g) {
        Some(e) => Err(e),
        None => g.in_gate(|| gpu(g)).map_err(|e| g.lost_or(e)),
    };
    match once() {
        Err(e) if e.kind() == ErrorKind::OutOfMemory => {
            tracing::info!(target: "tandem::dispatch", op, "out of GPU memory; freeing cached buffers and retrying: {e}");
            g.free_cached_memory();
            once()
        }
        r => r,
    }
}
