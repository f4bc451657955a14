//! Past the device's limits: more than 65,535 workgroups in one dispatch, buffers
//! larger than the largest storage binding (ops bind windows), and both kernel
//! variants (subgroup and plain) on one adapter.

mod common;

use common::{data, Pattern, TestElement};
use tandem::{Context, Policy};

/// Every op on `ctx` (GPU) against the CPU twin, exactly (small-integer data).
fn all_ops_match_cpu<T: TestElement>(ctx: &Context, n: usize) {
    let cpu = ctx.with_policy(Policy::Cpu);
    let xs = data::<T>(Pattern::SmallInts, n, 11);
    let ys = data::<T>(Pattern::SmallInts, n, 12);
    let (x, y) = (ctx.upload(&xs).unwrap(), ctx.upload(&ys).unwrap());
    let what = format!("{} n={n}", std::any::type_name::<T>());
    assert!(
        ctx.sum(&x).unwrap().same(cpu.sum(&x).unwrap()),
        "sum {what}"
    );
    assert!(
        ctx.dot(&x, &y).unwrap().same(cpu.dot(&x, &y).unwrap()),
        "dot {what}"
    );
    if std::mem::size_of::<T>() == 4 {
        assert_eq!(
            ctx.argmin(&x).unwrap(),
            cpu.argmin(&x).unwrap(),
            "argmin {what}"
        );
        assert_eq!(
            ctx.argmax(&x).unwrap(),
            cpu.argmax(&x).unwrap(),
            "argmax {what}"
        );
        assert!(
            ctx.max(&x)
                .unwrap()
                .unwrap()
                .same(cpu.max(&x).unwrap().unwrap()),
            "max {what}"
        );
    }
    let g = ctx.add(&x, &y).unwrap().to_vec().unwrap();
    let c = cpu.add(&x, &y).unwrap().to_vec().unwrap();
    assert!(g.iter().zip(&c).all(|(a, b)| a.same(*b)), "add {what}");
    let g = ctx.axpy(T::from_i64(2), &x, &y).unwrap().to_vec().unwrap();
    let c = cpu.axpy(T::from_i64(2), &x, &y).unwrap().to_vec().unwrap();
    assert!(g.iter().zip(&c).all(|(a, b)| a.same(*b)), "axpy {what}");
    let mut z = ctx.zeros::<T>(n).unwrap();
    ctx.fill(&mut z, T::from_i64(5)).unwrap();
    let z = z.to_vec().unwrap();
    assert!(
        z.len() == n && z.iter().all(|v| v.same(T::from_i64(5))),
        "fill {what}"
    );
}

#[test]
fn past_the_largest_binding_and_the_dispatch_limit() {
    let Some(gpu) = common::gpu() else { return };
    let info = gpu.gpu_info().unwrap();
    // 2^25 + 3 f32 is 128 MiB + 12 bytes: past lavapipe's 128 MiB binding and
    // past 65,535 workgroups of 256 for the element-wise kernels.
    let n = (1usize << 25) + 3;
    eprintln!(
        "{n} elements ({} bytes) on a device with a {}-byte binding limit",
        n * 4,
        info.max_storage_binding
    );
    all_ops_match_cpu::<f32>(&gpu, n);
}

#[test]
fn around_the_one_dimensional_dispatch_limit() {
    let Some(gpu) = common::gpu() else { return };
    for n in common::dispatch_limit_sizes() {
        all_ops_match_cpu::<u32>(&gpu, n);
    }
}

#[test]
fn windows_of_a_small_binding_limit() {
    if common::gpu().is_none() {
        return;
    }
    // 64 KiB bindings: windows of 16,384 four-byte or 8,192 eight-byte elements.
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    assert_eq!(ctx.gpu_info().unwrap().max_storage_binding, 64 << 10);
    for n in [16_383, 16_384, 16_385, 3 * 16_384 + 7, 100_003] {
        all_ops_match_cpu::<f32>(&ctx, n);
        all_ops_match_cpu::<i32>(&ctx, n);
        all_ops_match_cpu::<u32>(&ctx, n);
        if ctx.gpu_info().unwrap().f64 {
            all_ops_match_cpu::<f64>(&ctx, n);
        }
    }
}

#[test]
fn the_plain_kernels_match_on_a_subgroup_adapter() {
    if common::gpu().is_none() {
        return;
    }
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .disable_subgroups()
        .build()
        .unwrap();
    assert!(!ctx.gpu_info().unwrap().subgroups);
    for n in [1, 255, 256, 257, 2049, 100_003] {
        all_ops_match_cpu::<f32>(&ctx, n);
        all_ops_match_cpu::<i32>(&ctx, n);
    }
}
