//! rayon plumbing only: when to go parallel and how to cut the work.
//!
//! Below [`PAR_MIN`] elements an op runs on the calling thread: a rayon
//! fork-join costs microseconds, more than the work. User kernels, whose cost per
//! element is unknown, time their first piece instead ([`for_each_chunk_timed`]). Above it, reductions cut the
//! work into fixed [`CHUNK`]-element pieces, so their results (float sums
//! included) do not depend on the number of threads or on work stealing;
//! element-wise work uses pieces sized for load balance.

use std::mem::MaybeUninit;

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

/// Fills `out` piece by piece, in parallel when large; `f` gets each piece's
/// start index. Pieces are sized for load balance (about four per thread, between
/// 4,096 and [`CHUNK`] elements), since element-wise results do not depend on them.
pub fn for_each_chunk_mut<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if out.len() < PAR_MIN {
        f(0, out);
        return;
    }
    let piece = (out.len() / (4 * threads()))
        .clamp(4096, CHUNK)
        .next_multiple_of(64);
    out.par_chunks_mut(piece)
        .enumerate()
        .for_each(|(i, c)| f(i * piece, c));
}

/// As [`for_each_chunk_mut`], over two outputs of equal length cut at the same
/// places: `f(start, piece_a, piece_b)`.
pub fn for_each_chunk_mut2<A: Send, B: Send>(
    a: &mut [A],
    b: &mut [B],
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    assert_eq!(a.len(), b.len(), "for_each_chunk_mut2 needs equal lengths");
    if a.len() < PAR_MIN {
        f(0, a, b);
        return;
    }
    let piece = (a.len() / (4 * threads()))
        .clamp(4096, CHUNK)
        .next_multiple_of(64);
    a.par_chunks_mut(piece)
        .zip(b.par_chunks_mut(piece))
        .enumerate()
        .for_each(|(i, (x, y))| f(i * piece, x, y));
}

/// Work of unknown cost per element (a user's kernel) goes parallel below
/// [`PAR_MIN`] elements when its first piece predicts the rest takes at least
/// this long: far more than waking rayon's threads costs.
const PAR_MIN_S: f64 = 40e-6;
/// Elements of the timed first piece in [`for_each_chunk_timed`].
const PROBE: usize = 256;

/// As [`for_each_chunk_mut`], for work whose cost per element is unknown: it
/// also goes parallel below [`PAR_MIN`] elements when the first [`PROBE`]
/// elements, run on the calling thread and timed, predict at least
/// [`PAR_MIN_S`] for the rest. A heavy kernel then uses every core from a few
/// thousand elements, a light one stays on one thread where that is faster.
pub fn for_each_chunk_timed<T: Send>(out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if out.len() >= PAR_MIN || threads() == 1 {
        for_each_chunk_mut(out, f);
        return;
    }
    let probe = out.len().min(PROBE);
    let (head, rest) = out.split_at_mut(probe);
    // Two timed halves, the faster counting: the first write to a fresh output
    // page (a fault, about a microsecond) must not pass for the kernel's cost.
    let half = probe / 2;
    let (first, second) = head.split_at_mut(half);
    let per_element = |start: usize, piece: &mut [T]| {
        let t = std::time::Instant::now();
        f(start, piece);
        t.elapsed().as_secs_f64() / piece.len().max(1) as f64
    };
    let a = if half > 0 {
        per_element(0, first)
    } else {
        f64::INFINITY
    };
    let b = per_element(half, second);
    let rest_s = a.min(b) * rest.len() as f64;
    if rest_s < PAR_MIN_S {
        f(probe, rest);
        return;
    }
    let piece = (rest.len() / (4 * threads())).max(64);
    rest.par_chunks_mut(piece)
        .enumerate()
        .for_each(|(i, c)| f(probe + i * piece, c));
}

/// `f(0), f(1), ..., f(count - 1)`, in order. In parallel when `parallel`, or
/// when `f(0)`, run on the calling thread and timed, predicts that the rest
/// takes at least [`PAR_MIN_S`] (as [`for_each_chunk_timed`]); else on the
/// calling thread.
pub fn map_pieces_timed<R: Send>(
    count: usize,
    parallel: bool,
    f: impl Fn(usize) -> R + Sync + Send,
) -> Vec<R> {
    if count == 0 {
        return Vec::new();
    }
    if parallel && threads() > 1 {
        return (0..count).into_par_iter().map(f).collect();
    }
    let t = std::time::Instant::now();
    let mut out = Vec::with_capacity(count);
    out.push(f(0));
    let rest_s = t.elapsed().as_secs_f64() * (count - 1) as f64;
    if rest_s < PAR_MIN_S || threads() == 1 {
        out.extend((1..count).map(f));
    } else {
        out.par_extend((1..count).into_par_iter().map(f));
    }
    out
}

/// A new `Vec` of `n` elements, each written once by `write(start, piece)`:
/// `piece` covers indices `start..start + piece.len()`, pieces as in
/// [`for_each_chunk_mut`]. Skips the zeroing pass a `vec![0; n]` would cost.
///
/// If `write` panics, the `Vec` is dropped with length 0 (nothing uninitialised
/// is ever read).
///
/// # Safety
/// Every call of `write` must initialise every element of its piece (for
/// example by zipping the piece with inputs at least as long as it). The
/// returned `Vec` claims all `n` elements are initialised: one left unwritten
/// would be uninitialised memory read through safe code.
pub(crate) unsafe fn collect_pieces<T: Send + Copy>(
    n: usize,
    write: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    // SAFETY: `for_each_chunk_mut` hands each index of 0..n to exactly one call
    // of `write`, which initialises it (this function's contract).
    unsafe { collect_with(n, |out| for_each_chunk_mut(out, write)) }
}

/// [`collect_pieces`] with the pieces of [`for_each_chunk_timed`].
///
/// # Safety
/// As [`collect_pieces`]: every call of `write` must initialise every element
/// of its piece.
pub(crate) unsafe fn collect_pieces_timed<T: Send + Copy>(
    n: usize,
    write: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    // SAFETY: `for_each_chunk_timed` hands each index of 0..n to exactly one
    // call of `write`, which initialises it (this function's contract).
    unsafe { collect_with(n, |out| for_each_chunk_timed(out, write)) }
}

/// A `Vec` of `n` elements that `fill` initialises, every one. Its memory
/// comes from the host pool when a block fits ([`crate::host_pool`]), so that a
/// large output written in a loop does not fault its pages in each time.
///
/// # Safety
/// `fill` must initialise every element of the slice it is given.
unsafe fn collect_with<T: Copy>(n: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut out: Vec<T> = crate::host_pool::take_empty(n);
    fill(&mut out.spare_capacity_mut()[..n]);
    // SAFETY: `fill` initialised all n elements (this function's contract), and
    // the capacity is at least n.
    unsafe { out.set_len(n) };
    out
}

/// The number of threads rayon will use.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Clears the upper halves of the AVX registers on the calling thread and, with
/// `pool`, on every rayon worker (queued to each, without waiting: a blocking
/// broadcast could deadlock when a worker waits on something the caller holds),
/// after code that leaves them dirty.
///
/// faer's x86 GEMM micro-kernels return without `vzeroupper`. Until something
/// clears that state, every SSE-encoded instruction on the thread (most scalar
/// float code, glibc's `sinf` and `expf` included) pays a transition penalty:
/// a transcendental-heavy loop measured 30x slower here after one small matmul.
pub fn clear_upper_simd_state(pool: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::arch::is_x86_feature_detected!("avx") {
            let clear = || {
                // SAFETY: the CPU supports AVX (checked above).
                unsafe { zero_upper() }
            };
            clear();
            if pool {
                rayon::spawn_broadcast(move |_| clear());
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_pieces_keep_their_order_whichever_way_they_run() {
        for count in [0usize, 1, 2, 7, 100] {
            let want: Vec<usize> = (0..count).map(|i| i * i).collect();
            assert_eq!(map_pieces_timed(count, true, |i| i * i), want);
            assert_eq!(map_pieces_timed(count, false, |i| i * i), want);
            // Slow pieces: the first one's time sends the rest to the pool.
            let slow = map_pieces_timed(count, false, |i| {
                std::thread::sleep(std::time::Duration::from_micros(50));
                i * i
            });
            assert_eq!(slow, want);
        }
        for n in [0usize, 1, 255, 256, 257, 5000] {
            let mut v = vec![0usize; n];
            for_each_chunk_timed(&mut v, |start, piece| {
                std::thread::sleep(std::time::Duration::from_micros(1));
                for (i, x) in piece.iter_mut().enumerate() {
                    *x = start + i;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i), "n={n}");
        }
    }
}
