//! CPU twins of `shaders/compact.wgsl`: stream compaction on rayon.
//!
//! Pass one counts the kept elements of each fixed [`CHUNK`]-element chunk in
//! parallel; a sequential scan of the counts gives each chunk's place in the
//! output; pass two copies each chunk's kept elements into its own disjoint part
//! of the output, in parallel. Below [`PAR_MIN`] elements it is one sequential pass.

use rayon::prelude::*;

use crate::cpu::{map_chunks, CHUNK, PAR_MIN};
use crate::element::Element;
use crate::ops::compact::Compare;

/// Keeps `x[i]` where `keep(i, x[i])` holds, in order.
fn compact_by<T: Element>(x: &[T], keep: impl Fn(usize, T) -> bool + Sync + Send) -> Vec<T> {
    if x.len() < PAR_MIN {
        return x
            .iter()
            .enumerate()
            .filter(|&(i, &v)| keep(i, v))
            .map(|(_, &v)| v)
            .collect();
    }
    let counts = map_chunks(x, |s, c| {
        c.iter()
            .enumerate()
            .filter(|&(i, &v)| keep(s + i, v))
            .count()
    });
    let total = counts.iter().sum();
    let mut out = vec![T::zero(); total];
    let mut parts = Vec::with_capacity(counts.len());
    let mut rest = out.as_mut_slice();
    for &c in &counts {
        let (part, tail) = rest.split_at_mut(c);
        parts.push(part);
        rest = tail;
    }
    x.par_chunks(CHUNK)
        .zip(parts.into_par_iter())
        .enumerate()
        .for_each(|(k, (c, part))| {
            let kept = c
                .iter()
                .enumerate()
                .filter(|&(i, &v)| keep(k * CHUNK + i, v))
                .map(|(_, &v)| v);
            for (o, v) in part.iter_mut().zip(kept) {
                *o = v;
            }
        });
    out
}

/// Keeps `x[i]` where `mask[i] != 0`, in order.
///
/// # Panics
/// When `x` and `mask` differ in length.
pub fn compact<T: Element>(x: &[T], mask: &[u32]) -> Vec<T> {
    assert_eq!(x.len(), mask.len(), "compact needs equal lengths");
    compact_by(x, |i, _| mask[i] != 0)
}

/// Keeps the elements `e` of `x` for which `e <cmp> value` holds, in order
/// (IEEE comparisons: NaN compares false except under [`Compare::Ne`]; `-0 == +0`).
pub fn compact_if<T: Element>(x: &[T], cmp: Compare, value: T) -> Vec<T> {
    let pred = cmp.predicate(value);
    compact_by(x, |_, v| pred(v))
}

/// The number of elements `e` of `x` for which `e <cmp> value` holds.
pub fn count_if<T: Element>(x: &[T], cmp: Compare, value: T) -> usize {
    let pred = cmp.predicate(value);
    map_chunks(x, |_, c| c.iter().filter(|&&v| pred(v)).count())
        .into_iter()
        .sum()
}
