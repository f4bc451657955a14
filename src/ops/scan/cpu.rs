//! CPU twins of `shaders/scan.wgsl`: a parallel two-pass scan on rayon.
//!
//! Pass one sums fixed [`SCAN_CHUNK`]-element chunks in parallel (16
//! accumulators each, so the loop vectorises); the chunk sums are scanned
//! sequentially; pass two rescans each chunk in parallel, starting from its
//! offset. Both passes run over a cache-sized block of chunks before the next
//! block, so pass two reads from cache: the scan moves about the bytes of a copy.
//! Chunk bounds are fixed, so float results do not depend on the thread count.
//! Below [`PAR_MIN`] elements the scan is one sequential pass.

use rayon::prelude::*;

use crate::cpu::PAR_MIN;
use crate::element::Element;
use crate::ops::reduce::cpu::sum_seq;

/// Writes the inclusive scan of `x`, starting from `acc`, into `out`; returns the total.
#[inline]
fn scan_chunk<T: Element>(x: &[T], out: &mut [T], mut acc: T, exclusive: bool) -> T {
    if exclusive {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = acc;
            acc = acc.add(v);
        }
    } else {
        for (o, &v) in out.iter_mut().zip(x) {
            acc = acc.add(v);
            *o = acc;
        }
    }
    acc
}

/// Elements per chunk: the unit of both passes (64 KiB of u32, so that a
/// thread's chunks stay in its L2 cache between the passes).
pub const SCAN_CHUNK: usize = 1 << 14;
/// Chunks per thread in one block (1 MiB of u32 per thread: within L2, and few
/// enough blocks that rayon's fork-joins stay cheap): both passes run over a
/// block before the next starts, so pass two reads what pass one left in cache.
const CHUNKS_PER_THREAD: usize = 16;

/// Writes the scan of `x` into `out` (equal lengths).
///
/// # Panics
/// When `x` and `out` differ in length.
pub fn scan_into<T: Element>(x: &[T], out: &mut [T], exclusive: bool) {
    assert_eq!(x.len(), out.len(), "scan_into needs equal lengths");
    if x.len() < PAR_MIN {
        scan_chunk(x, out, T::zero(), exclusive);
        return;
    }
    // Blocks are whole chunks, so chunk bounds (and float results) do not
    // depend on the thread count; only the block size does.
    let block = SCAN_CHUNK * CHUNKS_PER_THREAD * rayon::current_num_threads().max(1);
    let mut sums: Vec<T> = Vec::with_capacity(block / SCAN_CHUNK);
    let mut carry = T::zero();
    for (xb, ob) in x.chunks(block).zip(out.chunks_mut(block)) {
        xb.par_chunks(SCAN_CHUNK)
            .map(sum_seq)
            .collect_into_vec(&mut sums);
        // The chunk sums become chunk offsets, in place.
        for s in sums.iter_mut() {
            let next = carry.add(*s);
            *s = carry;
            carry = next;
        }
        ob.par_chunks_mut(SCAN_CHUNK)
            .zip(xb.par_chunks(SCAN_CHUNK))
            .zip(sums.par_iter())
            .for_each(|((o, c), &off)| {
                scan_chunk(c, o, off, exclusive);
            });
    }
}

/// Inclusive prefix sum: `out[i] = x[0] + ... + x[i]`. Integers wrap.
pub fn inclusive_scan<T: Element>(x: &[T]) -> Vec<T> {
    // Zeroed memory comes from the allocator's zero pages: no extra pass.
    let mut out = vec![T::zero(); x.len()];
    scan_into(x, &mut out, false);
    out
}

/// Exclusive prefix sum: `out[0] = 0`, `out[i] = x[0] + ... + x[i - 1]`. Integers wrap.
pub fn exclusive_scan<T: Element>(x: &[T]) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    scan_into(x, &mut out, true);
    out
}
