//! Launches of `shaders/matmul.wgsl` and `shaders/transpose.wgsl`.
//!
//! Matrices larger than one storage binding are bound in windows of whole rows
//! ("bands"): a band's window starts at the aligned offset at or before its first
//! row, and the kernel gets the first row's element offset inside the window.
//! Matmul bands A and C together and binds all of B; transpose bands its input
//! by rows and its output by rows (the input's columns), one dispatch per pair.
//! All dispatches of a call go in one submission (one [`Stream`]).

use std::sync::Arc;

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, ALL_SCALARS};
use crate::gpu::stream::{Bind, Stream};
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
    params: params_of::<MatmulParams>,
};

/// `shaders/transpose.wgsl`: every element type.
pub(crate) static TRANSPOSE: KernelSpec = KernelSpec {
    name: "transpose",
    source: include_str!("../../../shaders/transpose.wgsl"),
    entries: &["transpose"],
    bindings: &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
    scalars: ALL_SCALARS,
    params: params_of::<TransposeParams>,
};

/// Rows and columns of C one matmul workgroup computes (`BM`, `BN` in the shader).
const MM_BLOCK: u64 = 128;
/// The longest k range of one dispatch (512 tiles of `BK` = 8): the shader's
/// k loop never runs more than this many steps, whatever the user's k, since
/// llvmpipe silently ends any shader loop after 65,535 iterations.
pub(crate) const K_CHUNK: u64 = 4096;
/// Edge of one transpose tile (`TILE` in the shader).
const T_TILE: u64 = 32;

/// `Params` of `shaders/matmul.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    tiles_n: u32,
    a_base: u32,
    c_base: u32,
    tiles: u32,
    k0: u32,
    k_end: u32,
    accumulate: u32,
    pad0: u32,
    pad1: u32,
}

/// `Params` of `shaders/transpose.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TransposeParams {
    rows: u32,
    cols: u32,
    r_count: u32,
    c_count: u32,
    in_base: u32,
    out_base: u32,
    tiles_c: u32,
    c0: u32,
    r0: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

/// Binding-window geometry for one element size on `gpu`.
struct Windows {
    /// Elements one binding may hold (a multiple of the offset alignment).
    max_elems: u64,
    /// Elements per offset-alignment step.
    align_elems: u64,
}

impl Windows {
    fn new(gpu: &GpuBackend, size: usize) -> Self {
        Windows {
            max_elems: gpu.window_elems(size) as u64,
            align_elems: (gpu.storage_align() / size as u64).max(1),
        }
    }

    /// Whole rows of `row_len` elements per band, so that a band fits one binding
    /// whatever its alignment shift (see [`GpuBackend::window_at`]); 0 when not
    /// even one row fits.
    fn band_rows(&self, row_len: u64) -> u64 {
        self.max_elems.saturating_sub(self.align_elems) / row_len.max(1)
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
) -> Result<Output> {
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
    let pipeline = gpu.pipeline(&MATMUL, "matmul", ScalarType::F32)?;
    let mut s = Stream::new(gpu, op);
    // With k = 0 no pass writes C (the dispatcher answers that on the host):
    // then only a fresh, zero-filled buffer is right, not a pooled one.
    let c = match k {
        0 => Output::new(s.buffer(m * n * 4)?, &gpu.outputs),
        _ => s.output(m * n * 4)?,
    };
    let tiles_n = n.div_ceil(MM_BLOCK);
    for r0 in (0..m).step_by(band as usize) {
        let rows = band.min(m - r0);
        let (a_part, a_base) = gpu.window_at(a, (m * k) as usize, (r0 * k) as usize, 4);
        let (c_part, c_base) = gpu.window_at(&c, (m * n) as usize, (r0 * n) as usize, 4);
        let tiles = rows.div_ceil(MM_BLOCK) * tiles_n;
        if tiles > u32::MAX as u64 {
            return Err(Error::LimitExceeded {
                what: "matmul workgroups in one dispatch",
                requested: tiles,
                limit: u32::MAX as u64,
            });
        }
        for k0 in (0..k).step_by(K_CHUNK as usize) {
            let params = MatmulParams {
                m: rows as u32,
                n: n as u32,
                k: k as u32,
                tiles_n: tiles_n as u32,
                a_base,
                c_base,
                tiles: tiles as u32,
                k0: k0 as u32,
                k_end: (k0 + K_CHUNK).min(k) as u32,
                accumulate: u32::from(k0 > 0),
                pad0: 0,
                pad1: 0,
            };
            let slots = [a_part.clone(), Bind::bytes(b, 0, k * n * 4), c_part.clone()];
            s.kernel(&pipeline, &params, slots, tiles);
        }
    }
    s.submit()?;
    Ok(c)
}

/// The `cols x rows` transpose of the row-major `rows x cols` matrix in `a`
/// (`rows * cols` non-zero).
pub(crate) fn transpose<T: Element>(
    gpu: &Arc<GpuBackend>,
    a: &wgpu::Buffer,
    rows: usize,
    cols: usize,
) -> Result<Output> {
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
    let pipeline = gpu.pipeline(&TRANSPOSE, "transpose", T::SCALAR)?;
    let mut s = Stream::new(gpu, op);
    let out = s.output(rows * cols * size as u64)?;
    let len = (rows * cols) as usize;
    for r0 in (0..rows).step_by(rband as usize) {
        let r_count = rband.min(rows - r0);
        let (input, in_base) = gpu.window_at(a, len, (r0 * cols) as usize, size);
        for c0 in (0..cols).step_by(cband as usize) {
            let c_count = cband.min(cols - c0);
            let (output, out_base) = gpu.window_at(&out, len, (c0 * rows) as usize, size);
            let tiles_c = c_count.div_ceil(T_TILE);
            let tiles = r_count.div_ceil(T_TILE) * tiles_c;
            if tiles > u32::MAX as u64 {
                return Err(Error::LimitExceeded {
                    what: "transpose workgroups in one dispatch",
                    requested: tiles,
                    limit: u32::MAX as u64,
                });
            }
            let params = TransposeParams {
                rows: rows as u32,
                cols: cols as u32,
                r_count: r_count as u32,
                c_count: c_count as u32,
                in_base,
                out_base,
                tiles_c: tiles_c as u32,
                c0: c0 as u32,
                r0: r0 as u32,
                pad0: 0,
                pad1: 0,
                pad2: 0,
            };
            s.kernel(&pipeline, &params, [input.clone(), output], tiles);
        }
    }
    s.submit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_fit_one_window_from_the_aligned_element_before_them() {
        let w = Windows {
            max_elems: 16_384,
            align_elems: 64,
        };
        for row_len in [1u64, 3, 63, 64, 65, 1000, 16_320] {
            let band = w.band_rows(row_len);
            assert!(band >= 1, "row_len {row_len}");
            for first_row in [0u64, 1, 7, 1001] {
                // `window_at` binds from the aligned element at or before the band.
                let first = first_row * row_len;
                let shift = first - first / w.align_elems * w.align_elems;
                assert!(shift + band * row_len <= w.max_elems);
            }
        }
        assert_eq!(w.band_rows(16_321), 0);
    }
}
