//! CPU twins of `shaders/matmul.wgsl` and `shaders/transpose.wgsl`.
//!
//! `matmul` hands the product to faer's GEMM (packed panels, SIMD micro-kernels
//! picked at run time), in parallel on rayon's global pool above a small size.
//! `transpose` moves 32 x 32 blocks (a block's reads and writes both stay in
//! cache), in parallel over bands of output rows; a matrix with one row or one
//! column is a copy.

use rayon::prelude::*;

use crate::element::Element;

/// Multiply-adds below which faer runs on the calling thread: a fork-join costs more.
const PAR_MADDS: usize = 1 << 18;

/// `C = A * B` for row-major `A (m x k)` and `B (k x n)`; returns C (`m x n`, row-major).
///
/// # Panics
/// When `a.len() != m * k` or `b.len() != k * n` (`Context::matmul` checks
/// shapes and returns errors instead).
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    assert_eq!(a.len(), m * k, "matmul: A must be m x k");
    assert_eq!(b.len(), k * n, "matmul: B must be k x n");
    let mut c = vec![0.0f32; m * n];
    matmul_into(a, b, &mut c, m, k, n);
    c
}

/// As [`matmul`], writing (overwriting) C into `c` (`m * n` elements).
///
/// # Panics
/// When a slice's length does not match its shape.
pub fn matmul_into(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    assert_eq!(a.len(), m * k, "matmul: A must be m x k");
    assert_eq!(b.len(), k * n, "matmul: B must be k x n");
    assert_eq!(c.len(), m * n, "matmul: C must be m x n");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    let par = if m.saturating_mul(n).saturating_mul(k) < PAR_MADDS {
        faer::Par::Seq
    } else {
        faer::Par::rayon(0)
    };
    let am = faer::MatRef::from_row_major_slice(a, m, k);
    let bm = faer::MatRef::from_row_major_slice(b, k, n);
    let cm = faer::MatMut::from_row_major_slice_mut(c, m, n);
    faer::linalg::matmul::matmul(cm, faer::Accum::Replace, am, bm, 1.0f32, par);
    crate::cpu::clear_upper_simd_state(matches!(par, faer::Par::Rayon(_)));
}

/// Block edge of the cache-blocked transpose.
const TB: usize = 32;

/// The `cols x rows` transpose of the row-major `rows x cols` matrix `a`:
/// `out[j * rows + i] == a[i * cols + j]`.
///
/// # Panics
/// When `a.len() != rows * cols`.
pub fn transpose<T: Element>(a: &[T], rows: usize, cols: usize) -> Vec<T> {
    assert_eq!(a.len(), rows * cols, "transpose: a must be rows x cols");
    if rows <= 1 || cols <= 1 {
        // One row or one column: the transpose has the same memory layout.
        return a.to_vec();
    }
    let mut out = vec![T::zero(); a.len()];
    let par = a.len() >= crate::cpu::PAR_MIN;
    let bands = cols.div_ceil(TB);
    if !par {
        out.chunks_mut(TB * rows)
            .enumerate()
            .for_each(|(band, o)| transpose_band(a, o, rows, cols, band * TB));
    } else if bands >= 4 * rayon::current_num_threads() {
        // Enough bands of output rows to keep every thread busy.
        out.par_chunks_mut(TB * rows)
            .enumerate()
            .for_each(|(band, o)| transpose_band(a, o, rows, cols, band * TB));
    } else {
        // Few columns, many rows: each output row is one column of `a`; split
        // every output row into segments and fill them in parallel.
        const SEG: usize = 1 << 13;
        out.par_chunks_mut(rows).enumerate().for_each(|(j, orow)| {
            orow.par_chunks_mut(SEG).enumerate().for_each(|(s, seg)| {
                let r0 = s * SEG;
                for (i, o) in seg.iter_mut().enumerate() {
                    *o = a[(r0 + i) * cols + j];
                }
            });
        });
    }
    out
}

/// Fills `o`, output rows `c0..` (columns `c0..` of `a`), 32 input rows at a
/// time, so the 32 x 32 block being read and the one being written stay in cache.
fn transpose_band<T: Element>(a: &[T], o: &mut [T], rows: usize, cols: usize, c0: usize) {
    let band_cols = o.len() / rows;
    for rb in (0..rows).step_by(TB) {
        let re = (rb + TB).min(rows);
        for jc in 0..band_cols {
            let j = c0 + jc;
            let orow = &mut o[jc * rows + rb..jc * rows + re];
            for (i, v) in orow.iter_mut().enumerate() {
                *v = a[(rb + i) * cols + j];
            }
        }
    }
}
