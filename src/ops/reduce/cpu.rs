//! CPU twins of `shaders/reduce.wgsl` and `shaders/reduce_order.wgsl`.
//!
//! Each fixed-size chunk is reduced with 32 independent accumulators (so the
//! add-latency chain does not serialise the loop and the compiler vectorises it);
//! chunk results are combined in order, so a float sum does not depend on the
//! thread count. Order reductions compare order keys (see [`Element`]): NaN is
//! ignored, `-0 < +0`, ties go to the first index.

use crate::cpu::{map_chunks, map_chunks2};
use crate::element::{Element, ScalarType};

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
    let body = x.len() - x.len() % LANES;
    let acc = sum_lanes(&x[..body]);
    let mut tail = T::zero();
    for &v in &x[body..] {
        tail = tail.add(v);
    }
    fold_lanes(acc).add(tail)
}

/// The 32 lane sums of `x` (a whole number of 32-element rows): lane `i` sums
/// elements `i`, `i + 32`, ... in order, from +0. With AVX2 where the CPU has it
/// (4 or 8 vectors holding the same 32 lanes, so the same additions in the same
/// order: bit-identical), portable code elsewhere.
#[inline]
fn sum_lanes<T: Element>(x: &[T]) -> [T; LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY (all three): the CPU supports AVX2 (checked just above).
            match T::SCALAR {
                ScalarType::F32 => {
                    return bytemuck::cast(unsafe { avx2::lanes_f32(bytemuck::cast_slice(x)) })
                }
                ScalarType::F64 => {
                    return bytemuck::cast(unsafe { avx2::lanes_f64(bytemuck::cast_slice(x)) })
                }
                ScalarType::U32 | ScalarType::I32 => {
                    return bytemuck::cast(unsafe { avx2::lanes_u32(bytemuck::cast_slice(x)) })
                }
            }
        }
    }
    let mut acc = [T::zero(); LANES];
    for c in x.chunks_exact(LANES) {
        for i in 0..LANES {
            acc[i] = acc[i].add(c[i]);
        }
    }
    acc
}

/// [`sum_lanes`] with AVX2. These loops are not faster in arithmetic (the
/// portable one already vectorises with SSE2), but they keep more loads in
/// flight per instruction: a memory-bound sum ran about 1.2x the speed of the
/// portable loop on the benchmark machine.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::LANES;

    macro_rules! lanes {
        ($name:ident, $t:ty, $v:ty, $w:expr, $zero:ident, $load:ident, $add:ident, $store:ident, $cast:ty) => {
            /// The 32 lane sums of `x` (whole rows of 32; a partial row is ignored).
            ///
            /// # Safety
            /// The CPU must support AVX2.
            #[target_feature(enable = "avx2")]
            pub(super) unsafe fn $name(x: &[$t]) -> [$t; LANES] {
                let mut a = [$zero(); LANES / $w];
                for row in x.chunks_exact(LANES) {
                    for (j, aj) in a.iter_mut().enumerate() {
                        // SAFETY: `row` holds LANES elements and j * $w + $w <= LANES;
                        // an unaligned load.
                        let v = unsafe { $load(row.as_ptr().add(j * $w).cast::<$cast>()) };
                        *aj = $add(*aj, v);
                    }
                }
                let mut out = [<$t>::default(); LANES];
                for (j, aj) in a.iter().enumerate() {
                    // SAFETY: j * $w + $w <= LANES = out.len(); an unaligned store.
                    unsafe { $store(out.as_mut_ptr().add(j * $w).cast::<$cast>(), *aj) };
                }
                out
            }
        };
    }

    lanes!(
        lanes_f32,
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_add_ps,
        _mm256_storeu_ps,
        f32
    );
    lanes!(
        lanes_f64,
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_add_pd,
        _mm256_storeu_pd,
        f64
    );
    lanes!(
        lanes_u32,
        u32,
        __m256i,
        8,
        _mm256_setzero_si256,
        _mm256_loadu_si256,
        _mm256_add_epi32,
        _mm256_storeu_si256,
        __m256i
    );
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
