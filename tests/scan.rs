//! Scans and stream compaction: every side this machine has against plain
//! sequential references written here, over the awkward sizes and the data
//! patterns; past the GPU's binding limit (windows) and, where the adapter
//! allows it, past 65,535 workgroups; and each bad input's typed error.

mod common;

use common::{data, patterns, side_runs, sides, sizes, Pattern, TestElement};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::ops::compact::Compare;
use tandem::{Context, ErrorKind, Policy};

/// Elements per GPU scan tile.
const TILE: usize = 2048;

/// The plain sequential scan, from the additive identity.
fn ref_scan<T: TestElement>(x: &[T], exclusive: bool) -> Vec<T> {
    let mut acc = T::zero();
    let mut out = Vec::with_capacity(x.len());
    for &v in x {
        if exclusive {
            out.push(acc);
            acc = acc.add(v);
        } else {
            acc = acc.add(v);
            out.push(acc);
        }
    }
    out
}

/// The same scan in f64, with the prefix sums of magnitudes (for tolerances).
fn ref_scan_f64<T: TestElement>(x: &[T], exclusive: bool) -> Vec<(f64, f64)> {
    let (mut s, mut a) = (0.0f64, 0.0f64);
    let mut out = Vec::with_capacity(x.len());
    for &v in x {
        let (sv, av) = (s + v.to_f64(), a + v.to_f64().abs());
        if exclusive {
            out.push((s, a));
        } else {
            out.push((sv, av));
        }
        (s, a) = (sv, av);
    }
    out
}

fn mantissa_limit<T>() -> f64 {
    if std::mem::size_of::<T>() == 4 {
        (1u64 << 24) as f64
    } else {
        (1u64 << 53) as f64
    }
}

/// Checks a scan: integers exactly; floats exactly where every prefix sum is an
/// integer the type holds exactly (any association gives the same bits), else
/// within the module's documented bound, `K * eps * sum(|x[..=i]|)`.
fn check_scan<T: TestElement>(what: &str, got: &[T], x: &[T], exclusive: bool) {
    assert_eq!(got.len(), x.len(), "{what}: length");
    let exact = !T::IS_FLOAT || {
        let mut mag = 0.0;
        x.iter().all(|v| {
            let f = v.to_f64();
            mag += f.abs();
            f.is_finite() && f.fract() == 0.0 && mag <= mantissa_limit::<T>()
        })
    };
    if exact {
        let want = ref_scan(x, exclusive);
        if let Some(i) = (0..x.len()).find(|&i| !got[i].same(want[i])) {
            panic!("{what} at {i}: got {:?}, want {:?}", got[i], want[i]);
        }
        return;
    }
    let eps = if std::mem::size_of::<T>() == 4 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    for (i, &(want, mag)) in ref_scan_f64(x, exclusive).iter().enumerate() {
        let g = got[i].to_f64();
        if want.is_nan() {
            assert!(g.is_nan(), "{what} at {i}: got {g}, want NaN");
        } else if want.is_infinite() {
            assert_eq!(g, want, "{what} at {i}");
        } else {
            let tol = 4200.0 * eps * mag;
            assert!(
                (g - want).abs() <= tol,
                "{what} at {i}: got {g}, want {want} (error {:e} > {tol:e})",
                (g - want).abs()
            );
        }
    }
}

/// Sizes for the scan parity suite: common::sizes() plus tile edges and the
/// point where the tile sums need a second level.
fn scan_sizes() -> Vec<usize> {
    let mut v = sizes();
    v.extend([TILE * 4 - 1, TILE * 4 + 1]);
    v.sort_unstable();
    v.dedup();
    v
}

fn scans<T: TestElement>() {
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in scan_sizes() {
            // Big sizes: one pattern (checked exactly), to keep the suite quick
            // on software GPUs.
            let pats = if n > 300_000 {
                vec![if T::IS_FLOAT {
                    Pattern::SmallInts
                } else {
                    Pattern::Random
                }]
            } else {
                patterns::<T>()
            };
            for pattern in pats {
                let xs = data::<T>(pattern, n, 21);
                let what = format!("{side} {} n={n} {pattern:?}", std::any::type_name::<T>());
                let x = ctx.upload(&xs).unwrap();
                let inc = ctx.inclusive_scan(&x).unwrap().to_vec().unwrap();
                check_scan(&format!("inclusive {what}"), &inc, &xs, false);
                let exc = ctx.exclusive_scan(&x).unwrap().to_vec().unwrap();
                check_scan(&format!("exclusive {what}"), &exc, &xs, true);
            }
        }
    }
}

#[test]
fn scans_u32() {
    let _serial = common::gpu_serial();
    scans::<u32>();
}

#[test]
fn scans_i32() {
    let _serial = common::gpu_serial();
    scans::<i32>();
}

#[test]
fn scans_f32() {
    let _serial = common::gpu_serial();
    scans::<f32>();
}

#[test]
fn scans_f64() {
    let _serial = common::gpu_serial();
    scans::<f64>();
}

#[test]
fn integer_scans_wrap_identically() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        let x = ctx.upload(&[u32::MAX; 5000]).unwrap();
        let want: Vec<u32> = (1..=5000u32).map(|k| u32::MAX.wrapping_mul(k)).collect();
        assert_eq!(
            ctx.inclusive_scan(&x).unwrap().to_vec().unwrap(),
            want,
            "{side}"
        );
        let x = ctx.upload(&[i32::MAX, 1, i32::MIN, -1, 7]).unwrap();
        assert_eq!(
            ctx.exclusive_scan(&x).unwrap().to_vec().unwrap(),
            [0, i32::MAX, i32::MIN, 0, -1],
            "{side}"
        );
    }
}

#[test]
fn float_scans_propagate_nan_and_infinity() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        let x = ctx
            .upload(&[1.0f32, f32::INFINITY, 2.0, f32::NEG_INFINITY, 3.0])
            .unwrap();
        let y = ctx.inclusive_scan(&x).unwrap().to_vec().unwrap();
        assert_eq!(&y[..3], [1.0, f32::INFINITY, f32::INFINITY], "{side}");
        assert!(y[3].is_nan() && y[4].is_nan(), "{side}: {y:?}");
        let x = ctx.upload(&[-0.0f32, -0.0]).unwrap();
        let y = ctx.exclusive_scan(&x).unwrap().to_vec().unwrap();
        // Scans start from +0.
        assert_eq!(y[0].to_bits(), 0, "{side}");
    }
}

#[test]
fn empty_scans_are_empty() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        let x = ctx.upload::<f32>(&[]).unwrap();
        assert!(ctx.inclusive_scan(&x).unwrap().is_empty(), "{side}");
        assert!(ctx.exclusive_scan(&x).unwrap().is_empty(), "{side}");
        let m = ctx.upload::<u32>(&[]).unwrap();
        assert!(ctx.compact(&x, &m).unwrap().is_empty(), "{side}");
        assert_eq!(ctx.count_if(&x, Compare::Ne, 1.0).unwrap(), 0, "{side}");
    }
}

/// Masks: random at two densities, all zero, all one.
fn masks(n: usize, seed: u64) -> Vec<(&'static str, Vec<u32>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ n as u64);
    vec![
        (
            "random",
            (0..n)
                .map(|_| rng.random_range(0..2u32) * rng.random::<u32>().max(1))
                .collect(),
        ),
        (
            "sparse",
            (0..n)
                .map(|_| (rng.random_range(0..100) == 0) as u32)
                .collect(),
        ),
        ("zeros", vec![0; n]),
        ("ones", vec![1; n]),
    ]
}

/// `e <cmp> v` by plain IEEE comparison: the reference.
fn ieee<T: TestElement>(cmp: Compare, e: T, v: T) -> bool {
    match cmp {
        Compare::Lt => e < v,
        Compare::Le => e <= v,
        Compare::Gt => e > v,
        Compare::Ge => e >= v,
        Compare::Eq => e == v,
        Compare::Ne => e != v,
    }
}

fn same_vec<T: TestElement>(what: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| !got[i].same(want[i])) {
        panic!("{what} at {i}: got {:?}, want {:?}", got[i], want[i]);
    }
}

fn compaction<T: TestElement>() {
    let mut sz: Vec<usize> = sizes().into_iter().filter(|&n| n < 300_000).collect();
    sz.push(TILE * TILE + 5);
    for (side, ctx) in sides() {
        if side == "gpu" && std::mem::size_of::<T>() == 8 {
            // Compaction kernels take 32-bit elements: f64 is refused, typed.
            let x = ctx.upload(&[T::from_i64(1)]).unwrap();
            let m = ctx.upload(&[1u32]).unwrap();
            assert_eq!(
                ctx.compact(&x, &m).unwrap_err().kind(),
                ErrorKind::Unsupported
            );
            let e = ctx.count_if(&x, Compare::Lt, T::zero()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unsupported);
            continue;
        }
        for &n in &sz {
            let big = n > 300_000;
            let pattern = if T::IS_FLOAT {
                Pattern::Special
            } else {
                Pattern::Random
            };
            let xs = data::<T>(pattern, n, 31);
            let x = ctx.upload(&xs).unwrap();
            let what = format!("{side} {} n={n}", std::any::type_name::<T>());
            for (name, ms) in masks(n, 5) {
                if big && name != "random" {
                    continue;
                }
                let want: Vec<T> = xs
                    .iter()
                    .zip(&ms)
                    .filter(|(_, &m)| m != 0)
                    .map(|(&v, _)| v)
                    .collect();
                let m = ctx.upload(&ms).unwrap();
                let got = ctx.compact(&x, &m).unwrap().to_vec().unwrap();
                same_vec(&format!("compact {what} mask {name}"), &got, &want);
            }
            let mut values = vec![T::from_i64(0), T::from_i64(37)];
            if T::IS_FLOAT {
                values.push(T::from_i64(0).sub(T::from_i64(0)).mul(T::from_i64(-1))); // -0
                values.push(xs.iter().copied().find(|v| v.is_nan()).unwrap_or(T::zero()));
            } else {
                values.push(xs.get(n / 2).copied().unwrap_or(T::zero()));
            }
            for cmp in Compare::ALL {
                for &v in &values {
                    // Every comparison and value on a few sizes; one elsewhere.
                    let sweep = n < 3000 || n == 104_729;
                    if !sweep && (cmp != Compare::Lt || v != values[1]) {
                        continue;
                    }
                    let want: Vec<T> = xs.iter().copied().filter(|&e| ieee(cmp, e, v)).collect();
                    let w = format!("{what} {cmp:?} {v:?}");
                    let got = ctx.compact_if(&x, cmp, v).unwrap().to_vec().unwrap();
                    same_vec(&format!("compact_if {w}"), &got, &want);
                    assert_eq!(
                        ctx.count_if(&x, cmp, v).unwrap(),
                        want.len(),
                        "count_if {w}"
                    );
                    assert!(
                        xs.iter()
                            .take(1000)
                            .all(|&e| cmp.holds(e, v) == ieee(cmp, e, v)),
                        "Compare::holds {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn compaction_u32() {
    let _serial = common::gpu_serial();
    compaction::<u32>();
}

#[test]
fn compaction_i32() {
    let _serial = common::gpu_serial();
    compaction::<i32>();
}

#[test]
fn compaction_f32() {
    let _serial = common::gpu_serial();
    compaction::<f32>();
}

#[test]
fn compaction_f64() {
    let _serial = common::gpu_serial();
    compaction::<f64>();
}

#[test]
fn comparisons_follow_ieee_for_nan_and_signed_zero() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        let xs = [f32::NAN, -0.0, 0.0, 1.0, -1.0, f32::INFINITY, -f32::NAN];
        let x = ctx.upload(&xs).unwrap();
        let n = |cmp, v| ctx.count_if(&x, cmp, v).unwrap();
        assert_eq!(n(Compare::Eq, 0.0), 2, "{side}: -0 == +0");
        assert_eq!(n(Compare::Eq, -0.0), 2, "{side}");
        assert_eq!(n(Compare::Lt, 0.0), 1, "{side}");
        assert_eq!(n(Compare::Le, -0.0), 3, "{side}");
        assert_eq!(
            n(Compare::Ge, f32::NEG_INFINITY),
            5,
            "{side}: NaN is not >= -inf"
        );
        assert_eq!(n(Compare::Ne, 1.0), 6, "{side}: NaN != 1");
        assert_eq!(n(Compare::Ne, f32::NAN), 7, "{side}: everything != NaN");
        assert_eq!(n(Compare::Eq, f32::NAN), 0, "{side}");
        let kept = ctx
            .compact_if(&x, Compare::Gt, -1.0)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(
            kept.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            [
                (-0.0f32).to_bits(),
                0,
                1.0f32.to_bits(),
                f32::INFINITY.to_bits()
            ],
            "{side}"
        );
    }
}

#[test]
fn a_mask_of_another_length_is_a_typed_error() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        let x = ctx.upload(&[1.0f32, 2.0, 3.0]).unwrap();
        let m = ctx.upload(&[1u32, 0]).unwrap();
        let e = ctx.compact(&x, &m).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        assert!(e.to_string().contains("compact"), "{e}");
        // Nothing lost.
        assert_eq!(x.to_vec().unwrap(), [1.0, 2.0, 3.0]);
        assert_eq!(m.to_vec().unwrap(), [1, 0]);
    }
}

#[test]
fn f64_compaction_runs_on_the_cpu_under_auto() {
    let _serial = common::gpu_serial();
    let ctx = common::context();
    let x = ctx.upload(&[1.0f64, f64::NAN, 3.0]).unwrap();
    let y = ctx
        .compact_if(&x, Compare::Ge, 2.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(y, [3.0]);
}

/// How much of [`match_cpu`] to run.
#[derive(Clone, Copy, PartialEq)]
enum Ops {
    /// Both scans.
    Scans,
    /// Both scans and `compact` by mask.
    Mask,
    /// The inclusive scan and `compact` by mask.
    Big,
    /// Both scans, `compact`, `compact_if` and `count_if`.
    All,
}

/// Scans and compactions on `ctx` (GPU) against the CPU twin, exactly.
fn match_cpu<T: TestElement>(ctx: &Context, n: usize, ops: Ops) {
    let cpu = ctx.with_policy(Policy::Cpu);
    let xs = data::<T>(Pattern::SmallInts, n, 41);
    let x = ctx.upload(&xs).unwrap();
    let what = format!("{} n={n}", std::any::type_name::<T>());
    for exclusive in [false, true] {
        if exclusive && ops == Ops::Big {
            continue;
        }
        let (g, c) = if exclusive {
            (ctx.exclusive_scan(&x), cpu.exclusive_scan(&x))
        } else {
            (ctx.inclusive_scan(&x), cpu.inclusive_scan(&x))
        };
        let (g, c) = (g.unwrap().to_vec().unwrap(), c.unwrap().to_vec().unwrap());
        same_vec(&format!("scan (exclusive: {exclusive}) {what}"), &g, &c);
    }
    if ops == Ops::Scans {
        return;
    }
    let ms: Vec<u32> = xs.iter().map(|v| (v.to_f64() > 0.0) as u32).collect();
    let m = ctx.upload(&ms).unwrap();
    let g = ctx.compact(&x, &m).unwrap().to_vec().unwrap();
    let c = cpu.compact(&x, &m).unwrap().to_vec().unwrap();
    same_vec(&format!("compact {what}"), &g, &c);
    if ops != Ops::All {
        return;
    }
    let g = ctx
        .compact_if(&x, Compare::Le, T::from_i64(-3))
        .unwrap()
        .to_vec()
        .unwrap();
    let c = cpu
        .compact_if(&x, Compare::Le, T::from_i64(-3))
        .unwrap()
        .to_vec()
        .unwrap();
    same_vec(&format!("compact_if {what}"), &g, &c);
    assert_eq!(
        ctx.count_if(&x, Compare::Ne, T::zero()).unwrap(),
        cpu.count_if(&x, Compare::Ne, T::zero()).unwrap(),
        "count_if {what}"
    );
}

#[test]
fn windows_of_a_small_binding_limit() {
    let _serial = common::gpu_serial();
    if common::gpu().is_none() {
        return;
    }
    // 64 KiB bindings: windows of 16,384 four-byte or 8,192 eight-byte elements.
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    let f64_ok = ctx.gpu_info().unwrap().f64;
    for n in [16_383, 16_385, 3 * 16_384 + 7, 100_003] {
        match_cpu::<u32>(&ctx, n, Ops::All);
        match_cpu::<i32>(&ctx, n, Ops::All);
        match_cpu::<f32>(&ctx, n, Ops::All);
        if f64_ok {
            match_cpu::<f64>(&ctx, n, Ops::Scans);
        }
    }
    // Two levels of tile sums.
    match_cpu::<u32>(&ctx, TILE * TILE + 3, Ops::Mask);
}

#[test]
fn windows_smaller_than_a_tile() {
    let _serial = common::gpu_serial();
    if common::gpu().is_none() {
        return;
    }
    // 4 KiB bindings: windows of 1,024 elements, half a tile; the tile sums and
    // offsets span many windows too.
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(4 << 10)
        .build()
        .unwrap();
    for n in [1023, 1025, 5000] {
        match_cpu::<u32>(&ctx, n, Ops::All);
        match_cpu::<f32>(&ctx, n, Ops::All);
    }
    // Tile sums and offsets span many windows: 2,051 windows of input, then
    // 2,051 tile sums in 3 windows, then 3 second-level sums.
    match_cpu::<u32>(&ctx, 2_100_000, Ops::Mask);
}

#[test]
fn past_the_largest_binding() {
    let _serial = common::gpu_serial();
    let Some(gpu) = common::gpu() else { return };
    // 2^25 + 3 four-byte elements: past lavapipe's 128 MiB binding.
    let n = (1usize << 25) + 3;
    if (n * 4) as u64 <= gpu.gpu_info().unwrap().max_storage_binding {
        eprintln!("this adapter binds {n} elements at once: no windows needed");
    }
    match_cpu::<u32>(&gpu, n, Ops::Big);
}

#[test]
fn past_the_dispatch_limit_where_one_binding_allows_it() {
    let _serial = common::gpu_serial();
    let Some(gpu) = common::gpu() else { return };
    // More than 65,535 tiles in one window needs a binding of 512 MiB or more.
    let n = 65_536 * TILE + 1;
    let info = gpu.gpu_info().unwrap();
    if info.max_storage_binding < (n * 4) as u64 || info.max_buffer_size < (n * 4) as u64 {
        eprintln!(
            "skipped: this adapter binds at most {} bytes, so scans never dispatch more than 65,535 tiles at once",
            info.max_storage_binding
        );
        return;
    }
    match_cpu::<u32>(&gpu, n, Ops::Mask);
}

#[test]
fn the_plain_kernels_match_on_a_subgroup_adapter() {
    let _serial = common::gpu_serial();
    if common::gpu().is_none() {
        return;
    }
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .disable_subgroups()
        .build()
        .unwrap();
    for n in [1, 255, 256, 257, 2049, 100_003] {
        match_cpu::<u32>(&ctx, n, Ops::All);
        match_cpu::<f32>(&ctx, n, Ops::All);
    }
}
