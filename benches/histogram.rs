//! Histogram of uniform f32 data in 256 bins: tandem CPU against tandem GPU
//! against the loops a user would write.
//!
//! Group `histogram_f32_256/<n>`, n = 2^20 and 2^24:
//! - `tandem_cpu`: `Policy::Cpu` (the rayon twin).
//! - `tandem_gpu_end_to_end`: a fresh upload, the histogram and the readback of
//!   the counts, all inside the timed region.
//! - `tandem_gpu_resident`: the data already on the device; counts read back.
//! - `sequential_loop`: one thread, `((x - lo) * scale) as usize` per element.
//! - `rayon_fold`: the same loop in `par_chunks().fold().reduce()`.
//!
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 24).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tandem::{Context, Policy};

const BINS: usize = 256;
const LO: f32 = 0.0;
const HI: f32 = 1.0;

fn max_log2() -> u32 {
    std::env::var("TANDEM_BENCH_MAX_LOG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// The loop a user would write first.
fn sequential(x: &[f32], bins: usize, lo: f32, hi: f32) -> Vec<u32> {
    let scale = bins as f32 / (hi - lo);
    let mut h = vec![0u32; bins];
    for &v in x {
        if v >= lo && v < hi {
            let b = (((v - lo) * scale) as usize).min(bins - 1);
            h[b] += 1;
        }
    }
    h
}

/// The same loop on rayon: private histograms per piece, summed.
fn rayon_fold(x: &[f32], bins: usize, lo: f32, hi: f32) -> Vec<u32> {
    x.par_chunks(1 << 16)
        .fold(
            || vec![0u32; bins],
            |mut h, c| {
                let part = sequential(c, bins, lo, hi);
                h.iter_mut().zip(part).for_each(|(a, b)| *a += b);
                h
            },
        )
        .reduce(
            || vec![0u32; bins],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

fn histogram_f32(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    match auto.gpu_info() {
        Some(info) => eprintln!(
            "GPU: {} ({}, {})",
            info.name, info.backend, info.device_type
        ),
        None => eprintln!("no GPU adapter: GPU rows skipped"),
    }
    let mut group = c.benchmark_group("histogram_f32_256");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    for log2 in [20u32, 24].into_iter().filter(|&l| l <= max_log2()) {
        let n = 1usize << log2;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let data: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
        group.throughput(Throughput::Elements(n as u64));
        let x = cpu.upload(&data).unwrap();
        group.bench_with_input(BenchmarkId::new("tandem_cpu", n), &x, |b, x| {
            b.iter(|| cpu.histogram(black_box(x), BINS, LO, HI).unwrap())
        });
        if let Some(gpu) = &gpu {
            group.bench_with_input(
                BenchmarkId::new("tandem_gpu_end_to_end", n),
                &data,
                |b, data| {
                    b.iter_custom(|iters| {
                        let mut t = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            let x = gpu.upload(data).unwrap();
                            let h = gpu.histogram(&x, BINS, LO, HI).unwrap();
                            black_box(h.to_vec().unwrap());
                            t += start.elapsed();
                        }
                        t
                    })
                },
            );
            let resident = gpu.upload(&data).unwrap();
            gpu.prefetch(&resident).unwrap();
            group.bench_with_input(
                BenchmarkId::new("tandem_gpu_resident", n),
                &resident,
                |b, x| {
                    b.iter(|| {
                        let h = gpu.histogram(black_box(x), BINS, LO, HI).unwrap();
                        h.to_vec().unwrap()
                    })
                },
            );
        }
        group.bench_with_input(BenchmarkId::new("sequential_loop", n), &data, |b, d| {
            b.iter(|| sequential(black_box(d), BINS, LO, HI))
        });
        group.bench_with_input(BenchmarkId::new("rayon_fold", n), &data, |b, d| {
            b.iter(|| rayon_fold(black_box(d), BINS, LO, HI))
        });
    }
    group.finish();
}

criterion_group!(benches, histogram_f32);
criterion_main!(benches);
