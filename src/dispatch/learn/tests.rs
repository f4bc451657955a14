//! The learning rule without a GPU: synthetic timings, deterministic.

use super::*;
use crate::dispatch::decide::choose;

/// The profile's prediction for both sides, in seconds.
const PRED: f64 = 1e-3;
const N: usize = 1 << 20;

/// A deterministic spread of +-`noise` around 1, over a cycle of 5 calls.
fn jitter(i: u64, noise: f64) -> f64 {
    1.0 + noise * ((i % 5) as f64 - 2.0) / 2.0
}

/// One of Auto's calls of kernel 1 at `N` elements, CPU and GPU only (as for
/// device-resident data): the choice from the estimates, then rule 3. `time`
/// gives the run's seconds. Returns the side that ran and whether it explored.
fn call(l: &RunHistories, time: impl Fn(Side) -> f64) -> (Side, bool) {
    let k = l.begin(1, N);
    let est = |s: Side| match s {
        Side::Split => None,
        s => Some(PRED * k.of(s).ratio),
    };
    let choice = choose(
        PRED * k.of(Side::Cpu).ratio,
        PRED * k.of(Side::Gpu).ratio,
        None,
    );
    let explored = k.explore(choice, est);
    let side = explored.unwrap_or(choice);
    l.record(1, N, side, time(side), PRED);
    (side, explored.is_some())
}

/// Runs `calls` calls with the CPU and GPU taking `cpu` and `gpu` seconds
/// (times a +-5% jitter); returns the sides that ran.
fn drive(l: &RunHistories, calls: u64, cpu: f64, gpu: f64, noise: f64) -> Vec<(Side, bool)> {
    (0..calls)
        .map(|i| {
            call(l, |s| match s {
                Side::Cpu => cpu * jitter(i, noise),
                _ => gpu * jitter(i, noise),
            })
        })
        .collect()
}

fn count(runs: &[(Side, bool)], side: Side) -> usize {
    runs.iter().filter(|r| r.0 == side).count()
}

#[test]
fn converges_to_the_faster_side() {
    let l = RunHistories::default();
    // The GPU three times as fast as the CPU; the profile thinks them equal.
    let runs = drive(&l, 200, 3.0 * PRED, PRED, 0.05);
    // The CPU ran once (unmeasured, it was worth a run); never again.
    assert_eq!(count(&runs, Side::Cpu), 1, "{runs:?}");
    assert!(runs[10..].iter().all(|r| *r == (Side::Gpu, false)));
    // 1.5x slower: within the unsettled spread, so run until settled (3 runs),
    // then never, its spread (~5%) being far below its distance.
    let l = RunHistories::default();
    let runs = drive(&l, 200, 1.5 * PRED, PRED, 0.05);
    assert_eq!(count(&runs, Side::Cpu), SETTLED, "{runs:?}");
    assert!(runs[20..].iter().all(|r| r.0 == Side::Gpu));
}

#[test]
fn never_explores_a_side_far_slower() {
    let l = RunHistories::default();
    let runs = drive(&l, 500, 10.0 * PRED, PRED, 0.2);
    assert_eq!(count(&runs, Side::Cpu), 1, "{runs:?}");
    // Each side was explored once while unmeasured, the CPU never again.
    assert!(runs.iter().filter(|r| r.1).count() <= 2, "{runs:?}");
}

#[test]
fn re_explores_after_a_change() {
    let l = RunHistories::default();
    drive(&l, 100, 1.5 * PRED, PRED, 0.05);
    // The GPU becomes 3x slower: half the history must show it (4 runs).
    let after = drive(&l, 60, 1.5 * PRED, 3.0 * PRED, 0.05);
    let flip = after.iter().position(|r| r.0 == Side::Cpu);
    assert!(flip.is_some_and(|f| f <= HISTORY / 2), "{after:?}");
    let flip = flip.unwrap_or(0);
    // From then on the GPU runs only to re-measure (its history is half old,
    // so its spread is wide): at most once per REFRESH calls.
    let rest = &after[flip + 1..];
    assert!(rest.iter().all(|r| r.0 == Side::Cpu || r.1), "{after:?}");
    let gpu = rest.iter().filter(|r| r.0 == Side::Gpu).count() as u64;
    assert!(gpu <= rest.len() as u64 / REFRESH + 1, "{after:?}");

    // A close option (within its own noise) is re-measured once per REFRESH calls.
    let l = RunHistories::default();
    let runs = drive(&l, 400, 1.1 * PRED, PRED, 0.4);
    let explored: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].1).collect();
    let late: Vec<usize> = explored.into_iter().filter(|&i| i >= 20).collect();
    assert!(late.len() >= 5, "{late:?}");
    for w in late.windows(2) {
        assert!((w[1] - w[0]) as u64 >= REFRESH - 1, "{late:?}");
    }
}

#[test]
fn estimates_are_medians_and_sizes_borrow_the_nearest() {
    let l = RunHistories::default();
    for t in [4.0, 1.0, 2.0, 50.0, 3.0] {
        l.record(7, 1 << 10, Side::Gpu, t * 1e-3, 1e-3);
    }
    let k = l.begin(7, 1 << 10);
    // Median of 1, 2, 3, 4, 50: one outlier moves nothing.
    assert_eq!(k.of(Side::Gpu).ratio, 3.0);
    assert_eq!(k.of(Side::Gpu).runs, 5);
    assert_eq!(k.of(Side::Cpu), Knowledge::NONE.of(Side::Cpu));
    // Quartiles 2 and 4 around 3: spread 2/3, counted as at most 0.5.
    assert_eq!(k.of(Side::Gpu).spread, UNSETTLED_SPREAD);
    // Another class borrows the ratio but not the runs: it is still explored.
    let far = l.begin(7, 1 << 20);
    assert_eq!(far.of(Side::Gpu).ratio, 3.0);
    assert_eq!(far.of(Side::Gpu).runs, 0);
    // Too short to time well: nothing learned.
    l.record(8, 64, Side::Cpu, 1e-6, 1e-9);
    assert_eq!(l.begin(8, 64), Knowledge::NONE);
}

#[test]
fn memory_is_bounded() {
    let l = RunHistories::default();
    for k in 0..LEARN_KERNELS as u64 + 10 {
        l.record(k, 64, Side::Cpu, 1.0, 1.0);
    }
    assert_eq!(l.kernels(), LEARN_KERNELS);
    for i in 0..100 {
        l.record(1, 1 << 12, Side::Cpu, 1.0 + i as f64, 1.0);
    }
    let k = l.begin(1, 1 << 12);
    assert_eq!(k.of(Side::Cpu).runs, HISTORY);
    // The last 8 runs (ratios 93..=100): the median is the 5th of them.
    assert_eq!(k.of(Side::Cpu).ratio, 97.0);
}
