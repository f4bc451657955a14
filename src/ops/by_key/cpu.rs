//! CPU twins of `shaders/by_key.wgsl` (with the compaction it feeds): the
//! by-key family on rayon.
//!
//! A run is a maximal stretch of consecutive equal keys, equal meaning equal
//! bits. The input is cut into fixed [`CHUNK`]-element chunks. Ops with one
//! output per run go in two passes: count the run heads of each chunk (a
//! vectorised compare of neighbours), place each chunk's runs in the output by
//! a scan of the counts, then write each chunk's runs in parallel (loops
//! without branches on run ends; `reduce_by_key` runs each chunk's two halves
//! in lockstep, two independent chains of additions); a run that crosses half
//! or chunk boundaries is finished by adding the later partial results in order. The scans by key first find each chunk's open run at
//! its end (reading back from the end to its head), chain those in order, then
//! scan each chunk from its carry. Below [`PAR_MIN`] elements each op is one
//! sequential pass. Chunk bounds are fixed, so float results do not depend on
//! the thread count.

use rayon::prelude::*;

use crate::cpu::{CHUNK, PAR_MIN};
use crate::element::Element;
use crate::ops::by_key::ReduceOp;

/// The bits of an element, for key equality.
#[inline(always)]
fn bits<T: Element>(v: T) -> u64 {
    match std::mem::size_of::<T>() {
        4 => u64::from(bytemuck::cast::<T, u32>(v)),
        _ => bytemuck::cast::<T, u64>(v),
    }
}

/// `a` where `c` holds, else `b`, through bit masks: the compiler turns a
/// select of floats into a branch, which mispredicts at every run end.
#[inline(always)]
fn select<T: Element>(c: bool, a: T, b: T) -> T {
    match std::mem::size_of::<T>() {
        4 => {
            let m = u32::from(c).wrapping_neg();
            let (x, y) = (bytemuck::cast::<T, u32>(a), bytemuck::cast::<T, u32>(b));
            bytemuck::cast((x & m) | (y & !m))
        }
        _ => {
            let m = u64::from(c).wrapping_neg();
            let (x, y) = (bytemuck::cast::<T, u64>(a), bytemuck::cast::<T, u64>(b));
            bytemuck::cast((x & m) | (y & !m))
        }
    }
}

/// The additive identity that adding is exact for: -0 for floats (`-0 + x`
/// is `x` for every `x`, `+0 + -0` is not), 0 for integers.
#[inline(always)]
fn sum_identity<T: Element>() -> T {
    T::from_f64(-0.0)
}

/// Whether `x[i]` starts a run.
#[inline(always)]
fn is_head<T: Element>(x: &[T], i: usize) -> bool {
    i == 0 || bits(x[i]) != bits(x[i - 1])
}

/// Changes between neighbours in `w` (vectorises on plain integers).
fn changes<U: Copy + Eq>(w: &[U]) -> usize {
    w.iter()
        .zip(&w[1..])
        .map(|(a, b)| usize::from(a != b))
        .sum()
}

/// Run heads among `x[start..end]`.
fn count_heads<T: Element>(x: &[T], start: usize, end: usize) -> usize {
    if start >= end {
        return 0;
    }
    let lo = start.saturating_sub(1);
    let first = usize::from(start == 0);
    first
        + match std::mem::size_of::<T>() {
            4 => changes(&bytemuck::cast_slice::<T, u32>(x)[lo..end]),
            _ => changes(&bytemuck::cast_slice::<T, u64>(x)[lo..end]),
        }
}

/// A reduction as a fold over "lanes": the value itself for sums, the order key
/// for min and max (so NaN is ignored and -0 < +0, as `min`/`max` do).
trait Fold<T: Element>: Copy + Send + Sync {
    type Lane: Copy + Send + Sync;
    fn lift(v: T) -> Self::Lane;
    fn combine(a: Self::Lane, b: Self::Lane) -> Self::Lane;
    fn lower(l: Self::Lane) -> T;
    /// `v` where a run starts (`head`), else `combine(acc, v)`, without a branch.
    fn extend(acc: Self::Lane, v: Self::Lane, head: bool) -> Self::Lane;
}

#[derive(Clone, Copy)]
struct SumF;
#[derive(Clone, Copy)]
struct MinF;
#[derive(Clone, Copy)]
struct MaxF;

impl<T: Element> Fold<T> for SumF {
    type Lane = T;
    #[inline(always)]
    fn lift(v: T) -> T {
        v
    }
    #[inline(always)]
    fn combine(a: T, b: T) -> T {
        a.add(b)
    }
    #[inline(always)]
    fn lower(l: T) -> T {
        l
    }
    #[inline(always)]
    fn extend(acc: T, v: T, head: bool) -> T {
        select(head, sum_identity(), acc).add(v)
    }
}

impl<T: Element> Fold<T> for MinF {
    type Lane = T::Key;
    #[inline(always)]
    fn lift(v: T) -> T::Key {
        v.key_min()
    }
    #[inline(always)]
    fn combine(a: T::Key, b: T::Key) -> T::Key {
        a.min(b)
    }
    #[inline(always)]
    fn extend(acc: T::Key, v: T::Key, head: bool) -> T::Key {
        (if head { T::KEY_MIN_IDENTITY } else { acc }).min(v)
    }
    #[inline(always)]
    fn lower(l: T::Key) -> T {
        T::from_key(l)
    }
}

impl<T: Element> Fold<T> for MaxF {
    type Lane = T::Key;
    #[inline(always)]
    fn lift(v: T) -> T::Key {
        v.key_max()
    }
    #[inline(always)]
    fn combine(a: T::Key, b: T::Key) -> T::Key {
        a.max(b)
    }
    #[inline(always)]
    fn extend(acc: T::Key, v: T::Key, head: bool) -> T::Key {
        (if head { T::KEY_MAX_IDENTITY } else { acc }).max(v)
    }
    #[inline(always)]
    fn lower(l: T::Key) -> T {
        T::from_key(l)
    }
}

/// Chunk bounds: (start, end) of each [`CHUNK`]-element chunk of `n`.
fn chunks(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(CHUNK)
        .map(|s| (s, (s + CHUNK).min(n)))
        .collect()
}

/// Per chunk, the number of run heads in it; and their exclusive scan with the total.
fn head_offsets<T: Element>(x: &[T]) -> (Vec<(usize, usize)>, Vec<usize>) {
    let bounds = chunks(x.len());
    let counts: Vec<usize> = bounds
        .par_iter()
        .map(|&(s, e)| count_heads(x, s, e))
        .collect();
    let mut offs = Vec::with_capacity(counts.len() + 1);
    let mut acc = 0;
    offs.push(0);
    for c in counts {
        acc += c;
        offs.push(acc);
    }
    (bounds, offs)
}

/// Cuts `out` into consecutive parts of `offs[c + 1] - offs[c]` elements.
fn parts<'a, T>(mut out: &'a mut [T], offs: &[usize]) -> Vec<&'a mut [T]> {
    let mut v = Vec::with_capacity(offs.len());
    for w in offs.windows(2) {
        let (part, rest) = out.split_at_mut(w[1] - w[0]);
        v.push(part);
        out = rest;
    }
    v
}

/// Reduces `values[start..end]`'s runs (heads from `keys`) into `out_k` /
/// `out_v` (one slot per head in the range); returns the lane of the leading
/// elements that continue a run begun before `start`, if any, and the number
/// of runs written.
fn reduce_range<K: Element, V: Element, F: Fold<V>>(
    keys: &[K],
    values: &[V],
    start: usize,
    end: usize,
    out_k: &mut [K],
    out_v: &mut [V],
) -> (Option<F::Lane>, usize) {
    let mut i = start;
    let mut lead = None;
    if !is_head(keys, i) {
        let mut acc = F::lift(values[i]);
        i += 1;
        while i < end && !is_head(keys, i) {
            acc = F::combine(acc, F::lift(values[i]));
            i += 1;
        }
        lead = Some(acc);
    }
    if i == end {
        return (lead, 0);
    }
    if end - i < 256 {
        let mut j = 0;
        let mut acc = F::lift(values[i]);
        out_k[0] = keys[i];
        out_v[0] = F::lower(acc);
        for i in i + 1..end {
            step::<K, V, F>(keys, values, out_k, out_v, i, &mut j, &mut acc);
        }
        return (lead, j + 1);
    }
    // Two halves in lockstep: two independent chains of additions hide the
    // latency of each (a lone chain is what bounds a sequential loop).
    let mid = i + (end - i) / 2;
    let runs_a = count_heads(keys, i, mid);
    let mut b = mid;
    let mut lead_b = None;
    while b < end && !is_head(keys, b) {
        let v = F::lift(values[b]);
        lead_b = Some(lead_b.map_or(v, |a| F::combine(a, v)));
        b += 1;
    }
    let (mut ja, mut acc_a) = (0, F::lift(values[i]));
    out_k[0] = keys[i];
    out_v[0] = F::lower(acc_a);
    if b == end {
        for ia in i + 1..mid {
            step::<K, V, F>(keys, values, out_k, out_v, ia, &mut ja, &mut acc_a);
        }
    } else {
        let (mut jb, mut acc_b) = (runs_a, F::lift(values[b]));
        out_k[jb] = keys[b];
        out_v[jb] = F::lower(acc_b);
        let steps = (mid - i - 1).min(end - b - 1);
        for t in 1..=steps {
            step::<K, V, F>(keys, values, out_k, out_v, i + t, &mut ja, &mut acc_a);
            step::<K, V, F>(keys, values, out_k, out_v, b + t, &mut jb, &mut acc_b);
        }
        for ia in i + steps + 1..mid {
            step::<K, V, F>(keys, values, out_k, out_v, ia, &mut ja, &mut acc_a);
        }
        for ib in b + steps + 1..end {
            step::<K, V, F>(keys, values, out_k, out_v, ib, &mut jb, &mut acc_b);
        }
    }
    // The first half's last run goes on into the second half.
    if let Some(l) = lead_b {
        let r = runs_a - 1;
        out_v[r] = F::lower(F::combine(F::lift(out_v[r]), l));
    }
    let runs_b = if b == end {
        0
    } else {
        count_heads(keys, b, end)
    };
    (lead, runs_a + runs_b)
}

/// One element of a branch-free run loop: element `i` extends the current run
/// (slot `j`, lane `acc`) or starts the next, and stores the run's result so far.
#[inline(always)]
fn step<K: Element, V: Element, F: Fold<V>>(
    keys: &[K],
    values: &[V],
    out_k: &mut [K],
    out_v: &mut [V],
    i: usize,
    j: &mut usize,
    acc: &mut F::Lane,
) {
    let head = bits(keys[i]) != bits(keys[i - 1]);
    *acc = F::extend(*acc, F::lift(values[i]), head);
    *j += usize::from(head);
    out_k[*j] = keys[i];
    out_v[*j] = F::lower(*acc);
}

fn reduce_by_key_with<K: Element, V: Element, F: Fold<V>>(
    keys: &[K],
    values: &[V],
) -> (Vec<K>, Vec<V>) {
    let n = keys.len();
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    if n < PAR_MIN {
        let runs = count_heads(keys, 0, n);
        let (mut k, mut v) = (vec![K::zero(); runs], vec![V::zero(); runs]);
        reduce_range::<K, V, F>(keys, values, 0, n, &mut k, &mut v);
        return (k, v);
    }
    let (bounds, offs) = head_offsets(keys);
    let runs = offs[offs.len() - 1];
    let (mut out_k, mut out_v) = (vec![K::zero(); runs], vec![V::zero(); runs]);
    let leads: Vec<Option<F::Lane>> = bounds
        .par_iter()
        .zip(parts(&mut out_k, &offs).into_par_iter())
        .zip(parts(&mut out_v, &offs).into_par_iter())
        .map(|((&(s, e), ok), ov)| reduce_range::<K, V, F>(keys, values, s, e, ok, ov).0)
        .collect();
    // Runs that cross into later chunks: their partials, in chunk order. Chunk
    // 0 starts with a head, so a lead always has an earlier run.
    for (c, lead) in leads.into_iter().enumerate() {
        if let Some(l) = lead {
            let r = offs[c] - 1;
            out_v[r] = F::lower(F::combine(F::lift(out_v[r]), l));
        }
    }
    (out_k, out_v)
}

/// One result per run of equal consecutive keys (equal bits): the run's first
/// key, and the reduction of its values. Sums add in order within a
/// 65,536-element chunk, and a run's partial sums of later chunks in chunk
/// order; min and max ignore NaN (an all-NaN run gives NaN) with `-0 < +0`.
///
/// # Panics
/// When `keys` and `values` differ in length.
pub fn reduce_by_key<K: Element, V: Element>(
    keys: &[K],
    values: &[V],
    op: ReduceOp,
) -> (Vec<K>, Vec<V>) {
    assert_eq!(
        keys.len(),
        values.len(),
        "reduce_by_key needs equal lengths"
    );
    match op {
        ReduceOp::Sum => reduce_by_key_with::<K, V, SumF>(keys, values),
        ReduceOp::Min => reduce_by_key_with::<K, V, MinF>(keys, values),
        ReduceOp::Max => reduce_by_key_with::<K, V, MaxF>(keys, values),
    }
}

/// Scans `values[start..end]` by key into `out` (the same range), from `carry`
/// (the sum of the open run before `start`; `None` at the start of the input).
fn scan_range<K: Element, V: Element>(
    keys: &[K],
    values: &[V],
    start: usize,
    out: &mut [V],
    mut carry: Option<V>,
    exclusive: bool,
) {
    // Without a carry, `start` is 0: a head, so the zero is never added.
    let mut acc = carry.take().unwrap_or(V::zero());
    for (j, o) in out.iter_mut().enumerate() {
        let i = start + j;
        let v = values[i];
        let head = is_head(keys, i);
        let next = select(head, sum_identity(), acc).add(v);
        *o = match (exclusive, head) {
            (false, _) => next,
            (true, true) => V::zero(),
            (true, false) => acc,
        };
        acc = next;
    }
}

/// The chunk's open run at its end: (whether the chunk holds a head, the sum
/// from the chunk's last head, or its start, to its end).
fn open_run<K: Element, V: Element>(keys: &[K], values: &[V], s: usize, e: usize) -> (bool, V) {
    let mut h = e - 1;
    while h > s && !is_head(keys, h) {
        h -= 1;
    }
    let mut acc = values[h];
    for &v in &values[h + 1..e] {
        acc = acc.add(v);
    }
    (is_head(keys, h), acc)
}

fn scan_by_key<K: Element, V: Element>(keys: &[K], values: &[V], exclusive: bool) -> Vec<V> {
    assert_eq!(keys.len(), values.len(), "scans by key need equal lengths");
    let n = keys.len();
    let mut out = vec![V::zero(); n];
    if n < PAR_MIN {
        scan_range(keys, values, 0, &mut out, None, exclusive);
        return out;
    }
    let bounds = chunks(n);
    let open: Vec<(bool, V)> = bounds
        .par_iter()
        .map(|&(s, e)| open_run(keys, values, s, e))
        .collect();
    let mut carries = Vec::with_capacity(open.len());
    let mut carry: Option<V> = None;
    for &(has_head, tail) in &open {
        carries.push(carry);
        carry = match carry {
            Some(c) if !has_head => Some(c.add(tail)),
            _ => Some(tail),
        };
    }
    out.par_chunks_mut(CHUNK)
        .zip(bounds.par_iter())
        .zip(carries.into_par_iter())
        .for_each(|((o, &(s, _)), c)| scan_range(keys, values, s, o, c, exclusive));
    out
}

/// A sum scan of `values` that restarts at each run of equal keys:
/// `out[i] = values[h] + ... + values[i]`, `h` the head of `i`'s run.
///
/// # Panics
/// When `keys` and `values` differ in length.
pub fn inclusive_scan_by_key<K: Element, V: Element>(keys: &[K], values: &[V]) -> Vec<V> {
    scan_by_key(keys, values, false)
}

/// As [`inclusive_scan_by_key`], excluding the element itself (0 at a head).
///
/// # Panics
/// When `keys` and `values` differ in length.
pub fn exclusive_scan_by_key<K: Element, V: Element>(keys: &[K], values: &[V]) -> Vec<V> {
    scan_by_key(keys, values, true)
}

/// Writes each head of `x[start..end]` and, with `counts`, its run's length
/// (`next` is where the first run starting after `end` begins, or `x.len()`).
fn heads_range<T: Element>(
    x: &[T],
    start: usize,
    end: usize,
    next: usize,
    out: &mut [T],
    counts: Option<&mut [u32]>,
) {
    let Some(first) = (start..end).find(|&i| is_head(x, i)) else {
        return;
    };
    // Branch-free, as in `reduce_range`: each element stores into its run's
    // slot; a run's count so far is `i + 1 - run_start`.
    let mut j = 0;
    let mut run_start = first;
    out[0] = x[first];
    match counts {
        Some(c) => {
            // A first run of one element gets no store in the loop.
            c[0] = 1;
            for i in first + 1..end {
                let head = bits(x[i]) != bits(x[i - 1]);
                j += usize::from(head);
                run_start = if head { i } else { run_start };
                out[j] = x[i];
                c[j] = (i + 1 - run_start) as u32;
            }
            // The last run may go on past the chunk.
            c[j] = (next - run_start) as u32;
        }
        None => {
            for i in first + 1..end {
                j += usize::from(bits(x[i]) != bits(x[i - 1]));
                out[j] = x[i];
            }
        }
    }
}

/// Where the first head in `x[s..e]` is, if any.
fn first_head<T: Element>(x: &[T], s: usize, e: usize) -> Option<usize> {
    (s..e).find(|&i| is_head(x, i))
}

fn runs<T: Element>(x: &[T], with_counts: bool) -> (Vec<T>, Vec<u32>) {
    let n = x.len();
    if n < PAR_MIN {
        let r = count_heads(x, 0, n);
        let mut out = vec![T::zero(); r];
        let mut counts = vec![0u32; if with_counts { r } else { 0 }];
        let c = with_counts.then_some(&mut counts[..]);
        heads_range(x, 0, n, n, &mut out, c);
        return (out, counts);
    }
    let (bounds, offs) = head_offsets(x);
    let total = offs[offs.len() - 1];
    // Where the first run after each chunk starts: from each chunk's first head.
    let mut next = vec![n; bounds.len()];
    if with_counts {
        let firsts: Vec<Option<usize>> = bounds
            .par_iter()
            .enumerate()
            .map(|(c, &(s, e))| {
                (offs[c + 1] > offs[c])
                    .then(|| first_head(x, s, e))
                    .flatten()
            })
            .collect();
        let mut after = n;
        for c in (0..bounds.len()).rev() {
            next[c] = after;
            if let Some(f) = firsts[c] {
                after = f;
            }
        }
    }
    let mut out = vec![T::zero(); total];
    let mut counts = vec![0u32; if with_counts { total } else { 0 }];
    let count_parts: Vec<Option<&mut [u32]>> = if with_counts {
        parts(&mut counts, &offs).into_iter().map(Some).collect()
    } else {
        (0..bounds.len()).map(|_| None).collect()
    };
    bounds
        .par_iter()
        .zip(next.par_iter())
        .zip(parts(&mut out, &offs).into_par_iter())
        .zip(count_parts.into_par_iter())
        .for_each(|(((&(s, e), &nx), o), c)| heads_range(x, s, e, nx, o, c));
    (out, counts)
}

/// `x` without consecutive duplicates (equal bits): the first element of each run.
pub fn unique<T: Element>(x: &[T]) -> Vec<T> {
    runs(x, false).0
}

/// Each run's element and its length. Lengths are `u32`: inputs of 2^32
/// elements or more are refused by `Context::run_length_encode`; here a longer
/// run's count wraps.
pub fn run_length_encode<T: Element>(x: &[T]) -> (Vec<T>, Vec<u32>) {
    runs(x, true)
}
