//! Launches of `shaders/matmul.wgsl` and `shaders/transpose.wgsl`.
//!
//! Matrices larger than one storage binding are bound in windows of whole rows
//! ("bands"): a band's window starts at the aligned offset at or before its first
//! row, and the kernel gets the first row's element offset inside the window.
//! Matmul bands A and C together and binds all of B; transpose bands its input
//! by rows and its output by rows (the input's columns), one dispatch per pair.
//! All dispatches of a call go in one submission.

use std::sync::Arc;

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{Binding, KernelSpec, ALL_SCALARS};
use crate::gpu::GpuBackend;

/// `shaders/matmul.wgsl`: f32 only.
pub(crate) static MATMUL: KernelSpec = KernelSpec {
    name: "matmul",
    source: include_str!("../../../shaders/matmul.wgsl"),
    entries: &["matmul"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: &[ScalarType::F32],
    params: crate::gpu::legacy::unported,
};

/// `shaders/transpose.wgsl`: every element type.
pub(crate) static TRANSPOSE: KernelSpec = KernelSpec {
    name: "transpose",
    source: include_str!("../../../shaders/transpose.wgsl"),
    entries: &["transpose"],
    bindings: &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
    scalars: ALL_SCALARS,
    params: crate::gpu::legacy::unported,
};

/// Rows and columns of C one matmul workgroup computes (`BM`, `BN` in the shader).
const MM_BLOCK: u64 = 128;
/// The longest k range of one dispatch (512 tiles of `BK` = 8): the shader's
/// k loop never runs more than this many steps, whatever the user's k, since
/// llvmpipe silently ends any shader loop after 65,535 iterations.
pub(crate) const K_CHUNK: u64 = 4096;
/// Edge of one transpose tile (`TILE` in the shader).
const T_TILE: u64 = 32;

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Binding-window geometry for element size `size` on `gpu`.
struct Windows {
    /// Elements one binding may hold (a multiple of the offset alignment).
    max_elems: u64,
    /// Elements per offset-alignment step.
    align_elems: u64,
    size: u64,
}

impl Windows {
    fn new(gpu: &GpuBackend, size: usize) -> Self {
        let align = gpu.limits.min_storage_buffer_offset_alignment.max(4) as u64;
        Windows {
            max_elems: gpu.window_elems(size) as u64,
            align_elems: (align / size as u64).max(1),
            size: size as u64,
        }
    }

    /// Whole rows of `row_len` elements per band, so that a band fits one binding
    /// whatever its alignment shift; 0 when not even one row fits.
    fn band_rows(&self, row_len: u64) -> u64 {
        self.max_elems.saturating_sub(self.align_elems) / row_len.max(1)
    }

    /// The binding (byte offset, byte size) of `count` elements from element
    /// `first`, and the shift of `first` inside it, in elements.
    fn window(&self, first: u64, count: u64) -> (u64, u64, u64) {
        let start = first / self.align_elems * self.align_elems;
        let shift = first - start;
        (start * self.size, (shift + count) * self.size, shift)
    }
}

fn too_large(what: &'static str, elems: u64, size: u64, w: &Windows) -> Error {
    Error::LimitExceeded {
        what,
        requested: elems * size,
        limit: w.max_elems * size,
    }
}

/// `C = A * B` for row-major `A (m x k)` and `B (k x n)`, all dimensions non-zero.
pub(crate) fn matmul(
    gpu: &Arc<GpuBackend>,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    m: usize,
    k: usize,
    n: usize,
) -> Result<wgpu::Buffer> {
    let op = "matmul";
    let (m, k, n) = (m as u64, k as u64, n as u64);
    let w = Windows::new(gpu, 4);
    if k * n > w.max_elems {
        return Err(too_large(
            "matmul's B (k x n) in one storage binding",
            k * n,
            4,
            &w,
        ));
    }
    let band = w.band_rows(k).min(w.band_rows(n));
    if band == 0 {
        return Err(too_large(
            "one row of matmul's A or C in one storage binding",
            k.max(n),
            4,
            &w,
        ));
    }
    let c = gpu.create_storage(op, m * n * 4)?;
    let (pipeline, layout) = gpu.pipeline_pair(&MATMUL, "matmul", ScalarType::F32)?;
    let tiles_n = n.div_ceil(MM_BLOCK);
    // (first row, rows) of each band, and its uniform block.
    let bands: Vec<(u64, u64)> = (0..m)
        .step_by(band as usize)
        .map(|r| (r, band.min(m - r)))
        .collect();
    let mut blocks = Vec::with_capacity(bands.len());
    let mut binds = Vec::with_capacity(bands.len());
    for &(r0, rows) in &bands {
        let aw = w.window(r0 * k, rows * k);
        let cw = w.window(r0 * n, rows * n);
        let tiles = rows.div_ceil(MM_BLOCK) * tiles_n;
        if tiles > u32::MAX as u64 {
            return Err(Error::LimitExceeded {
                what: "matmul workgroups in one dispatch",
                requested: tiles,
                limit: u32::MAX as u64,
            });
        }
        for k0 in (0..k).step_by(K_CHUNK as usize) {
            blocks.push(words(&[
                rows as u32,
                n as u32,
                k as u32,
                tiles_n as u32,
                aw.2 as u32,
                cw.2 as u32,
                tiles as u32,
                k0 as u32,
                (k0 + K_CHUNK).min(k) as u32,
                u32::from(k0 > 0),
                0,
                0,
            ]));
            binds.push((aw, cw, tiles));
        }
    }
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        for (i, &(aw, cw, tiles)) in binds.iter().enumerate() {
            let bg = gpu.bind_group(
                &layout,
                (&uniforms, i as u64 * stride, 48),
                &[(a, aw.0, aw.1), (b, 0, k * n * 4), (&c, cw.0, cw.1)],
            );
            gpu.dispatch(&mut enc, &pipeline, &bg, tiles)?;
        }
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    Ok(c)
}

/// The `cols x rows` transpose of the row-major `rows x cols` matrix in `a`
/// (`rows * cols` non-zero).
pub(crate) fn transpose<T: Element>(
    gpu: &Arc<GpuBackend>,
    a: &wgpu::Buffer,
    rows: usize,
    cols: usize,
) -> Result<wgpu::Buffer> {
    let op = "transpose";
    let size = std::mem::size_of::<T>();
    let (rows, cols) = (rows as u64, cols as u64);
    let w = Windows::new(gpu, size);
    // Input bands hold whole input rows; output bands whole output rows.
    let rband = w.band_rows(cols);
    let cband = w.band_rows(rows);
    if rband == 0 || cband == 0 {
        return Err(too_large(
            "one row of transpose's input or output in one storage binding",
            rows.max(cols),
            size as u64,
            &w,
        ));
    }
    let out = gpu.create_storage(op, rows * cols * size as u64)?;
    let (pipeline, layout) = gpu.pipeline_pair(&TRANSPOSE, "transpose", T::SCALAR)?;
    let mut blocks = Vec::new();
    let mut binds = Vec::new();
    for r0 in (0..rows).step_by(rband as usize) {
        let r_count = rband.min(rows - r0);
        for c0 in (0..cols).step_by(cband as usize) {
            let c_count = cband.min(cols - c0);
            let iw = w.window(r0 * cols, r_count * cols);
            let ow = w.window(c0 * rows, c_count * rows);
            let tiles_c = c_count.div_ceil(T_TILE);
            let tiles = r_count.div_ceil(T_TILE) * tiles_c;
            if tiles > u32::MAX as u64 {
                return Err(Error::LimitExceeded {
                    what: "transpose workgroups in one dispatch",
                    requested: tiles,
                    limit: u32::MAX as u64,
                });
            }
            blocks.push(words(&[
                rows as u32,
                cols as u32,
                r_count as u32,
                c_count as u32,
                iw.2 as u32,
                ow.2 as u32,
                tiles_c as u32,
                c0 as u32,
                r0 as u32,
                0,
                0,
                0,
            ]));
            binds.push((iw, ow, tiles));
        }
    }
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        for (i, &(iw, ow, tiles)) in binds.iter().enumerate() {
            let bg = gpu.bind_group(
                &layout,
                (&uniforms, i as u64 * stride, 48),
                &[(a, iw.0, iw.1), (&out, ow.0, ow.1)],
            );
            gpu.dispatch(&mut enc, &pipeline, &bg, tiles)?;
        }
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_their_rows_within_the_limit() {
        let w = Windows {
            max_elems: 16_384,
            align_elems: 64,
            size: 4,
        };
        for row_len in [1u64, 3, 63, 64, 65, 1000, 16_320] {
            let band = w.band_rows(row_len);
            assert!(band >= 1, "row_len {row_len}");
            for first_row in [0u64, 1, 7, 1001] {
                let (off, bytes, shift) = w.window(first_row * row_len, band * row_len);
                assert_eq!(off % (64 * 4), 0);
                assert_eq!(off / 4 + shift, first_row * row_len);
                assert!(bytes / 4 <= w.max_elems);
            }
        }
        assert_eq!(w.band_rows(16_321), 0);
    }
}
