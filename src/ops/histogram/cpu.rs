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

use rayon::prelude::*;

use crate::cpu::{threads, CHUNK, PAR_MIN};
use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};

/// The most bins a histogram may have, on either side.
pub const MAX_BINS: usize = 1 << 24;

const OP: &str = "histogram";

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op: OP,
        message: message.into(),
    }
}

/// The binning rule of one call: bin `k` holds the keys in `edges[k]..edges[k + 1]`.
#[derive(Debug, Clone)]
pub(crate) struct Bins<K> {
    pub bins: usize,
    /// `edges[0]` is the key of `lo`, `edges[bins]` the key of `hi`; non-decreasing.
    pub edges: Vec<K>,
    /// The guess of a bin is `(x - lo) * scale` (floats) or `(key - edges[0]) * scale` (ints).
    pub lo: f64,
    pub scale: f64,
}

/// A validated rule, by key width.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// f32, i32, u32: 32-bit keys (the GPU's rule too).
    K32(Bins<u32>),
    /// f64: 64-bit keys (CPU only).
    K64(Bins<u64>),
}

/// The order key of an f32 for binning: IEEE order, -0 and +0 equal.
#[inline(always)]
pub(crate) fn key_f32(x: f32) -> u32 {
    let b = x.to_bits();
    let b = if b == 0x8000_0000 { 0 } else { b };
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[inline(always)]
fn key_f64(x: f64) -> u64 {
    let b = x.to_bits();
    let b = if b == 0x8000_0000_0000_0000 { 0 } else { b };
    if b & 0x8000_0000_0000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000_0000_0000
    }
}

#[inline(always)]
fn key_i32(x: i32) -> u32 {
    (x as u32) ^ 0x8000_0000
}

/// The smallest f32 that is not below `v` (`v` finite and within the f32 range).
fn round_up_f32(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) >= v {
        return f;
    }
    let b = f.to_bits();
    if f == 0.0 {
        f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(b + 1)
    } else {
        f32::from_bits(b - 1)
    }
}

fn check_bins(bins: usize) -> Result<()> {
    if bins == 0 {
        return Err(invalid("bins must be at least 1"));
    }
    if bins > MAX_BINS {
        return Err(invalid(format!(
            "{bins} bins requested; at most {MAX_BINS} are supported"
        )));
    }
    Ok(())
}

fn check_float_range(lo: f64, hi: f64) -> Result<()> {
    if !lo.is_finite() || !hi.is_finite() {
        return Err(invalid(format!("lo ({lo}) and hi ({hi}) must be finite")));
    }
    if lo >= hi {
        return Err(invalid(format!("lo ({lo}) must be below hi ({hi})")));
    }
    Ok(())
}

fn plan_f32(bins: usize, lo: f32, hi: f32) -> Result<Bins<u32>> {
    check_bins(bins)?;
    check_float_range(lo as f64, hi as f64)?;
    let (l, h) = (lo as f64, hi as f64);
    let width = h - l; // finite: both are f32 values
    let mut edges = Vec::with_capacity(bins + 1);
    edges.push(key_f32(lo));
    for k in 1..bins {
        let v = l + width * k as f64 / bins as f64;
        let e = round_up_f32(v).clamp(lo, hi);
        edges.push(key_f32(e));
    }
    edges.push(key_f32(hi));
    Ok(Bins {
        bins,
        edges,
        lo: l,
        scale: bins as f64 / width,
    })
}

fn plan_f64(bins: usize, lo: f64, hi: f64) -> Result<Bins<u64>> {
    check_bins(bins)?;
    check_float_range(lo, hi)?;
    let width = hi - lo; // may overflow to inf; then interpolate
    let mut edges = Vec::with_capacity(bins + 1);
    edges.push(key_f64(lo));
    let mut prev = lo;
    for k in 1..bins {
        let t = k as f64 / bins as f64;
        let v = if width.is_finite() {
            lo + width * t
        } else {
            lo * (1.0 - t) + hi * t
        };
        let e = v.clamp(prev, hi);
        prev = e;
        edges.push(key_f64(e));
    }
    edges.push(key_f64(hi));
    Ok(Bins {
        bins,
        edges,
        lo,
        scale: bins as f64 / width,
    })
}

/// Integer rule in key space: `edge[k] = klo + ceil(k * (khi - klo) / bins)`, exact.
fn plan_keys(bins: usize, klo: u32, khi: u32) -> Result<Bins<u32>> {
    check_bins(bins)?;
    if klo >= khi {
        return Err(invalid("lo must be below hi"));
    }
    let span = (khi - klo) as u64;
    let mut edges = Vec::with_capacity(bins + 1);
    for k in 0..=bins as u64 {
        let off = (k * span).div_ceil(bins as u64);
        edges.push(klo + off as u32);
    }
    Ok(Bins {
        bins,
        edges,
        lo: 0.0,
        scale: bins as f64 / span as f64,
    })
}

/// Reinterprets a value of `T` (whose scalar type was matched) as `U`.
fn cast<T: Element, U: bytemuck::Pod>(v: T) -> Result<U> {
    bytemuck::try_cast(v).map_err(|_| invalid("internal: element size mismatch"))
}

fn cast_slice<T: Element, U: bytemuck::Pod>(x: &[T]) -> Result<&[U]> {
    bytemuck::try_cast_slice(x).map_err(|_| invalid("internal: element size mismatch"))
}

/// Validates the arguments and computes the bin edges.
///
/// # Errors
/// [`Error::InvalidArgument`] when `bins` is 0 or above [`MAX_BINS`], or `lo >= hi`,
/// or (floats) `lo` or `hi` is NaN or infinite.
pub(crate) fn plan<T: Element>(bins: usize, lo: T, hi: T) -> Result<Plan> {
    Ok(match T::SCALAR {
        ScalarType::F32 => Plan::K32(plan_f32(bins, cast(lo)?, cast(hi)?)?),
        ScalarType::I32 => Plan::K32(plan_keys(bins, key_i32(cast(lo)?), key_i32(cast(hi)?))?),
        ScalarType::U32 => Plan::K32(plan_keys(bins, cast(lo)?, cast(hi)?)?),
        ScalarType::F64 => Plan::K64(plan_f64(bins, cast(lo)?, cast(hi)?)?),
    })
}

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
    let bins = b.bins;
    let mut counts = vec![0u32; bins];
    // Each part must see enough elements to pay for its private histogram.
    let parts = (4 * threads())
        .min(x.len() / (PAR_MIN / 2).max(2 * bins))
        .max(1);
    if x.len() < PAR_MIN || parts == 1 {
        count_seq(x, b, &f, &mut counts);
        return counts;
    }
    let part_len = x.len().div_ceil(parts);
    let partial: Vec<Vec<u32>> = x
        .par_chunks(part_len)
        .map(|c| {
            let mut h = vec![0u32; bins];
            count_seq(c, b, &f, &mut h);
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

/// Counts `x` under a validated plan.
pub(crate) fn count<T: Element>(x: &[T], plan: &Plan) -> Result<Vec<u32>> {
    Ok(match (T::SCALAR, plan) {
        (ScalarType::F32, Plan::K32(b)) => {
            let xs: &[f32] = cast_slice(x)?;
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
