//! CPU twin of `shaders/partition.wgsl` (with the compactions it feeds): a
//! stable partition on rayon.
//!
//! Pass one counts the passing elements of each fixed [`CHUNK`]-element chunk
//! in parallel; a sequential scan of the counts places each chunk's passing
//! elements in the front part of the output and its failing ones in the back
//! part; pass two copies each chunk's elements into its own disjoint pieces of
//! both parts, in parallel. Below [`PAR_MIN`] elements it is one sequential pass.

use rayon::prelude::*;

use crate::cpu::{CHUNK, PAR_MIN};
use crate::element::Element;
use crate::ops::compact::Compare;

/// Copies `c`'s elements that pass into `front` and the others into `back`, in order.
fn split_into<T: Element>(c: &[T], pred: impl Fn(T) -> bool, front: &mut [T], back: &mut [T]) {
    // Branch-free: each element is stored at the next slot of both parts and
    // only its own part advances; a later element overwrites the other store
    // (each part gets exactly as many elements as it has slots).
    let (mut f, mut b) = (0, 0);
    for &v in c {
        let p = pred(v);
        if let Some(s) = front.get_mut(f) {
            *s = v;
        }
        if let Some(s) = back.get_mut(b) {
            *s = v;
        }
        f += usize::from(p);
        b += usize::from(!p);
    }
}

/// The elements `e` of `x` for which `e <cmp> value` holds, then the others,
/// each group in input order; and the number that hold. Comparisons as
/// [`Compare`] states (IEEE: NaN compares false except under `Ne`).
pub fn partition<T: Element>(x: &[T], cmp: Compare, value: T) -> (Vec<T>, usize) {
    let pred = cmp.predicate(value);
    let n = x.len();
    let mut out = vec![T::zero(); n];
    if n < PAR_MIN {
        let n_true = x.iter().filter(|&&v| pred(v)).count();
        let (front, back) = out.split_at_mut(n_true);
        split_into(x, pred, front, back);
        return (out, n_true);
    }
    let counts: Vec<usize> = x
        .par_chunks(CHUNK)
        .map(|c| c.iter().map(|&v| usize::from(pred(v))).sum())
        .collect();
    let n_true: usize = counts.iter().sum();
    let (mut front, mut back) = out.split_at_mut(n_true);
    let mut pieces = Vec::with_capacity(counts.len());
    for (k, &t) in counts.iter().enumerate() {
        let len = CHUNK.min(n - k * CHUNK);
        let (f, rest_f) = front.split_at_mut(t);
        let (b, rest_b) = back.split_at_mut(len - t);
        pieces.push((f, b));
        front = rest_f;
        back = rest_b;
    }
    x.par_chunks(CHUNK)
        .zip(pieces.into_par_iter())
        .for_each(|(c, (f, b))| split_into(c, pred, f, b));
    (out, n_true)
}
