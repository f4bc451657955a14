//! GPU time of deferred ops: a chain of sixteen dependent ops on GPU-resident
//! data, run with timestamp queries on and off (`ContextBuilder::gpu_timestamps`).
//!
//! Prints, per size, the median wall time of the chain under each setting
//! (what timing costs), and with timing on the GPU time each op's passes took
//! (`RunRecord::gpu_time`) against the chain's wall time. The two contexts are
//! timed in alternation in one run, so their ratio is a same-run comparison.
//!
//! Run: `cargo run --release --example gpu_time [ROUNDS]`

use std::error::Error;
use std::time::{Duration, Instant};

use tandem::{Buffer, Context, Policy};

/// One chain: sixteen dependent ops on `x`, one synchronize at the end.
fn chain(ctx: &Context, x: &Buffer<f32>) -> Result<Duration, Box<dyn Error>> {
    let start = Instant::now();
    let mut y = ctx.add(x, x)?;
    for i in 1..16 {
        y = match i % 3 {
            0 => ctx.mul(&y, x)?,
            1 => ctx.scale(&y, 0.5)?,
            _ => ctx.axpy(0.25, &y, x)?,
        };
    }
    ctx.synchronize()?;
    Ok(start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let rounds: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 21,
    };
    let make = |on: bool| {
        Context::builder()
            .policy(Policy::Gpu)
            .without_profile()
            .gpu_timestamps(on)
            .build()
    };
    let (on, off) = (make(true)?, make(false)?);
    let Some(info) = on.gpu_info() else {
        println!("no GPU adapter: nothing to time");
        return Ok(());
    };
    println!(
        "{} ({}), TIMESTAMP_QUERY: {}",
        info.name, info.backend, info.timestamps
    );
    println!(
        "{:>9} {:>14} {:>14} {:>8} {:>14} {:>10}",
        "n", "wall, off us", "wall, on us", "on/off", "GPU time us", "GPU/wall"
    );
    for n in [1usize << 10, 1 << 14, 1 << 20] {
        let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 1e-3).collect();
        let (xon, xoff) = (on.upload(&xs)?, off.upload(&xs)?);
        for (ctx, x) in [(&on, &xon), (&off, &xoff)] {
            ctx.prefetch(x)?;
            chain(ctx, x)?; // compiles the kernels
        }
        let (mut t_on, mut t_off, mut gpu) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            t_off.push(chain(&off, &xoff)?);
            on.clear_runs();
            t_on.push(chain(&on, &xon)?);
            gpu.push(on.runs().iter().filter_map(|r| r.gpu_time).sum());
        }
        let (a, b, g) = (median(t_off), median(t_on), median(gpu));
        println!(
            "{n:>9} {:>14.1} {:>14.1} {:>7.2}x {:>14.1} {:>10.2}",
            a.as_secs_f64() * 1e6,
            b.as_secs_f64() * 1e6,
            b.as_secs_f64() / a.as_secs_f64(),
            g.as_secs_f64() * 1e6,
            g.as_secs_f64() / b.as_secs_f64(),
        );
    }
    let s = on.stream_stats();
    println!(
        "ops timed on the GPU: {} of {} deferred",
        s.gpu_timed, s.deferred
    );
    Ok(())
}
