//! CPU twins of `shaders/search.wgsl`: vectorised binary search on rayon.
//!
//! The queries are cut into pieces (those of [`crate::cpu::for_each_chunk_mut`]);
//! within a piece, groups of [`GROUP`] queries descend the sorted array in
//! lock-step with a branch-free halving, so that each step issues `GROUP`
//! independent loads: a cache miss of one query overlaps those of the others
//! instead of stalling the core, which is where a plain `partition_point` loop
//! spends its time once the array is larger than the cache ([`IN_CACHE`];
//! below it, queries go one at a time through `partition_point`). Keys compare by
//! `sort`'s total order ([`total_key`]). Any input gives indices in `0..=len`.

use std::mem::MaybeUninit;

use crate::cpu::collect_pieces;
use crate::element::Element;
use crate::ops::sort::cpu::total_key;

/// Queries that descend together.
const GROUP: usize = 16;
/// Sorted arrays up to this many bytes are searched one query at a time: they
/// stay in the cache, where lock-step groups only add work.
const IN_CACHE: usize = 1 << 20;

/// Insertion points of `qs` into `sorted` (not empty) into `out`.
#[inline]
fn search_group<T: Element, const UPPER: bool>(
    sorted: &[T],
    qs: &[T],
    out: &mut [MaybeUninit<u32>],
) {
    let m = qs.len();
    let before = |s: u64, q: u64| if UPPER { s <= q } else { s < q };
    let mut keys = [0u64; GROUP];
    let mut base = [0usize; GROUP];
    for (k, &q) in keys.iter_mut().zip(qs) {
        *k = total_key(q);
    }
    let mut len = sorted.len();
    while len > 1 {
        let half = len / 2;
        for i in 0..m {
            let s = total_key(sorted[base[i] + half]);
            base[i] += if before(s, keys[i]) { half } else { 0 };
        }
        len -= half;
    }
    for i in 0..m {
        let r = base[i] + before(total_key(sorted[base[i]]), keys[i]) as usize;
        out[i].write(r as u32);
    }
}

fn search<T: Element, const UPPER: bool>(sorted: &[T], queries: &[T]) -> Vec<u32> {
    if sorted.is_empty() {
        return vec![0; queries.len()];
    }
    let in_cache = std::mem::size_of_val(sorted) <= IN_CACHE;
    // SAFETY: `qs` is as long as `piece`; both paths write one output per query
    // (`search_group` writes `out[..qs.len()]` for chunks of equal length).
    unsafe {
        collect_pieces(queries.len(), |start, piece| {
            let qs = &queries[start..start + piece.len()];
            if in_cache {
                // No misses to overlap: one query at a time is faster.
                for (o, &q) in piece.iter_mut().zip(qs) {
                    let k = total_key(q);
                    let r = match UPPER {
                        true => sorted.partition_point(|&s| total_key(s) <= k),
                        false => sorted.partition_point(|&s| total_key(s) < k),
                    };
                    o.write(r as u32);
                }
                return;
            }
            for (q, o) in qs.chunks(GROUP).zip(piece.chunks_mut(GROUP)) {
                search_group::<T, UPPER>(sorted, q, o);
            }
        })
    }
}

/// For each query `q`, the number of elements of `sorted` that come before `q`
/// in `sort`'s total order (numpy `searchsorted(side="left")`). `sorted` must
/// be sorted ascending for this to be a binary search's answer; whatever it
/// holds, every index is in `0..=sorted.len()`. `sorted.len()` must fit a `u32`.
pub fn lower_bound<T: Element>(sorted: &[T], queries: &[T]) -> Vec<u32> {
    search::<T, false>(sorted, queries)
}

/// As [`lower_bound`], counting the elements equal to `q` too (numpy
/// `searchsorted(side="right")`).
pub fn upper_bound<T: Element>(sorted: &[T], queries: &[T]) -> Vec<u32> {
    search::<T, true>(sorted, queries)
}
