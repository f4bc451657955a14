//! CPU twin of `shaders/histogram.wgsl`, and the binning rule both sides share.
//!
//! [`plan`] validates the arguments and computes the bin edges as order keys
//! (see the module docs of [`crate::ops::histogram`]); an element's bin is the
//! largest `k` with `edge[k] <= key(x)`. Both sides first guess the bin with
//! float arithmetic, confirm the guess with two exact key comparisons, and fall
//! back to a binary search over the edges when the guess is wrong, so the float
//! arithmetic never decides a bin: results are identical bit for bit.
//!
//! Counting: below [`PAR_MIN`] elements (or when the bins outnumber the elements
//! a thread would see) one thread counts into four interleaved sub-histograms (so
//! runs of equal bins do not serialise on one counter); above, each thread counts
//! a contiguous part privately and the parts are merged. Counts wrap at 2^32, as
//! the GPU's atomics do.
//!
//! f32 takes a faster loop where it is provably exact (`FastF32`): the guess in
//! f32 arithmetic, checked at each bin's first and last float before counting,
//! is either the bin itself (then no edge is read, as in a plain loop) or within
//! one bin of it (then one branch-free step with the exact edges fixes it).

use rayon::prelude::*;

use crate::cpu::{threads, CHUNK, PAR_MIN};
use crate::element::{Element, ScalarType};
use crate::error::Result;

pub use super::bins::MAX_BINS;
use super::bins::{cast_slice, invalid, key_f32, key_f64, key_i32};
pub(crate) use super::bins::{plan, Bins, Plan};

/// The bin of key `k` (known to be in range), starting from the guess `guess`.
#[inline(always)]
fn bin_index<K: Copy + Ord>(edges: &[K], bins: usize, k: K, guess: f64) -> usize {
    // `as usize` saturates, and NaN gives 0: any guess is safe.
    let c = (guess as usize).min(bins - 1);
    if edges[c] <= k && k < edges[c + 1] {
        c
    } else {
        edges[1..bins].partition_point(|&e| e <= k)
    }
}

/// Counts `x` into `counts` (length `bins`), adding to what is there.
fn count_seq<T: Copy, K: Copy + Ord>(
    x: &[T],
    b: &Bins<K>,
    f: &impl Fn(T) -> Option<(K, f64)>,
    counts: &mut [u32],
) {
    let bins = b.bins;
    let edges = &b.edges[..];
    if bins > 4096 || x.len() < 64 {
        for &v in x {
            if let Some((k, g)) = f(v) {
                let i = bin_index(edges, bins, k, g);
                counts[i] = counts[i].wrapping_add(1);
            }
        }
        return;
    }
    // Four interleaved sub-histograms: equal neighbours hit different counters.
    let mut lanes = vec![0u32; 4 * bins];
    let mut quads = x.chunks_exact(4);
    for q in &mut quads {
        for (l, &v) in q.iter().enumerate() {
            if let Some((k, g)) = f(v) {
                let i = l * bins + bin_index(edges, bins, k, g);
                lanes[i] = lanes[i].wrapping_add(1);
            }
        }
    }
    for &v in quads.remainder() {
        if let Some((k, g)) = f(v) {
            let i = bin_index(edges, bins, k, g);
            lanes[i] = lanes[i].wrapping_add(1);
        }
    }
    for (i, c) in counts.iter_mut().enumerate() {
        let s = lanes[i]
            .wrapping_add(lanes[bins + i])
            .wrapping_add(lanes[2 * bins + i])
            .wrapping_add(lanes[3 * bins + i]);
        *c = c.wrapping_add(s);
    }
}

/// Counts `x` with `f` (key and bin guess of an element in range, else None).
fn count_with<T: Copy + Sync, K: Copy + Ord + Sync>(
    x: &[T],
    b: &Bins<K>,
    f: impl Fn(T) -> Option<(K, f64)> + Sync,
) -> Vec<u32> {
    count_parts(x, b.bins, |part, counts| count_seq(part, b, &f, counts))
}

/// Counts `x` with `seq` (which adds a part's counts to a histogram of `bins`):
/// one thread below [`PAR_MIN`] elements (or when the bins outnumber what a
/// part would see); else each thread counts a contiguous part privately and the
/// parts are merged.
fn count_parts<T: Sync>(x: &[T], bins: usize, seq: impl Fn(&[T], &mut [u32]) + Sync) -> Vec<u32> {
    let mut counts = vec![0u32; bins];
    // Each part must see enough elements to pay for its private histogram.
    let parts = (4 * threads())
        .min(x.len() / (PAR_MIN / 2).max(2 * bins))
        .max(1);
    if x.len() < PAR_MIN || parts == 1 {
        seq(x, &mut counts);
        return counts;
    }
    let part_len = x.len().div_ceil(parts);
    let partial: Vec<Vec<u32>> = x
        .par_chunks(part_len)
        .map(|c| {
            let mut h = vec![0u32; bins];
            seq(c, &mut h);
            h
        })
        .collect();
    counts
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(ci, out)| {
            let s = ci * CHUNK;
            let m = out.len();
            for p in &partial {
                for (o, &v) in out.iter_mut().zip(&p[s..s + m]) {
                    *o = o.wrapping_add(v);
                }
            }
        });
    counts
}

/// The f32 counting loop when a plain float guess is provably close enough: a
/// guess `g = min(floor((x - lo) * scale), bins - 1)` in f32 arithmetic, then one
/// branch-free step with the exact edges, `g - (x < edge[g]) + (x >= edge[g + 1])`.
/// That step is exact whenever the rule's bin is `g - 1`, `g` or `g + 1`;
/// [`FastF32::new`] checks this for every bin (both the guess and the rule are
/// monotone, so checking each bin's first and last float suffices), and the
/// generic loop runs otherwise. Each bin's edge and count share a slot, so the
/// step reads the cache line it then writes.
struct FastF32 {
    lo: f32,
    hi: f32,
    scale: f32,
    bins: usize,
    /// `edges[k]`: the smallest f32 in bin `k` (as the keys of the plan), `edges[bins] = hi`.
    edges: Vec<f32>,
    /// The guess alone is the rule's bin for every float in range (checked per
    /// bin as below); then no edge is read at all. True for the common ranges
    /// whose width divides well, such as [0, 1) with a power-of-two bin count.
    exact: bool,
}

/// Elements per block of [`FastF32::count_exact`]: their bins fit in L1 beside the input.
const BLOCK: usize = 2048;

/// A bin's lower edge and its count, side by side.
#[derive(Clone, Copy)]
struct Slot {
    edge: f32,
    count: u32,
}

/// The f32 whose [`key_f32`] is `k` (+0 for the key of both zeros).
fn unkey_f32(k: u32) -> f32 {
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7fff_ffff)
    } else {
        f32::from_bits(!k)
    }
}

impl FastF32 {
    /// [`FastF32::count_seq`] when the guess is the bin. Two passes per block
    /// of [`BLOCK`] elements: the first computes every element's bin (or
    /// `bins`, a sink, when out of range or NaN) with no branch, so it runs in
    /// SIMD lanes; the second only increments. The plain loop, which mixes
    /// both, ran about 1.5x slower on one core.
    fn count_exact(&self, x: &[f32], counts: &mut [u32]) {
        let bins = self.bins;
        // Four interleaved sub-histograms for few bins: equal neighbours hit
        // different counters. Many bins: one, to stay in cache.
        let lanes = if bins <= 4096 { 4 } else { 1 };
        let stride = bins + 1;
        let mut hist = vec![0u32; lanes * stride];
        let mut idx = [0u32; BLOCK];
        for block in x.chunks(BLOCK) {
            let idx = &mut idx[..block.len()];
            self.bins_of(block, idx);
            if lanes == 1 {
                for &i in idx.iter() {
                    let c = &mut hist[i as usize];
                    *c = c.wrapping_add(1);
                }
                continue;
            }
            let mut quads = idx.chunks_exact(4);
            for q in &mut quads {
                for (l, &i) in q.iter().enumerate() {
                    let c = &mut hist[l * stride + i as usize];
                    *c = c.wrapping_add(1);
                }
            }
            for &i in quads.remainder() {
                let c = &mut hist[i as usize];
                *c = c.wrapping_add(1);
            }
        }
        for lane in hist.chunks_exact(stride) {
            for (c, &l) in counts.iter_mut().zip(&lane[..bins]) {
                *c = c.wrapping_add(l);
            }
        }
    }

    /// `out[j]` = the guess for `x[j]` when it is in range, else `bins`.
    /// For `x` in range, `(x - lo) * scale` lies in `[0, bins]` (bins <= 2^24,
    /// so `bins - 1` is exact in f32): clamping it to `bins - 1` before the
    /// conversion gives `min(floor(..), bins - 1)`, [`FastF32::guess`].
    #[inline(always)]
    fn bins_of(&self, x: &[f32], out: &mut [u32]) {
        let (lo, hi, scale) = (self.lo, self.hi, self.scale);
        let top = (self.bins - 1) as f32;
        let sink = self.bins as u32;
        for (o, &v) in out.iter_mut().zip(x) {
            let g = ((v - lo) * scale).clamp(0.0, top) as i32 as u32;
            *o = if v >= lo && v < hi { g } else { sink };
        }
    }

    fn new(b: &Bins<u32>) -> Option<Self> {
        let bins = b.bins;
        let edges: Vec<f32> = b.edges.iter().map(|&k| unkey_f32(k)).collect();
        let (lo, hi) = (edges[0], edges[bins]);
        let scale = b.scale as f32;
        if !(scale.is_normal() && (hi - lo).is_normal()) {
            return None;
        }
        let mut fast = FastF32 {
            lo,
            hi,
            scale,
            bins,
            edges,
            exact: false,
        };
        // Each nonempty bin's first and last float: the guess within one bin of
        // the rule's (then the step is exact), or equal to it (then so is the
        // guess, everywhere: both are monotone, and the guess steps over empty bins).
        let (mut near, mut exact) = (true, true);
        for k in 0..bins {
            let (a, end) = (fast.edges[k], fast.edges[k + 1]);
            if a >= end {
                continue; // an empty bin
            }
            let (ga, gz) = (fast.guess(a), fast.guess(end.next_down()));
            near &= ga + 1 >= k && gz <= k + 1;
            exact &= ga == k && gz == k;
        }
        fast.exact = exact;
        near.then_some(fast)
    }

    #[inline(always)]
    fn guess(&self, x: f32) -> usize {
        (((x - self.lo) * self.scale) as usize).min(self.bins - 1)
    }

    /// Counts `x` into `counts` (length `bins`), adding to what is there.
    fn count_seq(&self, x: &[f32], counts: &mut [u32]) {
        if self.exact {
            self.count_exact(x, counts);
            return;
        }
        let bins = self.bins;
        // Four interleaved sub-histograms for few bins: equal neighbours hit
        // different counters. Many bins: one, to stay in cache.
        let lanes = if bins <= 4096 { 4 } else { 1 };
        let mut slots: Vec<Slot> = Vec::with_capacity(lanes * (bins + 1));
        for _ in 0..lanes {
            slots.extend(self.edges.iter().map(|&edge| Slot { edge, count: 0 }));
        }
        let (lo, hi) = (self.lo, self.hi);
        let step = |lane: &mut [Slot], v: f32| {
            if v >= lo && v < hi {
                let g = self.guess(v);
                let r = g + usize::from(v >= lane[g + 1].edge) - usize::from(v < lane[g].edge);
                lane[r].count = lane[r].count.wrapping_add(1);
            }
        };
        if lanes == 1 {
            for &v in x {
                step(&mut slots, v);
            }
        } else {
            let mut quads = x.chunks_exact(4);
            for q in &mut quads {
                for (lane, &v) in slots.chunks_exact_mut(bins + 1).zip(q) {
                    step(lane, v);
                }
            }
            for &v in quads.remainder() {
                step(&mut slots, v);
            }
        }
        for lane in slots.chunks_exact(bins + 1) {
            for (c, s) in counts.iter_mut().zip(lane) {
                *c = c.wrapping_add(s.count);
            }
        }
    }
}

/// Counts `x` under a validated plan.
pub(crate) fn count<T: Element>(x: &[T], plan: &Plan) -> Result<Vec<u32>> {
    Ok(match (T::SCALAR, plan) {
        (ScalarType::F32, Plan::K32(b)) => {
            let xs: &[f32] = cast_slice(x)?;
            if let Some(fast) = FastF32::new(b) {
                return Ok(count_parts(xs, b.bins, |part, counts| {
                    fast.count_seq(part, counts)
                }));
            }
            let (klo, span) = (b.edges[0], b.edges[b.bins] - b.edges[0]);
            let (lo, scale) = (b.lo, b.scale);
            count_with(xs, b, |v: f32| {
                let k = key_f32(v);
                (k.wrapping_sub(klo) < span).then_some((k, (v as f64 - lo) * scale))
            })
        }
        (ScalarType::I32, Plan::K32(b)) => {
            let xs: &[i32] = cast_slice(x)?;
            let (klo, span, scale) = (b.edges[0], b.edges[b.bins] - b.edges[0], b.scale);
            count_with(xs, b, |v: i32| {
                let off = key_i32(v).wrapping_sub(klo);
                (off < span).then(|| (off.wrapping_add(klo), off as f64 * scale))
            })
        }
        (ScalarType::U32, Plan::K32(b)) => {
            let xs: &[u32] = cast_slice(x)?;
            let (klo, span, scale) = (b.edges[0], b.edges[b.bins] - b.edges[0], b.scale);
            count_with(xs, b, |v: u32| {
                let off = v.wrapping_sub(klo);
                (off < span).then_some((v, off as f64 * scale))
            })
        }
        (ScalarType::F64, Plan::K64(b)) => {
            let xs: &[f64] = cast_slice(x)?;
            let (klo, span) = (b.edges[0], b.edges[b.bins] - b.edges[0]);
            let (lo, scale) = (b.lo, b.scale);
            count_with(xs, b, |v: f64| {
                let k = key_f64(v);
                (k.wrapping_sub(klo) < span).then_some((k, (v - lo) * scale))
            })
        }
        _ => return Err(invalid("internal: plan does not match the element type")),
    })
}

/// Counts the elements of `x` in `bins` equal-width bins over `[lo, hi)`; values
/// outside and NaN are ignored. The rule is described in [`crate::ops::histogram`].
///
/// # Errors
/// [`Error::InvalidArgument`] when `bins` is 0 or above [`MAX_BINS`], `lo >= hi`,
/// or (floats) `lo` or `hi` is NaN or infinite.
pub fn histogram<T: Element>(x: &[T], bins: usize, lo: T, hi: T) -> Result<Vec<u32>> {
    count(x, &plan(bins, lo, hi)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_edges_are_ordered_and_end_at_lo_and_hi() {
        let Plan::K32(b) = plan(7, -1.0f32, 1.0).unwrap() else {
            panic!()
        };
        assert_eq!(b.edges[0], key_f32(-1.0));
        assert_eq!(b.edges[7], key_f32(1.0));
        assert!(b.edges.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(histogram(&[-0.0f32, 0.0], 2, 0.0, 1.0).unwrap(), vec![2, 0]);
    }

    /// The f32 fast path gives the generic path's bins (the exact rule) for the
    /// floats at, just below and just above every edge, over awkward ranges, and
    /// declines ranges too narrow for its guess.
    #[test]
    fn fast_f32_path_matches_the_exact_rule_at_every_edge() {
        for (bins, lo, hi) in [
            (256usize, 0.0f32, 1.0f32),
            (65_536, 0.0, 1.0),
            (7, -1.3, 7.1),
            (1000, -3e-3, 5e4),
            (65_536, 1000.0, 1000.5),
            (3, -0.0, 1e-30),
            (1, -5.0, -4.0),
            (4097, -1e30, 1e30),
            (65_536, 1.0, 1.0f32.next_up().next_up()),
        ] {
            let Plan::K32(b) = plan(bins, lo, hi).unwrap() else {
                panic!()
            };
            let Some(fast) = FastF32::new(&b) else {
                continue;
            };
            let mut xs = vec![lo, hi, -0.0, 0.0, f32::NAN, hi.next_down(), lo.next_down()];
            for e in &fast.edges {
                xs.extend([*e, e.next_down(), e.next_up()]);
            }
            let mut got = vec![0u32; bins];
            fast.count_seq(&xs, &mut got);
            if fast.exact {
                // The stepping loop must agree too.
                let mut stepped = vec![0u32; bins];
                let inexact = FastF32 {
                    exact: false,
                    ..fast
                };
                inexact.count_seq(&xs, &mut stepped);
                assert_eq!(got, stepped, "bins {bins} over [{lo}, {hi})");
            }
            let (klo, span) = (b.edges[0], b.edges[bins] - b.edges[0]);
            let mut want = vec![0u32; bins];
            count_seq(
                &xs,
                &b,
                &|v: f32| {
                    let k = key_f32(v);
                    (k.wrapping_sub(klo) < span).then_some((k, (v as f64 - b.lo) * b.scale))
                },
                &mut want,
            );
            assert_eq!(got, want, "bins {bins} over [{lo}, {hi})");
        }
        // A subnormal width: the guess's scale is not normal, so it declines.
        let Plan::K32(b) = plan(3, 0.0f32, 1e-39).unwrap() else {
            panic!()
        };
        assert!(FastF32::new(&b).is_none());
    }

    #[test]
    fn int_rule_is_floor_of_exact_ratio() {
        let xs: Vec<i32> = (-50..50).collect();
        let h = histogram(&xs, 7, -40, 33).unwrap();
        let mut want = vec![0u32; 7];
        for &x in &xs {
            if (-40..33).contains(&x) {
                want[((x as i64 + 40) * 7 / 73) as usize] += 1;
            }
        }
        assert_eq!(h, want);
        let h = histogram(&[0u32, u32::MAX - 1, u32::MAX], 3, 0, u32::MAX).unwrap();
        assert_eq!(h, vec![1, 0, 1]);
    }
}
