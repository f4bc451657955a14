//! Property-based suite (issue 17): every public op on every side (Cpu, Gpu,
//! Auto, Auto with `gpu_crossover(1)`, Split), with random lengths around the
//! awkward sizes, random data including NaN, +-0, +-inf, subnormals and integer
//! extremes, and random bad arguments. Each result is checked against a plain
//! sequential reference and each error's kind against the documented one.
//!
//! Seeded and deterministic (ChaCha, fixed seed; no failure files). Cases per
//! property: `TANDEM_PROPTEST_CASES` (default 32, on every backend). Each property prints a line:
//! inputs tried x sides, results checked, clean errors by kind, wrong answers
//! (0, or the test fails), panics (0, or the test fails).

mod common;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, OnceLock};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use tandem::{map_kernel, Compare, Context, ErrorKind, Policy};

type Outcome = Result<(), TestCaseError>;

const SEED: [u8; 32] = *b"tandem issue 17 properties seed!";

/// Lengths around the tiles and chunks (wg 256, reduce tile 2,048, map chunk
/// 4,096, binding windows) and primes; bounded so the suite stays in CI's budget.
const AWKWARD: &[usize] = &[
    0, 1, 2, 3, 5, 7, 15, 16, 17, 31, 32, 33, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 2047,
    2048, 2049, 4095, 4096, 4097, 7919, 8191, 8192, 8193, 65_535, 65_536, 65_537, 104_729,
];

/// The five sides, built once per test binary.
fn sides() -> &'static [(&'static str, Context)] {
    static SIDES: OnceLock<Vec<(&'static str, Context)>> = OnceLock::new();
    SIDES.get_or_init(|| {
        let mut v = common::sides();
        if v.len() > 1 {
            let ctx = common::context();
            v.push(("auto", ctx.clone()));
            v.push(("split", ctx.with_policy(Policy::Split)));
            let eager = Context::builder()
                .policy(Policy::Auto)
                .without_profile()
                .gpu_crossover(1)
                .build()
                .expect("an Auto context always builds");
            v.push(("auto-crossover-1", eager));
        }
        v
    })
}

#[derive(Default, Debug)]
struct Tally {
    inputs: usize,
    results: usize,
    errors: BTreeMap<String, usize>,
    panics: usize,
}

fn tallies() -> &'static Mutex<BTreeMap<&'static str, Tally>> {
    static T: OnceLock<Mutex<BTreeMap<&'static str, Tally>>> = OnceLock::new();
    T.get_or_init(Default::default)
}

fn count(prop: &'static str, f: impl FnOnce(&mut Tally)) {
    f(tallies()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(prop)
        .or_default());
}

fn cases() -> u32 {
    // 32 cases take about 35 s on Vulkan (lavapipe) and 45 s on GL (llvmpipe).
    std::env::var("TANDEM_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

/// Runs `check` on `cases()` seeded inputs and every side; a panic inside an op
/// is a failure, like a wrong answer. Prints the property's tally.
fn property<S: Strategy>(
    prop: &'static str,
    strategy: S,
    check: impl Fn(&str, &Context, &S::Value) -> Outcome,
) where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 32,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let _g = common::gpu_serial();
    let r = runner.run(&strategy, |input| {
        count(prop, |t| t.inputs += 1);
        for (side, ctx) in sides() {
            match catch_unwind(AssertUnwindSafe(|| check(side, ctx, &input))) {
                Ok(r) => r?,
                Err(_) => {
                    count(prop, |t| t.panics += 1);
                    return Err(TestCaseError::fail(format!("{side}: panicked")));
                }
            }
        }
        Ok(())
    });
    let t = tallies()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(prop)
        .map(|t| format!("{t:?}"))
        .unwrap_or_default();
    // proptest stops at the first failing case (then shrinks it): a failure is
    // one wrong answer (or panic, counted in the tally).
    eprintln!(
        "properties: {prop}: {t} over {} sides; failing cases: {}",
        sides().len(),
        usize::from(r.is_err()),
    );
    if let Err(e) = r {
        panic!("{prop}: {e}");
    }
}

/// Records an Ok result or checks an error's kind against `allowed`.
fn expect<T>(
    prop: &'static str,
    side: &str,
    r: tandem::Result<T>,
    allowed: &[ErrorKind],
) -> Result<Option<T>, TestCaseError> {
    match r {
        Ok(v) => {
            count(prop, |t| t.results += 1);
            Ok(Some(v))
        }
        Err(e) if allowed.contains(&e.kind()) => {
            count(prop, |t| {
                *t.errors.entry(format!("{:?}", e.kind())).or_default() += 1
            });
            Ok(None)
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "{side}: unexpected error {:?}: {e}",
            e.kind()
        ))),
    }
}

fn len() -> impl Strategy<Value = usize> {
    prop_oneof![3 => select(AWKWARD), 1 => 0usize..3000]
}

/// Floats of every class.
fn any_f32() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        4 => (-4000i32..4000).prop_map(|i| i as f32 * 0.25),
        2 => any::<f32>(),
        1 => select(vec![
            f32::NAN, -f32::NAN, 0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY,
            f32::MIN_POSITIVE / 4.0, -f32::MIN_POSITIVE / 8.0, f32::from_bits(1), f32::MAX, f32::MIN,
        ]),
    ]
}

/// Floats whose sums cannot overflow (plus NaN, infinities and zeros).
fn sum_f32() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        6 => (-4000i32..4000).prop_map(|i| i as f32 * 0.37),
        1 => -1e6f32..1e6f32,
        1 => select(vec![f32::NAN, 0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::from_bits(3)]),
    ]
}

fn any_i32() -> impl Strategy<Value = i32> + Clone {
    prop_oneof![3 => any::<i32>(), 2 => -50i32..50, 1 => select(vec![i32::MIN, i32::MAX, 0, -1, 1])]
}

fn data<T: std::fmt::Debug>(
    elem: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Vec<T>> {
    len().prop_flat_map(move |n| vec(elem.clone(), n))
}

fn same_f32(a: f32, b: f32) -> bool {
    // A GPU may flush subnormals: a result within the smallest normal is equal.
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= f32::MIN_POSITIVE
}

/// A float sum checked against an f64 reference with an association tolerance.
fn close_sum(got: f32, xs: impl Iterator<Item = f32> + Clone) -> bool {
    let exact: f64 = xs.clone().map(f64::from).sum();
    let abs: f64 = xs.clone().map(|v| f64::from(v).abs()).sum();
    close_to(got, exact, abs, xs.count())
}

/// `got` against the f64 sum `exact` of `n` values whose magnitudes sum to `abs`.
fn close_to(got: f32, exact: f64, abs: f64, n: usize) -> bool {
    let n = n.max(1) as f64;
    if exact.is_nan() {
        return got.is_nan();
    }
    if exact.is_infinite() {
        return got as f64 == exact;
    }
    let tol = abs * (n.log2() + 2.0) * 2.0 * f32::EPSILON as f64 + n * f32::MIN_POSITIVE as f64;
    ((got as f64) - exact).abs() <= tol
}

fn fail(side: &str, what: String) -> Outcome {
    Err(TestCaseError::fail(format!("{side}: wrong answer: {what}")))
}

const DEVICE: &[ErrorKind] = &[];

#[test]
fn elementwise_ops() {
    let p = "elementwise add/sub/mul/scale/axpy f32 and i32";
    let s = (data(any_f32()), any_f32(), data(any_i32()), -8i32..8);
    property(p, s, |side, ctx, (xs, a, is, ia)| {
        let ys: Vec<f32> = xs.iter().rev().copied().collect();
        let (x, y) = (ctx.upload(xs).unwrap(), ctx.upload(&ys).unwrap());
        for (op, r, f) in [
            (
                "add",
                ctx.add(&x, &y),
                (|a: f32, b: f32| a + b) as fn(f32, f32) -> f32,
            ),
            ("sub", ctx.sub(&x, &y), |a, b| a - b),
            ("mul", ctx.mul(&x, &y), |a, b| a * b),
        ] {
            if let Some(v) = expect(p, side, r.and_then(|b| b.to_vec()), DEVICE)? {
                for i in 0..xs.len() {
                    if !same_f32(v[i], f(xs[i], ys[i])) {
                        return fail(
                            side,
                            format!("{op} at {i}: {} vs {}", v[i], f(xs[i], ys[i])),
                        );
                    }
                }
            }
        }
        if let Some(v) = expect(p, side, ctx.scale(&x, *a).and_then(|b| b.to_vec()), DEVICE)? {
            if let Some(i) = (0..xs.len()).find(|&i| !same_f32(v[i], xs[i] * a)) {
                return fail(side, format!("scale at {i}"));
            }
        }
        let iy: Vec<i32> = is.iter().map(|v| v.wrapping_mul(3)).collect();
        let (xi, yi) = (ctx.upload(is).unwrap(), ctx.upload(&iy).unwrap());
        let want: Vec<i32> = is
            .iter()
            .zip(&iy)
            .map(|(x, y)| ia.wrapping_mul(*x).wrapping_add(*y))
            .collect();
        if let Some(v) = expect(
            p,
            side,
            ctx.axpy(*ia, &xi, &yi).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v != want {
                return fail(side, "i32 axpy".into());
            }
        }
        // A random bad argument: unequal lengths.
        if !xs.is_empty() {
            let short = ctx.upload(&xs[1..]).unwrap();
            let e = ctx.add(&x, &short).err().map(|e| e.kind());
            if e != Some(ErrorKind::LengthMismatch) {
                return fail(side, format!("add of unequal lengths gave {e:?}"));
            }
            count(p, |t| {
                *t.errors.entry("LengthMismatch".into()).or_default() += 1
            });
        }
        Ok(())
    });
}

#[test]
fn reductions() {
    let p = "sum/dot/min/max/argmin/argmax f32, sum/min u32";
    let s = (data(sum_f32()), data(any_f32()), data(any::<u32>()));
    property(p, s, |side, ctx, (xs, fs, us)| {
        let x = ctx.upload(xs).unwrap();
        if let Some(v) = expect(p, side, ctx.sum(&x), DEVICE)? {
            if !close_sum(v, xs.iter().copied()) {
                return fail(side, format!("sum {v}"));
            }
        }
        if let Some(v) = expect(p, side, ctx.dot(&x, &x), DEVICE)? {
            if !close_sum(v, xs.iter().map(|v| v * v)) {
                return fail(side, format!("dot {v}"));
            }
        }
        // min/max: NaN ignored, -0 < +0, ties to the first, all-NaN gives NaN / index 0.
        let f = ctx.upload(fs).unwrap();
        let best = |max: bool| -> Option<(usize, f32)> {
            let mut best: Option<(usize, f32)> = None;
            for (i, &v) in fs.iter().enumerate() {
                if v.is_nan() {
                    continue;
                }
                let better = best.is_none_or(|(_, b)| {
                    let o = v.total_cmp(&b);
                    if max {
                        o.is_gt()
                    } else {
                        o.is_lt()
                    }
                });
                if better {
                    best = Some((i, v));
                }
            }
            best.or_else(|| (!fs.is_empty()).then(|| (0, fs[0])))
        };
        for max in [false, true] {
            let want = best(max);
            let (v, i) = if max {
                (ctx.max(&f), ctx.argmax(&f))
            } else {
                (ctx.min(&f), ctx.argmin(&f))
            };
            if let Some(v) = expect(p, side, v, DEVICE)? {
                let ok = match (v, want) {
                    (None, None) => true,
                    (Some(v), Some((_, w))) => {
                        v.to_bits() == w.to_bits() || (v.is_nan() && w.is_nan())
                    }
                    _ => false,
                };
                if !ok {
                    return fail(side, format!("max={max}: {v:?} vs {want:?}"));
                }
            }
            if let Some(i) = expect(p, side, i, DEVICE)? {
                if i != want.map(|w| w.0) {
                    return fail(side, format!("arg max={max}: {i:?} vs {want:?}"));
                }
            }
        }
        let u = ctx.upload(us).unwrap();
        if let Some(v) = expect(p, side, ctx.sum(&u), DEVICE)? {
            if v != us.iter().fold(0u32, |s, x| s.wrapping_add(*x)) {
                return fail(side, "u32 sum".into());
            }
        }
        if let Some(v) = expect(p, side, ctx.min(&u), DEVICE)? {
            if v != us.iter().copied().min() {
                return fail(side, "u32 min".into());
            }
        }
        Ok(())
    });
}

#[test]
fn scans() {
    let p = "inclusive/exclusive scan i32 and f32";
    let s = (data(any_i32()), data(sum_f32()));
    property(p, s, |side, ctx, (is, fs)| {
        let x = ctx.upload(is).unwrap();
        let mut acc = 0i32;
        let inc: Vec<i32> = is
            .iter()
            .map(|v| {
                acc = acc.wrapping_add(*v);
                acc
            })
            .collect();
        let exc: Vec<i32> = std::iter::once(0)
            .chain(inc.iter().copied())
            .take(is.len())
            .collect();
        if let Some(v) = expect(
            p,
            side,
            ctx.inclusive_scan(&x).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v != inc {
                return fail(side, "i32 inclusive".into());
            }
        }
        if let Some(v) = expect(
            p,
            side,
            ctx.exclusive_scan(&x).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v != exc {
                return fail(side, "i32 exclusive".into());
            }
        }
        let f = ctx.upload(fs).unwrap();
        if let Some(v) = expect(
            p,
            side,
            ctx.inclusive_scan(&f).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            let (mut exact, mut abs) = (0f64, 0f64);
            for (i, got) in v.iter().enumerate() {
                exact += f64::from(fs[i]);
                abs += f64::from(fs[i]).abs();
                if !close_to(*got, exact, abs, i + 1) {
                    return fail(side, format!("f32 inclusive at {i}: {got}"));
                }
            }
        }
        Ok(())
    });
}

#[test]
fn sorts() {
    let p = "sort f32/i32, sort_by_key u32 -> u32";
    let s = (data(any_f32()), data(any_i32()), data(0u32..64));
    property(p, s, |side, ctx, (fs, is, ks)| {
        let mut want = fs.clone();
        want.sort_by(f32::total_cmp);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        if let Some(v) = expect(
            p,
            side,
            ctx.sort(&ctx.upload(fs).unwrap()).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if bits(&v) != bits(&want) {
                return fail(side, "f32 sort".into());
            }
        }
        let mut wi = is.clone();
        wi.sort();
        if let Some(v) = expect(
            p,
            side,
            ctx.sort(&ctx.upload(is).unwrap()).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v != wi {
                return fail(side, "i32 sort".into());
            }
        }
        let vals: Vec<u32> = (0..ks.len() as u32).collect();
        let mut pairs: Vec<(u32, u32)> = ks.iter().copied().zip(vals.iter().copied()).collect();
        pairs.sort_by_key(|p| p.0); // stable
        let (k, v) = (ctx.upload(ks).unwrap(), ctx.upload(&vals).unwrap());
        if let Some((sk, sv)) = expect(p, side, ctx.sort_by_key(&k, &v), DEVICE)? {
            let got: Vec<(u32, u32)> = sk
                .to_vec()
                .unwrap()
                .into_iter()
                .zip(sv.to_vec().unwrap())
                .collect();
            if got != pairs {
                return fail(side, "sort_by_key".into());
            }
        }
        if !ks.is_empty() {
            let short = ctx.upload(&vals[1..]).unwrap();
            let e = ctx.sort_by_key(&k, &short).err().map(|e| e.kind());
            if e != Some(ErrorKind::LengthMismatch) {
                return fail(side, format!("sort_by_key of unequal lengths gave {e:?}"));
            }
            count(p, |t| {
                *t.errors.entry("LengthMismatch".into()).or_default() += 1
            });
        }
        Ok(())
    });
}

/// The documented f32 edges: the smallest f32 not below lo + (hi - lo) * k / bins (f64).
fn f32_edges(bins: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..=bins)
        .map(|k| {
            let e = lo as f64 + (hi as f64 - lo as f64) * k as f64 / bins as f64;
            let mut f = e as f32;
            if (f as f64) < e {
                f = f32::from_bits(if f >= 0.0 {
                    f.to_bits() + 1
                } else {
                    f.to_bits() - 1
                });
                if f == 0.0 {
                    f = 0.0
                }
            }
            f
        })
        .collect()
}

#[test]
fn histograms() {
    let p = "histogram i32 and f32, bad bins and ranges";
    let s = (
        data(any_i32()),
        -200i32..200,
        1i32..400,
        0usize..300,
        data(any_f32()),
    );
    property(p, s, |side, ctx, (is, lo, width, bins, fs)| {
        let hi = lo + width;
        let x = ctx.upload(is).unwrap();
        let r = ctx.histogram(&x, *bins, *lo, hi).and_then(|b| b.to_vec());
        if *bins == 0 {
            return match r {
                Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                    count(p, |t| {
                        *t.errors.entry("InvalidArgument".into()).or_default() += 1
                    });
                    Ok(())
                }
                other => fail(side, format!("bins 0 gave {other:?}")),
            };
        }
        let mut want = vec![0u32; *bins];
        for &v in is {
            if v >= *lo && v < hi {
                want[((v as i64 - *lo as i64) * *bins as i64 / *width as i64) as usize] += 1;
            }
        }
        if let Some(h) = expect(p, side, r, DEVICE)? {
            if h != want {
                return fail(side, "i32 histogram".into());
            }
        }
        let (flo, fhi) = (*lo as f32 * 0.5, hi as f32 * 0.5);
        let edges = f32_edges(*bins, flo, fhi);
        let mut want = vec![0u32; *bins];
        for &v in fs {
            if v >= flo && v < fhi {
                let k = (0..*bins).rev().find(|&k| edges[k] <= v).unwrap_or(0);
                want[k] += 1;
            }
        }
        let f = ctx.upload(fs).unwrap();
        if let Some(h) = expect(
            p,
            side,
            ctx.histogram(&f, *bins, flo, fhi).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if h != want {
                return fail(side, "f32 histogram".into());
            }
        }
        for (what, r) in [
            ("lo >= hi", ctx.histogram(&f, *bins, fhi, flo)),
            ("NaN lo", ctx.histogram(&f, *bins, f32::NAN, fhi)),
        ] {
            if r.as_ref().err().map(|e| e.kind()) != Some(ErrorKind::InvalidArgument) {
                return fail(side, format!("{what} gave {:?}", r.map(|_| ())));
            }
            count(p, |t| {
                *t.errors.entry("InvalidArgument".into()).or_default() += 1
            });
        }
        Ok(())
    });
}

#[test]
fn matmul_and_transpose() {
    let p = "matmul (k up to 65,560) and transpose, bad shapes";
    let dims = prop_oneof![
        7 => (0usize..40, 0usize..40, 0usize..40),
        1 => (1usize..3, 65_530usize..65_560, 1usize..3),
    ];
    property(p, (dims, any::<u64>()), |side, ctx, ((m, k, n), seed)| {
        let (m, k, n) = (*m, *k, *n);
        // Small integers: every partial sum is exact, whatever the order.
        let gen = |len: usize, salt: u64| -> Vec<f32> {
            (0..len)
                .map(|i| (((i as u64).wrapping_mul(2654435761) ^ seed ^ salt) % 17) as f32 - 8.0)
                .collect()
        };
        let (av, bv) = (gen(m * k, 1), gen(k * n, 2));
        let (a, b) = (ctx.upload(&av).unwrap(), ctx.upload(&bv).unwrap());
        if let Some(c) = expect(
            p,
            side,
            ctx.matmul(&a, &b, m, k, n).and_then(|c| c.to_vec()),
            DEVICE,
        )? {
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = (0..k).map(|q| av[i * k + q] * bv[q * n + j]).sum();
                    if c[i * n + j] != want {
                        return fail(side, format!("matmul ({i},{j}) {} vs {want}", c[i * n + j]));
                    }
                }
            }
        }
        let e = ctx.matmul(&a, &b, m + 1, k, n).err().map(|e| e.kind());
        if k > 0 {
            if e != Some(ErrorKind::LengthMismatch) {
                return fail(side, format!("bad matmul shape gave {e:?}"));
            }
            count(p, |t| {
                *t.errors.entry("LengthMismatch".into()).or_default() += 1
            });
        }
        if m * k < 100_000 {
            if let Some(t) = expect(
                p,
                side,
                ctx.transpose(&a, m, k).and_then(|t| t.to_vec()),
                DEVICE,
            )? {
                if (0..m).any(|i| (0..k).any(|j| t[j * m + i] != av[i * k + j])) {
                    return fail(side, "transpose".into());
                }
            }
        }
        Ok(())
    });
}

#[test]
fn gather_scatter_compact() {
    let p = "gather/scatter/compact/compact_if/count_if, indices out of range";
    let s = (
        data(any_f32()),
        vec(0u32..5000, 0..600),
        any_f32(),
        0usize..6,
    );
    property(p, s, |side, ctx, (xs, idx, t, c)| {
        let x = ctx.upload(xs).unwrap();
        let i = ctx.upload(idx).unwrap();
        let oob = idx.iter().any(|&j| j as usize >= xs.len());
        match ctx.gather(&x, &i).and_then(|b| b.to_vec()) {
            Ok(v) if !oob => {
                count(p, |t| t.results += 1);
                let want: Vec<u32> = idx.iter().map(|&j| xs[j as usize].to_bits()).collect();
                if v.iter().map(|v| v.to_bits()).collect::<Vec<_>>() != want {
                    return fail(side, "gather".into());
                }
            }
            Err(e) if oob && e.kind() == ErrorKind::InvalidArgument => count(p, |t| {
                *t.errors.entry("InvalidArgument".into()).or_default() += 1
            }),
            other => {
                return fail(
                    side,
                    format!("gather (out of range: {oob}) gave {:?}", other.map(|_| ())),
                )
            }
        }
        // Scatter the first idx.len() elements of xs (cycled) into a copy of xs.
        if !xs.is_empty() {
            let src: Vec<f32> = (0..idx.len()).map(|j| xs[j % xs.len()]).collect();
            let mut dst = ctx.upload(xs).unwrap();
            let r = ctx.scatter(&ctx.upload(&src).unwrap(), &i, &mut dst);
            match r {
                Ok(()) if !oob => {
                    let mut want = xs.clone();
                    for (j, &k) in idx.iter().enumerate() {
                        want[k as usize] = src[j];
                    }
                    let got = dst.to_vec().unwrap();
                    if got
                        .iter()
                        .map(|v| v.to_bits())
                        .ne(want.iter().map(|v| v.to_bits()))
                    {
                        return fail(side, "scatter (the last duplicate wins)".into());
                    }
                }
                Err(e) if oob && e.kind() == ErrorKind::InvalidArgument => {
                    if dst
                        .to_vec()
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .ne(xs.iter().map(|v| v.to_bits()))
                    {
                        return fail(side, "a refused scatter changed dst".into());
                    }
                }
                other => return fail(side, format!("scatter gave {other:?}")),
            }
        }
        let cmp = [
            Compare::Lt,
            Compare::Le,
            Compare::Gt,
            Compare::Ge,
            Compare::Eq,
            Compare::Ne,
        ][*c];
        let holds = |v: f32| match cmp {
            Compare::Lt => v < *t,
            Compare::Le => v <= *t,
            Compare::Gt => v > *t,
            Compare::Ge => v >= *t,
            Compare::Eq => v == *t,
            _ => v != *t,
        };
        let want: Vec<u32> = xs
            .iter()
            .copied()
            .filter(|v| holds(*v))
            .map(f32::to_bits)
            .collect();
        if let Some(v) = expect(
            p,
            side,
            ctx.compact_if(&x, cmp, *t).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v.iter().map(|v| v.to_bits()).collect::<Vec<_>>() != want {
                return fail(side, format!("compact_if {cmp:?}"));
            }
        }
        if let Some(n) = expect(p, side, ctx.count_if(&x, cmp, *t), DEVICE)? {
            if n != want.len() {
                return fail(side, format!("count_if {cmp:?}"));
            }
        }
        let mask: Vec<u32> = (0..xs.len() as u32).map(|j| j % 3).collect();
        let want: Vec<u32> = xs
            .iter()
            .zip(&mask)
            .filter(|(_, m)| **m != 0)
            .map(|(v, _)| v.to_bits())
            .collect();
        let r = ctx
            .compact(&x, &ctx.upload(&mask).unwrap())
            .and_then(|b| b.to_vec());
        if let Some(v) = expect(p, side, r, DEVICE)? {
            if v.iter().map(|v| v.to_bits()).collect::<Vec<_>>() != want {
                return fail(side, "compact".into());
            }
        }
        Ok(())
    });
}

#[test]
fn expression_kernels() {
    let p = "map/map_reduce kernels with min/max/clamp/div/rem over extremes";
    // Functions only: WGSL lets a compiler assume no NaN or infinity in
    // arithmetic (Mesa folds NaN * 0 to 0), so float arithmetic on NaN is not
    // compared here; min/max/clamp/select are defined and must agree.
    let fk = map_kernel!(f32, |x, y; a| select(min(x, y), max(x, y), x > a)).unwrap();
    let fc = map_kernel!(f32, |x, y; a| clamp(x, y, a)).unwrap();
    // `/` and `%` by zero and i32::MIN / -1 follow WGSL on both sides, as the
    // functions do: both spellings are checked.
    let ik =
        map_kernel!(i32, |x, y; a| x / y + rem(x, y) * a - abs(min(x, y)) + div(x, y) % 5).unwrap();
    let s = (data(any_f32()), data(any_i32()), any_f32(), any_i32());
    property(p, s, |side, ctx, (fs, is, a, ia)| {
        let gs: Vec<f32> = fs.iter().rev().copied().collect();
        let (x, y) = (ctx.upload(fs).unwrap(), ctx.upload(&gs).unwrap());
        for (name, r) in [
            ("select/min/max", ctx.map(&fk, [&x, &y], [*a])),
            ("clamp", ctx.map(&fc, [&x, &y], [*a])),
        ] {
            if let Some(v) = expect(p, side, r.and_then(|b| b.to_vec()), DEVICE)? {
                for i in 0..fs.len() {
                    let w = if name == "clamp" {
                        fc.eval([fs[i], gs[i]], [*a])
                    } else {
                        fk.eval([fs[i], gs[i]], [*a])
                    };
                    if !(v[i].to_bits() == w.to_bits()
                        || (v[i].is_nan() && w.is_nan())
                        || same_f32(v[i], w))
                    {
                        return fail(
                            side,
                            format!(
                                "f32 {name} at {i}: {} vs {w} ({}, {}, {a})",
                                v[i], fs[i], gs[i]
                            ),
                        );
                    }
                }
            }
        }
        let js: Vec<i32> = is.iter().rev().map(|v| v % 7).collect();
        let want: Vec<i32> = is
            .iter()
            .zip(&js)
            .map(|(&x, &y)| {
                let d = x.checked_div(y).unwrap_or(x);
                let r = x.checked_rem(y).unwrap_or(0);
                d.wrapping_add(r.wrapping_mul(*ia))
                    .wrapping_sub(x.min(y).wrapping_abs())
                    .wrapping_add(d % 5)
            })
            .collect();
        let (xi, yi) = (ctx.upload(is).unwrap(), ctx.upload(&js).unwrap());
        if let Some(v) = expect(
            p,
            side,
            ctx.map(&ik, [&xi, &yi], [*ia]).and_then(|b| b.to_vec()),
            DEVICE,
        )? {
            if v != want {
                return fail(side, "i32 map".into());
            }
        }
        if let Some(s) = expect(p, side, ctx.map_reduce(&ik, [&xi, &yi], [*ia]), DEVICE)? {
            if s != want.iter().fold(0i32, |s, v| s.wrapping_add(*v)) {
                return fail(side, "i32 map_reduce".into());
            }
        }
        if !is.is_empty() {
            let short = ctx.upload(&js[1..]).unwrap();
            let e = ctx.map(&ik, [&xi, &short], [*ia]).err().map(|e| e.kind());
            if e != Some(ErrorKind::LengthMismatch) {
                return fail(side, format!("map of unequal lengths gave {e:?}"));
            }
            count(p, |t| {
                *t.errors.entry("LengthMismatch".into()).or_default() += 1
            });
        }
        Ok(())
    });
}
