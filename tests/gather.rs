//! `gather` and `scatter` on every side against plain sequential references:
//! the parity sizes and patterns, duplicate indices (the last one wins on both
//! sides), past 65,535 workgroups and past the binding limit, and bad input
//! (an out-of-range index leaves the destination unchanged).

mod common;

use common::{data, patterns, side_runs, sides, sizes, Pattern, TestElement};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Context, ErrorKind, Policy};

fn gather_ref<T: Copy>(src: &[T], idx: &[u32]) -> Vec<T> {
    idx.iter().map(|&j| src[j as usize]).collect()
}

fn scatter_ref<T: Copy>(src: &[T], idx: &[u32], dst: &mut [T]) {
    for i in 0..src.len() {
        dst[idx[i] as usize] = src[i];
    }
}

/// `n` indices below `m`: random (with repeats), or a permutation when `n == m`.
fn indices(n: usize, m: usize, seed: u64, permutation: bool) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ n as u64);
    if permutation {
        let mut v: Vec<u32> = (0..m as u32).collect();
        for i in (1..v.len()).rev() {
            v.swap(i, rng.random_range(0..=i));
        }
        v.truncate(n);
        return v;
    }
    (0..n).map(|_| rng.random_range(0..m as u32)).collect()
}

fn same<T: TestElement>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(*y))
}

fn check_gather<T: TestElement>(ctx: &Context, src: &[T], idx: &[u32], what: &str) {
    let (s, i) = (ctx.upload(src).unwrap(), ctx.upload(idx).unwrap());
    let got = ctx
        .gather(&s, &i)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .to_vec()
        .unwrap();
    assert!(same(&got, &gather_ref(src, idx)), "gather {what}");
}

fn check_scatter<T: TestElement>(ctx: &Context, src: &[T], idx: &[u32], dst: &[T], what: &str) {
    let (s, i) = (ctx.upload(src).unwrap(), ctx.upload(idx).unwrap());
    let mut d = ctx.upload(dst).unwrap();
    ctx.scatter(&s, &i, &mut d)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut want = dst.to_vec();
    scatter_ref(src, idx, &mut want);
    assert!(same(&d.to_vec().unwrap(), &want), "scatter {what}");
}

fn parity<T: TestElement>() {
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in sizes() {
            for pattern in patterns::<T>() {
                if n > 300_000 && pattern != Pattern::Random {
                    continue;
                }
                let what = format!("{side} {} n={n} {pattern:?}", std::any::type_name::<T>());
                // Gather from a smaller, an equal and a larger source.
                // (The largest sizes once each: they only add time.)
                let big = n > 300_000;
                for m in [n / 3 + 1, n.max(1), 2 * n + 5] {
                    if big && m != n / 3 + 1 {
                        continue;
                    }
                    let src = data::<T>(pattern, m, 1);
                    check_gather(&ctx, &src, &indices(n, m, 2, false), &what);
                }
                let src = data::<T>(pattern, n, 3);
                let dst = data::<T>(Pattern::Random, n.max(1), 4);
                // A permutation, then random indices with repeats, into dst.
                if !big {
                    check_scatter(&ctx, &src, &indices(n, n, 5, true), &dst[..n], &what);
                }
                check_scatter(&ctx, &src, &indices(n, dst.len(), 6, false), &dst, &what);
                // Many duplicates: n writes into 7 slots.
                let small = data::<T>(Pattern::Random, 7, 7);
                check_scatter(&ctx, &src, &indices(n, 7, 8, false), &small, &what);
            }
        }
    }
}

#[test]
fn parity_f32() {
    parity::<f32>();
}

#[test]
fn parity_i32() {
    parity::<i32>();
}

#[test]
fn parity_u32() {
    parity::<u32>();
}

#[test]
fn f64_runs_on_the_cpu() {
    let cpu = common::context().with_policy(Policy::Cpu);
    for n in [0usize, 1, 1000, 100_003] {
        let src = data::<f64>(Pattern::Special, n, 1);
        let idx = indices(n, n.max(1), 2, false);
        if n > 0 {
            check_gather(&cpu, &src, &idx, "f64 cpu");
            check_gather(common::context(), &src, &idx, "f64 auto");
        }
        let dst = data::<f64>(Pattern::Random, n.max(1), 3);
        check_scatter(&cpu, &src, &idx, &dst, "f64 cpu");
        check_scatter(common::context(), &src, &idx, &dst, "f64 auto");
    }
}

#[test]
fn past_65535_workgroups() {
    let Some(gpu) = common::gpu() else { return };
    let n = 65_535 * 256 + 1;
    let src = data::<u32>(Pattern::Random, 1 << 20, 1);
    check_gather(
        &gpu,
        &src,
        &indices(n, src.len(), 2, false),
        "gather past the dispatch limit",
    );
    let vals = data::<u32>(Pattern::Random, n, 3);
    check_scatter(
        &gpu,
        &vals,
        &indices(n, src.len(), 4, false),
        &src,
        "scatter past the dispatch limit",
    );
}

#[test]
fn past_the_binding_limit() {
    if common::gpu().is_none() {
        return;
    }
    let small = |policy| {
        Context::builder()
            .policy(policy)
            .storage_binding_limit(64 << 10)
            .build()
            .unwrap()
    };
    let gpu = small(Policy::Gpu);
    let auto = small(Policy::Auto);
    // 16,384 elements per binding: the indexed side fits, the linear side
    // (200,003 elements) is windowed; duplicates span windows.
    let fits = data::<f32>(Pattern::Special, 16_000, 1);
    let n = 200_003;
    let idx = indices(n, fits.len(), 2, false);
    let vals = data::<f32>(Pattern::Random, n, 3);
    check_gather(&gpu, &fits, &idx, "gather, windowed idx");
    check_scatter(&gpu, &vals, &idx, &fits, "scatter, windowed src");
    // The indexed side past one binding: LimitExceeded on the GPU, CPU under Auto.
    let big = data::<f32>(Pattern::Random, 20_000, 4);
    let idx = indices(n, big.len(), 5, false);
    let (s, i) = (gpu.upload(&big).unwrap(), gpu.upload(&idx).unwrap());
    let e = gpu.gather(&s, &i).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    let v = gpu.upload(&vals).unwrap();
    let mut d = gpu.upload(&big).unwrap();
    let e = gpu.scatter(&v, &i, &mut d).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert_eq!(d.to_vec().unwrap(), big);
    check_gather(&auto, &big, &idx, "gather, auto past the limit");
    check_scatter(&auto, &vals, &idx, &big, "scatter, auto past the limit");
}

#[test]
fn bad_indices_leave_the_destination_unchanged() {
    for (side, ctx) in sides() {
        for n in [1usize, 1000, 100_003] {
            let src = data::<i32>(Pattern::Random, n, 1);
            let orig = data::<i32>(Pattern::Random, 500, 2);
            let mut idx = indices(n, orig.len(), 3, false);
            // One bad index, in the middle, after good ones.
            idx[n / 2] = orig.len() as u32;
            let (s, i) = (ctx.upload(&src).unwrap(), ctx.upload(&idx).unwrap());
            let mut d = ctx.upload(&orig).unwrap();
            let e = ctx.scatter(&s, &i, &mut d).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
            assert_eq!(d.to_vec().unwrap(), orig, "{side} n={n}: dst changed");
            // Also when dst lives only on the device (the output of an op).
            let good = indices(n, orig.len(), 4, false);
            let g = ctx.upload(&good).unwrap();
            ctx.scatter(&s, &g, &mut d).unwrap();
            let before = d.to_vec().unwrap();
            ctx.scatter(&s, &g, &mut d).unwrap();
            let mut d2 = ctx
                .gather(&d, &ctx.upload(&(0..500u32).collect::<Vec<_>>()).unwrap())
                .unwrap();
            let e = ctx.scatter(&s, &i, &mut d2).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
            assert_eq!(
                d2.to_vec().unwrap(),
                before,
                "{side} n={n}: device dst changed"
            );
            // gather: the same index out of range of src.
            let e = ctx.gather(&d, &i).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
            let e = ctx
                .gather(&d, &ctx.upload(&[u32::MAX]).unwrap())
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        }
    }
}

#[test]
fn length_mismatch_and_empty_inputs() {
    for (side, ctx) in sides() {
        let src = ctx.upload(&[1.0f32, 2.0, 3.0]).unwrap();
        let idx2 = ctx.upload(&[0u32, 1]).unwrap();
        let mut dst = ctx.upload(&[9.0f32; 4]).unwrap();
        let e = ctx.scatter(&src, &idx2, &mut dst).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        assert_eq!(dst.to_vec().unwrap(), vec![9.0; 4]);
        // Empty indices: an empty gather, a scatter that changes nothing.
        let none = ctx.upload::<u32>(&[]).unwrap();
        let nothing = ctx.upload::<f32>(&[]).unwrap();
        assert!(ctx
            .gather(&src, &none)
            .unwrap()
            .to_vec()
            .unwrap()
            .is_empty());
        assert!(ctx.gather(&nothing, &none).unwrap().is_empty());
        ctx.scatter(&nothing, &none, &mut dst).unwrap();
        assert_eq!(dst.to_vec().unwrap(), vec![9.0; 4]);
        // Indices into an empty buffer are all out of range.
        let e = ctx.gather(&nothing, &idx2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        let mut empty = ctx.upload::<f32>(&[]).unwrap();
        let e = ctx
            .scatter(&ctx.upload(&[1.0f32, 2.0]).unwrap(), &idx2, &mut empty)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
    }
}
