//! CPU twins of the GPU radix sort (`shaders/sort_radix.wgsl`, `shaders/sort_scan.wgsl`).
//!
//! A radix sort with 8-bit digits on rayon, stable:
//! 1. a range larger than the cache is split by its top digit (MSD): per-part
//!    histograms, then each part scatters into its own (digit, part) ranges of the
//!    scratch buffer, digit-major so equal digits keep their input order; the parts
//!    run in parallel, safely, on disjoint sub-slices cut with `split_at_mut`
//!    ([`sort`] splits straight from its input, so the input is never copied);
//! 2. the 256 buckets are then sorted in parallel, recursively by the next digit,
//!    until a bucket fits in about a core's L2 cache, where an LSD sort on the remaining
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
//! Large float sorts write their keys' bits in the first split, so that later
//! passes move plain integers, and turn each bucket back once it is sorted.
//! `sort_by_key` with 32-bit keys and values packs each pair in one u64 (key
//! bits above value bits) and sorts by the upper half, stably. Output and scratch
//! come from the host pool ([`crate::host_pool`]).

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
        // Negative: all bits flipped; else the sign bit set. Branch-free (an xor
        // with the sign spread over the word): random signs would mispredict a
        // branch on every key of every pass.
        ScalarType::F32 => {
            let b = bytemuck::cast::<T, u32>(x);
            (b ^ ((((b as i32) >> 31) as u32) | 0x8000_0000)) as u64
        }
        ScalarType::F64 => {
            let b = bytemuck::cast::<T, u64>(x);
            b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
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

/// Scatters one part into its ranges by digit `pass` (stable within the part),
/// writing `map(x)` for each `x`.
fn scatter<I: Copy>(
    part: &[I],
    ranges: Vec<&mut [I]>,
    pass: usize,
    key: &impl Fn(I) -> u64,
    map: &impl Fn(I) -> I,
) {
    let slots: Vec<std::slice::IterMut<'_, I>> = ranges.into_iter().map(|r| r.iter_mut()).collect();
    // A fixed-size array, so that indexing by a masked digit needs no bounds check;
    // `carve` always gives BUCKETS ranges per part.
    let Ok(mut slots) = <[std::slice::IterMut<'_, I>; BUCKETS]>::try_from(slots) else {
        return;
    };
    for &x in part {
        // Always Some: the ranges were sized by this part's histogram.
        if let Some(slot) = slots[digit(key(x), pass)].next() {
            *slot = map(x);
        }
    }
}

/// Bytes of one range plus its scratch that an LSD sort finishes instead of
/// another MSD split: 1.5 MiB, about a core's L2 on common x86 parts (the LSD
/// passes spill at most a little into the shared L3, while the one more split
/// they replace would cost a pass over memory and 256 tiny sorts), and not a
/// power of two. Power-of-two inputs give power-of-two buckets, a few elements
/// either way; a limit on a power of two splits half of them again (at 1 MiB,
/// the 512 KiB buckets of 2^24 random key-value pairs, and `sort_by_key` ran
/// 1.5x slower).
const CACHE_BYTES: usize = 3 << 19;

/// Bytes of an input plus its scratch below which [`sort`] runs on one
/// thread: it fits a core's L2, where a parallel split costs more than it saves.
const SEQUENTIAL_BYTES: usize = 1 << 20;

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
            scatter(src, r, pass, key, &|x| x);
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
    let Some((top, total)) = split(data, scratch, top, key, &|x| x) else {
        // Every key is equal.
        return false;
    };
    if top == 0 {
        return true;
    }
    sort_buckets(scratch, data, &total, top - 1, key, &|_, _: &mut [I]| {});
    false
}

/// The MSD split of a large range: finds the highest digit at or below `top`
/// that is not the same for every key of `src`, and scatters `src` into `dst` by
/// it (parts in parallel, stable), writing `map(x)` for each `x`. Returns that
/// digit and its bucket sizes; None (and `dst` untouched) when every key is equal.
fn split<I, K, M>(
    src: &[I],
    dst: &mut [I],
    mut top: usize,
    key: &K,
    map: &M,
) -> Option<(usize, Hist)>
where
    I: Copy + Send + Sync,
    K: Fn(I) -> u64 + Sync + Send,
    M: Fn(I) -> I + Sync + Send,
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
            scatter(src, r, top, key, map);
        }
    } else {
        src.par_chunks(part_len)
            .zip(ranges.into_par_iter())
            .for_each(|(c, r)| scatter(c, r, top, key, map));
    }
    Some((top, total))
}

/// Sorts each bucket of `src` (sizes `total`, already split by a higher digit)
/// by digits `0..=top`, in parallel, into the same place in `home`, with that
/// stretch of `home` as scratch (three LSD passes, the common case, end there);
/// then `finish(b, bucket)` runs on each sorted bucket `b` while it is in cache.
fn sort_buckets<I, K, F>(
    src: &mut [I],
    home: &mut [I],
    total: &Hist,
    top: usize,
    key: &K,
    finish: &F,
) where
    I: Copy + Send + Sync,
    K: Fn(I) -> u64 + Sync + Send,
    F: Fn(usize, &mut [I]) + Sync + Send,
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
    buckets.into_par_iter().enumerate().for_each(|(b, (s, d))| {
        if !msd(s, d, top, key) {
            d.copy_from_slice(s);
        }
        finish(b, d);
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
/// output. Floats are split as their total-order keys (the bits, stored in the
/// element), so the passes after the first move plain integers, and each bucket
/// turns back into floats once sorted, while it is in cache.
pub fn sort<T: Element>(x: &[T]) -> Vec<T> {
    match T::SCALAR {
        ScalarType::F32 => sort_large(
            x,
            total_key::<T>,
            |v| {
                let b = bytemuck::cast::<T, u32>(v);
                bytemuck::cast(b ^ ((((b as i32) >> 31) as u32) | 0x8000_0000))
            },
            |k| {
                let b = bytemuck::cast::<T, u32>(k);
                bytemuck::cast(b ^ ((((!b as i32) >> 31) as u32) | 0x8000_0000))
            },
        ),
        ScalarType::F64 => sort_large(
            x,
            total_key::<T>,
            |v| {
                let b = bytemuck::cast::<T, u64>(v);
                bytemuck::cast(b ^ ((((b as i64) >> 63) as u64) | (1 << 63)))
            },
            |k| {
                let b = bytemuck::cast::<T, u64>(k);
                bytemuck::cast(b ^ ((((!b as i64) >> 63) as u64) | (1 << 63)))
            },
        ),
        _ => sort_large(x, total_key::<T>, |v| v, |v| v),
    }
}

/// [`sort`] with `to_key` (an element's total-order key, as the bits of an
/// element) and its inverse `from_key`; identities for integers.
fn sort_large<T: Element>(
    x: &[T],
    key: impl Fn(T) -> u64 + Sync + Send,
    to_key: impl Fn(T) -> T + Sync + Send,
    from_key: impl Fn(T) -> T + Sync + Send,
) -> Vec<T> {
    if x.len() < PAR_MIN || std::mem::size_of_val(x) * 2 <= SEQUENTIAL_BYTES {
        return sort_items(x.to_vec(), T::SCALAR.size(), key);
    }
    let bits = |k: T| match T::SCALAR.size() {
        4 => u64::from(bytemuck::cast::<T, u32>(k)),
        _ => bytemuck::cast::<T, u64>(k),
    };
    let untransform = |_, b: &mut [T]| {
        for v in b {
            *v = from_key(*v);
        }
    };
    // Pooled blocks where they fit (both are written before they are read).
    let mut out: Vec<T> = take_filled(x.len());
    let mut scratch: Vec<T> = take_filled(x.len());
    match split(x, &mut scratch, T::SCALAR.size() - 1, &key, &to_key) {
        // Every key is equal (and equal keys are equal bit patterns).
        None => out.copy_from_slice(x),
        Some((0, _)) => {
            out.copy_from_slice(&scratch);
            untransform(0, &mut out);
        }
        Some((top, total)) => {
            sort_buckets(&mut scratch, &mut out, &total, top - 1, &bits, &untransform)
        }
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
    if K::SCALAR.size() == 4 && std::mem::size_of::<V>() == 4 && n >= PAR_MIN {
        return sort_by_key_packed(keys, values);
    }
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

/// [`sort_by_key`] for 32-bit keys and values: each pair packed in one u64,
/// the key's total-order bits above the value's bits, so the radix passes move
/// one machine word per pair and compare nothing else; a stable sort by the
/// upper half keeps equal keys' values in input order. Packing and unpacking are
/// one parallel pass each, into pooled blocks.
fn sort_by_key_packed<K: Element, V: Element>(keys: &[K], values: &[V]) -> (Vec<K>, Vec<V>) {
    let n = keys.len();
    let pack = |k: K, v: V| (total_key(k) << 32) | u64::from(bytemuck::cast::<V, u32>(v));
    let mut out_k: Vec<K> = take_filled(n);
    let mut out_v: Vec<V> = take_filled(n);
    let mut packed: Vec<u64> = take_filled(n);
    let mut scratch: Vec<u64> = take_filled(n);
    let parts = (threads() * 2).clamp(1, (n / MIN_PART).max(1));
    let part_len = n.div_ceil(parts);
    // The MSD split, straight from the two inputs into packed pairs.
    let mut top = 3;
    let (hists, total) = loop {
        let hists: Vec<Hist> = per_part(keys, part_len, |c| one_digit(c, top, &total_key::<K>));
        let mut total = [0usize; BUCKETS];
        for h in &hists {
            for (t, c) in total.iter_mut().zip(h) {
                *t += c;
            }
        }
        if !trivial(&total, n) || top == 0 {
            break (hists, total);
        }
        top -= 1;
    };
    let ranges = carve(&mut scratch, &hists);
    keys.par_chunks(part_len)
        .zip(values.par_chunks(part_len))
        .zip(ranges.into_par_iter())
        .for_each(|((kc, vc), r)| {
            let slots: Vec<std::slice::IterMut<'_, u64>> =
                r.into_iter().map(|r| r.iter_mut()).collect();
            let Ok(mut slots) = <[std::slice::IterMut<'_, u64>; BUCKETS]>::try_from(slots) else {
                return;
            };
            for (&k, &v) in kc.iter().zip(vc) {
                // Always Some: the ranges were sized by this part's histogram.
                if let Some(slot) = slots[digit(total_key(k), top)].next() {
                    *slot = pack(k, v);
                }
            }
        });
    // Each bucket sorted in cache by the lower key digits, then unpacked there.
    {
        let (mut k_rest, mut v_rest) = (&mut out_k[..], &mut out_v[..]);
        let mut outs = Vec::with_capacity(BUCKETS);
        for &len in &total {
            let (k, kr) = std::mem::take(&mut k_rest).split_at_mut(len);
            let (v, vr) = std::mem::take(&mut v_rest).split_at_mut(len);
            outs.push(std::sync::Mutex::new((k, v)));
            k_rest = kr;
            v_rest = vr;
        }
        let unpack = |b: usize, sorted: &mut [u64]| {
            // Each bucket's lock is taken once, by the one thread sorting it.
            let mut guard = outs[b].lock().unwrap_or_else(|e| e.into_inner());
            let (ok, ov) = &mut *guard;
            for ((k, v), &p) in ok.iter_mut().zip(ov.iter_mut()).zip(sorted.iter()) {
                *k = from_total_key32::<K>((p >> 32) as u32);
                *v = bytemuck::cast(p as u32);
            }
        };
        let key = |p: u64| p >> 32;
        match top.checked_sub(1) {
            Some(next) => sort_buckets(&mut scratch, &mut packed, &total, next, &key, &unpack),
            None => {
                // Split by the lowest key digit: the pairs are in order already.
                let mut start = 0;
                for (b, &len) in total.iter().enumerate() {
                    unpack(b, &mut scratch[start..start + len]);
                    start += len;
                }
            }
        }
    }
    give(packed);
    give(scratch);
    (out_k, out_v)
}

/// The 32-bit element whose [`total_key`] is `k`.
#[inline(always)]
fn from_total_key32<T: Element>(k: u32) -> T {
    let b = match T::SCALAR {
        ScalarType::I32 => k ^ 0x8000_0000,
        ScalarType::F32 => k ^ ((((!k as i32) >> 31) as u32) | 0x8000_0000),
        _ => k,
    };
    bytemuck::cast(b)
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
