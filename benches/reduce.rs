//! Reductions, CPU against GPU against the peers a user would reach for.
//!
//! Groups:
//! - `sum_f32/<n>`: tandem CPU, tandem GPU end to end (a fresh upload each
//!   iteration, the result read back inside the timed region), tandem GPU with the
//!   data already resident, `iter().sum()`, rayon `par_iter().sum()`, and a plain
//!   rayon read of the same bytes (an XOR of the bits: the memory-bandwidth ceiling),
//!   compiled for the x86-64 baseline (SSE2) and, where the CPU has it, for AVX2
//!   (`rayon_plain_read_avx2`: tandem's sum picks AVX2 at run time).
//! - `dispatch_overhead`: a 1-element sum under Auto, under Policy::Cpu, and the
//!   CPU twin called directly on the slice.
//!
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 26).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use tandem::{Context, Policy};

fn max_log2() -> u32 {
    std::env::var("TANDEM_BENCH_MAX_LOG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(26)
}

/// A plain parallel read of every byte: XOR of the bits, which vectorises fully.
fn rayon_read(x: &[f32]) -> u32 {
    x.par_chunks(1 << 16)
        .map(|c| c.iter().fold(0u32, |a, v| a ^ v.to_bits()))
        .reduce(|| 0, |a, b| a ^ b)
}

/// The XOR of one piece, compiled for AVX2 (tandem's sum picks AVX2 at run time;
/// `rayon_read` above is compiled for the x86-64 baseline, SSE2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn xor_avx2(c: &[f32]) -> u32 {
    c.iter().fold(0u32, |a, v| a ^ v.to_bits())
}

/// [`rayon_read`] with AVX2 loads; None where the CPU lacks AVX2.
fn rayon_read_avx2(x: &[f32]) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            return Some(
                x.par_chunks(1 << 16)
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    .map(|c| unsafe { xor_avx2(c) })
                    .reduce(|| 0, |a, b| a ^ b),
            );
        }
    }
    let _ = x;
    None
}

fn sum_f32(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    if let Some(info) = auto.gpu_info() {
        eprintln!(
            "GPU: {} ({}, {})",
            info.name, info.backend, info.device_type
        );
    } else {
        eprintln!("no GPU adapter: GPU rows skipped");
    }
    let mut group = c.benchmark_group("sum_f32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for log2 in (10..=max_log2())
        .step_by(4)
        .chain(std::iter::once(max_log2()))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let n = 1usize << log2;
        let data: Vec<f32> = (0..n).map(|i| ((i * 7919) % 1000) as f32 * 0.001).collect();
        group.throughput(Throughput::Bytes((n * 4) as u64));
        let x = cpu.upload(&data).unwrap();
        group.bench_with_input(BenchmarkId::new("tandem_cpu", n), &x, |b, x| {
            b.iter(|| cpu.sum(black_box(x)).unwrap())
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
                            black_box(gpu.sum(&x).unwrap());
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
                |b, x| b.iter(|| gpu.sum(black_box(x)).unwrap()),
            );
        }
        group.bench_with_input(BenchmarkId::new("std_iter_sum", n), &data, |b, d| {
            b.iter(|| black_box(d).iter().sum::<f32>())
        });
        group.bench_with_input(BenchmarkId::new("rayon_par_iter_sum", n), &data, |b, d| {
            b.iter(|| black_box(d).par_iter().sum::<f32>())
        });
        group.bench_with_input(BenchmarkId::new("rayon_plain_read", n), &data, |b, d| {
            b.iter(|| rayon_read(black_box(d)))
        });
        if rayon_read_avx2(&data[..1]).is_some() {
            group.bench_with_input(
                BenchmarkId::new("rayon_plain_read_avx2", n),
                &data,
                |b, d| b.iter(|| rayon_read_avx2(black_box(d))),
            );
        }
    }
    group.finish();
}

fn dispatch_overhead(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let one = [1.5f32];
    let x = auto.upload(&one).unwrap();
    let mut group = c.benchmark_group("dispatch_overhead");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("auto_sum_1", |b| {
        b.iter(|| auto.sum(black_box(&x)).unwrap())
    });
    group.bench_function("cpu_policy_sum_1", |b| {
        b.iter(|| cpu.sum(black_box(&x)).unwrap())
    });
    group.bench_function("cpu_twin_sum_1", |b| {
        b.iter(|| tandem::ops::reduce::cpu::sum(black_box(&one[..])))
    });
    group.finish();
}

criterion_group!(benches, dispatch_overhead, sum_f32);
criterion_main!(benches);
