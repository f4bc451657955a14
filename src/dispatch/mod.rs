//! The dispatcher: the one place that decides which side runs an op, runs it,
//! falls back to the CPU when the GPU fails under `Policy::Auto`, and records
//! what ran where, why, and what it predicted.
//!
//! With a measured profile (`tandem calibrate`, see [`profile`]) each side's time
//! is predicted from the op's measured curve, plus the transfers that side would
//! need for data that is not already where it needs it; Auto takes the faster
//! side, or splits element-wise work between both when that is predicted to win.
//! Without a profile it keeps conservative built-in rules. GPU work runs on the
//! calling thread, never on a rayon worker.

pub mod calibrate;
mod op;
pub mod profile;
mod reason;

pub use op::Op;
pub use reason::Reason;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::element::Element;
use crate::error::{Error, ErrorKind, Result};
use crate::gpu::GpuBackend;
use crate::{Buffer, Policy};
use profile::{OpCurves, Profile};

/// A side that runs ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Multicore CPU code on rayon.
    Cpu,
    /// A WGSL kernel through wgpu.
    Gpu,
    /// Both at once: the GPU took the first part of the range, the CPU the rest.
    Split,
}

/// What one op call did, kept by the context (see [`crate::Context::last_run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The op's name, e.g. "sum".
    pub op: &'static str,
    /// Elements in the op's main input (multiply-adds for matmul).
    pub len: usize,
    /// The policy of the context that made the call.
    pub policy: Policy,
    /// The side that produced the result.
    pub side: Side,
    /// Why that side was chosen.
    pub reason: Reason,
    /// The cost model's prediction for the CPU side, transfers included (with a profile).
    pub predicted_cpu: Option<Duration>,
    /// The cost model's prediction for the GPU side, transfers included (with a profile).
    pub predicted_gpu: Option<Duration>,
    /// The cost model's prediction for a split, where one was considered.
    pub predicted_split: Option<Duration>,
    /// For [`Side::Split`]: the share of the elements the GPU ran.
    pub gpu_share: Option<f64>,
    /// Set when the GPU failed and the op re-ran on the CPU: the GPU's error.
    pub fallback: Option<String>,
    /// Set when the call failed: the error it returned (then `side` is the side
    /// that failed, or the GPU for a call refused before running).
    pub error: Option<String>,
    /// Wall time of the op, decision and any fallback included.
    pub elapsed: Duration,
}

/// What the dispatcher needs to know about one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub op: Op,
    /// The element type's WGSL name.
    pub ty: &'static str,
    /// Elements of the main input; multiply-adds for matmul. The cost model's work.
    pub len: usize,
    /// Every input already has a valid copy on the GPU.
    pub inputs_on_device: bool,
    /// Every input has a valid host copy.
    pub inputs_on_host: bool,
    /// The GPU has a kernel for this op and element type.
    pub gpu_supported: bool,
    /// Why the GPU cannot run this call, when `gpu_supported` is false: what
    /// Policy::Gpu's error says.
    pub gpu_gap: GpuGap,
    /// Bytes of all inputs.
    pub in_bytes: u64,
    /// Input bytes with no copy on the GPU: the GPU side must upload them.
    pub upload_bytes: u64,
    /// Input bytes with no host copy: the CPU side must read them back.
    pub readback_bytes: u64,
    /// Bytes of a buffer result. A GPU result stays on the GPU; when the inputs
    /// came from the host the model counts reading it back, as the caller will.
    pub out_bytes: u64,
    /// The op can run split between GPU and CPU ([`Op::splittable`]).
    pub splittable: bool,
    /// A user kernel's id (0 for built-in ops): its cost is learned from its own runs.
    pub kernel: u64,
    /// Auto's fast path: every input is on the host and the work is below the
    /// profile's [`Profile::cpu_only_below_for`] the op, so the CPU runs it without a
    /// prediction. Set only by `ops::call`, which then skips the GPU's handle
    /// and residency (`gpu_supported` and `inputs_on_device` are false).
    pub host_fast: bool,
}

/// Why the GPU cannot run a call ([`Work::gpu_gap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpuGap {
    /// tandem has no GPU kernel for this op and element type.
    NoKernel,
    /// The kernel needs f64 and the adapter lacks SHADER_F64.
    NoF64,
    /// More elements than a kernel indexes (32-bit indices).
    TooLong,
    /// A buffer the kernel binds is empty (a zero-size binding is invalid).
    EmptyBinding,
}

impl GpuGap {
    /// Policy::Gpu's error for a call the GPU cannot run.
    fn error(self, w: &Work) -> Error {
        let unsupported = |why| Error::Unsupported {
            op: w.op.name(),
            ty: w.ty,
            side: "GPU",
            why,
        };
        match self {
            GpuGap::NoKernel => unsupported("tandem has no GPU kernel for this op and element type"),
            GpuGap::NoF64 => unsupported("the adapter lacks SHADER_F64, which f64 kernels need"),
            GpuGap::TooLong => Error::LimitExceeded {
                what: "elements in one GPU op (kernels index with 32 bits)",
                requested: w.len as u64,
                limit: u32::MAX as u64 - 1,
            },
            GpuGap::EmptyBinding => Error::InvalidArgument {
                op: w.op.name(),
                message: "a buffer argument is empty, and a GPU binding cannot be; skip the call or pass non-empty buffers".into(),
            },
        }
    }
}

/// An op's input as the dispatcher sees it, whatever its element type.
pub(crate) trait Input {
    /// The element type.
    fn scalar(&self) -> crate::element::ScalarType;
    /// Number of elements.
    fn elems(&self) -> usize;
    /// Whether it has a valid host copy, and a valid copy on `gpu`.
    fn copies_on(&self, gpu: Option<&GpuBackend>) -> (bool, bool);
}

impl<T: Element> Input for Buffer<T> {
    fn scalar(&self) -> crate::element::ScalarType {
        T::SCALAR
    }
    fn elems(&self) -> usize {
        self.len()
    }
    fn copies_on(&self, gpu: Option<&GpuBackend>) -> (bool, bool) {
        Buffer::copies_on(self, gpu)
    }
}

impl Work {
    /// A call of `op` on `ty` elements over `len` elements, before its inputs are added.
    pub fn new(op: Op, ty: &'static str, len: usize) -> Work {
        Work {
            op,
            ty,
            len,
            inputs_on_device: true,
            inputs_on_host: true,
            gpu_supported: false,
            gpu_gap: GpuGap::NoKernel,
            in_bytes: 0,
            upload_bytes: 0,
            readback_bytes: 0,
            out_bytes: 0,
            splittable: op.splittable(),
            kernel: 0,
            host_fast: false,
        }
    }

    /// Counts `b` as an input: where it lives, and what moving it would cost.
    pub fn input(&mut self, gpu: Option<&GpuBackend>, b: &dyn Input) {
        let (host, device) = b.copies_on(gpu);
        let bytes = (b.elems() * b.scalar().size()) as u64;
        self.in_bytes += bytes;
        self.inputs_on_host &= host;
        self.inputs_on_device &= device;
        if !device {
            self.upload_bytes += bytes;
        }
        if !host {
            self.readback_bytes += bytes;
        }
    }

    /// Declares a buffer result of `elems` elements of `T`.
    pub fn output<T: Element>(mut self, elems: usize) -> Work {
        self.out_bytes = (elems * std::mem::size_of::<T>()) as u64;
        self
    }
}

/// Elements from which Auto sends host-resident data to a hardware GPU (no profile).
pub(crate) const CROSSOVER_HOST: usize = 1 << 22;
/// Elements from which Auto runs on a hardware GPU when the inputs are already there (no profile).
pub(crate) const CROSSOVER_DEVICE: usize = 1 << 14;
/// The fewest elements Auto splits; below, the extra thread and submission cost more than they save.
const SPLIT_MIN: usize = 1 << 16;
/// The cost of a split beyond its two parts: a thread, and joining the results.
const SPLIT_OVERHEAD_S: f64 = 60e-6;
/// Auto splits only when the split is predicted at least this much faster than the better side.
const SPLIT_GAIN: f64 = 0.9;
/// How many records a context keeps.
const LOG_CAPACITY: usize = 1024;

/// The decision for one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decision {
    pub side: Side,
    pub reason: Reason,
    pub predicted_cpu: Option<f64>,
    pub predicted_gpu: Option<f64>,
    /// The predicted time of a split, where one was considered.
    pub predicted_split: Option<f64>,
    /// The GPU's share of the elements under [`Side::Split`] (and, where a
    /// split was considered, the share a split would give it).
    pub gpu_share: f64,
}

impl Decision {
    /// The predicted time of running on `side`, where there is one.
    fn predicted(&self, side: Side) -> Option<f64> {
        match side {
            Side::Cpu => self.predicted_cpu,
            Side::Gpu => self.predicted_gpu,
            Side::Split => self.predicted_split,
        }
    }

    fn plain(side: Side, reason: Reason) -> Decision {
        Decision {
            side,
            reason,
            predicted_cpu: None,
            predicted_gpu: None,
            predicted_split: None,
            gpu_share: 0.0,
        }
    }
}

/// A split's predicted time from its two sides' (`gpu_moved`: the GPU moving
/// all its inputs and its result), were they independent: both parts end
/// together, plus the thread and the join. The profile's `split_factor` says
/// how far from independent they measured.
pub(crate) fn split_seconds(cpu: f64, gpu_moved: f64) -> f64 {
    cpu * gpu_moved / (cpu + gpu_moved) + SPLIT_OVERHEAD_S
}

/// An op's curves in the profile.
fn curves(p: &Profile, op: Op) -> Option<&OpCurves> {
    p.ops.get(op.curve().name())
}

/// The model's predictions for one call: (CPU seconds, GPU seconds, GPU seconds
/// when the GPU also moves all its inputs and its result, as a split part does).
pub(crate) fn predict(p: &Profile, w: &Work) -> Option<(f64, f64, f64)> {
    let c = curves(p, w.op)?;
    let work = w.len as f64;
    let gpu_compute = c.gpu.predict(work, p.gpu_fixed_s)?;
    let cpu = c.cpu.predict(work, 0.0)? + p.readback.seconds(w.readback_bytes);
    let gpu = gpu_compute + p.upload.seconds(w.upload_bytes) + result_back_seconds(p, w);
    let gpu_all_moved =
        gpu_compute + p.upload.seconds(w.in_bytes) + p.readback.seconds(w.out_bytes);
    Some((cpu, gpu, gpu_all_moved))
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
fn balanced_share(cpu_s: f64, gpu_s: f64) -> f64 {
    (cpu_s / (cpu_s + gpu_s)).clamp(0.0, 1.0)
}

/// Auto's choice from predicted times (`split` where a split is possible): a
/// split must beat the better side by [`SPLIT_GAIN`], and `incumbent`, the side
/// last chosen for this kernel and size, is compared as if [`SWITCH_MARGIN`]
/// faster, so that near-equal options do not flip the choice back and forth.
fn choose(cpu: f64, gpu: f64, split: Option<f64>, incumbent: Option<Side>) -> Side {
    let held = |side, t: f64| match incumbent == Some(side) {
        true => t * (1.0 - SWITCH_MARGIN),
        false => t,
    };
    let (cpu, gpu) = (held(Side::Cpu, cpu), held(Side::Gpu, gpu));
    match split.map(|t| held(Side::Split, t)) {
        Some(t) if t < SPLIT_GAIN * cpu.min(gpu) => Side::Split,
        _ if gpu < cpu => Side::Gpu,
        _ => Side::Cpu,
    }
}

/// The decision for one call.
pub(crate) fn decide(
    policy: Policy,
    gpu: Option<&GpuBackend>,
    crossover: Option<usize>,
    profile: Option<&Profile>,
    learned: Factors,
    w: &Work,
) -> Result<Decision> {
    let plain = |side, reason| Ok(Decision::plain(side, reason));
    // The profile's prediction, scaled by what this kernel's own runs showed.
    let predicted = profile.and_then(|p| {
        let (c, g, m) = predict(p, w)?;
        let (c, g, m) = (c * learned.cpu, g * learned.gpu, m * learned.gpu);
        Some((
            c,
            g,
            m,
            split_seconds(c, m) * p.split_factor * learned.split,
        ))
    });
    match policy {
        Policy::Cpu => plain(Side::Cpu, Reason::PolicyCpu),
        Policy::Gpu => {
            let Some(gpu) = gpu else {
                return Err(Error::NoAdapter {
                    reason: "Policy::Gpu needs a GPU, and this context has none".into(),
                });
            };
            gpu.check_alive()?;
            if w.len == 0 {
                return plain(Side::Cpu, Reason::EmptyInput);
            }
            if !w.gpu_supported {
                return Err(w.gpu_gap.error(w));
            }
            plain(Side::Gpu, Reason::PolicyGpu)
        }
        Policy::Split if w.splittable && w.len >= 2 => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, Reason::SplitWithoutGpu);
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, Reason::SplitGpuLost);
            }
            if !w.gpu_supported {
                return plain(Side::Cpu, Reason::SplitNoKernel);
            }
            Ok(match predicted {
                Some((cpu, _, gpu_moved, split)) => Decision {
                    side: Side::Split,
                    reason: Reason::SplitByThroughput,
                    predicted_cpu: Some(cpu),
                    predicted_gpu: Some(gpu_moved),
                    predicted_split: Some(split),
                    gpu_share: balanced_share(cpu, gpu_moved),
                },
                None => Decision {
                    gpu_share: 0.5,
                    ..Decision::plain(Side::Split, Reason::SplitHalves)
                },
            })
        }
        Policy::Auto | Policy::Split => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, Reason::NoAdapter);
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, Reason::GpuLost);
            }
            if w.len == 0 {
                return plain(Side::Cpu, Reason::EmptyInput);
            }
            if !w.gpu_supported {
                return plain(Side::Cpu, Reason::NoKernel);
            }
            if let Some(c) = crossover {
                return if w.len >= c {
                    plain(Side::Gpu, Reason::AboveCrossover)
                } else {
                    plain(Side::Cpu, Reason::BelowCrossover)
                };
            }
            if let Some((cpu, gpu, gpu_moved, split)) = predicted {
                let can_split = w.splittable && w.inputs_on_host && w.len >= SPLIT_MIN;
                let split = can_split.then_some(split);
                let side = choose(cpu, gpu, split, learned.incumbent);
                return Ok(Decision {
                    side,
                    reason: match side {
                        Side::Split => Reason::PredictedSplit,
                        Side::Gpu => Reason::PredictedGpu,
                        Side::Cpu => Reason::PredictedCpu,
                    },
                    predicted_cpu: Some(cpu),
                    predicted_gpu: Some(gpu),
                    predicted_split: split,
                    gpu_share: balanced_share(cpu, gpu_moved),
                });
            }
            if w.inputs_on_device && !w.inputs_on_host {
                return plain(Side::Gpu, Reason::NoProfileDataOnGpu);
            }
            if gpu.info.is_software {
                return plain(Side::Cpu, Reason::NoProfileSoftwareGpu);
            }
            let threshold = if w.inputs_on_device {
                CROSSOVER_DEVICE
            } else {
                CROSSOVER_HOST
            };
            if w.len >= threshold {
                plain(Side::Gpu, Reason::NoProfileLargeWork)
            } else {
                plain(Side::Cpu, Reason::NoProfileSmallWork)
            }
        }
    }
}

/// How much tandem prints to stderr by itself, from `TANDEM_LOG` (off, warn,
/// info, debug; default warn). Every message also goes to `tracing`.
pub(crate) fn stderr_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var("TANDEM_LOG")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "off" | "none" | "error" | "0" => 0,
            "info" => 2,
            "debug" | "trace" => 3,
            _ => 1,
        }
    })
}

/// The bounded log of run records a context keeps.
#[derive(Default)]
pub(crate) struct RunLog {
    records: Mutex<VecDeque<RunRecord>>,
}

fn micros(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e6)
}

impl RunLog {
    pub fn push(&self, r: RunRecord) {
        tracing::debug!(
            target: "tandem::dispatch",
            op = r.op,
            len = r.len,
            policy = ?r.policy,
            side = ?r.side,
            reason = r.reason.as_str(),
            predicted_cpu_us = micros(r.predicted_cpu),
            predicted_gpu_us = micros(r.predicted_gpu),
            predicted_split_us = micros(r.predicted_split),
            gpu_share = r.gpu_share,
            fallback = r.fallback.as_deref(),
            elapsed_us = r.elapsed.as_micros() as u64,
            "op ran"
        );
        if stderr_level() >= 3 {
            eprintln!(
                "tandem: {} n={} on {:?} under {:?} ({}); predicted cpu {:?}, gpu {:?}{}; took {:?}{}",
                r.op,
                r.len,
                r.side,
                r.policy,
                r.reason,
                r.predicted_cpu,
                r.predicted_gpu,
                r.predicted_split
                    .map(|s| format!(", split {s:?}"))
                    .unwrap_or_default(),
                r.elapsed,
                r.fallback
                    .as_deref()
                    .map(|f| format!("; GPU failed, re-ran on the CPU: {f}"))
                    .unwrap_or_default()
            );
        }
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

/// What user kernels' own runs showed: measured time over the profile's
/// prediction, per kernel, size and side. The profile knows only a light
/// calibration kernel; a heavy one is corrected after its first run on a side.
/// Sizes are learned apart (by power of two), since a kernel's cost need not
/// scale as the calibration kernel's does: a size not yet run borrows the
/// nearest learned size's factor.
#[derive(Default)]
pub(crate) struct Learned {
    kernels: Mutex<std::collections::HashMap<u64, std::collections::BTreeMap<u32, KernelHistory>>>,
}

/// The size class a run's length falls in: its power of two.
fn size_class(len: usize) -> u32 {
    len.max(1).ilog2()
}

/// One user kernel's learned factors at one size class, how many times Auto
/// chose for it there, and what.
#[derive(Default, Clone, Copy)]
struct KernelHistory {
    cpu: Learnt,
    gpu: Learnt,
    split: Learnt,
    /// Auto's choices here so far.
    calls: u64,
    /// The early re-measuring (see [`EARLY_WITHIN`]) was done here.
    early: bool,
    /// An option whose re-measuring burst has one more run due.
    burst: Option<Side>,
    /// The side Auto last chose here (not counting re-measuring runs).
    incumbent: Option<Side>,
}

/// How many user kernels a context keeps learned costs for; a new one past this
/// replaces an arbitrary other.
const LEARN_KERNELS: usize = 1024;
/// How many of a side's latest runs its factor is taken from. Many: on a
/// shared machine a slow spell lasts several runs, and a short window would
/// let it raise the estimate of the side that kept running above the other's,
/// measured before the spell, and flip the choice.
const LEARN_WINDOW: usize = 32;

/// How many runs at a size a side needs before its own runs alone give its
/// factor there. Until then the factor is the lower of its own and the nearest
/// size's (see [`Learned::factors`]): a side's first runs at a size often pay
/// for fresh allocations or for threads that the last work left crowded on one
/// core (on this 2-core machine, the first ~30 CPU runs after half a second of
/// shader compiling took 2x), and a side judged slow is not run again soon. A
/// side judged fast is run, so the optimistic error corrects itself.
const SETTLED_RUNS: u32 = 3;

/// One side's learned factor, from its latest runs.
#[derive(Default, Clone, Copy)]
struct Learnt {
    /// The least of `recent`; None before the first run.
    factor: Option<f64>,
    /// Measured over predicted, for the latest runs (a ring).
    recent: [f64; LEARN_WINDOW],
    runs: u32,
    /// The size's call count (see [`KernelHistory::calls`]) at the latest
    /// run; None before the first.
    last_call: Option<u64>,
}

impl KernelHistory {
    fn of_mut(&mut self, side: Side) -> &mut Learnt {
        match side {
            Side::Cpu => &mut self.cpu,
            Side::Gpu => &mut self.gpu,
            Side::Split => &mut self.split,
        }
    }

    /// The option to re-measure on this call instead of `d`'s choice, if any
    /// (see [`Learned::explore`]); the one measured longest ago here (never
    /// first), then the faster.
    fn explore(&mut self, d: &Decision) -> Option<Side> {
        let chosen = d.predicted(d.side)?;
        let mut options: Vec<(Side, f64, Option<u64>)> = [Side::Cpu, Side::Gpu, Side::Split]
            .into_iter()
            .filter(|&s| s != d.side)
            .filter_map(|s| Some((s, d.predicted(s)?, self.of_mut(s).last_call)))
            .filter(|&(_, t, _)| t < EXPLORE_WITHIN * chosen)
            .collect();
        // The second run of a re-measuring burst.
        if let Some(s) = self.burst.take() {
            if options.iter().any(|o| o.0 == s) {
                return Some(s);
            }
        }
        // A side whose every run here is old may have been measured in a slow
        // spell: the least recently measured goes first (None, never, before all).
        options.sort_by(|a, b| a.2.cmp(&b.2).then(a.1.total_cmp(&b.1)));
        let pick = if self.calls >= 2 && !self.early {
            let early = options
                .iter()
                .find(|&&(_, t, last)| t < EARLY_WITHIN * chosen && last.is_none());
            self.early = early.is_some();
            early
        } else {
            None
        };
        let pick = match pick {
            Some(&(s, ..)) => Some(s),
            None if self.calls >= EXPLORE_FROM && self.calls.is_power_of_two() => {
                options.first().map(|&(s, ..)| s)
            }
            None => None,
        };
        self.burst = pick;
        pick
    }
}

impl Learnt {
    /// Learns from one more run that took `ratio` times the prediction.
    ///
    /// The factor is the least ratio of the side's last [`LEARN_WINDOW`] runs.
    /// Timing noise here is one-sided: a shader compile, the other side's threads
    /// still winding down, or a busy core only ever add time, so the fastest
    /// recent run is the best estimate of what the side does in steady use, and
    /// one slow run cannot swing a choice. A lasting slowdown shows once it fills
    /// the window.
    fn learn(&mut self, ratio: f64) {
        self.recent[self.runs as usize % LEARN_WINDOW] = ratio;
        self.runs = self.runs.saturating_add(1);
        let filled = (self.runs as usize).min(LEARN_WINDOW);
        self.factor = self.recent[..filled].iter().copied().reduce(f64::min);
    }
}

/// Measured over predicted time, per side: what the profile's predictions are
/// multiplied by (1 where nothing was learned); and the side Auto last chose at
/// this size, which keeps the choice unless another is [`SWITCH_MARGIN`] faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Factors {
    pub cpu: f64,
    pub gpu: f64,
    pub split: f64,
    pub incumbent: Option<Side>,
}

impl Factors {
    /// Nothing learned: the profile as it is.
    pub const ONE: Factors = Factors {
        cpu: 1.0,
        gpu: 1.0,
        split: 1.0,
        incumbent: None,
    };

    fn of(self, side: Side) -> f64 {
        match side {
            Side::Cpu => self.cpu,
            Side::Gpu => self.gpu,
            Side::Split => self.split,
        }
    }
}

/// Runs shorter than this are too noisy to learn from.
const LEARN_MIN_S: f64 = 20e-6;
/// Auto re-measures the side it did not choose only when that side is predicted
/// within this factor of the chosen one: a stale or unlucky first measurement
/// (a shader compile, a busy machine) must not decide a kernel's side forever.
const EXPLORE_WITHIN: f64 = 3.0;
/// The first call at which Auto may re-measure; then at every power of two, so
/// that re-measuring costs a vanishing share of the calls.
const EXPLORE_FROM: u64 = 16;
/// From a size's second call, the fastest other option predicted within this
/// factor of the choice that has not run at this size is re-measured, once per
/// size: its prediction may be borrowed from another size, and a close call is
/// where a wrong side costs the most calls.
///
/// Every re-measuring is a burst of two consecutive runs: the first run after
/// the other side often pays for that side's threads (rayon's workers spin a
/// while before they sleep; a software GPU's threads share the cores), and the
/// learned factor, the least recent run, then comes from the second.
const EARLY_WITHIN: f64 = 1.25;
/// Auto moves a kernel off the side it last chose at a size only when another
/// is predicted faster by more than this share. Sides within it cost about the
/// same, and flipping between them costs more: on a machine where the GPU
/// driver and the CPU pool share cores, the first run after a switch pays for
/// the other side's threads.
const SWITCH_MARGIN: f64 = 0.05;

impl Learned {
    /// The factors learned for `kernel` over `len` elements: at this size class
    /// where that side ran there, else at the nearest one where it did.
    pub fn factors(&self, kernel: u64, len: usize) -> Factors {
        let m = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sizes) = m.get(&kernel) else {
            return Factors::ONE;
        };
        let class = size_class(len);
        let factor = |side: fn(&KernelHistory) -> &Learnt| {
            let own = sizes.get(&class).map(side).filter(|l| l.runs > 0);
            let borrowed = || {
                sizes
                    .iter()
                    .filter(|&(&c, _)| c != class)
                    .filter_map(|(c, h)| Some((c.abs_diff(class), side(h).factor?)))
                    .min_by_key(|&(d, _)| d)
                    .map(|(_, f)| f)
            };
            match own {
                // A side's first runs at a size may have paid for a slow spell
                // (see SETTLED_RUNS): the lower of them and the nearest other
                // size's factor; with one run and no other size, the profile's
                // own prediction.
                Some(l) if l.runs < SETTLED_RUNS => {
                    let other = borrowed().or((l.runs == 1).then_some(1.0));
                    l.factor.map(|f| other.map_or(f, |o| f.min(o)))
                }
                Some(l) => l.factor,
                None => borrowed(),
            }
            .unwrap_or(1.0)
        };
        Factors {
            cpu: factor(|h| &h.cpu),
            gpu: factor(|h| &h.gpu),
            split: factor(|h| &h.split),
            incumbent: sizes.get(&class).and_then(|h| h.incumbent),
        }
    }

    /// Counts one of Auto's choices `d` for `kernel` over `len` elements, and
    /// may name another option to re-measure instead, for two calls in a row:
    /// - once, from the second call at this size class, the fastest predicted
    ///   within [`EARLY_WITHIN`] of the choice that has not run here;
    /// - on calls 16, 32, 64, ..., of those predicted within [`EXPLORE_WITHIN`]
    ///   of the choice, the one measured longest ago here (never first).
    ///
    /// Otherwise the choice becomes this size's incumbent (see [`Factors`]).
    pub fn explore(&self, kernel: u64, len: usize, d: &Decision) -> Option<Side> {
        self.at(kernel, len, |h| {
            h.calls += 1;
            let pick = h.explore(d);
            if pick.is_none() {
                h.incumbent = Some(d.side);
            }
            pick
        })
    }

    /// Records a run over `len` elements that took `measured` seconds where the
    /// profile predicted `predicted`.
    pub fn observe(&self, kernel: u64, len: usize, side: Side, measured: f64, predicted: f64) {
        if measured < LEARN_MIN_S || predicted <= 0.0 {
            return;
        }
        let ratio = (measured / predicted).clamp(1e-3, 1e4);
        self.at(kernel, len, |h| {
            let calls = h.calls;
            let l = h.of_mut(side);
            l.learn(ratio);
            l.last_call = Some(calls);
        });
    }

    /// Runs `f` on `kernel`'s history at `len`'s size class, made if new.
    fn at<R>(&self, kernel: u64, len: usize, f: impl FnOnce(&mut KernelHistory) -> R) -> R {
        let mut m = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: kernels made in a loop must not grow the table forever.
        if m.len() >= LEARN_KERNELS && !m.contains_key(&kernel) {
            if let Some(&old) = m.keys().next() {
                m.remove(&old);
            }
        }
        f(m.entry(kernel)
            .or_default()
            .entry(size_class(len))
            .or_default())
    }
}

/// Runs `gpu`, after any simulated fault; on an out-of-memory error frees
/// tandem's cached device memory and tries once more.
fn attempt_gpu<R>(
    ctx: &crate::Context,
    g: &Arc<GpuBackend>,
    op: &'static str,
    gpu: &mut impl FnMut(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    let mut once = || match ctx.take_simulated_fault(op, g) {
        Some(e) => Err(e),
        None => gpu(g).map_err(|e| g.lost_or(e)),
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

/// Decides, runs and records one op. `cpu` and `gpu` compute the same result.
pub(crate) fn run<R>(
    ctx: &crate::Context,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    let work = Work {
        splittable: false,
        ..work
    };
    run_split(ctx, work, cpu, gpu, |_: &Arc<GpuBackend>, _: usize| {
        Err(Error::Unsupported {
            op: work.op.name(),
            ty: work.ty,
            side: "GPU and CPU together",
            why: "this op cannot be split",
        })
    })
}

/// As [`run`], for an op Split can divide: `split(gpu, cut)` computes the same
/// result with the GPU on elements `..cut` and the CPU on `cut..` at once
/// (see [`both`]).
pub(crate) fn run_split<R>(
    ctx: &crate::Context,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    mut gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
    split: impl FnOnce(&Arc<GpuBackend>, usize) -> Result<R>,
) -> Result<R> {
    let start = Instant::now();
    let policy = ctx.policy();
    // Auto's fast path: host data too small for the GPU's fixed cost alone, per the profile.
    if policy == Policy::Auto && work.host_fast {
        let result = cpu();
        ctx.log().push(RunRecord {
            op: work.op.name(),
            len: work.len,
            policy,
            side: Side::Cpu,
            reason: Reason::CpuBeforeGpuFixedCost,
            predicted_cpu: None,
            predicted_gpu: None,
            predicted_split: None,
            gpu_share: None,
            fallback: None,
            error: result.as_ref().err().map(|e| e.to_string()),
            elapsed: start.elapsed(),
        });
        return result;
    }
    let backend = ctx.gpu_for(policy);
    let profile = match policy {
        Policy::Auto | Policy::Split => ctx.profile_for_dispatch(),
        _ => None,
    };
    let learned = match work.kernel {
        0 => Factors::ONE,
        k => ctx.learned().factors(k, work.len),
    };
    let d = match decide(
        policy,
        backend.as_deref(),
        ctx.crossover(),
        profile.as_deref(),
        learned,
        &work,
    ) {
        Ok(d) => d,
        Err(e) => {
            // A refused call still leaves its record, so that `last_run` never
            // describes an earlier op.
            ctx.log().push(RunRecord {
                op: work.op.name(),
                len: work.len,
                policy,
                side: Side::Gpu,
                reason: Reason::Refused,
                predicted_cpu: None,
                predicted_gpu: None,
                predicted_split: None,
                gpu_share: None,
                fallback: None,
                error: Some(e.to_string()),
                elapsed: start.elapsed(),
            });
            return Err(e);
        }
    };
    let explore = if policy == Policy::Auto && work.kernel != 0 {
        ctx.learned().explore(work.kernel, work.len, &d)
    } else {
        None
    };
    let d = match explore {
        Some(side) => Decision {
            side,
            reason: Reason::Exploring,
            ..d
        },
        None => d,
    };
    let may_fall_back = matches!(policy, Policy::Auto | Policy::Split);
    // Auto learns from its own runs of user kernels, but not from one that
    // compiled a shader or made a staging buffer: that one-off cost says
    // nothing about the next run.
    let learning = (policy == Policy::Auto && work.kernel != 0).then(|| backend.clone());
    let one_offs = |b: &Option<Arc<GpuBackend>>| b.as_ref().map_or(0, |g| g.one_off_setups());
    let one_offs_before = learning.as_ref().map(one_offs);
    let mut gpu_share = None;
    let (result, side, fallback) = match (d.side, backend) {
        (Side::Cpu, _) | (_, None) => (cpu(), Side::Cpu, None),
        (side, Some(g)) => {
            let r = if side == Side::Split {
                // Whole chunks of 1,024 for each side, at least one element each.
                let n = work.len;
                let cut = ((n as f64 * d.gpu_share) as usize / 1024 * 1024).clamp(1, n - 1);
                gpu_share = Some(cut as f64 / n as f64);
                match ctx.take_simulated_fault(work.op.name(), &g) {
                    Some(e) => Err(e),
                    None => split(&g, cut).map_err(|e| g.lost_or(e)),
                }
            } else {
                attempt_gpu(ctx, &g, work.op.name(), &mut gpu)
            };
            match r {
                Ok(r) => (Ok(r), side, None),
                Err(e) if may_fall_back && e.is_device_failure() => {
                    tracing::warn!(target: "tandem::dispatch", op = work.op.name(), "GPU failed, re-running on the CPU: {e}");
                    gpu_share = None;
                    (cpu(), Side::Cpu, Some(e.to_string()))
                }
                Err(e) => (Err(e), side, None),
            }
        }
    };
    let elapsed = start.elapsed();
    let learn = match (&learning, one_offs_before) {
        (Some(b), Some(before)) => result.is_ok() && fallback.is_none() && one_offs(b) == before,
        _ => false,
    };
    if learn {
        if let Some(p) = d.predicted(side) {
            // Undo the factor already applied, so that the new one is against the profile.
            let base = p / learned.of(side);
            // The GPU's prediction counts reading its result back, which the run
            // left to the caller: add the model's time for it, or the GPU would
            // look that much faster than it is end to end.
            let result_back = match (side, &profile) {
                (Side::Gpu, Some(p)) => result_back_seconds(p, &work),
                _ => 0.0,
            };
            ctx.learned().observe(
                work.kernel,
                work.len,
                side,
                elapsed.as_secs_f64() + result_back,
                base,
            );
        }
    }
    let secs = |s: Option<f64>| s.map(Duration::from_secs_f64);
    ctx.log().push(RunRecord {
        op: work.op.name(),
        len: work.len,
        policy,
        side,
        reason: d.reason,
        predicted_cpu: secs(d.predicted_cpu),
        predicted_gpu: secs(d.predicted_gpu),
        predicted_split: secs(d.predicted_split),
        gpu_share,
        fallback,
        error: result.as_ref().err().map(|e| e.to_string()),
        elapsed,
    });
    result
}

/// Runs `gpu_part` on the calling thread and `cpu_part` on a helper thread (whose
/// rayon work goes to the pool) at the same time, and returns both results.
/// A panic in `cpu_part` resumes on the caller.
pub(crate) fn both<G, C: Send>(
    gpu_part: impl FnOnce() -> Result<G>,
    cpu_part: impl FnOnce() -> Result<C> + Send,
) -> Result<(G, C)> {
    std::thread::scope(|s| {
        let h = s.spawn(cpu_part);
        let g = gpu_part();
        let c = match h.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok((g?, c?))
    })
}

/// The two halves of a split over host data: the GPU gets fresh device copies of
/// `inputs[..][..cut]` and runs `gpu_part` on them, while `cpu_part` runs on
/// `inputs[..][cut..]` at the same time.
pub(crate) fn split_parts<'a, T: Element, G, C: Send>(
    g: &Arc<GpuBackend>,
    op: &'static str,
    inputs: &[&'a [T]],
    cut: usize,
    gpu_part: impl FnOnce(&[wgpu::Buffer]) -> Result<G>,
    cpu_part: impl FnOnce(&[&'a [T]]) -> Result<C> + Send,
) -> Result<(G, C)> {
    let heads: Vec<&[T]> = inputs.iter().map(|x| &x[..cut]).collect();
    let tails: Vec<&[T]> = inputs.iter().map(|x| &x[cut..]).collect();
    both(
        || {
            let bufs = heads
                .iter()
                .map(|h| {
                    let b = g.create_storage(op, std::mem::size_of_val(*h) as u64)?;
                    g.write(op, &b, h)?;
                    Ok(b)
                })
                .collect::<Result<Vec<_>>>()?;
            gpu_part(&bufs)
        },
        move || cpu_part(&tails),
    )
}

/// [`split_parts`] for an element-wise op: the GPU's part is read back and the
/// two parts are joined into one host result.
pub(crate) fn split_elementwise<T: Element>(
    g: &Arc<GpuBackend>,
    op: &'static str,
    inputs: &[&[T]],
    cut: usize,
    gpu_part: impl FnOnce(&[wgpu::Buffer]) -> Result<wgpu::Buffer>,
    cpu_part: impl FnOnce(&[&[T]]) -> Vec<T> + Send,
) -> Result<Buffer<T>> {
    let (mut head, tail) = split_parts(
        g,
        op,
        inputs,
        cut,
        |bufs| {
            let out = gpu_part(bufs)?;
            g.read::<T>(op, &out, 0, cut)
        },
        |tails| Ok(cpu_part(tails)),
    )?;
    head.extend_from_slice(&tail);
    Ok(Buffer::from_host(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Auto's choice of the GPU, predicted at 1 s, with the CPU and a split at
    /// `cpu` and `split` seconds.
    fn gpu_chosen(cpu: f64, split: f64) -> Decision {
        Decision {
            side: Side::Gpu,
            reason: Reason::PredictedGpu,
            predicted_cpu: Some(cpu),
            predicted_gpu: Some(1.0),
            predicted_split: Some(split),
            gpu_share: 0.5,
        }
    }

    #[test]
    fn learned_factors_are_the_fastest_recent_run() {
        let l = Learned::default();
        let n = 1 << 20;
        let gpu = |l: &Learned, k| l.factors(k, n).gpu;
        assert_eq!(l.factors(7, n), Factors::ONE);
        // A first GPU run slowed by a shader compile: 40x the prediction. Alone
        // at its size, it counts only where below the profile's prediction.
        l.observe(7, n, Side::Gpu, 40e-3, 1e-3);
        assert_eq!(gpu(&l, 7), 1.0);
        // The second, 4x: the factor.
        l.observe(7, n, Side::Gpu, 4e-3, 1e-3);
        assert_eq!(gpu(&l, 7), 4.0);
        // A slow run (64x) changes nothing.
        l.observe(7, n, Side::Gpu, 64e-3, 1e-3);
        assert_eq!(gpu(&l, 7), 4.0);
        // A lasting change (now 8x) shows once the 4x run leaves the window.
        for _ in 0..LEARN_WINDOW - 2 {
            l.observe(7, n, Side::Gpu, 8e-3, 1e-3);
        }
        assert_eq!(gpu(&l, 7), 4.0);
        l.observe(7, n, Side::Gpu, 8e-3, 1e-3);
        assert_eq!(gpu(&l, 7), 8.0);
        // Runs too short to time well teach nothing; sides and kernels are apart.
        l.observe(7, n, Side::Cpu, 1e-6, 1e-9);
        for _ in 0..2 {
            l.observe(7, n, Side::Split, 2e-3, 1e-3);
            l.observe(8, n, Side::Cpu, 1e-3, 1e-3 / 3.0);
        }
        let f = l.factors(7, n);
        assert_eq!((f.cpu, f.split), (1.0, 2.0));
        assert!((l.factors(8, n).cpu - 3.0).abs() < 1e-12);
        assert_eq!(l.factors(7, n).cpu, 1.0);
    }

    #[test]
    fn learned_sizes_are_apart_and_unseen_sizes_borrow_the_nearest() {
        let l = Learned::default();
        for _ in 0..SETTLED_RUNS {
            l.observe(1, 1 << 10, Side::Gpu, 1e-3, 1e-4);
            l.observe(1, 1 << 20, Side::Gpu, 2e-3, 1e-3);
            l.observe(1, 1 << 20, Side::Cpu, 3e-3, 1e-3);
        }
        assert_eq!(l.factors(1, 1 << 10).gpu, 10.0);
        // Same power of two, same class.
        assert_eq!(l.factors(1, (1 << 20) + 5).gpu, 2.0);
        assert_eq!(l.factors(1, 1 << 12).gpu, 10.0);
        assert_eq!(l.factors(1, 1 << 18).gpu, 2.0);
        // The CPU ran only at 2^20: every size borrows it.
        assert_eq!(l.factors(1, 1 << 10).cpu, 3.0);
        assert_eq!(l.factors(1, 1 << 10).split, 1.0);
        // One run at a new size (it may have paid for fresh allocations) counts
        // only where it is below the nearest size's factor...
        l.observe(1, 1 << 14, Side::Gpu, 50e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 14).gpu, 10.0);
        l.observe(1, 1 << 16, Side::Gpu, 1e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 16).gpu, 1.0);
        // Where no other size has run that side, the profile's prediction is
        // the other candidate.
        l.observe(1, 1 << 16, Side::Split, 5e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 16).split, 1.0);
        l.observe(1, 1 << 16, Side::Split, 4e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 16).split, 4.0);
        // ...and so does a second, where another size has run that side;
        // from the third on, the size's own runs decide.
        l.observe(1, 1 << 14, Side::Gpu, 40e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 14).gpu, 1.0);
        l.observe(1, 1 << 14, Side::Gpu, 45e-3, 1e-3);
        assert_eq!(l.factors(1, 1 << 14).gpu, 40.0);
    }

    #[test]
    fn auto_keeps_its_side_unless_another_is_clearly_faster() {
        use Side::*;
        // No incumbent: the faster side; a split must win by SPLIT_GAIN.
        assert_eq!(choose(1.0, 0.98, None, None), Gpu);
        assert_eq!(choose(1.0, 1.02, None, None), Cpu);
        assert_eq!(choose(1.0, 1.2, Some(0.95), None), Cpu);
        assert_eq!(choose(1.0, 1.2, Some(0.85), None), Split);
        // Within SWITCH_MARGIN, the incumbent stays...
        assert_eq!(choose(1.0, 0.97, None, Some(Cpu)), Cpu);
        assert_eq!(choose(0.97, 1.0, None, Some(Gpu)), Gpu);
        assert_eq!(choose(1.0, 1.2, Some(0.92), Some(Split)), Split);
        // ...and past it, the faster side takes over.
        assert_eq!(choose(1.0, 0.9, None, Some(Cpu)), Gpu);
        assert_eq!(choose(0.9, 1.0, None, Some(Gpu)), Cpu);
        assert_eq!(choose(1.0, 1.2, Some(0.99), Some(Split)), Cpu);
    }

    #[test]
    fn a_close_option_is_measured_early_once() {
        let l = Learned::default();
        let d = gpu_chosen(1.2, 1.1);
        // The first call runs the choice; the next two the fastest close option
        // (a burst of two), then the choice until the powers of two.
        let mut picks = Vec::new();
        for _ in 0..17 {
            let p = l.explore(9, 1 << 20, &d);
            if let Some(s) = p {
                l.observe(9, 1 << 20, s, 1.0, 1.0);
            }
            picks.push(p);
        }
        let early: Vec<_> = picks.iter().take(4).copied().collect();
        assert_eq!(early, [None, Some(Side::Split), Some(Side::Split), None]);
        assert!(picks[3..15].iter().all(Option::is_none));
        // Call 16: the option measured longest ago (never), twice.
        assert_eq!(picks[15..], [Some(Side::Cpu), Some(Side::Cpu)]);
        // The choice, not a re-measuring run, is the size's incumbent.
        assert_eq!(l.factors(9, 1 << 20).incumbent, Some(Side::Gpu));
        // Runs too short to learn from do not make the early rule loop.
        let short = Learned::default();
        let explored = (0..15)
            .filter(|_| short.explore(10, 64, &d).is_some())
            .count();
        assert_eq!(explored, 2);
    }

    #[test]
    fn exploration_comes_at_powers_of_two_from_the_sixteenth_call() {
        let l = Learned::default();
        let d = gpu_chosen(2.0, 1.5);
        let calls: Vec<u64> = (1..=70u64)
            .filter(|_| l.explore(3, 4096, &d).is_some())
            .collect();
        assert_eq!(calls, [16, 17, 32, 33, 64, 65]);
        // Another size class counts apart.
        assert_eq!(l.explore(3, 1 << 20, &d), None);
        // The option measured longest ago goes first (one never measured
        // before all), then the faster one.
        let l = Learned::default();
        let next = |l: &Learned, measured: &[(u64, Side)]| {
            for call in 1..16 {
                for &(_, s) in measured.iter().filter(|m| m.0 == call) {
                    l.observe(4, 64, s, 1.0, 1.0);
                }
                assert_eq!(l.explore(4, 64, &d), None);
            }
            l.explore(4, 64, &d)
        };
        assert_eq!(next(&l, &[]), Some(Side::Split));
        let l2 = Learned::default();
        assert_eq!(next(&l2, &[(1, Side::Split)]), Some(Side::Cpu));
        // Measured more often but longer ago: first (a side's runs all from
        // a slow spell early on get their second look).
        let l5 = Learned::default();
        let both = [(2, Side::Cpu), (3, Side::Cpu), (10, Side::Split)];
        assert_eq!(next(&l5, &both), Some(Side::Cpu));
        // Kernels past the bound replace others; the table stays bounded.
        let l4 = Learned::default();
        for k in 0..LEARN_KERNELS as u64 + 10 {
            l4.observe(k, 64, Side::Cpu, 2.0, 1.0);
            l4.observe(k, 64, Side::Cpu, 2.0, 1.0);
        }
        assert_eq!(l4.kernels.lock().unwrap().len(), LEARN_KERNELS);
        assert_eq!(l4.factors(LEARN_KERNELS as u64 + 9, 64).cpu, 2.0);
        // Nothing within 3x of the choice: no exploring.
        let far = Decision {
            predicted_cpu: Some(3.5),
            predicted_split: None,
            ..d
        };
        let l3 = Learned::default();
        assert!((1..=64).all(|_| l3.explore(5, 64, &far).is_none()));
    }
}
