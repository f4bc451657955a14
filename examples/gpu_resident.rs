//! Times every op on the GPU with its inputs already in GPU memory: the cost of
//! the launch path itself, which issue 13 must not raise by more than 5%.
//!
//! ```text
//! cargo run --release --example gpu_resident -- [log2 sizes, default 14] [min ms per point, default 20] [ops, default all]
//! ```
//!
//! Prints one line per (op, n): the median wall time of a call and a wait for
//! its GPU work (`Context::synchronize`), in microseconds, including the
//! readback for ops that return a value. Without the `synchronize` (which
//! versions before deferred submission lack, and do not need: every op waited)
//! it builds against earlier versions of tandem, so two builds can be timed
//! side by side on one machine.

use std::time::{Duration, Instant};

use tandem::{map_kernel, Buffer, Compare, Context, Policy, ReduceOp, Result};

/// One timed case: its name and the call.
type Case<'a> = (&'static str, Box<dyn FnMut() -> Result<()> + 'a>);

/// Runs `f` until `min` has passed (at least 5 runs, at most 200), after two
/// warm-up calls; returns the median.
fn median(min: Duration, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    f()?;
    f()?;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < min && times.len() < 200) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// A buffer resident on the GPU (its device copy made by one GPU op).
fn resident<T: tandem::Element>(ctx: &Context, v: &[T]) -> Result<Buffer<T>> {
    let b = ctx.upload(v)?;
    // A GPU op over `b` uploads it and keeps the device copy in `b`.
    let _ = ctx.scale(&b, T::default())?;
    Ok(b)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<u32> = args
        .first()
        .map(|s| s.split(',').filter_map(|p| p.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![14]);
    let min = Duration::from_millis(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20));
    let ctx = Context::builder().policy(Policy::Gpu).build()?;
    let Some(info) = ctx.gpu_info() else {
        println!("no GPU adapter: nothing to time");
        return Ok(());
    };
    println!("# {} ({}), median us per call", info.name, info.backend);
    let sq = map_kernel!(f32, |x, y; a| a * x + y * y)?;
    for log2 in sizes {
        let n = 1usize << log2;
        let xs: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.01).collect();
        let us: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let keys: Vec<u32> = (0..n as u32).map(|i| i / 16).collect();
        let sorted: Vec<u32> = (0..n as u32).map(|i| i * 2).collect();
        let offsets: Vec<u32> = (0..=(n as u32 / 64)).map(|i| i * 64).collect();
        let idx: Vec<u32> = (0..n as u32).rev().collect();
        let x = resident(&ctx, &xs)?;
        let y = resident(&ctx, &xs)?;
        let u = resident(&ctx, &us)?;
        let k = resident(&ctx, &keys)?;
        let s = resident(&ctx, &sorted)?;
        let off = resident(&ctx, &offsets)?;
        let ix = resident(&ctx, &idx)?;
        let side = (n as f64).sqrt() as usize;
        let mut dst = resident(&ctx, &xs)?;
        let mut fill = resident(&ctx, &xs)?;
        let cases: Vec<Case<'_>> = vec![
            ("sum", Box::new(|| ctx.sum(&x).map(drop))),
            ("dot", Box::new(|| ctx.dot(&x, &y).map(drop))),
            ("min", Box::new(|| ctx.min(&x).map(drop))),
            ("argmax", Box::new(|| ctx.argmax(&x).map(drop))),
            ("add", Box::new(|| ctx.add(&x, &y).map(drop))),
            ("axpy", Box::new(|| ctx.axpy(2.0, &x, &y).map(drop))),
            ("fill", Box::new(|| ctx.fill(&mut fill, 1.0))),
            (
                "inclusive_scan",
                Box::new(|| ctx.inclusive_scan(&u).map(drop)),
            ),
            (
                "count_if",
                Box::new(|| ctx.count_if(&x, Compare::Gt, 5.0).map(drop)),
            ),
            (
                "compact_if",
                Box::new(|| ctx.compact_if(&x, Compare::Gt, 5.0).map(drop)),
            ),
            ("sort", Box::new(|| ctx.sort(&u).map(drop))),
            (
                "sort_by_key",
                Box::new(|| ctx.sort_by_key(&u, &k).map(drop)),
            ),
            (
                "histogram",
                Box::new(|| ctx.histogram(&x, 256, 0.0, 10.0).map(drop)),
            ),
            ("gather", Box::new(|| ctx.gather(&x, &ix).map(drop))),
            ("scatter", Box::new(|| ctx.scatter(&x, &ix, &mut dst))),
            (
                "matmul",
                Box::new(|| ctx.matmul(&x, &y, side, side, side).map(drop)),
            ),
            (
                "transpose",
                Box::new(|| ctx.transpose(&x, side, n / side).map(drop)),
            ),
            ("map", Box::new(|| ctx.map(&sq, [&x, &y], [0.5]).map(drop))),
            (
                "map_reduce",
                Box::new(|| ctx.map_reduce(&sq, [&x, &y], [0.5]).map(drop)),
            ),
            (
                "reduce_by_key",
                Box::new(|| ctx.reduce_by_key(&k, &u, ReduceOp::Sum).map(drop)),
            ),
            (
                "inclusive_scan_by_key",
                Box::new(|| ctx.inclusive_scan_by_key(&k, &u).map(drop)),
            ),
            ("unique", Box::new(|| ctx.unique(&k).map(drop))),
            (
                "run_length_encode",
                Box::new(|| ctx.run_length_encode(&k).map(drop)),
            ),
            (
                "partition",
                Box::new(|| ctx.partition(&x, Compare::Lt, 5.0).map(drop)),
            ),
            (
                "segmented_reduce",
                Box::new(|| ctx.segmented_reduce(&u, &off, ReduceOp::Max).map(drop)),
            ),
            ("merge", Box::new(|| ctx.merge(&s, &k).map(drop))),
            (
                "lower_bound",
                Box::new(|| ctx.lower_bound(&s, &u).map(drop)),
            ),
            ("sequence", Box::new(|| ctx.sequence(n, 1u32, 3).map(drop))),
            (
                "adjacent_difference",
                Box::new(|| ctx.adjacent_difference(&x).map(drop)),
            ),
            ("slice", Box::new(|| ctx.slice(&x, 1..n).map(drop))),
        ];
        let only: Vec<&str> = args.get(2).map_or(vec![], |s| s.split(',').collect());
        for (name, mut f) in cases {
            if !only.is_empty() && !only.contains(&name) {
                continue;
            }
            // Each call waits for its GPU work, as a call alone would: ops
            // whose result is a buffer defer it.
            let t = median(min, || {
                f()?;
                ctx.synchronize()
            })?;
            println!("{name} {n} {:.1}", t.as_secs_f64() * 1e6);
        }
    }
    Ok(())
}
