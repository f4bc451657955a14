//! `merge` and `merge_by_key` on every side against a plain sequential merge:
//! sizes around the 2,048-output tile and the CPU's pieces, runs of equal keys
//! that cross tiles, one run spanning everything, NaN and +-0 keys, the tie
//! rule (a's first, each side in order) checked through tagged values, unsorted
//! inputs (no panic, only input elements), past the binding limit, bad input.

mod common;

use std::cmp::Ordering;

use common::{data, side_runs, sides, Pattern, TestElement};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Context, ErrorKind, Policy};

/// The total order of `sort`, computed independently: every 32-bit type and
/// f64 widen exactly to f64, whose `total_cmp` orders -0 < +0 and NaNs last.
fn cmp<T: TestElement>(a: T, b: T) -> Ordering {
    a.to_f64().total_cmp(&b.to_f64())
}

fn sorted<T: TestElement>(pattern: Pattern, n: usize, seed: u64) -> Vec<T> {
    let mut v = data::<T>(pattern, n, seed);
    v.sort_by(|a, b| cmp(*a, *b));
    v
}

/// Where each merged element comes from: (from a, index), ties taking a first.
fn merge_ref<T: TestElement>(a: &[T], b: &[T]) -> Vec<(bool, usize)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while i < a.len() && j < b.len() {
        if cmp(a[i], b[j]) != Ordering::Greater {
            out.push((true, i));
            i += 1;
        } else {
            out.push((false, j));
            j += 1;
        }
    }
    out.extend((i..a.len()).map(|i| (true, i)));
    out.extend((j..b.len()).map(|j| (false, j)));
    out
}

/// Pairs of lengths: around the tile (2,048) and its multiples, the CPU's
/// parallel threshold and pieces, primes, one side empty or tiny, random.
fn length_pairs() -> Vec<(usize, usize)> {
    let mut v = vec![
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 1),
        (3, 2),
        (0, 2049),
        (2047, 1),
        (1024, 1024),
        (1024, 1025),
        (2048, 2048),
        (2049, 2047),
        (4095, 2),
        (7919, 104_729),
        (1 << 15, 1 << 15),
        (65_535, 2),
        (65_537, 65_535),
        (104_729, 7919),
        (3, 150_001),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(0x3E6E);
    for _ in 0..3 {
        v.push((rng.random_range(0..200_000), rng.random_range(0..200_000)));
    }
    v
}

fn merge_patterns<T: TestElement>() -> Vec<Pattern> {
    let mut p = vec![Pattern::Random, Pattern::SmallInts, Pattern::Constant];
    if T::IS_FLOAT {
        p.push(Pattern::Special);
    }
    p
}

fn check<T: TestElement>(ctx: &Context, a: &[T], b: &[T], what: &str) {
    let order = merge_ref(a, b);
    let want: Vec<T> = order
        .iter()
        .map(|&(fa, i)| if fa { a[i] } else { b[i] })
        .collect();
    let (da, db) = (ctx.upload(a).unwrap(), ctx.upload(b).unwrap());
    let got = ctx
        .merge(&da, &db)
        .unwrap_or_else(|e| panic!("merge {what}: {e}"))
        .to_vec()
        .unwrap();
    assert_eq!(got.len(), want.len(), "merge length {what}");
    assert!(
        got.iter().zip(&want).all(|(g, w)| g.same(*w)),
        "merge {what}"
    );
    // Tagged values: a's index, or b's with the top bit set, show the tie rule.
    let va: Vec<u32> = (0..a.len() as u32).collect();
    let vb: Vec<u32> = (0..b.len() as u32).map(|j| j | 1 << 31).collect();
    let want_v: Vec<u32> = order
        .iter()
        .map(|&(fa, i)| if fa { i as u32 } else { i as u32 | 1 << 31 })
        .collect();
    let (dva, dvb) = (ctx.upload(&va).unwrap(), ctx.upload(&vb).unwrap());
    let (k, v) = ctx
        .merge_by_key(&da, &dva, &db, &dvb)
        .unwrap_or_else(|e| panic!("merge_by_key {what}: {e}"));
    let k = k.to_vec().unwrap();
    assert!(
        k.len() == want.len() && k.iter().zip(&want).all(|(g, w)| g.same(*w)),
        "merge_by_key keys {what}"
    );
    assert_eq!(v.to_vec().unwrap(), want_v, "merge_by_key values {what}");
}

fn parity<T: TestElement>() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for (na, nb) in length_pairs() {
            for pattern in merge_patterns::<T>() {
                let what = format!(
                    "{side} {} na={na} nb={nb} {pattern:?}",
                    std::any::type_name::<T>()
                );
                let a = sorted::<T>(pattern, na, 1);
                let b = sorted::<T>(pattern, nb, 2);
                check(&ctx, &a, &b, &what);
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
fn f64_runs_on_the_cpu_and_is_refused_by_the_gpu() {
    for (na, nb) in [(0, 3), (5, 0), (1000, 999), (70_001, 65_536)] {
        let a = sorted::<f64>(Pattern::Special, na, 1);
        let b = sorted::<f64>(Pattern::Special, nb, 2);
        check(
            &common::context().with_policy(Policy::Cpu),
            &a,
            &b,
            "f64 cpu",
        );
        check(common::context(), &a, &b, "f64 auto");
    }
    if let Some(gpu) = common::gpu() {
        let x = gpu.upload(&[1.0f64, 2.0]).unwrap();
        let e = gpu.merge(&x, &x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        // f64 values are refused too: the GPU moves 32-bit values.
        let k = gpu.upload(&[1u32, 2]).unwrap();
        let e = gpu.merge_by_key(&k, &x, &k, &x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
}

#[test]
fn float_values_follow_their_keys() {
    for (side, ctx) in sides() {
        let ka = sorted::<i32>(Pattern::SmallInts, 5000, 3);
        let kb = sorted::<i32>(Pattern::SmallInts, 3001, 4);
        let va = data::<f32>(Pattern::Special, ka.len(), 5);
        let vb = data::<f32>(Pattern::Special, kb.len(), 6);
        let order = merge_ref(&ka, &kb);
        let up = |v: &[f32]| ctx.upload(v).unwrap();
        let (k, v) = ctx
            .merge_by_key(
                &ctx.upload(&ka).unwrap(),
                &up(&va),
                &ctx.upload(&kb).unwrap(),
                &up(&vb),
            )
            .unwrap();
        assert_eq!(k.len(), order.len());
        let v = v.to_vec().unwrap();
        for (o, &(fa, i)) in v.iter().zip(&order) {
            let w = if fa { va[i] } else { vb[i] };
            assert_eq!(o.to_bits(), w.to_bits(), "{side}");
        }
    }
}

#[test]
fn unsorted_inputs_give_input_elements_and_never_panic() {
    for (side, ctx) in sides() {
        for (na, nb) in [(1, 2), (3000, 5000), (100_003, 70_001)] {
            let a = data::<u32>(Pattern::Random, na, 7);
            let b = data::<u32>(Pattern::Reversed, nb, 8);
            let (da, db) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
            let got = ctx.merge(&da, &db).unwrap().to_vec().unwrap();
            assert_eq!(got.len(), na + nb, "{side}");
            let mut all: Vec<u32> = a.iter().chain(&b).copied().collect();
            all.sort_unstable();
            assert!(
                got.iter().all(|x| all.binary_search(x).is_ok()),
                "{side}: an element that is in neither input"
            );
        }
    }
}

#[test]
fn past_the_binding_limit() {
    let _serial = common::gpu_serial();
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
    let (gpu, auto) = (small(Policy::Gpu), small(Policy::Auto));
    // 16,384 four-byte elements per binding: inputs that fit, an output of
    // several windows (and runs of equal keys across them).
    for (na, nb) in [(16_384, 16_384), (12_000, 9_001), (16_383, 1)] {
        for pattern in [Pattern::Random, Pattern::SmallInts] {
            let a = sorted::<f32>(pattern, na, 1);
            let b = sorted::<f32>(pattern, nb, 2);
            check(&gpu, &a, &b, &format!("windowed output na={na} nb={nb}"));
        }
    }
    // An input past one binding: LimitExceeded on the GPU, the CPU under Auto.
    let a = sorted::<u32>(Pattern::Random, 20_000, 3);
    let b = sorted::<u32>(Pattern::Random, 10, 4);
    let (da, db) = (gpu.upload(&a).unwrap(), gpu.upload(&b).unwrap());
    let e = gpu.merge(&da, &db).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    let e = gpu.merge_by_key(&db, &db, &da, &da).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    check(&auto, &a, &b, "auto past the limit");
}

#[test]
fn length_mismatch_and_empty_inputs() {
    for (side, ctx) in sides() {
        let k = ctx.upload(&[1u32, 2, 3]).unwrap();
        let v2 = ctx.upload(&[1.0f32, 2.0]).unwrap();
        let v3 = ctx.upload(&[1.0f32, 2.0, 3.0]).unwrap();
        let e = ctx.merge_by_key(&k, &v2, &k, &v3).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        let e = ctx.merge_by_key(&k, &v3, &k, &v2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        let none = ctx.upload::<u32>(&[]).unwrap();
        let nov = ctx.upload::<f32>(&[]).unwrap();
        assert!(ctx.merge(&none, &none).unwrap().is_empty());
        let (mk, mv) = ctx.merge_by_key(&none, &nov, &none, &nov).unwrap();
        assert!(mk.is_empty() && mv.is_empty());
        assert_eq!(ctx.merge(&none, &k).unwrap().to_vec().unwrap(), [1, 2, 3]);
        assert_eq!(ctx.merge(&k, &none).unwrap().to_vec().unwrap(), [1, 2, 3]);
    }
}

#[test]
fn auto_runs_and_records_every_new_op() {
    let ctx = common::context();
    let a = ctx
        .upload(&sorted::<u32>(Pattern::Random, 70_001, 1))
        .unwrap();
    let b = ctx
        .upload(&sorted::<u32>(Pattern::Random, 5_003, 2))
        .unwrap();
    let m = ctx.merge(&a, &b).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "merge");
    let m = m.to_vec().unwrap();
    assert!(m.windows(2).all(|w| w[0] <= w[1]) && m.len() == 75_004);
    ctx.merge_by_key(&a, &a, &b, &b).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "merge_by_key");
    let i = ctx.lower_bound(&a, &b).unwrap().to_vec().unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "lower_bound");
    let av = a.to_vec().unwrap();
    let bv = b.to_vec().unwrap();
    assert!(i
        .iter()
        .zip(&bv)
        .all(|(&i, &q)| i as usize == av.partition_point(|&s| s < q)));
    ctx.upper_bound(&a, &b).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "upper_bound");
    ctx.sequence::<u32>(1000, 0, 1).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "sequence");
    ctx.adjacent_difference(&a).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "adjacent_difference");
    ctx.slice(&a, 3..7).unwrap();
    assert_eq!(ctx.last_run().unwrap().op, "slice");
}
