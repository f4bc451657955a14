//! `histogram` on every side against a plain sequential reference: the sizes and
//! patterns of the parity suite, the bin counts around every kernel's limits,
//! values on and around the edges, contention, past 65,535 workgroups and past
//! the binding limit, and each bad input.

mod common;

use common::{data, patterns, side_runs, sides, sizes, Pattern, TestElement};
use tandem::{Context, ErrorKind, Policy};

/// What the reference needs of an element.
trait Binnable: TestElement {
    /// The bin edges as values: edge k = lo + (hi - lo) * k / bins, rounded up to
    /// T (floats, via f64) or exactly (integers, as a ceiling).
    fn edges(bins: usize, lo: Self, hi: Self) -> Vec<Self>;
}

impl Binnable for f32 {
    fn edges(bins: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..=bins)
            .map(|k| {
                if k == 0 {
                    return lo;
                }
                if k == bins {
                    return hi;
                }
                let v = lo as f64 + (hi as f64 - lo as f64) * k as f64 / bins as f64;
                let mut f = v as f32;
                if (f as f64) < v {
                    f = f.next_up();
                }
                f.clamp(lo, hi)
            })
            .collect()
    }
}

impl Binnable for f64 {
    fn edges(bins: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..=bins)
            .map(|k| match k {
                0 => lo,
                k if k == bins => hi,
                k => (lo + (hi - lo) * (k as f64 / bins as f64)).clamp(lo, hi),
            })
            .collect()
    }
}

macro_rules! int_binnable {
    ($t:ty) => {
        impl Binnable for $t {
            fn edges(bins: usize, lo: $t, hi: $t) -> Vec<$t> {
                let (l, w) = (lo as i128, hi as i128 - lo as i128);
                (0..=bins as i128)
                    .map(|k| (l + (k * w + bins as i128 - 1) / bins as i128) as $t)
                    .collect()
            }
        }
    };
}
int_binnable!(i32);
int_binnable!(u32);

/// The sequential reference: the largest k with edge[k] <= x, by plain comparisons.
fn reference<T: Binnable>(x: &[T], bins: usize, lo: T, hi: T) -> Vec<u32> {
    let edges = T::edges(bins, lo, hi);
    let mut counts = vec![0u32; bins];
    for &v in x {
        if v.is_nan() || !(v >= lo && v < hi) {
            continue;
        }
        let k = edges[1..bins].partition_point(|&e| e <= v);
        counts[k] += 1;
    }
    counts
}

fn check<T: Binnable>(ctx: &Context, side: &str, xs: &[T], bins: usize, lo: T, hi: T, what: &str) {
    let x = ctx.upload(xs).unwrap();
    let got = ctx
        .histogram(&x, bins, lo, hi)
        .unwrap_or_else(|e| panic!("{side} {what}: {e}"))
        .to_vec()
        .unwrap();
    let want = reference(xs, bins, lo, hi);
    if got != want {
        let first = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{side} {what} bins={bins} lo={lo:?} hi={hi:?}: first difference at bin {first}: got {:?}, want {:?} (len {} vs {})",
            got.get(first),
            want.get(first),
            got.len(),
            want.len()
        );
    }
}

/// The ranges each type is tested over: (bins, lo, hi).
fn configs<T: Binnable>() -> Vec<(usize, T, T)> {
    let f = T::from_i64;
    if T::IS_FLOAT {
        return vec![(256, f(-700), f(900)), (37, f(-8), f(9))];
    }
    if T::from_i64(-1) > T::zero() {
        // u32
        return vec![(256, f(0), f(3_000_000_000)), (37, f(0), f(9))];
    }
    vec![
        (256, f(-1_500_000_000), f(2_000_000_000)),
        (37, f(-8), f(9)),
    ]
}

fn parity<T: Binnable>() {
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in sizes() {
            for pattern in patterns::<T>() {
                // The largest sizes once, with random data.
                if n > 300_000 && pattern != Pattern::Random {
                    continue;
                }
                let xs = data::<T>(pattern, n, 5);
                for (bins, lo, hi) in configs::<T>() {
                    let what = format!("{} n={n} {pattern:?}", std::any::type_name::<T>());
                    check(&ctx, side, &xs, bins, lo, hi, &what);
                }
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
    let xs = data::<f64>(Pattern::Special, 100_003, 9);
    let cpu = common::context().with_policy(Policy::Cpu);
    check(&cpu, "cpu", &xs, 300, -500.0, 800.0, "f64");
    check(common::context(), "auto", &xs, 300, -500.0, 800.0, "f64");
    if let Some(gpu) = common::gpu() {
        let x = gpu.upload(&xs).unwrap();
        let e = gpu.histogram(&x, 300, -500.0, 800.0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
}

#[test]
fn bin_counts_around_every_kernel_limit() {
    for (side, ctx) in sides() {
        for bins in [1usize, 2, 255, 256, 257, 4095, 4096, 4097, 65_536] {
            let what = format!("bins={bins}");
            let xs = data::<f32>(Pattern::Special, 200_003, bins as u64);
            check(&ctx, side, &xs, bins, -1000.0, 1000.0, &what);
            let xs = data::<i32>(Pattern::Random, 100_003, bins as u64);
            check(&ctx, side, &xs, bins, i32::MIN, i32::MAX, &what);
            let xs = data::<u32>(Pattern::Random, 100_003, bins as u64);
            check(&ctx, side, &xs, bins, 12345, u32::MAX, &what);
            check(&ctx, side, &xs, bins, 0, 1 << 31, &what);
        }
    }
}

/// Values on, just below and just above every edge, the range ends, zeros,
/// infinities and NaN.
fn edge_values(bins: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        -1e-45,
        f32::MAX,
        f32::MIN,
    ];
    for e in f32::edges(bins, lo, hi) {
        v.extend([e.next_down(), e, e.next_up()]);
    }
    // Repeat so that some windows and workgroups hold many of them.
    v.iter().cycle().take(v.len() * 40).copied().collect()
}

#[test]
fn values_on_and_around_the_edges() {
    for (side, ctx) in sides() {
        for (bins, lo, hi) in [
            (4usize, 0.0f32, 4.0f32),
            (10, -1.5, 2.25),
            (7, -0.0, 1.0),
            (255, -3.0e38, 3.0e38),
            (300, 1.0, 1.000_01),
            (65_536, 1.0, 1.001),
            (3, -1e-40, 1e-40),
            (1000, 0.1, 0.7),
        ] {
            let xs = edge_values(bins, lo, hi);
            check(&ctx, side, &xs, bins, lo, hi, "edges");
        }
        // Hand-checked: lo counts, hi does not; -0 is 0.
        let x = ctx
            .upload(&[0.0f32, -0.0, 0.999_999_9, 1.0, 3.999_999_8, 4.0, f32::NAN])
            .unwrap();
        let h = ctx.histogram(&x, 4, 0.0, 4.0).unwrap().to_vec().unwrap();
        assert_eq!(h, vec![3, 1, 0, 1], "{side}");
        // Negative integers, and the whole i32 range.
        let xs: Vec<i32> = (-300..300).chain([i32::MIN, i32::MAX, -1]).collect();
        check(&ctx, side, &xs, 7, -100, 100, "negative ints");
        check(&ctx, side, &xs, 5, i32::MIN, i32::MAX, "i32 range");
        let xs: Vec<u32> = (0..600).chain([u32::MAX, u32::MAX - 1]).collect();
        check(&ctx, side, &xs, 3, 0, u32::MAX, "u32 range");
        check(&ctx, side, &xs, 600, 1, 2, "one value wide");
    }
}

#[test]
fn every_value_in_one_bin() {
    for (side, ctx) in sides() {
        for bins in [1usize, 256, 4096, 65_536] {
            let xs = vec![3.0f32; 1 << 20];
            check(&ctx, side, &xs, bins, 0.0, 10.0, "one bin");
        }
        let xs = vec![7u32; 1 << 20];
        check(&ctx, side, &xs, 256, 0, 256, "one bin u32");
    }
}

#[test]
fn past_65535_workgroups() {
    let Some(gpu) = common::gpu() else { return };
    // Past 4,096 bins every element is its own atomic: 256 elements per
    // workgroup, so this is 65,536 workgroups.
    let n = 65_535 * 256 + 1;
    let xs = data::<f32>(Pattern::Random, n, 3);
    check(
        &gpu,
        "gpu",
        &xs,
        8192,
        -1000.0,
        1000.0,
        "past the dispatch limit",
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
    // 16,384 f32 per window: about 19 windows adding into one set of counts.
    let xs = data::<f32>(Pattern::Special, 300_007, 4);
    for bins in [1usize, 256, 4096] {
        check(&gpu, "gpu 64 KiB", &xs, bins, -1000.0, 1000.0, "windows");
    }
    let us = data::<u32>(Pattern::Random, 300_007, 4);
    check(&gpu, "gpu 64 KiB", &us, 1000, 0, u32::MAX, "windows u32");
    // 65,536 counts are 256 KiB: past one binding.
    let x = gpu.upload(&xs).unwrap();
    let e = gpu.histogram(&x, 65_536, -1000.0, 1000.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    // Auto takes the CPU instead.
    let auto = small(Policy::Auto);
    check(
        &auto,
        "auto 64 KiB",
        &xs,
        65_536,
        -1000.0,
        1000.0,
        "too many bins",
    );
}

#[test]
fn bad_arguments_are_invalid_on_every_side() {
    for (side, ctx) in sides() {
        let x = ctx.upload(&[1.0f32, 2.0]).unwrap();
        let empty = ctx.upload::<f32>(&[]).unwrap();
        for (bins, lo, hi) in [
            (0usize, 0.0f32, 1.0f32),
            (4, 1.0, 1.0),
            (4, 2.0, 1.0),
            (4, f32::NAN, 1.0),
            (4, 0.0, f32::NAN),
            (4, 0.0, f32::INFINITY),
            (4, f32::NEG_INFINITY, 0.0),
            ((1 << 24) + 1, 0.0, 1.0),
        ] {
            for buf in [&x, &empty] {
                let e = ctx.histogram(buf, bins, lo, hi).unwrap_err();
                assert_eq!(
                    e.kind(),
                    ErrorKind::InvalidArgument,
                    "{side} {bins} {lo} {hi}: {e}"
                );
            }
        }
        let xi = ctx.upload(&[1i32]).unwrap();
        let e = ctx.histogram(&xi, 3, 5, -5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        let xu = ctx.upload(&[1u32]).unwrap();
        let e = ctx.histogram(&xu, 0, 0, 5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        // Empty input: zero counts.
        let h = ctx
            .histogram(&empty, 5, 0.0, 1.0)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(h, vec![0; 5], "{side}");
        // The input is untouched.
        assert_eq!(x.to_vec().unwrap(), vec![1.0, 2.0]);
    }
}
