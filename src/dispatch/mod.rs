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
pub mod profile;

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
    /// The side that produced the result.
    pub side: Side,
    /// Why that side was chosen.
    pub reason: &'static str,
    /// The cost model's prediction for the CPU side, transfers included (with a profile).
    pub predicted_cpu: Option<Duration>,
    /// The cost model's prediction for the GPU side, transfers included (with a profile).
    pub predicted_gpu: Option<Duration>,
    /// For [`Side::Split`]: the share of the elements the GPU ran.
    pub gpu_share: Option<f64>,
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
    /// Elements of the main input; multiply-adds for matmul. The cost model's work.
    pub len: usize,
    /// Every input already has a valid copy on the GPU.
    pub inputs_on_device: bool,
    /// Every input has a valid host copy.
    pub inputs_on_host: bool,
    /// The GPU has a kernel for this op and element type.
    pub gpu_supported: bool,
    /// Bytes of all inputs.
    pub in_bytes: u64,
    /// Input bytes with no copy on the GPU: the GPU side must upload them.
    pub upload_bytes: u64,
    /// Input bytes with no host copy: the CPU side must read them back.
    pub readback_bytes: u64,
    /// Bytes of a buffer result. A GPU result stays on the GPU; when the inputs
    /// came from the host the model counts reading it back, as the caller will.
    pub out_bytes: u64,
    /// The op can run split between GPU and CPU (element-wise, reductions, map kernels).
    pub splittable: bool,
    /// A user kernel's id (0 for built-in ops): its cost is learned from its own runs.
    pub kernel: u64,
}

impl Work {
    /// A call of `op` on `ty` elements over `len` elements, before its inputs are added.
    pub fn new(op: &'static str, ty: &'static str, len: usize) -> Work {
        Work {
            op,
            ty,
            len,
            inputs_on_device: true,
            inputs_on_host: true,
            gpu_supported: false,
            in_bytes: 0,
            upload_bytes: 0,
            readback_bytes: 0,
            out_bytes: 0,
            splittable: false,
            kernel: 0,
        }
    }

    /// Counts `b` as an input: where it lives, and what moving it would cost.
    pub fn input<T: Element>(&mut self, gpu: Option<&GpuBackend>, b: &Buffer<T>) {
        let (host, device) = b.copies_on(gpu);
        let bytes = (b.len() * std::mem::size_of::<T>()) as u64;
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

    /// Marks the op as one Split can divide.
    pub fn splittable(mut self) -> Work {
        self.splittable = true;
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
    pub reason: &'static str,
    pub predicted_cpu: Option<f64>,
    pub predicted_gpu: Option<f64>,
    /// The GPU's share of the elements under [`Side::Split`].
    pub gpu_share: f64,
}

impl Decision {
    fn plain(side: Side, reason: &'static str) -> Decision {
        Decision {
            side,
            reason,
            predicted_cpu: None,
            predicted_gpu: None,
            gpu_share: 0.0,
        }
    }
}

/// An op's curves in the profile; ops that cost the same share one.
fn curves<'a>(p: &'a Profile, op: &str) -> Option<&'a OpCurves> {
    let name = match op {
        "min" | "max" | "argmin" => "argmax",
        "sub" | "mul" => "add",
        "fill" => "scale",
        "exclusive_scan" => "inclusive_scan",
        "compact" | "count_if" => "compact_if",
        "run_wgsl" => "map",
        other => other,
    };
    p.ops.get(name).or_else(|| p.ops.get("map"))
}

/// The model's predictions for one call: (CPU seconds, GPU seconds, GPU seconds
/// when the GPU also moves all its inputs and its result, as a split part does).
pub(crate) fn predict(p: &Profile, w: &Work) -> Option<(f64, f64, f64)> {
    let c = curves(p, w.op)?;
    let work = w.len as f64;
    let gpu_compute = c.gpu.predict(work, p.gpu_fixed_s)?;
    let cpu = c.cpu.predict(work, 0.0)? + p.readback.seconds(w.readback_bytes);
    let result_back = if w.upload_bytes > 0 {
        p.readback.seconds(w.out_bytes)
    } else {
        0.0
    };
    let gpu = gpu_compute + p.upload.seconds(w.upload_bytes) + result_back;
    let gpu_all_moved =
        gpu_compute + p.upload.seconds(w.in_bytes) + p.readback.seconds(w.out_bytes);
    Some((cpu, gpu, gpu_all_moved))
}

/// The GPU's share that makes both parts of a split finish together.
fn balanced_share(cpu_s: f64, gpu_s: f64) -> f64 {
    (cpu_s / (cpu_s + gpu_s)).clamp(0.0, 1.0)
}

/// The decision for one call.
pub(crate) fn decide(
    policy: Policy,
    gpu: Option<&GpuBackend>,
    crossover: Option<usize>,
    profile: Option<&Profile>,
    learned: (f64, f64),
    w: &Work,
) -> Result<Decision> {
    let plain = |side, reason| Ok(Decision::plain(side, reason));
    // The profile's prediction, scaled by what this kernel's own runs showed.
    let predicted = profile
        .and_then(|p| predict(p, w))
        .map(|(c, g, m)| (c * learned.0, g * learned.1, m * learned.1));
    match policy {
        Policy::Cpu => plain(Side::Cpu, "Policy::Cpu"),
        Policy::Gpu => {
            let Some(gpu) = gpu else {
                return Err(Error::NoAdapter {
                    reason: "Policy::Gpu needs a GPU, and this context has none".into(),
                });
            };
            gpu.check_alive()?;
            if w.len == 0 {
                return plain(Side::Cpu, "empty input: answered on the host");
            }
            if !w.gpu_supported {
                return Err(Error::Unsupported {
                    op: w.op,
                    ty: w.ty,
                    side: "GPU",
                    why: "the adapter lacks the feature its kernel needs",
                });
            }
            plain(Side::Gpu, "Policy::Gpu")
        }
        Policy::Split if w.splittable && w.len >= 2 => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, "Policy::Split without a GPU: all on the CPU");
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, "Policy::Split, but the GPU device was lost");
            }
            if !w.gpu_supported {
                return plain(
                    Side::Cpu,
                    "Policy::Split, but no GPU kernel for this element type",
                );
            }
            Ok(match predicted {
                Some((cpu, _, gpu_moved)) => Decision {
                    side: Side::Split,
                    reason: "Policy::Split, in proportion to measured throughput",
                    predicted_cpu: Some(cpu),
                    predicted_gpu: Some(gpu_moved),
                    gpu_share: balanced_share(cpu, gpu_moved),
                },
                None => Decision {
                    gpu_share: 0.5,
                    ..Decision::plain(Side::Split, "Policy::Split without a profile: halves")
                },
            })
        }
        Policy::Auto | Policy::Split => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, "no GPU adapter");
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, "the GPU device was lost");
            }
            if w.len == 0 {
                return plain(Side::Cpu, "empty input: answered on the host");
            }
            if !w.gpu_supported {
                return plain(
                    Side::Cpu,
                    "no GPU kernel for this element type on this adapter",
                );
            }
            if let Some(c) = crossover {
                return if w.len >= c {
                    plain(Side::Gpu, "at or above the configured GPU crossover")
                } else {
                    plain(Side::Cpu, "below the configured GPU crossover")
                };
            }
            if let Some((cpu, gpu, gpu_moved)) = predicted {
                let best = cpu.min(gpu);
                let split = cpu * gpu_moved / (cpu + gpu_moved) + SPLIT_OVERHEAD_S;
                let d = |side, reason, gpu_share| {
                    Ok(Decision {
                        side,
                        reason,
                        predicted_cpu: Some(cpu),
                        predicted_gpu: Some(gpu),
                        gpu_share,
                    })
                };
                if w.splittable
                    && w.inputs_on_host
                    && w.len >= SPLIT_MIN
                    && split < SPLIT_GAIN * best
                {
                    return d(
                        Side::Split,
                        "measured profile: a split between GPU and CPU is predicted fastest",
                        balanced_share(cpu, gpu_moved),
                    );
                }
                return if gpu < cpu {
                    d(
                        Side::Gpu,
                        "measured profile: the GPU is predicted faster",
                        0.0,
                    )
                } else {
                    d(
                        Side::Cpu,
                        "measured profile: the CPU is predicted faster",
                        0.0,
                    )
                };
            }
            if w.inputs_on_device && !w.inputs_on_host {
                return plain(
                    Side::Gpu,
                    "no profile: inputs live only on the GPU, and reading them back costs more",
                );
            }
            if gpu.info.is_software {
                return plain(
                    Side::Cpu,
                    "no profile: a software GPU adapter is slower than the CPU",
                );
            }
            let threshold = if w.inputs_on_device {
                CROSSOVER_DEVICE
            } else {
                CROSSOVER_HOST
            };
            if w.len >= threshold {
                plain(Side::Gpu, "no profile: large work on a hardware GPU")
            } else {
                plain(
                    Side::Cpu,
                    "no profile: small work, where the GPU's fixed cost dominates",
                )
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
            side = ?r.side,
            reason = r.reason,
            predicted_cpu_us = micros(r.predicted_cpu),
            predicted_gpu_us = micros(r.predicted_gpu),
            gpu_share = r.gpu_share,
            fallback = r.fallback.as_deref(),
            elapsed_us = r.elapsed.as_micros() as u64,
            "op ran"
        );
        if stderr_level() >= 3 {
            eprintln!(
                "tandem: {} n={} on {:?} ({}); predicted cpu {:?}, gpu {:?}; took {:?}{}",
                r.op,
                r.len,
                r.side,
                r.reason,
                r.predicted_cpu,
                r.predicted_gpu,
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
/// prediction, per kernel and side. The profile knows only a light calibration
/// kernel; a heavy one is corrected after its first run on a side.
#[derive(Default)]
pub(crate) struct Learned {
    factors: Mutex<std::collections::HashMap<(u64, Side), f64>>,
}

/// Runs shorter than this are too noisy to learn from.
const LEARN_MIN_S: f64 = 20e-6;

impl Learned {
    /// The (CPU, GPU) factors for `kernel`; 1 where nothing was learned.
    pub fn factors(&self, kernel: u64) -> (f64, f64) {
        let m = self.factors.lock().unwrap_or_else(|p| p.into_inner());
        let f = |side| m.get(&(kernel, side)).copied().unwrap_or(1.0);
        (f(Side::Cpu), f(Side::Gpu))
    }

    /// Records a run that took `measured` seconds where the profile predicted `predicted`.
    pub fn observe(&self, kernel: u64, side: Side, measured: f64, predicted: f64) {
        if measured < LEARN_MIN_S || predicted <= 0.0 {
            return;
        }
        let ratio = (measured / predicted).clamp(1e-3, 1e4);
        let mut m = self.factors.lock().unwrap_or_else(|p| p.into_inner());
        // Geometric mean with the previous factor: follows change, damps noise.
        let f = m.entry((kernel, side)).or_insert(ratio);
        *f = (*f * ratio).sqrt();
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
        None => gpu(g),
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
            op: work.op,
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
    if policy == Policy::Auto
        && (work.len as u64) < ctx.cpu_only_below()
        && work.readback_bytes == 0
        && work.kernel == 0
        && ctx.crossover().is_none()
    {
        let result = cpu();
        ctx.log().push(RunRecord {
            op: work.op,
            len: work.len,
            side: Side::Cpu,
            reason: "measured profile: the CPU finishes before the GPU's fixed cost alone",
            predicted_cpu: None,
            predicted_gpu: None,
            gpu_share: None,
            fallback: None,
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
        0 => (1.0, 1.0),
        k => ctx.learned().factors(k),
    };
    let d = decide(
        policy,
        backend.as_deref(),
        ctx.crossover(),
        profile.as_deref(),
        learned,
        &work,
    )?;
    let may_fall_back = matches!(policy, Policy::Auto | Policy::Split);
    let mut gpu_share = None;
    let (result, side, fallback) = match (d.side, backend) {
        (Side::Cpu, _) | (_, None) => (cpu(), Side::Cpu, None),
        (side, Some(g)) => {
            let r = if side == Side::Split {
                // Whole chunks of 1,024 for each side, at least one element each.
                let n = work.len;
                let cut = ((n as f64 * d.gpu_share) as usize / 1024 * 1024).clamp(1, n - 1);
                gpu_share = Some(cut as f64 / n as f64);
                match ctx.take_simulated_fault(work.op, &g) {
                    Some(e) => Err(e),
                    None => split(&g, cut),
                }
            } else {
                attempt_gpu(ctx, &g, work.op, &mut gpu)
            };
            match r {
                Ok(r) => (Ok(r), side, None),
                Err(e) if may_fall_back && e.is_device_failure() => {
                    tracing::warn!(target: "tandem::dispatch", op = work.op, "GPU failed, re-running on the CPU: {e}");
                    gpu_share = None;
                    (cpu(), Side::Cpu, Some(e.to_string()))
                }
                Err(e) => (Err(e), side, None),
            }
        }
    };
    let elapsed = start.elapsed();
    if work.kernel != 0 && fallback.is_none() {
        let predicted = match side {
            Side::Cpu => d.predicted_cpu,
            Side::Gpu => d.predicted_gpu,
            Side::Split => None,
        };
        if let Some(p) = predicted {
            // Undo the factor already applied, so that the new one is against the profile.
            let base = p / if side == Side::Cpu {
                learned.0
            } else {
                learned.1
            };
            ctx.learned()
                .observe(work.kernel, side, elapsed.as_secs_f64(), base);
        }
    }
    let secs = |s: Option<f64>| s.map(Duration::from_secs_f64);
    ctx.log().push(RunRecord {
        op: work.op,
        len: work.len,
        side,
        reason: d.reason,
        predicted_cpu: secs(d.predicted_cpu),
        predicted_gpu: secs(d.predicted_gpu),
        gpu_share,
        fallback,
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
