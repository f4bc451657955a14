//! The by-key family and partition, CPU against GPU against the sequential
//! loops a user would write.
//!
//! Groups `reduce_by_key`, `unique`, `run_length_encode`, `partition`, n = 2^20
//! and 2^24 (u32 keys in runs of 1..=16, sorted as after a `sort`; u32 values):
//! - `tandem_cpu`: `Policy::Cpu` from host buffers, host results;
//! - `tandem_gpu_resident`: `Policy::Gpu`, inputs already on the device, outputs
//!   left there (each op waits for its GPU work before it returns);
//! - `sequential`: the plain loop (`Vec::dedup` for unique, `Iterator::partition`
//!   for partition).
//!
//! `TANDEM_BENCH_MAX_LOG2` caps the largest size (default 24). On a software
//! adapter the GPU rows stop at 2^20.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tandem::{Buffer, Compare, Context, Policy, ReduceOp};

fn max_log2() -> u32 {
    std::env::var("TANDEM_BENCH_MAX_LOG2")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// u32 keys in runs of 1..=16 (a xorshift picks the lengths), ascending.
fn run_keys(n: usize) -> Vec<u32> {
    let mut s = 0x9E37_79B9u32;
    let mut keys = Vec::with_capacity(n);
    let mut k = 0u32;
    while keys.len() < n {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let len = (s % 16 + 1) as usize;
        keys.extend(std::iter::repeat_n(k, len.min(n - keys.len())));
        k += 1;
    }
    keys
}

fn seq_reduce_by_key(keys: &[u32], vals: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let (mut ok, mut ov) = (Vec::new(), Vec::<u32>::new());
    for (&k, &v) in keys.iter().zip(vals) {
        match ov.last_mut() {
            Some(s) if ok.last() == Some(&k) => *s = s.wrapping_add(v),
            _ => {
                ok.push(k);
                ov.push(v);
            }
        }
    }
    (ok, ov)
}

fn seq_rle(keys: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let (mut vs, mut cs) = (Vec::new(), Vec::<u32>::new());
    for &k in keys {
        match cs.last_mut() {
            Some(c) if vs.last() == Some(&k) => *c += 1,
            _ => {
                vs.push(k);
                cs.push(1);
            }
        }
    }
    (vs, cs)
}

/// Times `f` over `iters` calls (the ops wait for their GPU work themselves).
fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

type Run = fn(&Context, &Buffer<u32>, &Buffer<u32>);

fn by_key(c: &mut Criterion) {
    let auto = Context::new().expect("context");
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    let ops: [(&str, Run); 4] = [
        ("reduce_by_key", |c, k, v| {
            black_box(c.reduce_by_key(k, v, ReduceOp::Sum).unwrap());
        }),
        ("unique", |c, k, _| {
            black_box(c.unique(k).unwrap());
        }),
        ("run_length_encode", |c, k, _| {
            black_box(c.run_length_encode(k).unwrap());
        }),
        ("partition", |c, _, v| {
            black_box(c.partition(v, Compare::Lt, 1 << 31).unwrap());
        }),
    ];
    for (name, run) in ops {
        let mut group = c.benchmark_group(name);
        group
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2))
            .sample_size(10);
        for log2 in [20, 24].into_iter().filter(|&l| l <= max_log2()) {
            let n = 1usize << log2;
            let keys = run_keys(n);
            let vals: Vec<u32> = (0..n as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            group.throughput(Throughput::Elements(n as u64));
            let (k, v) = (cpu.upload(&keys).unwrap(), cpu.upload(&vals).unwrap());
            group.bench_function(BenchmarkId::new("tandem_cpu", n), |b| {
                b.iter_custom(|iters| timed(iters, || run(&cpu, &k, &v)))
            });
            let gpu_here = gpu
                .as_ref()
                .filter(|g| log2 <= 20 || !g.gpu_info().is_some_and(|i| i.is_software));
            if let Some(g) = gpu_here {
                let (gk, gv) = (g.upload(&keys).unwrap(), g.upload(&vals).unwrap());
                g.prefetch(&gk).unwrap();
                g.prefetch(&gv).unwrap();
                group.bench_function(BenchmarkId::new("tandem_gpu_resident", n), |b| {
                    b.iter_custom(|iters| timed(iters, || run(g, &gk, &gv)))
                });
            }
            group.bench_function(BenchmarkId::new("sequential", n), |b| {
                b.iter_custom(|iters| {
                    timed(iters, || match name {
                        "reduce_by_key" => {
                            black_box(seq_reduce_by_key(&keys, &vals));
                        }
                        "unique" => {
                            let mut u = keys.clone();
                            u.dedup();
                            black_box(u);
                        }
                        "run_length_encode" => {
                            black_box(seq_rle(&keys));
                        }
                        _ => {
                            let (mut a, b): (Vec<u32>, Vec<u32>) =
                                vals.iter().partition(|&&x| x < 1 << 31);
                            a.extend(b);
                            black_box(a);
                        }
                    })
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, by_key);
criterion_main!(benches);
