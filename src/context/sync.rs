//! When the GPU runs what the context recorded: `flush`, `synchronize`, and
//! the counters that show what a loop costs (see `crate::gpu::deferred`).

use crate::error::Result;
use crate::Context;

/// What a context's GPU did so far: submissions, waits and dispatches (see
/// [`Context::stream_stats`]). Differences between two readings show what the
/// code between them cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Command buffers handed to the GPU queue (each `queue.submit`).
    pub submits: u64,
    /// Times the host waited for the GPU (a read, an upload, a synchronous op,
    /// `synchronize`).
    pub waits: u64,
    /// Compute dispatches submitted.
    pub dispatches: u64,
    /// Op calls whose GPU part was deferred into a batch.
    pub deferred: u64,
    /// Deferred op calls whose GPU time was measured with timestamp queries
    /// (see `RunRecord::gpu_time`); 0 on a device without them.
    pub gpu_timed: u64,
}

impl StreamStats {
    /// One line for a loop of `steps` steps: submissions, waits and deferred
    /// calls, and submissions per step.
    pub fn per_step(&self, steps: usize) -> String {
        format!(
            "GPU: {} submissions, {} waits, {} deferred calls for {steps} steps ({:.2} submissions per step)",
            self.submits,
            self.waits,
            self.deferred,
            self.submits as f64 / steps.max(1) as f64
        )
    }

    /// The counts from `earlier` to `self`.
    pub fn since(&self, earlier: &StreamStats) -> StreamStats {
        StreamStats {
            submits: self.submits - earlier.submits,
            waits: self.waits - earlier.waits,
            dispatches: self.dispatches - earlier.dispatches,
            deferred: self.deferred - earlier.deferred,
            gpu_timed: self.gpu_timed - earlier.gpu_timed,
        }
    }
}

impl Context {
    /// Hands the GPU everything recorded so far, without waiting for it.
    /// Ops record into the device's open batch and return at once; the batch
    /// goes to the GPU when a host read needs a result, when it holds 256
    /// dispatches, or here.
    ///
    /// # Errors
    /// A GPU error from submitting the batch; its ops have then re-run on the
    /// CPU where the policy allows, and their outputs hold the answer (or,
    /// under `Policy::Gpu`, the error).
    pub fn flush(&self) -> Result<()> {
        match self.shared.current() {
            Some(g) => g.flush("flush"),
            None => Ok(()),
        }
    }

    /// Submits everything recorded so far and waits until the GPU has finished
    /// it. Needed only to time GPU work or to see its errors at a chosen
    /// point: reads wait for what they read by themselves.
    ///
    /// # Errors
    /// As [`Context::flush`], and [`crate::Error::Timeout`] or
    /// [`crate::Error::DeviceLost`] from the wait (the batches in flight
    /// have then re-run on the CPU where the policy allows).
    pub fn synchronize(&self) -> Result<()> {
        match self.shared.current() {
            Some(g) => g.synchronize("synchronize"),
            None => Ok(()),
        }
    }

    /// The GPU's submissions, waits and dispatches so far, and how many op
    /// calls were deferred; zeros without a GPU.
    pub fn stream_stats(&self) -> StreamStats {
        match self.shared.current() {
            Some(g) => {
                let (submits, waits, dispatches, deferred) = g.stream_counts();
                StreamStats {
                    submits,
                    waits,
                    dispatches,
                    deferred,
                    gpu_timed: g.timings.timed.load(std::sync::atomic::Ordering::Relaxed),
                }
            }
            None => StreamStats::default(),
        }
    }
}
