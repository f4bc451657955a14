//! The dispatcher: the one place that decides which side runs an op, runs it,
//! falls back to the CPU when the GPU fails under `Policy::Auto`, and records
//! what ran where and why.
//!
//! Version one decides from the policy, the work's size, where the inputs live and
//! whether the adapter is a software rasterizer. It never blocks a rayon worker on
//! the GPU: GPU work runs on the calling thread.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::Policy;

/// A side that runs ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Multicore CPU code on rayon.
    Cpu,
    /// A WGSL kernel through wgpu.
    Gpu,
}

/// What one op call did, kept by the context (see [`crate::Context::last_run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The op's name, e.g. "sum".
    pub op: &'static str,
    /// Elements in the op's main input.
    pub len: usize,
    /// The side that produced the result.
    pub side: Side,
    /// Why that side was chosen.
    pub reason: &'static str,
    /// Set when the GPU failed and the op re-ran on the CPU: the GPU's error.
    pub fallback: Option<String>,
    /// Wall time of the op, decision and any fallback included.
    pub elapsed: Duration,
}

/// What the dispatcher needs to know about one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub op: &'static str,
    /// The element type's WGSL name.
    pub ty: &'static str,
    pub len: usize,
    /// Every input already has a valid copy on the GPU.
    pub inputs_on_device: bool,
    /// Every input has a valid host copy.
    pub inputs_on_host: bool,
    /// The GPU has a kernel for this op and element type.
    pub gpu_supported: bool,
}

/// Elements from which Auto sends host-resident data to a hardware GPU.
pub(crate) const CROSSOVER_HOST: usize = 1 << 22;
/// Elements from which Auto runs on a hardware GPU when the inputs are already there.
pub(crate) const CROSSOVER_DEVICE: usize = 1 << 14;
/// How many records a context keeps.
const LOG_CAPACITY: usize = 1024;

/// The decision for one call.
pub(crate) fn decide(
    policy: Policy,
    gpu: Option<&GpuBackend>,
    crossover: Option<usize>,
    w: &Work,
) -> Result<(Side, &'static str)> {
    match policy {
        Policy::Cpu => Ok((Side::Cpu, "Policy::Cpu")),
        Policy::Gpu => {
            let Some(gpu) = gpu else {
                return Err(Error::NoAdapter {
                    reason: "Policy::Gpu needs a GPU, and this context has none".into(),
                });
            };
            gpu.check_alive()?;
            if w.len == 0 {
                return Ok((Side::Cpu, "empty input: answered on the host"));
            }
            if !w.gpu_supported {
                return Err(Error::Unsupported {
                    op: w.op,
                    ty: w.ty,
                    side: "GPU",
                    why: "the adapter lacks the feature its kernel needs",
                });
            }
            Ok((Side::Gpu, "Policy::Gpu"))
        }
        Policy::Auto => {
            let Some(gpu) = gpu else {
                return Ok((Side::Cpu, "no GPU adapter"));
            };
            if gpu.lost_reason().is_some() {
                return Ok((Side::Cpu, "the GPU device was lost"));
            }
            if w.len == 0 {
                return Ok((Side::Cpu, "empty input: answered on the host"));
            }
            if !w.gpu_supported {
                return Ok((
                    Side::Cpu,
                    "no GPU kernel for this element type on this adapter",
                ));
            }
            if let Some(c) = crossover {
                return Ok(if w.len >= c {
                    (Side::Gpu, "at or above the configured GPU crossover")
                } else {
                    (Side::Cpu, "below the configured GPU crossover")
                });
            }
            if w.inputs_on_device && !w.inputs_on_host {
                return Ok((
                    Side::Gpu,
                    "inputs live only on the GPU: reading them back costs more",
                ));
            }
            if gpu.info.is_software {
                return Ok((Side::Cpu, "software GPU adapter: slower than the CPU"));
            }
            let threshold = if w.inputs_on_device {
                CROSSOVER_DEVICE
            } else {
                CROSSOVER_HOST
            };
            Ok(if w.len >= threshold {
                (Side::Gpu, "large work on a hardware GPU")
            } else {
                (Side::Cpu, "small work: the GPU's fixed cost dominates")
            })
        }
    }
}

/// The bounded log of run records a context keeps.
#[derive(Default)]
pub(crate) struct RunLog {
    records: Mutex<VecDeque<RunRecord>>,
}

impl RunLog {
    pub fn push(&self, r: RunRecord) {
        tracing::debug!(
            target: "tandem::dispatch",
            op = r.op,
            len = r.len,
            side = ?r.side,
            reason = r.reason,
            fallback = r.fallback.as_deref(),
            elapsed_us = r.elapsed.as_micros() as u64,
            "op ran"
        );
        let mut g = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() == LOG_CAPACITY {
            g.pop_front();
        }
        g.push_back(r);
    }

    pub fn last(&self) -> Option<RunRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .cloned()
    }

    pub fn all(&self) -> Vec<RunRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Decides, runs and records one op. `cpu` and `gpu` compute the same result.
pub(crate) fn run<R>(
    ctx: &crate::Context,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnOnce(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    let start = Instant::now();
    let backend = ctx.gpu_for(ctx.policy());
    let (side, reason) = decide(ctx.policy(), backend.as_deref(), ctx.crossover(), &work)?;
    let (result, side, fallback) = match (side, backend) {
        (Side::Gpu, Some(g)) => match gpu(&g) {
            Ok(r) => (Ok(r), Side::Gpu, None),
            Err(e) if ctx.policy() == Policy::Auto && e.is_device_failure() => {
                tracing::warn!(target: "tandem::dispatch", op = work.op, "GPU failed, re-running on the CPU: {e}");
                (cpu(), Side::Cpu, Some(e.to_string()))
            }
            Err(e) => (Err(e), Side::Gpu, None),
        },
        _ => (cpu(), Side::Cpu, None),
    };
    ctx.log().push(RunRecord {
        op: work.op,
        len: work.len,
        side,
        reason,
        fallback,
        elapsed: start.elapsed(),
    });
    result
}
