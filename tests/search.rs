//! `lower_bound` and `upper_bound` on every side against `partition_point`
//! with an independent total order: sorted arrays of the awkward sizes,
//! queries present, absent, beyond both ends, NaN and +-0, duplicates (all
//! equal included), queries past 65,535 workgroups and past the binding limit,
//! unsorted arrays (indices stay in range), and the sorted array past one
//! binding (LimitExceeded on the GPU, the CPU under Auto).

mod common;

use std::cmp::Ordering;

use common::{data, side_runs, sides, Pattern, TestElement};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Context, ErrorKind, Policy};

/// `sort`'s total order, computed independently (exact widening to f64).
fn cmp<T: TestElement>(a: T, b: T) -> Ordering {
    a.to_f64().total_cmp(&b.to_f64())
}

fn reference<T: TestElement>(sorted: &[T], queries: &[T], upper: bool) -> Vec<u32> {
    queries
        .iter()
        .map(|&q| {
            sorted.partition_point(|&s| match upper {
                false => cmp(s, q) == Ordering::Less,
                true => cmp(s, q) != Ordering::Greater,
            }) as u32
        })
        .collect()
}

/// Queries: elements of `sorted`, their neighbours in `pool`, and the ends.
fn queries<T: TestElement>(sorted: &[T], pool: &[T], m: usize, seed: u64) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ m as u64);
    (0..m)
        .map(|_| match rng.random_range(0..3) {
            0 if !sorted.is_empty() => sorted[rng.random_range(0..sorted.len())],
            _ => pool[rng.random_range(0..pool.len())],
        })
        .collect()
}

fn check<T: TestElement>(ctx: &Context, sorted: &[T], q: &[T], what: &str) {
    let (s, qs) = (ctx.upload(sorted).unwrap(), ctx.upload(q).unwrap());
    for upper in [false, true] {
        let got = match upper {
            false => ctx.lower_bound(&s, &qs),
            true => ctx.upper_bound(&s, &qs),
        }
        .unwrap_or_else(|e| panic!("{what}: {e}"))
        .to_vec()
        .unwrap();
        assert_eq!(got, reference(sorted, q, upper), "upper={upper} {what}");
    }
}

fn parity<T: TestElement>() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in [1usize, 2, 3, 7, 255, 256, 257, 2048, 7919, 65_537, 104_729] {
            let mut pats = vec![Pattern::Random, Pattern::SmallInts, Pattern::Constant];
            if T::IS_FLOAT {
                pats.push(Pattern::Special);
            }
            for pattern in pats {
                let mut sorted = data::<T>(pattern, n, 1);
                sorted.sort_by(|a, b| cmp(*a, *b));
                let pool = data::<T>(Pattern::Special, 64, 2);
                let mut pool: Vec<T> = pool.into_iter().chain(data::<T>(pattern, 64, 3)).collect();
                pool.extend([T::from_i64(-9), T::from_i64(0), T::from_i64(9)]);
                for m in [0usize, 1, 255, 257, 5000] {
                    let what = format!(
                        "{side} {} n={n} m={m} {pattern:?}",
                        std::any::type_name::<T>()
                    );
                    check(&ctx, &sorted, &queries(&sorted, &pool, m, 4), &what);
                }
            }
        }
        // Into an empty array: every answer is 0.
        let e: Vec<T> = Vec::new();
        check(&ctx, &e, &data::<T>(Pattern::Random, 10, 5), side);
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
    let mut sorted = data::<f64>(Pattern::Special, 10_007, 1);
    sorted.sort_by(|a, b| cmp(*a, *b));
    let q = queries(&sorted, &data::<f64>(Pattern::Special, 50, 2), 70_001, 3);
    check(
        &common::context().with_policy(Policy::Cpu),
        &sorted,
        &q,
        "f64 cpu",
    );
    check(common::context(), &sorted, &q, "f64 auto");
    if let Some(gpu) = common::gpu() {
        let x = gpu.upload(&sorted).unwrap();
        let e = gpu.lower_bound(&x, &x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
}

#[test]
fn past_65535_workgroups() {
    let _serial = common::gpu_serial();
    let Some(gpu) = common::gpu() else { return };
    let mut sorted = data::<u32>(Pattern::Random, 3000, 1);
    sorted.sort_unstable();
    let q = data::<u32>(Pattern::Random, 65_535 * 256 + 1, 2);
    check(&gpu, &sorted, &q, "past the dispatch limit");
}

#[test]
fn unsorted_arrays_give_indices_in_range() {
    for (side, ctx) in sides() {
        for n in [1usize, 2, 1000, 100_003] {
            let s = data::<f32>(Pattern::Special, n, 7);
            let q = data::<f32>(Pattern::Special, 40_000, 8);
            let (ds, dq) = (ctx.upload(&s).unwrap(), ctx.upload(&q).unwrap());
            for r in [ctx.lower_bound(&ds, &dq), ctx.upper_bound(&ds, &dq)] {
                let r = r.unwrap().to_vec().unwrap();
                assert_eq!(r.len(), q.len());
                assert!(r.iter().all(|&i| i as usize <= n), "{side} n={n}");
            }
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
    // The sorted side fits (16,384 per binding), the queries span windows.
    let mut sorted = data::<i32>(Pattern::SmallInts, 16_384, 1);
    sorted.sort_unstable();
    let q = data::<i32>(Pattern::SmallInts, 100_003, 2);
    check(&gpu, &sorted, &q, "windowed queries");
    let mut big = data::<i32>(Pattern::Random, 20_000, 3);
    big.sort_unstable();
    let (b, qs) = (gpu.upload(&big).unwrap(), gpu.upload(&q).unwrap());
    let e = gpu.upper_bound(&b, &qs).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    check(&auto, &big, &q, "auto past the limit");
}
