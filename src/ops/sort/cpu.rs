//! CPU twins of the GPU radix sort (`shaders/sort_radix.wgsl`, `shaders/sort_scan.wgsl`).
//!
//! A radix sort with 8-bit digits on rayon, stable:
//! 1. a range larger than the cache is split by its top digit (MSD): per-part
//!    histograms, then each part scatters into its own (digit, part) ranges of the
//!    scratch buffer, digit-major so equal digits keep their input order; the parts
//!    run in parallel, safely, on disjoint sub-slices cut with `split_at_mut`
//!    ([`sort`] splits straight from its input, so the input is never copied);
//! 2. the 256 buckets are then sorted in parallel, recursively by the next digit,
//!    until a bucket fits in a core's L2 cache, where an LSD sort on the remaining
//!    digits finishes it (one read for all histograms, then one scatter per digit);
//! 3. a digit that is the same for every key of a range is skipped.
//!
//! Only the first split streams the whole array through memory; the rest runs in
//! cache, which matters on machines with small pages and busy memory.
//!
//! Keys are ordered through their total-order key: u32 by value, i32 with the sign
//! bit flipped, floats as `f32::total_cmp` / `f64::total_cmp` (-NaN < -inf < ... <
//! -0 < +0 < ... < +inf < NaN), computed on the fly from the bits, so equal keys are
//! equal bit patterns and the output is identical to the GPU's bit for bit.
//! Below [`SMALL`] elements a comparison sort on the same keys runs instead.

use rayon::prelude::*;

use crate::cpu::{threads, PAR_MIN};
use crate::element::{Element, ScalarType};
use crate::host_pool::{give, take_filled};

/// Elements below which a comparison sort beats the radix passes.
pub const SMALL: usize = 384;
/// Buckets per pass (8-bit digits).
const BUCKETS: usize = 256;
/// Elements per part at least, so that the per-part histograms and ranges pay off.
const MIN_PART: usize = 1 << 14;

type Hist = [usize; BUCKETS];

/// The total-order key of `x`, widened to 64 bits: sorting by it sorts u32 and i32
/// by value and floats as `total_cmp` does.
#[inline(always)]
pub fn total_key<T: Element>(x: T) -> u64 {
    match T::SCALAR {
        ScalarType::U32 => bytemuck::cast::<T, u32>(x) as u64,
        ScalarType::I32 => (bytemuck::cast::<T, u32>(x) ^ 0x8000_0000) as u64,
        ScalarType::F32 => {
            let b = bytemuck::cast::<T, u32>(x);
            (if b & 0x8000_0000 != 0 {
                !b
            } else {
                b | 0x8000_0000
            }) as u64
        }
        ScalarType::F64 => {
            let b = bytemuck::cast::<T, u64>(x);
            if b & (1 << 63) != 0 {
                !b
            } else {
                b | (1 << 63)
            }
        }
    }
}

#[inline(always)]
fn digit(key: u64, pass: usize) -> usize {
    ((key >> (8 * pass)) & 0xff) as usize
}

/// Runs `f` on each part of `x` (parts of `part_len`), in parallel when there are several.
fn per_part<I: Sync, R: Send>(
    x: &[I],
    part_len: usize,
    f: impl Fn(&[I]) -> R + Sync + Send,
) -> Vec<R> {
    if x.len() <= part_len {
        return vec![f(x)];
    }
    x.par_chunks(part_len).map(f).collect()
}

/// Histogram of one digit of one part.
fn one_digit<I: Copy>(part: &[I], pass: usize, key: &impl Fn(I) -> u64) -> Hist {
    let mut h = [0usize; BUCKETS];
    for &x in part {
        h[digit(key(x), pass)] += 1;
    }
    h
}

/// Cuts `dst` into the ranges each part writes, per digit: digit-major, then part,
/// which is what makes the sort stable.
fn carve<'a, I>(mut rest: &'a mut [I], hists: &[Hist]) -> Vec<Vec<&'a mut [I]>> {
    let mut out: Vec<Vec<&'a mut [I]>> =
        hists.iter().map(|_| Vec::with_capacity(BUCKETS)).collect();
    for d in 0..BUCKETS {
        for (h, o) in hists.iter().zip(out.iter_mut()) {
            let (a, r) = std::mem::take(&mut rest).split_at_mut(h[d]);
            o.push(a);
            rest = r;
        }
    }
    out
}

/// Scatters one part into its ranges by digit `pass` (stable within the part).
fn scatter<I: Copy>(part: &[I], ranges: Vec<&mut [I]>, pass: usize, key: &impl Fn(I) -> u64) {
    let slots: Vec<std::slice::IterMut<'_, I>> = ranges.into_iter().map(|r| r.iter_mut()).collect();
    // A fixed-size array, so that indexing by a masked digit needs no bounds check;
    // `carve` always gives BUCKETS ranges per part.
    let Ok(mut slots) = <[std::slice::IterMut<'_, I>; BUCKETS]>::try_from(slots) else {
        return;
    };
    for &x in part {
        // Always Some: the ranges were sized by this part's histogram.
        if let Some(slot) = slots[digit(key(x), pass)].next() {
            *slot = x;
        }
    }
}

/// Bytes of one range plus its scratch that still sort inside a core's L2 cache.
const CACHE_BYTES: usize = 1 << 20;

/// Whether some digit holds all of `n` keys (the pass would move nothing).
fn trivial(h: &Hist, n: usize) -> bool {
    h.contains(&n)
}

/// Stable LSD sort of `data` by digits `0..=top`, sequential, for ranges that
/// fit in cache; `scratch` has the same length. Returns true when the result
/// ended in `scratch` (the caller copies only where it must).
fn lsd<I, K>(data: &mut [I], scratch: &mut [I], top: usize, key: &K) -> bool
where
    I: Copy,
    K: Fn(I) -> u64,
{
    let n = data.len();
    let mut hists = [[0usize; BUCKETS]; 8];
    for &x in data.iter() {
        let k = key(x);
        for (p, h) in hists.iter_mut().enumerate().take(top + 1) {
            h[digit(k, p)] += 1;
        }
    }
    let mut in_scratch = false;
    for (pass, h) in hists.iter().enumerate().take(top + 1) {
        if trivial(h, n) {
            continue;
        }
        let (src, dst): (&[I], &mut [I]) = if in_scratch {
            (&*scratch, &mut *data)
        } else {
            (&*data, &mut *scratch)
        };
        let ranges = carve(dst, std::slice::from_ref(h));
        for r in ranges {
            scatter(src, r, pass, key);
        }
        in_scratch = !in_scratch;
    }
    in_scratch
}

/// Stable sort of `data` by digits `0..=top` (the higher digits are equal):
/// large ranges are split by their top digit (MSD, parts in parallel) and the
/// buckets sorted recursively in parallel; ranges that fit in cache go LSD.
/// Returns true when the result ended in `scratch`.
fn msd<I, K>(data: &mut [I], scratch: &mut [I], top: usize, key: &K) -> bool
where
    I: Copy + Send + Sync,
    K: Fn(I) -> u64 + Sync + Send,
{
    let n = data.len();
    if n < SMALL {
        // The digits above `top` are equal here, so the whole key orders the same.
        data.sort_by_key(|&x| key(x));
        return false;
    }
    if std::mem::size_of_val(data) * 2 <= CACHE_BYTES {
        return lsd(data, scratch, top, key);
    }
    let Some((top, total)) = split(data, scratch, top, key) else {
        // Every key is equal.
        return false;
    };
    if top == 0 {
        return true;
    }
    sort_buckets(scratch, data, &total, top - 1, key);
    false
}

/// The MSD split of a large range: finds the highest digit at or below `top`
/// that is not the same for every key of `src`, and scatters `src` into `dst` by
/// it (parts in parallel, stable). Returns that digit and its bucket sizes; None
/// (and `dst` untouched) when every key is equal.
fn split<I, K>(src: &[I], dst: &mut [I], mut top: usize, key: &K) -> Option<(usize, Hist)>
where
    I: Copy + Send + Sync,
    K: Fn(I) -> u64 + Sync + Send,
{
    let n = src.len();
    let parts = if n < PAR_MIN {
        1
    } else {
        (threads() * 2).clamp(1, (n / MIN_PART).max(1))
    };
    let part_len = n.div_ceil(parts);
    let (hists, total) = loop {
        let hists: Vec<Hist> = per_part(src, part_len, |c| one_digit(c, top, key));
        let mut total = [0usize; BUCKETS];
        for h in &hists {
            for (t, c) in total.iter_mut().zip(h) {
                *t += c;
            }
        }
        if !trivial(&total, n) {
            break (hists, total);
        }
        top = top.checked_sub(1)?;
    };
    let ranges = carve(dst, &hists);
    if parts == 1 {
        for r in ranges {
            scatter(src, r, top, key);
        }
    } else {
        src.par_chunks(part_len)
            .zip(ranges.into_par_iter())
            .for_each(|(c, r)| scatter(c, r, top, key));
    }
    Some((top, total))
}

/// Sorts each bucket of `src` (sizes `total`, already split by a higher digit)
/// by digits `0..=top`, in parallel, into the same place in `home`, with that
/// stretch of `home` as scratch (three LSD passes, the common case, end there).
fn sort_buckets<I, K>(src: &mut [I], home: &mut [I], total: &Hist, top: usize, key: &K)
where
    I: Copy + Send + Sync,
    K: Fn(I) -> u64 + Sync + Send,
{
    let (mut s_rest, mut d_rest) = (src, home);
    let mut buckets = Vec::with_capacity(BUCKETS);
    for &len in total {
        let (s, sr) = std::mem::take(&mut s_rest).split_at_mut(len);
        let (d, dr) = std::mem::take(&mut d_rest).split_at_mut(len);
        buckets.push((s, d));
        s_rest = sr;
        d_rest = dr;
    }
    buckets.into_par_iter().for_each(|(s, d)| {
        if !msd(s, d, top, key) {
            d.copy_from_slice(s);
        }
    });
}

/// Sorts `items` (stable) by `key`, a total-order key of `key_bytes` bytes.
fn sort_items<I, K>(mut items: Vec<I>, key_bytes: usize, key: K) -> Vec<I>
where
    I: Copy + Send + Sync + bytemuck::Zeroable,
    K: Fn(I) -> u64 + Sync + Send,
{
    if items.len() < SMALL {
        items.sort_by_key(|&x| key(x));
        return items;
    }
    let mut scratch = crate::host_pool::zeroed(items.len());
    if msd(&mut items, &mut scratch, key_bytes - 1, &key) {
        scratch
    } else {
        items
    }
}

/// `x` sorted ascending: integers by value, floats by IEEE total order
/// (`f32::total_cmp`: -NaN < -inf < ... < -0 < +0 < ... < +inf < NaN).
///
/// A range larger than the cache is split straight from `x` into the scratch
/// buffer (no copy of the input first); its buckets are then sorted into the
/// output.
pub fn sort<T: Element>(x: &[T]) -> Vec<T> {
    let key = total_key::<T>;
    if x.len() < PAR_MIN || std::mem::size_of_val(x) * 2 <= CACHE_BYTES {
        return sort_items(x.to_vec(), T::SCALAR.size(), key);
    }
    // Pooled blocks where they fit (both are written before they are read).
    let mut out: Vec<T> = take_filled(x.len());
    let mut scratch: Vec<T> = take_filled(x.len());
    match split(x, &mut scratch, T::SCALAR.size() - 1, &key) {
        // Every key is equal (and equal keys are equal bit patterns).
        None => out.copy_from_slice(x),
        Some((0, _)) => out.copy_from_slice(&scratch),
        Some((top, total)) => sort_buckets(&mut scratch, &mut out, &total, top - 1, &key),
    }
    give(scratch);
    out
}

/// `keys` sorted as [`sort`] does, and `values` permuted the same way; stable
/// (equal keys keep the input order of their values).
///
/// # Panics
/// If the lengths differ (`Context::sort_by_key` checks them first).
pub fn sort_by_key<K: Element, V: Element>(keys: &[K], values: &[V]) -> (Vec<K>, Vec<V>) {
    assert_eq!(keys.len(), values.len(), "sort_by_key needs equal lengths");
    let n = keys.len();
    let pairs: Vec<(K, V)> = if n < PAR_MIN {
        keys.iter().copied().zip(values.iter().copied()).collect()
    } else {
        keys.par_iter()
            .copied()
            .zip(values.par_iter().copied())
            .collect()
    };
    let sorted = sort_items(pairs, K::SCALAR.size(), |(k, _)| total_key(k));
    if n < PAR_MIN {
        sorted.into_iter().unzip()
    } else {
        sorted.into_par_iter().unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ranges far larger than the cache take the copy-free split (`sort`): random
    /// keys, keys whose high digits are all equal, and all-equal keys, in every type.
    #[test]
    fn large_sorts_match_std() {
        let n = (1 << 20) + 3;
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let random: Vec<u32> = (0..n).map(|_| next() as u32).collect();
        let low: Vec<u32> = random.iter().map(|&v| v & 0xffff).collect();
        let mid: Vec<u32> = random.iter().map(|&v| (v & 0x00ff_0000) | 7).collect();
        for keys in [random.clone(), low, mid, vec![42u32; n]] {
            let mut want = keys.clone();
            want.sort_unstable();
            assert!(sort(&keys) == want);
            let signed: Vec<i32> = keys.iter().map(|&v| v as i32).collect();
            let mut want = signed.clone();
            want.sort_unstable();
            assert!(sort(&signed) == want);
            let floats: Vec<f32> = keys.iter().map(|&v| f32::from_bits(v)).collect();
            let mut want = floats.clone();
            want.sort_unstable_by(f32::total_cmp);
            let got = sort(&floats);
            assert!(got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        let wide: Vec<f64> = (0..n).map(|_| f64::from_bits(next())).collect();
        let mut want = wide.clone();
        want.sort_unstable_by(f64::total_cmp);
        let got = sort(&wide);
        assert!(got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}
