//! The resident chain (`tandem::workloads::chain`): sixteen dependent ops on
//! GPU-resident data with one read at the end, with a wait after every op
//! (`sync`) and without (`async`), at 2^10, 2^14 and 2^20 elements.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tandem::workloads::chain;
use tandem::{Context, Policy};

fn bench(c: &mut Criterion) {
    let Ok(ctx) = Context::builder().policy(Policy::Gpu).build() else {
        return;
    };
    if !ctx.has_gpu() {
        eprintln!("chain: no GPU adapter, nothing to time");
        return;
    }
    let mut group = c.benchmark_group("chain");
    for log2 in [10u32, 14, 20] {
        let n = 1usize << log2;
        let xs: Vec<f32> = (0..n).map(|i| (i % 1000) as f32 * 0.001).collect();
        let (x, y) = (ctx.upload(&xs).unwrap(), ctx.upload(&xs).unwrap());
        ctx.prefetch(&x).unwrap();
        ctx.prefetch(&y).unwrap();
        for (name, wait_each) in [("sync", true), ("async", false)] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| black_box(chain(&ctx, &x, &y, wait_each).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
