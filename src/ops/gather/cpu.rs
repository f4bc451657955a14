//! CPU twins of `shaders/gather.wgsl` and `shaders/scatter.wgsl`.
//!
//! Both check every index before writing anything the caller can see. `scatter`
//! gives duplicate indices to the last one (the largest `i`), as the GPU does:
//! sequentially that is plain program order; in parallel each destination slot
//! first claims the largest `i + 1` aimed at it (an atomic max), then every slot
//! copies its winner, so no two threads write one slot.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rayon::prelude::*;

use crate::cpu::{for_each_chunk_mut, map_chunks, PAR_MIN};
use crate::element::Element;
use crate::error::{Error, Result};

fn out_of_range(op: &'static str, at: usize, index: u32, len: usize) -> Error {
    Error::InvalidArgument {
        op,
        message: format!("index {index} at position {at} is out of range for {len} elements"),
    }
}

/// The first index of `idx` that is not below `len`, with its position.
fn first_bad(idx: &[u32], len: usize) -> Option<(usize, u32)> {
    idx.iter()
        .position(|&j| j as usize >= len)
        .map(|at| (at, idx[at]))
}

/// Fails with [`Error::InvalidArgument`] when an index is not below `len`.
fn check_indices(op: &'static str, idx: &[u32], len: usize) -> Result<()> {
    let max = map_chunks(idx, |_, c| c.iter().copied().max())
        .into_iter()
        .flatten()
        .max();
    match max {
        Some(m) if m as usize >= len => {
            let (at, j) = first_bad(idx, len).unwrap_or((0, m));
            Err(out_of_range(op, at, j, len))
        }
        _ => Ok(()),
    }
}

/// `out[i] = src[idx[i]]`.
///
/// # Errors
/// [`Error::InvalidArgument`] when an index is not below `src.len()`.
pub fn gather<T: Element>(src: &[T], idx: &[u32]) -> Result<Vec<T>> {
    let mut out = vec![T::zero(); idx.len()];
    let bad = AtomicBool::new(false);
    for_each_chunk_mut(&mut out, |s, o| {
        let ids = &idx[s..s + o.len()];
        for (d, &j) in o.iter_mut().zip(ids) {
            match src.get(j as usize) {
                Some(&v) => *d = v,
                None => bad.store(true, Ordering::Relaxed),
            }
        }
    });
    if bad.load(Ordering::Relaxed) {
        let (at, j) = first_bad(idx, src.len()).unwrap_or((0, 0));
        return Err(out_of_range("gather", at, j, src.len()));
    }
    Ok(out)
}

/// `dst[idx[i]] = src[i]`; among duplicate indices the largest `i` wins. `dst` is
/// left unchanged when an argument is bad.
///
/// # Errors
/// [`Error::LengthMismatch`] when `src` and `idx` differ in length;
/// [`Error::InvalidArgument`] when an index is not below `dst.len()`.
pub fn scatter<T: Element>(src: &[T], idx: &[u32], dst: &mut [T]) -> Result<()> {
    if src.len() != idx.len() {
        return Err(Error::LengthMismatch {
            op: "scatter",
            expected: src.len(),
            actual: idx.len(),
        });
    }
    check_indices("scatter", idx, dst.len())?;
    let n = idx.len();
    // The parallel path reads all of dst: worth it only when idx covers much of it.
    if n < PAR_MIN || n < dst.len() / 4 || n >= u32::MAX as usize {
        for (&v, &j) in src.iter().zip(idx) {
            dst[j as usize] = v;
        }
        return Ok(());
    }
    let winner: Vec<AtomicU32> = (0..dst.len())
        .into_par_iter()
        .map(|_| AtomicU32::new(0))
        .collect();
    idx.par_chunks(crate::cpu::CHUNK)
        .enumerate()
        .for_each(|(ci, c)| {
            let base = ci * crate::cpu::CHUNK;
            for (t, &j) in c.iter().enumerate() {
                winner[j as usize].fetch_max((base + t + 1) as u32, Ordering::Relaxed);
            }
        });
    for_each_chunk_mut(dst, |s, d| {
        let ws = &winner[s..s + d.len()];
        for (slot, w) in d.iter_mut().zip(ws) {
            let w = w.load(Ordering::Relaxed);
            if w != 0 {
                *slot = src[w as usize - 1];
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_go_to_the_last_index_on_both_paths() {
        for n in [10usize, PAR_MIN * 3] {
            let src: Vec<u32> = (0..n as u32).collect();
            let idx: Vec<u32> = (0..n as u32).map(|i| (i * 7) % 5).collect();
            let mut dst = vec![99u32; 8];
            // Sequential path (n < dst.len() / 4 never holds here, PAR_MIN does).
            scatter(&src, &idx, &mut dst).unwrap();
            for (j, &d) in dst.iter().enumerate().take(5) {
                let last = (0..n).rev().find(|&i| idx[i] as usize == j).unwrap();
                assert_eq!(d, last as u32);
            }
            assert_eq!(&dst[5..], &[99, 99, 99]);
        }
    }

    #[test]
    fn bad_index_leaves_dst_alone() {
        let mut dst = vec![1.0f32; 4];
        let e = scatter(&[2.0, 3.0], &[1, 4], &mut dst).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert_eq!(dst, vec![1.0; 4]);
        assert!(gather(&dst, &[0, 9]).is_err());
    }
}
