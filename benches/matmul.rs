//! Matrix products and transposes, CPU against GPU against the peers a user
//! would reach for.
//!
//! Groups (throughput in FLOP, 2 m n k, for matmul; bytes for transpose):
//! - `sgemm/<n>` (square n x n x n): tandem CPU (faer inside), tandem GPU end to end
//!   (upload of A and B, the product, and C read back, all timed), tandem GPU with A
//!   and B resident (C still read back), faer called directly, and matrixmultiply
//!   (threaded) called directly.
//! - `transpose_f32/<n>` (n x n): tandem CPU, tandem GPU end to end, and a naive
//!   sequential loop.
//!
//! `TANDEM_BENCH_MATMUL_MAX` caps the largest n (default 1024); on a software
//! adapter (lavapipe, llvmpipe) the GPU rows stop at n = 256.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tandem::{Context, Policy};

fn max_n() -> usize {
    std::env::var("TANDEM_BENCH_MATMUL_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

fn matrix(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i.wrapping_mul(7919) + seed) % 1000) as f32 * 0.002 - 1.0)
        .collect()
}

fn contexts() -> (Context, Option<Context>, bool) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    let software = auto.gpu_info().is_some_and(|g| g.is_software);
    match auto.gpu_info() {
        Some(info) => eprintln!(
            "GPU: {} ({}, {})",
            info.name, info.backend, info.device_type
        ),
        None => eprintln!("no GPU adapter: GPU rows skipped"),
    }
    (cpu, gpu, software)
}

fn sgemm(c: &mut Criterion) {
    let (cpu, gpu, software) = contexts();
    let mut group = c.benchmark_group("sgemm");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    for n in [256usize, 512, 1024].into_iter().filter(|&n| n <= max_n()) {
        let (av, bv) = (matrix(n * n, 1), matrix(n * n, 2));
        group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        let (a, b) = (cpu.upload(&av).unwrap(), cpu.upload(&bv).unwrap());
        group.bench_function(BenchmarkId::new("tandem_cpu", n), |bch| {
            bch.iter(|| cpu.matmul(black_box(&a), black_box(&b), n, n, n).unwrap())
        });
        if let Some(gpu) = gpu.as_ref().filter(|_| !software || n <= 256) {
            group.bench_function(BenchmarkId::new("tandem_gpu_end_to_end", n), |bch| {
                bch.iter_custom(|iters| {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let (a, b) = (gpu.upload(&av).unwrap(), gpu.upload(&bv).unwrap());
                        let c = gpu.matmul(&a, &b, n, n, n).unwrap();
                        black_box(c.to_vec().unwrap());
                        t += start.elapsed();
                    }
                    t
                })
            });
            let (ga, gb) = (gpu.upload(&av).unwrap(), gpu.upload(&bv).unwrap());
            gpu.prefetch(&ga).unwrap();
            gpu.prefetch(&gb).unwrap();
            group.bench_function(BenchmarkId::new("tandem_gpu_resident", n), |bch| {
                bch.iter_custom(|iters| {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let c = gpu.matmul(&ga, &gb, n, n, n).unwrap();
                        black_box(c.to_vec().unwrap());
                        t += start.elapsed();
                    }
                    t
                })
            });
        }
        let mut out = vec![0.0f32; n * n];
        group.bench_function(BenchmarkId::new("faer", n), |bch| {
            bch.iter(|| {
                let am = faer::MatRef::from_row_major_slice(&av, n, n);
                let bm = faer::MatRef::from_row_major_slice(&bv, n, n);
                let cm = faer::MatMut::from_row_major_slice_mut(&mut out, n, n);
                faer::linalg::matmul::matmul(
                    cm,
                    faer::Accum::Replace,
                    am,
                    bm,
                    1.0f32,
                    faer::Par::rayon(0),
                );
                black_box(&out);
            })
        });
        group.bench_function(BenchmarkId::new("matrixmultiply", n), |bch| {
            bch.iter(|| {
                // SAFETY: the pointers and strides describe three n x n row-major
                // matrices that live for the whole call; `out` is not aliased.
                unsafe {
                    matrixmultiply::sgemm(
                        n,
                        n,
                        n,
                        1.0,
                        av.as_ptr(),
                        n as isize,
                        1,
                        bv.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn transpose(c: &mut Criterion) {
    let (cpu, gpu, software) = contexts();
    let mut group = c.benchmark_group("transpose_f32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    for n in [512usize, 2048] {
        let av = matrix(n * n, 3);
        group.throughput(Throughput::Bytes((n * n * 4) as u64));
        let a = cpu.upload(&av).unwrap();
        group.bench_function(BenchmarkId::new("tandem_cpu", n), |bch| {
            bch.iter(|| cpu.transpose(black_box(&a), n, n).unwrap())
        });
        if let Some(gpu) = gpu.as_ref().filter(|_| !software || n <= 512) {
            group.bench_function(BenchmarkId::new("tandem_gpu_end_to_end", n), |bch| {
                bch.iter_custom(|iters| {
                    let mut t = Duration::ZERO;
                    for _ in 0..iters {
                        let start = Instant::now();
                        let a = gpu.upload(&av).unwrap();
                        black_box(gpu.transpose(&a, n, n).unwrap().to_vec().unwrap());
                        t += start.elapsed();
                    }
                    t
                })
            });
        }
        group.bench_function(BenchmarkId::new("naive_sequential", n), |bch| {
            bch.iter(|| {
                let mut out = Vec::with_capacity(n * n);
                for j in 0..n {
                    for i in 0..n {
                        out.push(av[i * n + j]);
                    }
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sgemm, transpose);
criterion_main!(benches);
