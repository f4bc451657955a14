//! `merge` and `lower_bound`: tandem CPU and GPU against the sequential loops a
//! user would write (criterion, `iter_custom`, the GPU's readback inside the
//! timed region).
//!
//! Groups `merge_u32/<n>` (two sorted halves of n/2) and `lower_bound_u32/<n>`
//! (n random queries into n sorted keys), n = 2^16 and 2^20:
//! - `tandem_cpu`: `Policy::Cpu` (the rayon twin), result to a `Vec`.
//! - `tandem_gpu_resident`: inputs already on the device; result read back.
//! - `sequential`: a two-pointer merge loop / a `partition_point` loop.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tandem::{Buffer, Context, Policy};

fn xorshift(n: usize, mut s: u32) -> Vec<u32> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        })
        .collect()
}

fn sorted(n: usize, seed: u32) -> Vec<u32> {
    let mut v = xorshift(n, seed);
    v.sort_unstable();
    v
}

fn merge_seq(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Times `iters` runs of `f`, each ending with its result on the host.
fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed()
}

fn bench(c: &mut Criterion) {
    let cpu = Context::builder()
        .policy(Policy::Cpu)
        .build()
        .expect("a CPU context");
    let gpu = Context::builder().policy(Policy::Gpu).build().ok();
    let resident = |ctx: &Context, v: &[u32]| -> Buffer<u32> {
        let b = ctx.upload(v).expect("upload");
        ctx.prefetch(&b).expect("prefetch");
        b
    };
    for n in [1usize << 16, 1 << 20] {
        let (a, b) = (sorted(n / 2, 0x9E37_79B9), sorted(n - n / 2, 0x85EB_CA6B));
        let mut g = c.benchmark_group("merge_u32");
        g.throughput(Throughput::Elements(n as u64));
        let (ca, cb) = (
            cpu.upload(&a).expect("upload"),
            cpu.upload(&b).expect("upload"),
        );
        g.bench_function(BenchmarkId::new("tandem_cpu", n), |bch| {
            bch.iter_custom(|it| {
                timed(it, || {
                    drop(black_box(
                        cpu.merge(&ca, &cb).and_then(|m| m.into_vec()).ok(),
                    ))
                })
            })
        });
        if let Some(gpu) = &gpu {
            let (ga, gb) = (resident(gpu, &a), resident(gpu, &b));
            g.bench_function(BenchmarkId::new("tandem_gpu_resident", n), |bch| {
                bch.iter_custom(|it| {
                    timed(it, || {
                        drop(black_box(
                            gpu.merge(&ga, &gb).and_then(|m| m.into_vec()).ok(),
                        ))
                    })
                })
            });
        }
        g.bench_function(BenchmarkId::new("sequential", n), |bch| {
            bch.iter_custom(|it| timed(it, || drop(black_box(merge_seq(&a, &b)))))
        });
        g.finish();

        let (s, q) = (sorted(n, 0x1234_5678), xorshift(n, 0x0BAD_CAFE));
        let mut g = c.benchmark_group("lower_bound_u32");
        g.throughput(Throughput::Elements(n as u64));
        let (cs, cq) = (
            cpu.upload(&s).expect("upload"),
            cpu.upload(&q).expect("upload"),
        );
        g.bench_function(BenchmarkId::new("tandem_cpu", n), |bch| {
            bch.iter_custom(|it| {
                timed(it, || {
                    drop(black_box(
                        cpu.lower_bound(&cs, &cq).and_then(|m| m.into_vec()).ok(),
                    ))
                })
            })
        });
        if let Some(gpu) = &gpu {
            let (gs, gq) = (resident(gpu, &s), resident(gpu, &q));
            g.bench_function(BenchmarkId::new("tandem_gpu_resident", n), |bch| {
                bch.iter_custom(|it| {
                    timed(it, || {
                        drop(black_box(
                            gpu.lower_bound(&gs, &gq).and_then(|m| m.into_vec()).ok(),
                        ))
                    })
                })
            });
        }
        g.bench_function(BenchmarkId::new("sequential", n), |bch| {
            bch.iter_custom(|it| {
                timed(it, || {
                    let v: Vec<u32> = q
                        .iter()
                        .map(|&x| s.partition_point(|&y| y < x) as u32)
                        .collect();
                    drop(black_box(v));
                })
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
