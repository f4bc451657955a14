//! The cost model: pure functions from a profile and a call's [`Work`] to each
//! side's predicted seconds. No state, no clock, no GPU.

use super::profile::{OpCurves, Profile};
use super::Work;

/// Elements from which Auto sends host-resident data to a hardware GPU (no profile).
pub(crate) const CROSSOVER_HOST: usize = 1 << 22;
/// Elements from which Auto runs on a hardware GPU when the inputs are already there (no profile).
pub(crate) const CROSSOVER_DEVICE: usize = 1 << 14;
/// The fewest elements Auto splits; below, the extra thread and submission cost more than they save.
pub(crate) const SPLIT_MIN: usize = 1 << 16;
/// The cost of a split beyond its two parts: a thread, and joining the results.
const SPLIT_OVERHEAD_S: f64 = 60e-6;
/// Auto splits only when the split is predicted at least this much faster than the better side.
pub(crate) const SPLIT_GAIN: f64 = 0.9;

/// Each option's predicted seconds for one call, transfers included.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Predicted {
    /// The CPU, reading back inputs that are only on the GPU.
    pub cpu: f64,
    /// The GPU, uploading inputs not on it (and reading the result back when the
    /// inputs came from the host).
    pub gpu: f64,
    /// The GPU moving all its inputs and its result, as a split's part does.
    pub gpu_moved: f64,
    /// A split, from the two above and the profile's split factor.
    pub split: f64,
}

/// A split's predicted time from its two sides' (`gpu_moved`: the GPU moving
/// all its inputs and its result), were they independent: both parts end
/// together, plus the thread and the join. The profile's `split_factor` says
/// how far from independent they measured.
pub(crate) fn split_seconds(cpu: f64, gpu_moved: f64) -> f64 {
    cpu * gpu_moved / (cpu + gpu_moved) + SPLIT_OVERHEAD_S
}

/// An op's curves in the profile.
fn curves<'a>(p: &'a Profile, w: &Work) -> Option<&'a OpCurves> {
    p.ops.get(w.op.curve().name())
}

/// The model's predictions for one call, where the profile has the op's curve.
pub(crate) fn predict(p: &Profile, w: &Work) -> Option<Predicted> {
    let c = curves(p, w)?;
    let work = w.len as f64;
    let gpu_compute = c.gpu.predict(work, p.gpu_fixed_s)?;
    let cpu = c.cpu.predict(work, 0.0)? + p.readback.seconds(w.readback_bytes);
    let gpu = gpu_compute + p.upload.seconds(w.upload_bytes) + result_back_seconds(p, w);
    let gpu_moved = gpu_compute + p.upload.seconds(w.in_bytes) + p.readback.seconds(w.out_bytes);
    Some(Predicted {
        cpu,
        gpu,
        gpu_moved,
        split: split_seconds(cpu, gpu_moved) * p.split_factor,
    })
}

/// The model's time for reading a GPU result back to the host, which the GPU
/// side's prediction counts when the inputs came from the host (the caller
/// will want the result there too) but the op itself does not do: a GPU result
/// stays on the GPU until the caller reads it.
pub(crate) fn result_back_seconds(p: &Profile, w: &Work) -> f64 {
    if w.upload_bytes > 0 {
        p.readback.seconds(w.out_bytes)
    } else {
        0.0
    }
}

/// The GPU's share that makes both parts of a split finish together.
pub(crate) fn balanced_share(cpu_s: f64, gpu_s: f64) -> f64 {
    (cpu_s / (cpu_s + gpu_s)).clamp(0.0, 1.0)
}
