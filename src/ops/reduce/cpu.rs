//! CPU twins of `shaders/reduce.wgsl` and `shaders/reduce_order.wgsl`.
//!
//! Each fixed-size chunk is reduced with 32 independent accumulators (so the
//! add-latency chain does not serialise the loop and the compiler vectorises it);
//! chunk results are combined in order, so a float sum does not depend on the
//! thread count. Order reductions compare order keys (see [`Element`]): NaN is
//! ignored, `-0 < +0`, ties go to the first index.

use crate::cpu::{map_chunks, map_chunks2};
use crate::element::Element;

/// 32 lanes: with 4-wide SSE2 (the x86-64 baseline) that is 8 vector adds in
/// flight, enough to cover the add latency at two adds per cycle. (Criterion showed
/// no clear change from 16 lanes on this machine, where the sum is memory-bound.)
const LANES: usize = 32;

/// Combines the lanes pairwise, for accuracy and a fixed order.
#[inline(always)]
fn fold_lanes<T: Element>(mut acc: [T; LANES]) -> T {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = acc[i].add(acc[i + width]);
        }
    }
    acc[0]
}

/// Sequential sum of one slice with 32 accumulators.
pub fn sum_seq<T: Element>(x: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            acc[i] = acc[i].add(c[i]);
        }
    }
    let mut tail = T::zero();
    for &v in chunks.remainder() {
        tail = tail.add(v);
    }
    fold_lanes(acc).add(tail)
}

/// Sequential dot product of two equal-length slices with 32 accumulators.
pub fn dot_seq<T: Element>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] = acc[i].add(x[i].mul(y[i]));
        }
    }
    let mut tail = T::zero();
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = tail.add(x.mul(y));
    }
    fold_lanes(acc).add(tail)
}

fn combine<T: Element>(parts: Vec<T>) -> T {
    if parts.len() <= 1 {
        return parts.into_iter().next().unwrap_or_else(T::zero);
    }
    sum_seq(&parts)
}

/// Sum of `x`; 0 when empty. Integers wrap.
pub fn sum<T: Element>(x: &[T]) -> T {
    combine(map_chunks(x, |_, c| sum_seq(c)))
}

/// Dot product of `a` and `b`; 0 when empty.
///
/// # Panics
/// When `a` and `b` differ in length (`Context::dot` returns an error instead).
pub fn dot<T: Element>(a: &[T], b: &[T]) -> T {
    assert_eq!(a.len(), b.len(), "dot needs equal lengths");
    combine(map_chunks2(a, b, dot_seq))
}

/// The smallest key of a slice (vectorises: keys are plain integers).
fn min_key_seq<T: Element>(x: &[T], key: impl Fn(T) -> T::Key) -> Option<T::Key> {
    x.iter().map(|&v| key(v)).min()
}

/// The smallest element (NaN ignored; NaN when every element is NaN); None when empty.
pub fn min<T: Element>(x: &[T]) -> Option<T> {
    map_chunks(x, |_, c| min_key_seq(c, T::key_min))
        .into_iter()
        .flatten()
        .min()
        .map(T::from_key)
}

/// The largest element (NaN ignored; NaN when every element is NaN); None when empty.
pub fn max<T: Element>(x: &[T]) -> Option<T> {
    map_chunks(x, |_, c| c.iter().map(|&v| v.key_max()).max())
        .into_iter()
        .flatten()
        .max()
        .map(T::from_key)
}

/// Index of the first element with the smallest key in `c`.
fn arg_best<T: Element>(
    c: &[T],
    better: impl Fn(T::Key, T::Key) -> bool,
    key: impl Fn(T) -> T::Key,
) -> Option<(T::Key, usize)> {
    let mut it = c.iter().enumerate();
    let (_, &first) = it.next()?;
    let mut best = (key(first), 0);
    for (i, &v) in it {
        let k = key(v);
        if better(k, best.0) {
            best = (k, i);
        }
    }
    Some(best)
}

/// Index of the first smallest element (NaN ignored; 0 when every element is NaN); None when empty.
pub fn argmin<T: Element>(x: &[T]) -> Option<usize> {
    map_chunks(x, |s, c| {
        arg_best(c, |a, b| a < b, T::key_min).map(|(k, i)| (k, s + i))
    })
    .into_iter()
    .flatten()
    .min()
    .map(|(_, i)| i)
}

/// Index of the first largest element (NaN ignored; 0 when every element is NaN); None when empty.
pub fn argmax<T: Element>(x: &[T]) -> Option<usize> {
    map_chunks(x, |s, c| {
        arg_best(c, |a, b| a > b, T::key_max).map(|(k, i)| (std::cmp::Reverse(k), s + i))
    })
    .into_iter()
    .flatten()
    .min()
    .map(|(_, i)| i)
}
