//! The by-key family, partition and segmented reduce on every side: GPU == CPU
//! twin == a plain sequential reference, on the awkward sizes (around the
//! workgroup, the 2,048-element tile and the 65,536-element CPU chunk), with
//! runs that cross tile and chunk boundaries, one run spanning everything, every
//! element its own run, and NaN / -0 / +0 keys; bad inputs; small binding limits.

mod common;

use common::{data, Pattern, TestElement};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Compare, Context, ErrorKind, Policy, ReduceOp};

/// Plain sequential references.
mod reference {
    use super::TestElement;
    use tandem::ReduceOp;

    fn same_key<K: TestElement>(a: K, b: K) -> bool {
        bytemuck::bytes_of(&a) == bytemuck::bytes_of(&b)
    }

    /// (start, end) of each run of equal keys.
    pub fn runs<K: TestElement>(keys: &[K]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=keys.len() {
            if i == keys.len() || !same_key(keys[i], keys[i - 1]) {
                out.push((start, i));
                start = i;
            }
        }
        out
    }

    /// The reduction of one non-empty slice, in order.
    pub fn reduce<V: TestElement>(v: &[V], op: ReduceOp) -> V {
        let mut acc = v[0];
        for &x in &v[1..] {
            acc = match op {
                ReduceOp::Sum => acc.add(x),
                ReduceOp::Min if x.key_min() < acc.key_min() => x,
                ReduceOp::Max if x.key_max() > acc.key_max() => x,
                _ => acc,
            };
        }
        acc
    }

    pub fn reduce_by_key<K: TestElement, V: TestElement>(
        keys: &[K],
        vals: &[V],
        op: ReduceOp,
    ) -> (Vec<K>, Vec<V>) {
        runs(keys)
            .into_iter()
            .map(|(s, e)| (keys[s], reduce(&vals[s..e], op)))
            .unzip()
    }

    pub fn scan_by_key<K: TestElement, V: TestElement>(
        keys: &[K],
        vals: &[V],
        exclusive: bool,
    ) -> Vec<V> {
        let mut out = Vec::with_capacity(vals.len());
        for (s, e) in runs(keys) {
            let mut acc = V::zero();
            for (j, &v) in vals[s..e].iter().enumerate() {
                let next = if j == 0 { v } else { acc.add(v) };
                out.push(match (exclusive, j) {
                    (false, _) => next,
                    (true, 0) => V::zero(),
                    (true, _) => acc,
                });
                acc = next;
            }
        }
        out
    }
}

/// Exact sums of each run (f64) and their magnitudes, for float tolerances.
fn run_sums<V: TestElement>(vals: &[V], runs: &[(usize, usize)]) -> Vec<(f64, f64)> {
    runs.iter()
        .map(|&(s, e)| common::reference::sum_f64(&vals[s..e]))
        .collect()
}

/// Whether a float sum `got` is within the documented tolerance of the exact
/// `(sum, magnitude)`; integers must be equal to `want` bit for bit.
fn sum_ok<V: TestElement>(got: V, want: V, exact: (f64, f64)) -> bool {
    if !V::IS_FLOAT {
        return got.same(want);
    }
    let (s, mag) = exact;
    if s.is_nan() {
        return got.is_nan();
    }
    if s.is_infinite() {
        return got.to_f64() == s;
    }
    let eps = if std::mem::size_of::<V>() == 4 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    (got.to_f64() - s).abs() <= 4200.0 * eps * mag
}

fn same_all<T: TestElement>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(*y))
}

/// Key layouts that make runs of every kind.
#[derive(Debug, Clone, Copy)]
enum Keys {
    /// A data pattern of the common harness (random: nearly every element its own run).
    Pattern(Pattern),
    /// Runs of one fixed length (crossing tiles and chunks).
    RunsOf(usize),
    /// Every element its own run.
    Distinct,
    /// Runs of random length 1..100 drawn from NaN, -0, +0, 1, inf (floats).
    Special,
}

fn keys<K: TestElement>(layout: Keys, n: usize, seed: u64) -> Vec<K> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ n as u64);
    match layout {
        Keys::Pattern(p) => data::<K>(p, n, seed),
        Keys::RunsOf(l) => (0..n).map(|i| K::from_i64((i / l) as i64 % 1000)).collect(),
        Keys::Distinct => (0..n).map(|i| K::from_i64(i as i64 % 2_000_000)).collect(),
        Keys::Special => {
            let pool: Vec<K> = if K::IS_FLOAT {
                vec![
                    K::from_f64(f64::NAN),
                    K::from_f64(-0.0),
                    K::from_f64(0.0),
                    K::from_i64(1),
                    K::from_f64(f64::INFINITY),
                ]
            } else {
                vec![K::from_i64(0), K::from_i64(-1), K::from_i64(1)]
            };
            let mut v = Vec::with_capacity(n);
            while v.len() < n {
                let k = pool[rng.random_range(0..pool.len())];
                let len = rng.random_range(1..100).min(n - v.len());
                v.extend(std::iter::repeat_n(k, len));
            }
            v
        }
    }
}

const LAYOUTS: [Keys; 9] = [
    Keys::Pattern(Pattern::Random),
    Keys::Pattern(Pattern::SmallInts),
    Keys::Pattern(Pattern::Constant),
    Keys::Pattern(Pattern::Sorted),
    Keys::RunsOf(2047),
    Keys::RunsOf(2049),
    Keys::RunsOf(65_537),
    Keys::Distinct,
    Keys::Special,
];

/// Sizes up to 300,000 of the common list (bounded run time on lavapipe).
fn sizes() -> Vec<usize> {
    common::sizes()
        .into_iter()
        .filter(|&n| n <= 300_000)
        .collect()
}

/// Every by-key op on `ctx` against the references.
fn check_by_key<K: TestElement, V: TestElement>(ctx: &Context, ks: &[K], vs: &[V], what: &str) {
    let (k, v) = (ctx.upload(ks).unwrap(), ctx.upload(vs).unwrap());
    let runs = reference::runs(ks);
    let exact = run_sums(vs, &runs);
    for op in ReduceOp::ALL {
        let (gk, gv) = ctx.reduce_by_key(&k, &v, op).unwrap();
        let (gk, gv) = (gk.to_vec().unwrap(), gv.to_vec().unwrap());
        let (wk, wv) = reference::reduce_by_key(ks, vs, op);
        assert!(same_all(&gk, &wk), "reduce_by_key {op:?} keys {what}");
        assert_eq!(gv.len(), wv.len(), "reduce_by_key {op:?} length {what}");
        for (r, (&g, &w)) in gv.iter().zip(&wv).enumerate() {
            let ok = match op {
                ReduceOp::Sum => sum_ok(g, w, exact[r]),
                _ => g.same(w),
            };
            assert!(ok, "reduce_by_key {op:?} run {r}: {g:?} vs {w:?} {what}");
        }
    }
    for exclusive in [false, true] {
        let g = if exclusive {
            ctx.exclusive_scan_by_key(&k, &v)
        } else {
            ctx.inclusive_scan_by_key(&k, &v)
        };
        let g = g.unwrap().to_vec().unwrap();
        let w = reference::scan_by_key(ks, vs, exclusive);
        assert_eq!(g.len(), w.len(), "scan_by_key length {what}");
        for &(s, e) in &runs {
            // Exact running sums of the run (sum, magnitude) before and with i.
            let mut with = (0.0, 0.0);
            for i in s..e {
                let before = with;
                with = (with.0 + vs[i].to_f64(), with.1 + vs[i].to_f64().abs());
                let ex = if exclusive { before } else { with };
                let ok = if exclusive && i == s {
                    g[i].same(V::zero())
                } else {
                    sum_ok(g[i], w[i], ex)
                };
                assert!(
                    ok,
                    "scan_by_key exclusive={exclusive} at {i}: {:?} vs {:?} {what}",
                    g[i], w[i]
                );
            }
        }
    }
    let u = ctx.unique(&k).unwrap().to_vec().unwrap();
    let want: Vec<K> = runs.iter().map(|&(s, _)| ks[s]).collect();
    assert!(same_all(&u, &want), "unique {what}");
    let (rv, rc) = ctx.run_length_encode(&k).unwrap();
    let counts: Vec<u32> = runs.iter().map(|&(s, e)| (e - s) as u32).collect();
    assert!(same_all(&rv.to_vec().unwrap(), &want), "rle values {what}");
    assert_eq!(rc.to_vec().unwrap(), counts, "rle counts {what}");
}

/// Partition and segmented reduce on `ctx` against the references. The
/// segments are the runs of `ks`, with empty segments and a skipped head and
/// tail mixed in.
fn check_partition_segments<K: TestElement, V: TestElement>(
    ctx: &Context,
    ks: &[K],
    vs: &[V],
    what: &str,
) {
    let v = ctx.upload(vs).unwrap();
    let t = vs.get(vs.len() / 2).copied().unwrap_or(V::zero());
    for cmp in [Compare::Lt, Compare::Ne, Compare::Ge] {
        let (p, n_true) = ctx.partition(&v, cmp, t).unwrap();
        let pass: Vec<V> = vs.iter().copied().filter(|&e| cmp.holds(e, t)).collect();
        let fail: Vec<V> = vs.iter().copied().filter(|&e| !cmp.holds(e, t)).collect();
        assert_eq!(n_true, pass.len(), "partition {cmp:?} count {what}");
        let want: Vec<V> = pass.into_iter().chain(fail).collect();
        assert!(
            same_all(&p.to_vec().unwrap(), &want),
            "partition {cmp:?} {what}"
        );
    }
    let mut offsets: Vec<u32> = vec![(vs.len() / 7) as u32];
    for (j, (s, _)) in reference::runs(ks).into_iter().enumerate() {
        let s = s as u32;
        if s > offsets[0] {
            offsets.push(s);
            if j % 3 == 0 {
                offsets.push(s); // an empty segment
            }
        }
    }
    offsets.push((vs.len() - vs.len() / 11) as u32);
    offsets.sort_unstable();
    let o = ctx.upload(&offsets).unwrap();
    for op in ReduceOp::ALL {
        let g = ctx.segmented_reduce(&v, &o, op).unwrap().to_vec().unwrap();
        assert_eq!(g.len(), offsets.len() - 1, "segmented_reduce length {what}");
        for (s, w) in offsets.windows(2).enumerate() {
            let seg = &vs[w[0] as usize..w[1] as usize];
            let ok = if seg.is_empty() {
                g[s].same(op.identity())
            } else {
                let want = reference::reduce(seg, op);
                match op {
                    ReduceOp::Sum => sum_ok(g[s], want, common::reference::sum_f64(seg)),
                    _ => g[s].same(want),
                }
            };
            assert!(ok, "segmented_reduce {op:?} segment {s}: {:?} {what}", g[s]);
        }
    }
}

/// One layout and size of keys with values of `pattern`, on every side.
fn parity<K: TestElement, V: TestElement>(layout: Keys, pattern: Pattern, n: usize) {
    let ks = keys::<K>(layout, n, 0xB1);
    let vs = data::<V>(pattern, n, 0xB2);
    for (side, ctx) in common::sides() {
        let what = format!(
            "{side} n={n} keys {}/{layout:?} values {}/{pattern:?}",
            std::any::type_name::<K>(),
            std::any::type_name::<V>()
        );
        if side == "gpu" && (std::mem::size_of::<K>() == 8 || std::mem::size_of::<V>() == 8) {
            if n > 0 {
                let (k, v) = (ctx.upload(&ks).unwrap(), ctx.upload(&vs).unwrap());
                let e = ctx.reduce_by_key(&k, &v, ReduceOp::Sum).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            }
            continue;
        }
        check_by_key(&ctx, &ks, &vs, &what);
        if n > 0 {
            check_partition_segments(&ctx, &ks, &vs, &what);
        }
    }
}

/// Each size with a few layouts (rotated, so every layout meets many sizes).
fn sweep<K: TestElement, V: TestElement>(pattern: Pattern, rotate: usize) {
    let _serial = common::gpu_serial();
    for (i, n) in sizes().into_iter().enumerate() {
        // Two layouts per size (one past 30,000 elements), rotated over the list.
        for j in 0..if n > 30_000 { 1 } else { 2 } {
            let layout = LAYOUTS[(i * 2 + j + rotate) % LAYOUTS.len()];
            parity::<K, V>(layout, pattern, n);
        }
    }
}

#[test]
fn u32_keys_f32_values() {
    sweep::<u32, f32>(Pattern::Random, 0);
}

#[test]
fn f32_keys_i32_values() {
    sweep::<f32, i32>(Pattern::Random, 1);
}

#[test]
fn i32_keys_u32_values() {
    sweep::<i32, u32>(Pattern::Random, 2);
}

#[test]
fn float_keys_with_nan_and_signed_zeros() {
    let _serial = common::gpu_serial();
    for n in [1, 2, 3, 255, 257, 2049, 70_001] {
        parity::<f32, f32>(Keys::Special, Pattern::Special, n);
        parity::<f32, f32>(Keys::Special, Pattern::SmallInts, n);
    }
}

#[test]
fn f64_on_the_cpu_and_refused_on_the_gpu() {
    let _serial = common::gpu_serial();
    for n in [0, 1, 3, 2049, 70_001] {
        parity::<f64, f64>(Keys::RunsOf(2049), Pattern::Random, n);
        parity::<f64, f64>(Keys::Special, Pattern::Special, n);
    }
}

/// Past the dispatch limit of the one-element-per-invocation kernels (65,535 x
/// 256 + 1 elements) and over many CPU chunks: the GPU against the CPU twin.
#[test]
fn past_the_dispatch_limit() {
    let Some(gpu) = common::gpu() else { return };
    let _serial = common::gpu_serial();
    let cpu = gpu.with_policy(Policy::Cpu);
    let n = 65_535 * 256 + 1;
    let ks = keys::<u32>(Keys::RunsOf(65_537), n, 3);
    let vs = data::<u32>(Pattern::SmallInts, n, 4);
    let (k, v) = (gpu.upload(&ks).unwrap(), gpu.upload(&vs).unwrap());
    let (gk, gv) = gpu.reduce_by_key(&k, &v, ReduceOp::Sum).unwrap();
    let (ck, cv) = cpu.reduce_by_key(&k, &v, ReduceOp::Sum).unwrap();
    assert_eq!(
        gk.to_vec().unwrap(),
        ck.to_vec().unwrap(),
        "reduce_by_key keys"
    );
    assert_eq!(
        gv.to_vec().unwrap(),
        cv.to_vec().unwrap(),
        "reduce_by_key sums"
    );
    assert_eq!(ck.len(), n.div_ceil(65_537));
    let (g, c) = (gpu.unique(&v).unwrap(), cpu.unique(&v).unwrap());
    assert_eq!(g.to_vec().unwrap(), c.to_vec().unwrap(), "unique");
    let (g, c) = (
        gpu.partition(&v, Compare::Gt, 0).unwrap(),
        cpu.partition(&v, Compare::Gt, 0).unwrap(),
    );
    assert_eq!(g.1, c.1, "partition count");
    assert_eq!(g.0.to_vec().unwrap(), c.0.to_vec().unwrap(), "partition");
}

#[test]
fn small_binding_limits_use_windows() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    // 64 KiB bindings: windows of 16,384 elements.
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    let layouts = [
        Keys::RunsOf(2049),
        Keys::Distinct,
        Keys::Pattern(Pattern::Constant),
    ];
    let sizes = [16_383, 16_384, 16_385, 3 * 16_384 + 7, 100_003];
    for (i, n) in sizes.into_iter().enumerate() {
        for layout in [layouts[i % 3], layouts[(i + 1) % 3]] {
            let ks = keys::<u32>(layout, n, 5);
            let vs = data::<f32>(Pattern::SmallInts, n, 6);
            let what = format!("64 KiB bindings n={n} {layout:?}");
            check_by_key(&ctx, &ks, &vs, &what);
            let v = ctx.upload(&vs).unwrap();
            let (p, c) = ctx.partition(&v, Compare::Gt, 0.0).unwrap();
            let (wp, wc) = tandem::ops::partition::cpu::partition(&vs, Compare::Gt, 0.0);
            assert!(
                same_all(&p.to_vec().unwrap(), &wp) && c == wc,
                "partition {what}"
            );
            // Segmented reduce reads its values at random: one binding at most.
            let o = ctx.upload(&[0u32, (n / 2) as u32, n as u32]).unwrap();
            match ctx.segmented_reduce(&v, &o, ReduceOp::Max) {
                Ok(s) => {
                    assert!(n <= 16_384, "{what}");
                    let want = tandem::ops::segmented_reduce::cpu::segmented_reduce(
                        &vs,
                        &[0, (n / 2) as u32, n as u32],
                        ReduceOp::Max,
                    );
                    assert!(same_all(&s.to_vec().unwrap(), &want), "{what}");
                }
                Err(e) => {
                    assert!(n > 16_384, "{what}: {e}");
                    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
                }
            }
        }
    }
}

#[test]
fn the_plain_kernels_match_on_a_subgroup_adapter() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .disable_subgroups()
        .build()
        .unwrap();
    for n in [1, 257, 2049, 100_003] {
        let ks = keys::<u32>(Keys::RunsOf(2047), n, 7);
        let vs = data::<i32>(Pattern::Random, n, 8);
        check_by_key(&ctx, &ks, &vs, &format!("plain n={n}"));
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    for (side, ctx) in common::sides() {
        let k = ctx.upload(&[1u32, 1, 2]).unwrap();
        let v = ctx.upload(&[1.0f32, 2.0]).unwrap();
        let kinds = [
            ctx.reduce_by_key(&k, &v, ReduceOp::Sum).map(drop),
            ctx.inclusive_scan_by_key(&k, &v).map(drop),
            ctx.exclusive_scan_by_key(&k, &v).map(drop),
        ];
        for r in kinds {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        }
        let vals = ctx.upload(&[1i32, 2, 3, 4]).unwrap();
        for bad in [&[][..], &[0u32, 3, 2][..], &[0u32, 5][..], &[2u32, 1][..]] {
            let o = ctx.upload(bad).unwrap();
            let e = ctx.segmented_reduce(&vals, &o, ReduceOp::Min).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side} {bad:?}: {e}");
        }
        // Nothing lost: the inputs still read back.
        assert_eq!(k.to_vec().unwrap(), vec![1, 1, 2]);
        assert_eq!(vals.to_vec().unwrap(), vec![1, 2, 3, 4]);
        // Empty inputs give empty outputs.
        let e32 = ctx.upload::<u32>(&[]).unwrap();
        let (a, b) = ctx.reduce_by_key(&e32, &e32, ReduceOp::Max).unwrap();
        assert!(a.is_empty() && b.is_empty());
        assert!(ctx.unique(&e32).unwrap().is_empty());
        assert!(ctx.run_length_encode(&e32).unwrap().1.is_empty());
        assert_eq!(ctx.partition(&e32, Compare::Lt, 1).unwrap().1, 0);
        let one = ctx.upload(&[0u32]).unwrap();
        assert!(ctx
            .segmented_reduce(&e32, &one, ReduceOp::Sum)
            .unwrap()
            .is_empty());
        let two = ctx.upload(&[0u32, 0, 0]).unwrap();
        let ids = ctx.segmented_reduce(&e32, &two, ReduceOp::Min).unwrap();
        assert_eq!(ids.to_vec().unwrap(), vec![u32::MAX, u32::MAX]);
    }
}

#[test]
fn auto_runs_every_op_and_says_where() {
    let ctx = common::context();
    let n = 5000;
    let ks = keys::<u32>(Keys::RunsOf(7), n, 1);
    let vs = data::<f32>(Pattern::SmallInts, n, 2);
    check_by_key(ctx, &ks, &vs, "auto");
    check_partition_segments(ctx, &ks, &vs, "auto");
    let runs = ctx.runs();
    for op in [
        "reduce_by_key",
        "inclusive_scan_by_key",
        "exclusive_scan_by_key",
        "unique",
        "run_length_encode",
        "partition",
        "segmented_reduce",
    ] {
        assert!(runs.iter().any(|r| r.op == op), "{op} has no run record");
    }
}
