//! Calibration: what `tandem calibrate` and [`crate::Context::calibrate`] measure.
//! It drives ops through `Context`, so it lives outside the dispatcher, which
//! only reads the resulting [`Profile`].
//!
//! - The GPU's fixed cost: an empty submission and its wait.
//! - Upload and readback: a fixed cost and a bandwidth, fitted from two sizes.
//! - Each calibrated op on each side at sizes 2^10, 2^14, 2^17 and 2^20 (matmul:
//!   square matrices of side 16 to 256): the CPU from host data, the GPU with its
//!   inputs already resident, so that the cost model can add the transfers a call
//!   really needs. A side stops growing once one run takes over a quarter second.
//! - The split factor: a split of the light map kernel over 2^20 host elements,
//!   timed against the model's prediction for it, which assumes the two sides do
//!   not slow each other (they do where they share cores, as with a software
//!   adapter).
//!
//! Each point is the median of at least three runs after one warm-up run.
//! Ops that cost alike share a curve (see [`Op::curve`]): `min`,
//! `max` and `argmin` use `argmax`'s, `sub` and `mul` use `add`'s, and so on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::dispatch::profile::{Curve, OpCurves, Profile, ProfileKey, Transfer, FORMAT};
use crate::dispatch::{predict, split_seconds, Op, Work};
use crate::error::Result;
use crate::{Buffer, Compare, Context, Policy};

/// log2 of the element counts measured.
const SIZES_LOG2: [u32; 4] = [10, 14, 17, 20];
/// Square matrix sides measured for matmul.
const MATMUL_SIDES: [usize; 4] = [16, 64, 128, 256];
/// A side stops at the first size where one run takes longer than this.
const SLOW_RUN: Duration = Duration::from_millis(250);

/// The median seconds of `f`, after one warm-up run: at least 3 runs, and more
/// (up to 15) while the total stays under 30 ms.
fn median_s(mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    median_timed(|| {
        let t = Instant::now();
        f()?;
        Ok(t.elapsed())
    })
}

/// As [`median_s`], for a closure that times the part that counts itself.
fn median_timed(mut f: impl FnMut() -> Result<Duration>) -> Result<f64> {
    let warm = f()?;
    if warm > SLOW_RUN * 2 {
        return Ok(warm.as_secs_f64());
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < Duration::from_millis(30) && times.len() < 15) {
        times.push(f()?.as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The inputs of one calibration size.
struct Inputs {
    n: usize,
    x: Buffer<f32>,
    y: Buffer<f32>,
    keys: Buffer<u32>,
    idx: Buffer<u32>,
    /// Two sorted halves that interleave irregularly, for merges.
    sorted: (Buffer<u32>, Buffer<u32>),
}

fn inputs(ctx: &Context, n: usize) -> Result<Inputs> {
    // A cheap deterministic scramble: varied keys and indices without a RNG crate.
    let mix = |i: usize| (i as u32).wrapping_mul(2_654_435_761) ^ 0x9e37_79b9;
    Ok(Inputs {
        n,
        x: ctx.from_vec((0..n).map(|i| (i % 1000) as f32 * 0.5).collect())?,
        y: ctx.from_vec((0..n).map(|i| (i % 7) as f32).collect())?,
        keys: ctx.from_vec((0..n).map(mix).collect())?,
        idx: ctx.from_vec((0..n).map(|i| mix(i) % n as u32).collect())?,
        sorted: (
            ctx.from_vec(
                (0..n as u32 / 2)
                    .map(|i| i * 4 + mix(i as usize) % 3)
                    .collect(),
            )?,
            ctx.from_vec(
                (0..n as u32 / 2)
                    .map(|i| i * 4 + 1 + mix(i as usize) % 5)
                    .collect(),
            )?,
        ),
    })
}

/// Runs calibrated op `op` once on `inp` with `ctx`'s policy.
fn run_op(ctx: &Context, op: Op, inp: &Inputs, kernels: &Kernels) -> Result<()> {
    let (x, y) = (&inp.x, &inp.y);
    use Op::*;
    match op {
        Sum => ctx.sum(x).map(drop),
        Dot => ctx.dot(x, y).map(drop),
        Argmax => ctx.argmax(x).map(drop),
        Add => ctx.add(x, y).map(drop),
        Scale => ctx.scale(x, 2.0).map(drop),
        Axpy => ctx.axpy(2.0, x, y).map(drop),
        InclusiveScan => ctx.inclusive_scan(y).map(drop),
        CompactIf => ctx.compact_if(x, Compare::Lt, 250.0).map(drop),
        Sort => ctx.sort(&inp.keys).map(drop),
        SortByKey => ctx.sort_by_key(&inp.keys, &inp.idx).map(drop),
        Histogram => ctx.histogram(x, 256, 0.0, 500.0).map(drop),
        Gather => ctx.gather(x, &inp.idx).map(drop),
        Scatter => {
            let mut dst = ctx.zeros::<f32>(inp.n)?;
            ctx.scatter(x, &inp.idx, &mut dst)
        }
        Transpose => ctx.transpose(x, inp.n >> 5, 32).map(drop),
        Map => ctx.map(&kernels.map, [x, y], [2.0]).map(drop),
        Merge => ctx.merge(&inp.sorted.0, &inp.sorted.1).map(drop),
        MapReduce => ctx.map_reduce(&kernels.map_reduce, [x, y], []).map(drop),
        // Square matrices: measured apart (see `measure_curve`).
        Matmul => Err(not_calibrated(op)),
        // Predicted by another op's curve (`Op::curve`), never measured.
        Argmin | Min | Max | Sub | Mul | Fill | Sequence | AdjacentDifference | ExclusiveScan
        | Compact | CountIf | ReduceByKey | InclusiveScanByKey | ExclusiveScanByKey | Unique
        | RunLengthEncode | Partition | SegmentedReduce | LowerBound | UpperBound | MergeByKey
        | Slice | RunWgsl => Err(not_calibrated(op)),
    }
}

fn not_calibrated(op: Op) -> crate::Error {
    crate::Error::InvalidArgument {
        op: "calibrate",
        message: format!("{op} is not measured on its own curve"),
    }
}

type MapFn = fn([f32; 2], [f32; 1]) -> f32;
type MapReduceFn = fn([f32; 2], [f32; 0]) -> f32;

/// The user-kernel stand-ins: a light element-wise expression, as most are.
struct Kernels {
    map: crate::MapKernel<f32, 2, 1, MapFn>,
    map_reduce: crate::MapKernel<f32, 2, 0, MapReduceFn>,
}

fn kernels() -> Result<Kernels> {
    let map: MapFn = |[x, y], [a]| a * x + y;
    let map_reduce: MapReduceFn = |[x, y], []| x * y;
    Ok(Kernels {
        map: crate::MapKernel::new("a * x + y", ["x", "y"], ["a"], map)?,
        map_reduce: crate::MapKernel::new("x * y", ["x", "y"], [], map_reduce)?,
    })
}

/// Fits `fixed + bytes / bandwidth` through the times of a small and a large transfer.
fn fit_transfer(small: (u64, f64), large: (u64, f64)) -> Transfer {
    let slope = ((large.1 - small.1) / (large.0 - small.0) as f64).max(1e-13);
    Transfer {
        fixed_s: (small.1 - small.0 as f64 * slope).max(0.0),
        bytes_per_s: 1.0 / slope,
    }
}

/// Measures this machine; see the module documentation.
pub(crate) fn measure(
    ctx: &Context,
    key: ProfileKey,
    progress: &mut dyn FnMut(&str),
) -> Result<Profile> {
    let cpu = ctx.with_policy(Policy::Cpu);
    let gpu = ctx.with_policy(Policy::Gpu);
    let g = ctx
        .gpu_for(Policy::Gpu)
        .ok_or_else(|| crate::Error::NoAdapter {
            reason: "calibration measures the GPU, and this context has none".into(),
        })?;
    gpu.warm_up()?;
    progress("GPU fixed cost");
    let gpu_fixed_s = median_s(|| crate::gpu::stream::Stream::new(&g, "calibrate").submit())?;

    progress("transfers");
    let mut up = Vec::new();
    let mut down = Vec::new();
    for n in [1usize << 16, 1 << 22] {
        let bytes = (n * 4) as u64;
        let host: Vec<f32> = vec![1.0; n];
        up.push((
            bytes,
            median_timed(|| {
                let b = cpu.from_vec(host.clone())?;
                let t = Instant::now();
                b.device(&g, "calibrate")?;
                Ok(t.elapsed())
            })?,
        ));
        let dev = cpu.from_vec(host.clone())?;
        let buf = dev.device(&g, "calibrate")?;
        down.push((
            bytes,
            median_s(|| g.read::<f32>("calibrate", &buf, 0, n).map(drop))?,
        ));
    }
    let upload = fit_transfer(up[0], up[1]);
    let readback = fit_transfer(down[0], down[1]);

    let kernels = kernels()?;
    let mut ops = BTreeMap::new();
    for op in Op::calibrated() {
        progress(op.name());
        let mut curves = OpCurves::default();
        for (side, c) in [(&cpu, &mut curves.cpu), (&gpu, &mut curves.gpu)] {
            *c = measure_curve(side, op, &kernels)?;
        }
        ops.insert(op.name().to_string(), curves);
    }
    let created_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let p = Profile {
        format: FORMAT,
        key,
        created_unix_s,
        gpu_fixed_s,
        upload,
        readback,
        ops,
        split_factor: 1.0,
    };
    p.validate().map_err(|why| crate::Error::Gpu {
        op: "calibrate",
        message: format!(
            "the measurements make no sense ({why}); run calibration again on an idle machine"
        ),
    })?;
    Ok(p)
}

/// The profile's split factor: a split of the light map kernel over 2^20 host
/// elements, timed against the model's prediction for it. `ctx` must already use
/// `p`, so that the cut is the one Auto would make. 1 where no split ran.
pub(crate) fn measure_split_factor(
    ctx: &Context,
    p: &Profile,
    progress: &mut dyn FnMut(&str),
) -> Result<f64> {
    progress("split");
    let n = 1usize << 20;
    let split = ctx.with_policy(Policy::Split);
    let kernels = kernels()?;
    let inp = inputs(&split, n)?;
    let t = median_s(|| run_op(&split, Op::Map, &inp, &kernels))?;
    if split.last_run().map(|r| r.side) != Some(crate::Side::Split) {
        return Ok(1.0);
    }
    let mut w = Work::new(Op::Map, "f32", n);
    w.input(None, &inp.x);
    w.input(None, &inp.y);
    let w = w.output::<f32>(n);
    let Some(m) = predict(p, &w) else {
        return Ok(1.0);
    };
    Ok((t / split_seconds(m.cpu, m.gpu_moved)).clamp(0.5, 1e3))
}

/// Waits for the GPU work of a timed run: an op whose result is a buffer
/// returns once recorded (deferred submission), before its kernels have run.
fn wait_for_gpu(side: &Context) -> Result<()> {
    if side.policy() == Policy::Gpu {
        side.synchronize()?;
    }
    Ok(())
}

/// One op's curve on `side` (whose policy is Cpu or Gpu).
fn measure_curve(side: &Context, op: Op, kernels: &Kernels) -> Result<Curve> {
    let on_gpu = side.policy() == Policy::Gpu;
    let mut points = Vec::new();
    if op == Op::Matmul {
        for d in MATMUL_SIDES {
            let a = side.from_vec((0..d * d).map(|i| (i % 13) as f32).collect())?;
            let b = side.from_vec((0..d * d).map(|i| (i % 7) as f32).collect())?;
            if on_gpu {
                side.prefetch(&a)?;
                side.prefetch(&b)?;
            }
            let t = median_s(|| {
                side.matmul(&a, &b, d, d, d)?;
                wait_for_gpu(side)
            })?;
            points.push([(d * d * d) as f64, t.max(1e-9)]);
            if t > SLOW_RUN.as_secs_f64() {
                break;
            }
        }
        return Ok(Curve { points });
    }
    for l in SIZES_LOG2 {
        let n = 1usize << l;
        let inp = inputs(side, n)?;
        if on_gpu {
            for b in [&inp.x, &inp.y] {
                side.prefetch(b)?;
            }
            for b in [&inp.keys, &inp.idx] {
                side.prefetch(b)?;
            }
        }
        let t = median_s(|| {
            run_op(side, op, &inp, kernels)?;
            wait_for_gpu(side)
        })?;
        points.push([n as f64, t.max(1e-9)]);
        if t > SLOW_RUN.as_secs_f64() {
            break;
        }
    }
    Ok(Curve { points })
}
