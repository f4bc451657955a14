//! The in-process world's overhead: `World::local` over two CPU members against
//! one CPU context on the same total work (the floor: at most 1.15x for sum at
//! 2^24), for sum, inclusive scan and sort.
//!
//! Groups `<op>/<n>`: `single_context` (one Policy::Cpu context on the whole
//! array) and `local_world_2cpu` (two Policy::Cpu members, even halves).
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 24).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tandem::dist::{Balance, World};
use tandem::{Context, Policy};

fn max_log2() -> u32 {
    std::env::var("TANDEM_BENCH_MAX_LOG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn cpu() -> Context {
    Context::builder()
        .policy(Policy::Cpu)
        .build()
        .expect("a CPU context always builds")
}

fn bench(c: &mut Criterion) {
    let single = cpu();
    let world = World::local(vec![cpu(), cpu()]).expect("two members make a world");
    for op in ["sum", "inclusive_scan", "sort"] {
        let mut g = c.benchmark_group(op);
        g.sample_size(10).warm_up_time(Duration::from_millis(500));
        for log2 in [20, 22, 24].into_iter().filter(|&l| l <= max_log2()) {
            let n = 1usize << log2;
            g.throughput(Throughput::Elements(n as u64));
            let xf: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.5).collect();
            let xu: Vec<u32> = (0..n as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            let (bf, bu) = (single.upload(&xf).unwrap(), single.upload(&xu).unwrap());
            let (df, du) = (
                world.scatter(&xf, Balance::Even).unwrap(),
                world.scatter(&xu, Balance::Even).unwrap(),
            );
            g.bench_function(BenchmarkId::new("single_context", n), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        match op {
                            "sum" => drop(black_box(single.sum(&bf).unwrap())),
                            "inclusive_scan" => {
                                drop(black_box(single.inclusive_scan(&bf).unwrap()))
                            }
                            _ => drop(black_box(single.sort(&bu).unwrap())),
                        }
                    }
                    t.elapsed()
                })
            });
            g.bench_function(BenchmarkId::new("local_world_2cpu", n), |b| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        match op {
                            "sum" => drop(black_box(world.sum(&df).unwrap())),
                            "inclusive_scan" => drop(black_box(world.inclusive_scan(&df).unwrap())),
                            _ => drop(black_box(world.sort(&du).unwrap())),
                        }
                    }
                    t.elapsed()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
