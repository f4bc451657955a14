//! CPU twins of `shaders/scan.wgsl`: a parallel chained scan on rayon.
//!
//! The input is cut into fixed [`SCAN_CHUNK`]-element chunks, handed to the
//! threads in order. A thread sums its chunk (32 accumulators, so the loop
//! vectorises; this also brings the chunk into cache) and publishes the sum,
//! takes the previous chunk's inclusive prefix (after a short spin it forms it
//! itself from the published sums, so no thread waits on a descheduled one),
//! publishes its own (prefix + sum), then rescans the chunk from that offset,
//! reading it from cache. Every chunk prefix is `prefix(j - 1) + sum(j)`, as in a
//! sequential scan of the chunk sums, and chunk bounds are fixed: float results
//! do not depend on the thread count or on timing. The whole scan is one
//! streaming pass over memory, as a copy is.
//!
//! 32-bit integers rescan 8 lanes at a time with AVX2 where the CPU has it (an
//! in-register log-step prefix; wrapping addition gives the same bits in any
//! order), and large outputs of [`scan_into`] are written with non-temporal
//! stores. Floats rescan element by element, in order.
//! Below [`PAR_MIN`] elements the scan is one sequential pass.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use crate::cpu::PAR_MIN;
use crate::element::{Element, ScalarType};
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

/// [`scan_chunk`], with 32-bit integers (u32, i32) routed to [`scan_chunk_u32`]:
/// wrapping addition is the same on their bits, so the result is bit-identical.
/// `stream`: write `out` around the cache (see [`STREAM_MIN`]).
#[inline]
fn scan_chunk_any<T: Element>(x: &[T], out: &mut [T], acc: T, exclusive: bool, stream: bool) -> T {
    if matches!(T::SCALAR, ScalarType::U32 | ScalarType::I32) {
        let r = scan_chunk_u32(
            bytemuck::cast_slice(x),
            bytemuck::cast_slice_mut(out),
            bytemuck::cast(acc),
            exclusive,
            stream,
        );
        return bytemuck::cast(r);
    }
    scan_chunk(x, out, acc, exclusive)
}

/// [`scan_chunk`] for 32-bit integers: an in-register prefix of 8 lanes at a time
/// with AVX2 where the CPU has it (the serial chain is then one add per 8
/// elements), the scalar loop elsewhere. Integer addition wraps, so every order
/// gives the same bits.
fn scan_chunk_u32(x: &[u32], out: &mut [u32], acc: u32, exclusive: bool, stream: bool) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY (all four): the CPU supports AVX2 (checked just above).
            return unsafe {
                match (exclusive, stream) {
                    (false, false) => avx2::scan::<false, false>(x, out, acc),
                    (false, true) => avx2::scan::<false, true>(x, out, acc),
                    (true, false) => avx2::scan::<true, false>(x, out, acc),
                    (true, true) => avx2::scan::<true, true>(x, out, acc),
                }
            };
        }
    }
    let _ = stream;
    scan_chunk(x, out, acc, exclusive)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Scan of `x` into `out` (equal lengths) from `acc`, 8 lanes at a time: a
    /// log-step prefix inside each 128-bit half (shifts by 1 and 2 lanes), the low
    /// half's total added to the high half, then the running carry. The carry
    /// chain is one vector add per 8 elements. Returns the total.
    ///
    /// With `STREAM`, the vector stores are non-temporal (aligned, after a scalar
    /// head): the output is not read into the cache before it is overwritten, which
    /// saves a third of the memory traffic of a large scan.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan<const EXCLUSIVE: bool, const STREAM: bool>(
        x: &[u32],
        out: &mut [u32],
        acc: u32,
    ) -> u32 {
        let n = x.len().min(out.len());
        // Elements before `out` reaches a 32-byte boundary: the scalar head.
        let head = if STREAM {
            (out.as_ptr().align_offset(32)).min(n)
        } else {
            0
        };
        let acc = super::scan_chunk(&x[..head], &mut out[..head], acc, EXCLUSIVE);
        let body = head + (n - head) / 8 * 8;
        let mut carry = _mm256_set1_epi32(acc as i32);
        let last = _mm256_set1_epi32(7);
        let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
        let mut i = head;
        while i < body {
            // SAFETY: i + 8 <= body <= the length of both slices; the load is an
            // unaligned one.
            let v = unsafe { _mm256_loadu_si256(src.add(i).cast::<__m256i>()) };
            let mut p = _mm256_add_epi32(v, _mm256_slli_si256::<4>(v));
            p = _mm256_add_epi32(p, _mm256_slli_si256::<8>(p));
            let half = _mm256_shuffle_epi32::<0xFF>(p);
            // Low half zeroed, high half = the low half's total.
            p = _mm256_add_epi32(p, _mm256_permute2x128_si256::<0x08>(half, half));
            let total = _mm256_permutevar8x32_epi32(p, last);
            let r = _mm256_add_epi32(carry, if EXCLUSIVE { _mm256_sub_epi32(p, v) } else { p });
            let d = dst.wrapping_add(i).cast::<__m256i>();
            if STREAM {
                // SAFETY: in bounds as for the load; `d` is 32-byte aligned
                // (`head` aligned it and `i - head` is a multiple of 8 lanes).
                unsafe { _mm256_stream_si256(d, r) };
            } else {
                // SAFETY: in bounds as for the load; an unaligned store.
                unsafe { _mm256_storeu_si256(d, r) };
            }
            carry = _mm256_add_epi32(carry, total);
            i += 8;
        }
        if STREAM {
            // Non-temporal stores are weakly ordered: make them visible before
            // this chunk counts as written.
            _mm_sfence();
        }
        let acc = _mm256_cvtsi256_si32(carry) as u32;
        super::scan_chunk(&x[body..n], &mut out[body..n], acc, EXCLUSIVE)
    }
}

/// Elements (of 32 bits) from which the scan writes its output with
/// non-temporal stores: far beyond any cache, where reading the output lines in
/// before overwriting them would cost a third of the traffic. Below, the output
/// stays in cache for whatever reads it next.
pub const STREAM_MIN: usize = 1 << 23;

/// Elements per chunk: the unit of the scan (64 KiB of u32, so that a chunk
/// stays in its core's cache between its two reads).
pub const SCAN_CHUNK: usize = 1 << 14;

/// What each chunk has published: its sum (`AGG`) and its inclusive prefix
/// (`PREFIX`), as bits, each behind a flag set with release ordering.
struct Chain<'a, T> {
    x: &'a [T],
    state: Vec<AtomicU8>,
    agg: Vec<AtomicU64>,
    prefix: Vec<AtomicU64>,
}

const AGG: u8 = 1;
const PREFIX: u8 = 2;
/// Spins on the previous chunk before a thread computes its prefix itself.
const PATIENCE: u32 = 2048;

fn to_bits<T: Element>(v: T) -> u64 {
    match std::mem::size_of::<T>() {
        4 => u64::from(bytemuck::cast::<T, u32>(v)),
        _ => bytemuck::cast::<T, u64>(v),
    }
}

fn from_bits<T: Element>(b: u64) -> T {
    match std::mem::size_of::<T>() {
        4 => bytemuck::cast::<u32, T>(b as u32),
        _ => bytemuck::cast::<u64, T>(b),
    }
}

impl<'a, T: Element> Chain<'a, T> {
    fn new(x: &'a [T]) -> Self {
        let chunks = x.len().div_ceil(SCAN_CHUNK);
        Chain {
            x,
            state: (0..chunks).map(|_| AtomicU8::new(0)).collect(),
            agg: (0..chunks).map(|_| AtomicU64::new(0)).collect(),
            prefix: (0..chunks).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn publish(&self, i: usize, what: u8, v: T) {
        let slot = if what == AGG { &self.agg } else { &self.prefix };
        slot[i].store(to_bits(v), Ordering::Relaxed);
        self.state[i].fetch_or(what, Ordering::Release);
    }

    fn get(&self, i: usize, what: u8) -> Option<T> {
        let slot = if what == AGG { &self.agg } else { &self.prefix };
        (self.state[i].load(Ordering::Acquire) & what != 0)
            .then(|| from_bits(slot[i].load(Ordering::Relaxed)))
    }

    /// The offset of chunk `i`: the inclusive prefix of chunk `i - 1`.
    ///
    /// Normally the previous chunk publishes it moments later; after a short
    /// spin, this thread forms it itself from the nearest published prefix,
    /// adding the sums of the chunks after it (summing a chunk itself where its
    /// sum is not published yet) and publishing each prefix on the way. Every
    /// prefix is `prefix(j - 1) + sum(j)` whoever forms it, so the values, and
    /// float results, are the same as a sequential scan of the chunk sums; and no
    /// thread ever waits on one that is not running.
    fn offset(&self, i: usize) -> T {
        let Some(prev) = i.checked_sub(1) else {
            return T::zero();
        };
        for _ in 0..PATIENCE {
            if let Some(p) = self.get(prev, PREFIX) {
                return p;
            }
            std::hint::spin_loop();
        }
        let mut start = i;
        let mut off = T::zero();
        while let Some(j) = start.checked_sub(1) {
            if let Some(p) = self.get(j, PREFIX) {
                off = p;
                break;
            }
            start = j;
        }
        for j in start..i {
            if let Some(p) = self.get(j, PREFIX) {
                off = p;
                continue;
            }
            let s = self.get(j, AGG).unwrap_or_else(|| {
                let end = ((j + 1) * SCAN_CHUNK).min(self.x.len());
                sum_seq(&self.x[j * SCAN_CHUNK..end])
            });
            off = off.add(s);
            self.publish(j, PREFIX, off);
        }
        off
    }
}

/// Writes the scan of `x` into `out` (equal lengths).
///
/// One streaming pass: each thread takes the next chunk in order, sums it
/// (which brings it into cache) and publishes the sum, gets the previous chunk's
/// inclusive prefix (see `Chain::offset`), publishes its own, then scans the
/// chunk from that offset, reading it from cache. The prefixes are formed in
/// chunk order, exactly as a sequential scan of the chunk sums would, so float
/// results do not depend on the thread count or on timing.
///
/// # Panics
/// When `x` and `out` differ in length.
pub fn scan_into<T: Element>(x: &[T], out: &mut [T], exclusive: bool) {
    assert_eq!(x.len(), out.len(), "scan_into needs equal lengths");
    scan_par(x, out, exclusive, x.len() >= STREAM_MIN);
}

/// [`scan_into`]; `stream`: write `out` with non-temporal stores (32-bit integers).
fn scan_par<T: Element>(x: &[T], out: &mut [T], exclusive: bool, stream: bool) {
    if x.len() < PAR_MIN {
        scan_chunk_any(x, out, T::zero(), exclusive, false);
        return;
    }
    let chain = Chain::new(x);
    // Chunks are handed out in order under the lock (one lock per 64 KiB).
    let next = Mutex::new(
        out.chunks_mut(SCAN_CHUNK)
            .zip(x.chunks(SCAN_CHUNK))
            .enumerate(),
    );
    let workers = rayon::current_num_threads().clamp(1, x.len().div_ceil(SCAN_CHUNK));
    (0..workers).into_par_iter().for_each(|_| loop {
        let Some((i, (o, c))) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
            return;
        };
        let s = sum_seq(c);
        chain.publish(i, AGG, s);
        let off = chain.offset(i);
        chain.publish(i, PREFIX, off.add(s));
        scan_chunk_any(c, o, off, exclusive, stream);
    });
}

/// Inclusive prefix sum: `out[i] = x[0] + ... + x[i]`. Integers wrap.
pub fn inclusive_scan<T: Element>(x: &[T]) -> Vec<T> {
    // A pooled block (pages mapped; every element is written before it is
    // read), or the allocator's zero pages: no extra pass either way.
    let mut out = crate::host_pool::take_filled(x.len());
    scan_par(x, &mut out, false, x.len() >= STREAM_MIN);
    out
}

/// Exclusive prefix sum: `out[0] = 0`, `out[i] = x[0] + ... + x[i - 1]`. Integers wrap.
pub fn exclusive_scan<T: Element>(x: &[T]) -> Vec<T> {
    let mut out = crate::host_pool::take_filled(x.len());
    scan_par(x, &mut out, true, x.len() >= STREAM_MIN);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread that finds its predecessors unpublished forms their prefixes
    /// itself, with the same additions in the same order (bit-identical floats).
    #[test]
    fn helped_offsets_match_the_sequential_chain() {
        let n = 7 * SCAN_CHUNK + 123;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.3)
            .collect();
        let sums: Vec<f32> = x.chunks(SCAN_CHUNK).map(sum_seq).collect();
        let mut want = vec![0f32; sums.len() + 1];
        for (j, &s) in sums.iter().enumerate() {
            want[j + 1] = want[j].add(s);
        }
        // Nothing published: chunk 5 forms prefixes 0..=4 itself.
        let chain = Chain::new(&x[..]);
        assert_eq!(chain.offset(5).to_bits(), want[5].to_bits());
        assert_eq!(
            chain.get(2, PREFIX).map(f32::to_bits),
            Some(want[3].to_bits())
        );
        // Some sums published, one prefix in the middle.
        let chain = Chain::new(&x[..]);
        chain.publish(1, AGG, sums[1]);
        chain.publish(3, PREFIX, want[4]);
        chain.publish(4, AGG, sums[4]);
        assert_eq!(chain.offset(7).to_bits(), want[7].to_bits());
        assert_eq!(chain.offset(0).to_bits(), 0f32.to_bits());
    }

    /// The streaming (non-temporal) path, on an output that starts off a 32-byte
    /// boundary, with a length that is not a multiple of the chunk or of 8 lanes.
    #[test]
    fn streamed_scans_match_the_sequential_scan() {
        let n = STREAM_MIN + 5;
        let x: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let mut buf = vec![0u32; n + 1];
        for exclusive in [false, true] {
            let out = &mut buf[1..];
            scan_into(&x, out, exclusive);
            let mut want = vec![0u32; n];
            scan_chunk(&x, &mut want, 0, exclusive);
            assert!(out == &want[..], "exclusive = {exclusive}");
        }
        let xi: Vec<i32> = x.iter().map(|&v| v as i32).collect();
        let mut out = vec![0i32; n];
        scan_into(&xi, &mut out, false);
        let mut want = vec![0i32; n];
        scan_chunk(&xi, &mut want, 0, false);
        assert!(out == want);
    }
}
