//! `tandem bench`'s chain case: sixteen dependent ops on GPU-resident data
//! (`tandem::workloads::chain`), timed with a wait after every op ("sync", the
//! synchronous path) and with one read at the end ("async"), side by side.

use std::time::Duration;

use tandem::workloads::{chain, CHAIN_OPS};
use tandem::{Context, Result};

use crate::measure::{measure, timed, Timed};

/// One measured size of the chain.
pub struct ChainPoint {
    pub n: usize,
    pub sync: Duration,
    pub deferred: Duration,
    pub cpu: Duration,
    /// Submissions of one deferred chain.
    pub submits: u64,
}

/// Times the chain at each size on `gpu` (Policy::Gpu), and on `cpu` beside it.
pub fn run(
    gpu: &Context,
    cpu: &Context,
    sizes: &[usize],
    min: Duration,
) -> Result<Vec<ChainPoint>> {
    let mut points = Vec::new();
    for &n in sizes {
        let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.001).collect();
        let ys: Vec<f32> = (0..n).map(|i| (i % 997) as f32 * 0.002).collect();
        let (x, y) = (gpu.upload(&xs)?, gpu.upload(&ys)?);
        gpu.prefetch(&x)?;
        gpu.prefetch(&y)?;
        let (hx, hy) = (cpu.upload(&xs)?, cpu.upload(&ys)?);
        chain(gpu, &x, &y, false)?;
        let before = gpu.stream_stats();
        chain(gpu, &x, &y, false)?;
        let submits = gpu.stream_stats().since(&before).submits;
        let mut columns: Vec<Timed> = vec![
            timed(|| Ok(()), |_| chain(gpu, &x, &y, true).map(drop)),
            timed(|| Ok(()), |_| chain(gpu, &x, &y, false).map(drop)),
            timed(|| Ok(()), |_| chain(cpu, &hx, &hy, false).map(drop)),
        ];
        let m = measure(min, 2, 2, None, &mut columns)?;
        points.push(ChainPoint {
            n,
            sync: m.medians[0],
            deferred: m.medians[1],
            cpu: m.medians[2],
            submits,
        });
    }
    Ok(points)
}

/// The chain's table.
pub fn table(points: &[ChainPoint]) -> String {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut t = format!(
        "chain: {CHAIN_OPS} dependent ops on GPU-resident data, one read at the end (median us per chain)\n\
         {:>10} {:>12} {:>12} {:>11} {:>12} {:>10}\n",
        "n", "gpu sync", "gpu async", "sync/async", "cpu", "submits"
    );
    for p in points {
        t.push_str(&format!(
            "{:>10} {:>12.1} {:>12.1} {:>10.2}x {:>12.1} {:>10}\n",
            p.n,
            us(p.sync),
            us(p.deferred),
            p.sync.as_secs_f64() / p.deferred.as_secs_f64().max(1e-12),
            us(p.cpu),
            p.submits
        ));
    }
    t
}
