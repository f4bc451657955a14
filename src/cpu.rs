//! rayon plumbing only: when to go parallel and how to cut the work.
//!
//! Below [`PAR_MIN`] elements an op runs on the calling thread: a rayon
//! fork-join costs microseconds, more than the work. Above it, work is cut into
//! fixed [`CHUNK`]-element pieces, so results (float sums included) do not depend
//! on the number of threads or on work stealing.

use rayon::prelude::*;

/// Elements below which CPU twins run sequentially.
pub const PAR_MIN: usize = 1 << 15;
/// Elements per parallel piece.
pub const CHUNK: usize = 1 << 16;

/// Applies `f` to each `CHUNK`-sized piece of `x` (with the piece's start
/// index) and returns the results in order.
pub fn map_chunks<T: Sync, R: Send>(x: &[T], f: impl Fn(usize, &[T]) -> R + Sync + Send) -> Vec<R> {
    if x.len() < PAR_MIN {
        return x
            .chunks(CHUNK)
            .enumerate()
            .map(|(i, c)| f(i * CHUNK, c))
            .collect();
    }
    x.par_chunks(CHUNK)
        .enumerate()
        .map(|(i, c)| f(i * CHUNK, c))
        .collect()
}

/// As [`map_chunks`], over two slices of equal length.
pub fn map_chunks2<A: Sync, B: Sync, R: Send>(
    a: &[A],
    b: &[B],
    f: impl Fn(&[A], &[B]) -> R + Sync + Send,
) -> Vec<R> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PAR_MIN {
        return a
            .chunks(CHUNK)
            .zip(b.chunks(CHUNK))
            .map(|(x, y)| f(x, y))
            .collect();
    }
    a.par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(x, y)| f(x, y))
        .collect()
}

/// Fills `out[i] = f(i-th elements)` piece by piece, in parallel when large.
pub fn for_each_chunk_mut<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if out.len() < PAR_MIN {
        for (i, c) in out.chunks_mut(CHUNK).enumerate() {
            f(i * CHUNK, c);
        }
        return;
    }
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, c)| f(i * CHUNK, c));
}

/// The number of threads rayon will use.
pub fn threads() -> usize {
    rayon::current_num_threads()
}
