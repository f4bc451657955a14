//! User kernels against hand-written code, and compile costs.
//!
//! - `axpy_f32/<n>`: the expression kernel `a * x + y` against the same computation
//!   hand-written in WGSL (tandem's built-in `axpy`, `shaders/elementwise.wgsl`) on
//!   the GPU with resident data, and against hand-written rayon on the CPU.
//! - `compile`: a fresh expression kernel's first run (naga validation, pipeline
//!   compilation, run) against a warm run; a new `Context`, and a new `Context` plus
//!   `warm_up()` (every built-in kernel compiled).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;
use tandem::{map_kernel, Context, Policy};

fn axpy(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    let k = map_kernel!(f32, |x, y; a| a * x + y).expect("kernel");
    let mut group = c.benchmark_group("axpy_f32");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for n in [1usize << 16, 1 << 20, 1 << 24] {
        let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
        let ys: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
        group.throughput(Throughput::Bytes((n * 12) as u64));
        let (x, y) = (cpu.upload(&xs).unwrap(), cpu.upload(&ys).unwrap());
        group.bench_function(BenchmarkId::new("cpu_expression", n), |b| {
            b.iter(|| cpu.map(&k, [&x, &y], [2.0]).unwrap())
        });
        group.bench_function(BenchmarkId::new("cpu_hand_rayon", n), |b| {
            b.iter(|| {
                let mut out = vec![0.0f32; n];
                out.par_chunks_mut(1 << 16)
                    .zip(xs.par_chunks(1 << 16).zip(ys.par_chunks(1 << 16)))
                    .for_each(|(o, (x, y))| {
                        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                            *o = 2.0 * x + y;
                        }
                    });
                black_box(out)
            })
        });
        if let Some(gpu) = &gpu {
            let (gx, gy) = (gpu.upload(&xs).unwrap(), gpu.upload(&ys).unwrap());
            gpu.prefetch(&gx).unwrap();
            gpu.prefetch(&gy).unwrap();
            group.bench_function(BenchmarkId::new("gpu_expression_resident", n), |b| {
                b.iter(|| gpu.map(&k, [&gx, &gy], [2.0]).unwrap())
            });
            group.bench_function(BenchmarkId::new("gpu_hand_wgsl_resident", n), |b| {
                b.iter(|| gpu.axpy(2.0, &gx, &gy).unwrap())
            });
        }
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let mut group = c.benchmark_group("compile");
    group
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    if let Some(gpu) = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu)) {
        let x = gpu.upload(&[1.0f32; 1024]).unwrap();
        group.bench_function("expression_kernel_first_run", |b| {
            b.iter_custom(|iters| {
                let mut t = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    // A new kernel object: validated, compiled and run.
                    let k = map_kernel!(f32, |x; a| sqrt(abs(x)) * a + 1.0).unwrap();
                    black_box(gpu.map(&k, [&x], [2.0]).unwrap());
                    t += start.elapsed();
                }
                t
            })
        });
        let k = map_kernel!(f32, |x; a| sqrt(abs(x)) * a + 1.0).unwrap();
        gpu.map(&k, [&x], [2.0]).unwrap();
        group.bench_function("expression_kernel_warm_run", |b| {
            b.iter(|| gpu.map(&k, [&x], [2.0]).unwrap())
        });
        group.bench_function("context_new", |b| {
            b.iter(|| Context::builder().policy(Policy::Gpu).build().unwrap())
        });
        group.bench_function("context_new_and_warm_up", |b| {
            b.iter(|| {
                let c = Context::builder().policy(Policy::Gpu).build().unwrap();
                c.warm_up().unwrap();
                c
            })
        });
    } else {
        eprintln!("no GPU adapter: compile benches skipped");
    }
    group.finish();
}

criterion_group!(benches, axpy, compile);
criterion_main!(benches);
