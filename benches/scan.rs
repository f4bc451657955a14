//! Inclusive scan of u32, CPU against GPU against the peers a user would reach for.
//!
//! Group `inclusive_scan_u32/<n>`, n = 2^16, 2^20, 2^24, 2^26:
//! - `tandem_cpu`: `Policy::Cpu`, a new output buffer per call;
//! - `tandem_cpu_into`: the CPU twin writing into a preallocated slice;
//! - `tandem_gpu_end_to_end`: `Policy::Gpu`, upload, scan and read back, all timed;
//! - `tandem_gpu_resident`: `Policy::Gpu`, input already on the device, output left there;
//! - `std_iter_scan`: `iter().scan(..).collect()`, one thread;
//! - `rayon_copy_new` and `rayon_copy_into`: a rayon copy of the same bytes into a new
//!   `Vec` (`par_iter().copied().collect()`) and into a preallocated one (`par_chunks`):
//!   the memory-bandwidth floor the CPU scan is held to (at least 0.8x at 2^26; compare
//!   `tandem_cpu` with `rayon_copy_new` and `tandem_cpu_into` with `rayon_copy_into`).
//!
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 26). On a software
//! adapter the GPU rows stop at 2^24.

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

fn inclusive_scan_u32(c: &mut Criterion) {
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
    eprintln!("CPU: {} rayon threads", rayon::current_num_threads());
    let mut group = c.benchmark_group("inclusive_scan_u32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    for log2 in [16, 20, 24, 26].into_iter().filter(|&l| l <= max_log2()) {
        let n = 1usize << log2;
        let data: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761) >> 22)
            .collect();
        group.throughput(Throughput::Bytes((n * 4) as u64));
        let x = cpu.upload(&data).unwrap();
        group.bench_with_input(BenchmarkId::new("tandem_cpu", n), &x, |b, x| {
            b.iter(|| cpu.inclusive_scan(black_box(x)).unwrap())
        });
        let mut out = vec![0u32; n];
        group.bench_with_input(BenchmarkId::new("tandem_cpu_into", n), &data, |b, d| {
            b.iter(|| tandem::ops::scan::cpu::scan_into(black_box(d), &mut out, false))
        });
        // A software adapter (lavapipe) takes seconds per call at 2^26: stop at 2^24.
        let gpu_here = gpu
            .as_ref()
            .filter(|g| log2 <= 24 || !g.gpu_info().is_some_and(|i| i.is_software));
        if let Some(gpu) = gpu_here {
            group.bench_with_input(
                BenchmarkId::new("tandem_gpu_end_to_end", n),
                &data,
                |b, data| {
                    b.iter_custom(|iters| {
                        let mut t = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            let x = gpu.upload(data).unwrap();
                            let y = gpu.inclusive_scan(&x).unwrap();
                            black_box(y.to_vec().unwrap());
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
                |b, x| b.iter(|| gpu.inclusive_scan(black_box(x)).unwrap()),
            );
        }
        group.bench_with_input(BenchmarkId::new("std_iter_scan", n), &data, |b, d| {
            b.iter(|| {
                black_box(d)
                    .iter()
                    .scan(0u32, |acc, &v| {
                        *acc = acc.wrapping_add(v);
                        Some(*acc)
                    })
                    .collect::<Vec<u32>>()
            })
        });
        group.bench_with_input(BenchmarkId::new("rayon_copy_new", n), &data, |b, d| {
            b.iter(|| black_box(d).par_iter().copied().collect::<Vec<u32>>())
        });
        let mut out = vec![0u32; n];
        group.bench_with_input(BenchmarkId::new("rayon_copy_into", n), &data, |b, d| {
            b.iter(|| {
                out.par_chunks_mut(1 << 16)
                    .zip(black_box(d).par_chunks(1 << 16))
                    .for_each(|(o, s)| o.copy_from_slice(s))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, inclusive_scan_u32);
criterion_main!(benches);
