//! Sorting, CPU against GPU against the peers a user would reach for.
//!
//! Group `sort_u32/<n>` (random u32 at 2^16, 2^20, 2^24): tandem CPU
//! (Policy::Cpu, the input already in a Buffer), tandem GPU end to end (upload,
//! sort, read back, all inside the timed region), `slice::sort_unstable` and rayon
//! `par_sort_unstable` (both on a fresh copy, the copy included in their time as it
//! is in tandem's, which returns a new buffer).
//! The best radix-sort crates join them (issue 18): `voracious_mt_sort` and
//! `rdst`, each sorting in place a copy refilled before each run, outside the
//! timed region (`iter_custom`), which is stricter for tandem than for them.
//! Group `sort_by_key_u32/<n>` (2^20, 2^24): tandem CPU and GPU end to end,
//! rayon `par_sort_by_key` on (key, value) pairs (stable, as tandem is), and
//! both radix crates on a key-value struct (unstable).
//!
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 24). On a software
//! adapter (lavapipe, llvmpipe) the GPU rows stop at 2^20: its radix sort runs at
//! about 1 M keys/s there, and one 2^24 sort would take most of the time budget.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tandem::{Context, Policy};

#[path = "../examples/cpu_roof/peers.rs"]
mod peers;

/// Times `sort` on a copy of `data` refilled before each run (untimed).
fn in_place<T: Copy>(data: &[T], iters: u64, sort: impl Fn(&mut [T])) -> Duration {
    let mut v = data.to_vec();
    let mut t = Duration::ZERO;
    for _ in 0..iters {
        v.copy_from_slice(data);
        let start = Instant::now();
        sort(black_box(&mut v));
        t += start.elapsed();
    }
    t
}

fn max_log2() -> u32 {
    std::env::var("TANDEM_BENCH_MAX_LOG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn random_u32(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<u32>()).collect()
}

/// The largest size a GPU row runs at: 2^20 on a software adapter.
fn gpu_max(gpu: &Context) -> usize {
    if gpu.gpu_info().is_some_and(|i| i.is_software) {
        1 << 20
    } else {
        usize::MAX
    }
}

fn contexts() -> (Context, Option<Context>) {
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
    (cpu, gpu)
}

fn sort_u32(c: &mut Criterion) {
    let (cpu, gpu) = contexts();
    let mut group = c.benchmark_group("sort_u32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for log2 in [16u32, 20, 24].into_iter().filter(|&l| l <= max_log2()) {
        let n = 1usize << log2;
        let data = random_u32(n, log2 as u64);
        group.throughput(Throughput::Elements(n as u64));
        let x = cpu.upload(&data).unwrap();
        group.bench_with_input(BenchmarkId::new("tandem_cpu", n), &x, |b, x| {
            b.iter(|| cpu.sort(black_box(x)).unwrap())
        });
        if let Some(gpu) = gpu.as_ref().filter(|g| n <= gpu_max(g)) {
            group.bench_with_input(
                BenchmarkId::new("tandem_gpu_end_to_end", n),
                &data,
                |b, data| {
                    b.iter_custom(|iters| {
                        let mut t = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            let x = gpu.upload(data).unwrap();
                            black_box(gpu.sort(&x).unwrap().to_vec().unwrap());
                            t += start.elapsed();
                        }
                        t
                    })
                },
            );
        }
        group.bench_with_input(BenchmarkId::new("std_sort_unstable", n), &data, |b, d| {
            b.iter(|| {
                let mut v = black_box(d).clone();
                v.sort_unstable();
                v
            })
        });
        group.bench_with_input(
            BenchmarkId::new("rayon_par_sort_unstable", n),
            &data,
            |b, d| {
                b.iter(|| {
                    let mut v = black_box(d).clone();
                    v.par_sort_unstable();
                    v
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("voracious_mt_sort", n), &data, |b, d| {
            b.iter_custom(|iters| in_place(d, iters, peers::voracious_mt))
        });
        group.bench_with_input(BenchmarkId::new("rdst", n), &data, |b, d| {
            b.iter_custom(|iters| in_place(d, iters, peers::rdst_sort))
        });
    }
    group.finish();
}

fn sort_by_key_u32(c: &mut Criterion) {
    let (cpu, gpu) = contexts();
    let mut group = c.benchmark_group("sort_by_key_u32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for log2 in [20u32, 24].into_iter().filter(|&l| l <= max_log2()) {
        let n = 1usize << log2;
        let keys = random_u32(n, log2 as u64);
        let vals: Vec<u32> = (0..n as u32).collect();
        group.throughput(Throughput::Elements(n as u64));
        let (k, v) = (cpu.upload(&keys).unwrap(), cpu.upload(&vals).unwrap());
        group.bench_function(BenchmarkId::new("tandem_cpu", n), |b| {
            b.iter(|| cpu.sort_by_key(black_box(&k), black_box(&v)).unwrap())
        });
        if let Some(gpu) = gpu.as_ref().filter(|g| n <= gpu_max(g)) {
            group.bench_function(BenchmarkId::new("tandem_gpu_end_to_end", n), |b| {
                b.iter_custom(|iters| {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let (k, v) = (gpu.upload(&keys).unwrap(), gpu.upload(&vals).unwrap());
                        let (sk, sv) = gpu.sort_by_key(&k, &v).unwrap();
                        black_box((sk.to_vec().unwrap(), sv.to_vec().unwrap()));
                        t += start.elapsed();
                    }
                    t
                })
            });
        }
        group.bench_function(BenchmarkId::new("rayon_par_sort_by_key", n), |b| {
            b.iter(|| {
                let mut pairs: Vec<(u32, u32)> =
                    keys.iter().copied().zip(vals.iter().copied()).collect();
                pairs.par_sort_by_key(|p| p.0);
                pairs
            })
        });
        let pairs: Vec<peers::KeyValue> = keys
            .iter()
            .zip(&vals)
            .map(|(&key, &value)| peers::KeyValue { key, value })
            .collect();
        group.bench_function(BenchmarkId::new("voracious_mt_sort_pairs", n), |b| {
            b.iter_custom(|iters| in_place(&pairs, iters, peers::voracious_mt))
        });
        group.bench_function(BenchmarkId::new("rdst_pairs", n), |b| {
            b.iter_custom(|iters| in_place(&pairs, iters, peers::rdst_sort))
        });
    }
    group.finish();
}

criterion_group!(benches, sort_u32, sort_by_key_u32);
criterion_main!(benches);
