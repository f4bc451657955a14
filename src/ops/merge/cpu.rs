//! CPU twins of `shaders/merge.wgsl`: merge path on rayon.
//!
//! The output is cut into pieces (those of [`crate::cpu::for_each_chunk_mut`]);
//! each piece finds where its first and last output elements come from with a
//! binary search along its diagonal of the merge grid (the merge path), then
//! merges its two input ranges sequentially into its own part of the output,
//! with a branch-free inner loop. Ties take `a`'s element first. Keys compare
//! by the total order of `sort` ([`total_key`]).
//!
//! The two ends of a piece are clamped so that its ranges hold exactly as many
//! elements as the piece, whatever the input: unsorted inputs give an output of
//! input elements in an unspecified order, never a panic.

use std::mem::MaybeUninit;

use crate::cpu::for_each_chunk_mut;
use crate::element::Element;
use crate::ops::sort::cpu::total_key;

/// How many of the first `d` merged elements come from `a` (ties: `a` first):
/// the merge path's crossing of diagonal `d`. Within `[d - b.len(), min(d, a.len())]`.
#[inline]
pub(crate) fn merge_path<T: Element>(a: &[T], b: &[T], d: usize) -> usize {
    let mut lo = d.saturating_sub(b.len());
    let mut hi = d.min(a.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if total_key(a[mid]) <= total_key(b[d - 1 - mid]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The `a` range `[a_lo, a_end)` of output piece `[d0, d1)`, given the path's
/// crossings at both ends: the end is clamped so that both ranges stay inside
/// their arrays and hold `d1 - d0` elements together (a no-op for sorted inputs).
#[inline]
pub(crate) fn piece_range(
    na: usize,
    nb: usize,
    d0: usize,
    d1: usize,
    a_lo: usize,
    a_hi: usize,
) -> (usize, usize) {
    let low = a_lo.max(d1.saturating_sub(nb));
    let high = (a_lo + (d1 - d0)).min(na);
    (a_lo, a_hi.clamp(low, high))
}

/// Merges `a` and `b` (ties: `a` first) into `out`, which is exactly as long
/// as both, with a branch-free step (a select, not a jump: sorted random data
/// would mispredict every other branch).
#[inline]
fn merge_into<T: Element>(a: &[T], b: &[T], out: &mut [MaybeUninit<T>]) {
    assert_eq!(
        a.len() + b.len(),
        out.len(),
        "merge_into needs room for both"
    );
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        // SAFETY: i < a.len() and j < b.len() (the loop's condition), and
        // k == i + j < a.len() + b.len() == out.len() (asserted above).
        let (x, y) = unsafe { (*a.get_unchecked(i), *b.get_unchecked(j)) };
        let take_a = total_key(x) <= total_key(y);
        // SAFETY: k < out.len(), as above.
        unsafe { out.get_unchecked_mut(k) }.write(if take_a { x } else { y });
        i += take_a as usize;
        j += !take_a as usize;
        k += 1;
    }
    for (o, &x) in out[k..].iter_mut().zip(a[i..].iter().chain(&b[j..])) {
        o.write(x);
    }
}

/// As [`merge_into`], moving each key's value along with it.
#[inline]
fn merge_pairs_into<K: Element, V: Element>(
    (ka, va): (&[K], &[V]),
    (kb, vb): (&[K], &[V]),
    kout: &mut [MaybeUninit<K>],
    vout: &mut [MaybeUninit<V>],
) {
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < ka.len() && j < kb.len() {
        let (x, y) = (ka[i], kb[j]);
        let take_a = total_key(x) <= total_key(y);
        kout[k].write(if take_a { x } else { y });
        vout[k].write(if take_a { va[i] } else { vb[j] });
        i += take_a as usize;
        j += !take_a as usize;
        k += 1;
    }
    let keys = ka[i..].iter().chain(&kb[j..]);
    let vals = va[i..].iter().chain(&vb[j..]);
    for ((ko, vo), (&x, &v)) in kout[k..].iter_mut().zip(&mut vout[k..]).zip(keys.zip(vals)) {
        ko.write(x);
        vo.write(v);
    }
}

/// The pieces' input ranges for output piece `[start, start + len)`.
fn ranges<T: Element>(
    a: &[T],
    b: &[T],
    start: usize,
    len: usize,
) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let (d0, d1) = (start, start + len);
    let (a0, a1) = piece_range(
        a.len(),
        b.len(),
        d0,
        d1,
        merge_path(a, b, d0),
        merge_path(a, b, d1),
    );
    let b0 = d0 - a0;
    (a0..a1, b0..b0 + (len - (a1 - a0)))
}

/// A `Vec` of `n` elements of which `fill` initialises every one.
fn filled<T: Copy>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(n);
    fill(&mut out.spare_capacity_mut()[..n]);
    // SAFETY: every caller's `fill` hands each piece of `0..n` to `merge_into`
    // or `merge_pairs_into`, whose two ranges hold exactly the piece's length
    // (`ranges`) and which write every element of the piece: the loop writes
    // one per step until a range runs out, the tail copy the rest.
    unsafe { out.set_len(n) };
    out
}

/// `a` and `b` merged in ascending total order; on ties `a`'s elements first.
/// Both must be sorted (by `sort`'s order) for the result to be sorted.
pub fn merge<T: Element>(a: &[T], b: &[T]) -> Vec<T> {
    filled(a.len() + b.len(), |out| {
        for_each_chunk_mut(out, |start, piece| {
            let (ra, rb) = ranges(a, b, start, piece.len());
            merge_into(&a[ra], &b[rb], piece);
        })
    })
}

/// Merges the pairs `(ka[i], va[i])` and `(kb[j], vb[j])` by key, as [`merge`]:
/// the values follow their keys.
///
/// # Panics
/// When a key slice and its value slice differ in length.
pub fn merge_by_key<K: Element, V: Element>(
    ka: &[K],
    va: &[V],
    kb: &[K],
    vb: &[V],
) -> (Vec<K>, Vec<V>) {
    assert!(
        ka.len() == va.len() && kb.len() == vb.len(),
        "merge_by_key needs a value per key"
    );
    // Both outputs are filled piece by piece in one parallel loop.
    let n = ka.len() + kb.len();
    let mut keys: Vec<K> = Vec::with_capacity(n);
    let vals = filled(n, |vout| {
        let kout = &mut keys.spare_capacity_mut()[..n];
        crate::cpu::for_each_chunk_mut2(kout, vout, |start, kp, vp| {
            let (ra, rb) = ranges(ka, kb, start, kp.len());
            let a = (&ka[ra.clone()], &va[ra]);
            let b = (&kb[rb.clone()], &vb[rb]);
            merge_pairs_into(a, b, kp, vp);
        });
    });
    // SAFETY: the loop above wrote every key index exactly where it wrote the
    // value of the same index, and `filled` proved every value index written.
    unsafe { keys.set_len(n) };
    (keys, vals)
}
