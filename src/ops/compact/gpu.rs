//! Launches of `shaders/compact.wgsl`, built on the scan of `ops::scan`.
//!
//! `count_tiles` counts the kept elements of each tile (per binding window),
//! the tile counts are scanned (exclusive, `scan.wgsl` on u32), and
//! `scatter_tiles` writes each kept element to its place.
//!
//! - **Input in one binding window** (the common case): one submission and one
//!   wait. The output is allocated for every element (as CUB's `DeviceSelect`
//!   asks of its caller), bound whole, and scattered into in the same
//!   submission that reads back the total; the result's length is the total,
//!   its device buffer keeps the input's size until it is dropped.
//! - **Several windows**: submission one also copies where each window's
//!   output starts into a small buffer that is read back; then the output is
//!   allocated for the total, and submission two scatters one window at a
//!   time, each binding the part of the output its elements go to.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{cut, Bind, Stream};
use crate::gpu::GpuBackend;
use crate::ops::compact::Compare;
use crate::ops::scan::gpu::{record_scan, TILE};

/// `shaders/compact.wgsl`: `count_tiles` and `scatter_tiles` (32-bit elements:
/// comparisons use 32-bit order keys).
pub(crate) static COMPACT: KernelSpec = KernelSpec {
    name: "compact",
    source: include_str!("../../../shaders/compact.wgsl"),
    entries: &["count_tiles", "scatter_tiles"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<CompactParams>,
};

/// Which elements to keep.
pub(crate) enum Keep<'a, T> {
    /// Where the mask is nonzero.
    Mask(&'a wgpu::Buffer),
    /// Where `x <cmp> value` holds.
    Cmp(Compare, T),
}

/// `Params` of `shaders/compact.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CompactParams {
    n: u32,
    groups: u32,
    part_base: u32,
    out_start: u32,
    use_mask: u32,
    cmp: u32,
    key_v: u32,
    v_nan: u32,
    is_float: u32,
    pad: [u32; 3],
}

fn params<T: Element>(
    keep: &Keep<'_, T>,
    n: usize,
    groups: usize,
    part_base: u32,
    out_start: u32,
) -> CompactParams {
    let (use_mask, cmp, key_v, v_nan) = match keep {
        Keep::Mask(_) => (1, 0, 0, 0),
        Keep::Cmp(c, v) => {
            // -0 compares equal to +0: take its key.
            let canon = if *v == T::zero() { T::zero() } else { *v };
            let key = T::key_to_u32(canon.key_min()).unwrap_or(0);
            (0, c.code(), key, v.is_nan() as u32)
        }
    };
    CompactParams {
        n: n as u32,
        groups: groups as u32,
        part_base,
        out_start,
        use_mask,
        cmp,
        key_v,
        v_nan,
        is_float: T::SCALAR.is_float() as u32,
        pad: [0; 3],
    }
}

/// The mask binding of a window: the mask's window, or unused for a comparison.
fn mask<T>(keep: &Keep<'_, T>, w: (usize, usize)) -> Bind {
    match keep {
        Keep::Mask(b) => Bind::elems(b, w, 4),
        Keep::Cmp(..) => Bind::Unused,
    }
}

/// The first submission's result.
struct Counted {
    /// Binding windows of the input: (first element, count).
    windows: Vec<(usize, usize)>,
    /// Tiles per window.
    tiles: Vec<usize>,
    /// Exclusive scan of the tile counts.
    offsets: wgpu::Buffer,
    /// Tiles in all.
    m: usize,
    /// Output index where each window starts, then the total.
    starts: Vec<u32>,
}

/// Input windows: short enough that a window's output, bound from an aligned
/// element at or before its start, still fits one binding.
fn windows(gpu: &GpuBackend, n: usize) -> Result<Vec<(usize, usize)>> {
    let align = (gpu.storage_align() / 4) as usize;
    let full = gpu.window_elems(4);
    if full < 2 * align {
        return Err(Error::LimitExceeded {
            what: "compaction's storage binding",
            requested: (2 * align * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    Ok(cut(n, full - align))
}

/// Counts the kept elements per tile, scans the counts, and reads back where
/// each window's output starts and the total.
fn count<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    keep: &Keep<'_, T>,
    n: usize,
) -> Result<Counted> {
    let windows = windows(gpu, n)?;
    let tiles: Vec<usize> = windows.iter().map(|w| w.1.div_ceil(TILE)).collect();
    let m: usize = tiles.iter().sum();
    let mut s = Stream::new(gpu, op);
    let counts = s.buffer((m * 4) as u64)?;
    let offsets = s.buffer((m * 4) as u64)?;
    let marks = s.buffer(((windows.len() + 2) * 4) as u64)?;
    let pipeline = gpu.pipeline(&COMPACT, "count_tiles", T::SCALAR)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = gpu.window_at(&counts, m, first, 4);
        let slots = [
            Bind::elems(x, w, 4),
            mask(keep, w),
            Bind::Unused,
            part,
            Bind::UnusedWritable,
        ];
        s.kernel(&pipeline, &params(keep, w.1, t, base, 0), slots, t as u64);
        first += t;
    }
    record_scan::<u32>(&mut s, &counts, &offsets, m, true)?;
    let mut first = 0;
    for (k, &t) in tiles.iter().enumerate() {
        s.copy(&offsets, (first * 4) as u64, &marks, (k * 4) as u64, 4);
        first += t;
    }
    let last = ((m - 1) * 4) as u64;
    let w = windows.len() as u64;
    s.copy(&offsets, last, &marks, w * 4, 4);
    s.copy(&counts, last, &marks, (w + 1) * 4, 4);
    let mut starts = s.read::<u32>(&marks, 0, windows.len() + 2)?;
    let (o, c) = (starts[windows.len()], starts[windows.len() + 1]);
    starts.truncate(windows.len());
    starts.push(o.wrapping_add(c));
    Ok(Counted {
        windows,
        tiles,
        offsets,
        m,
        starts,
    })
}

/// [`compact`] when the input fits one binding window: count, scan, scatter
/// into an output of `n` elements and read the total back, in one submission.
fn compact_one_window<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    keep: &Keep<'_, T>,
    n: usize,
) -> Result<Option<(wgpu::Buffer, usize)>> {
    let w = (0, n);
    let m = n.div_ceil(TILE);
    let mut s = Stream::new(gpu, op);
    let counts = s.buffer((m * 4) as u64)?;
    let offsets = s.buffer((m * 4) as u64)?;
    let marks = s.buffer(8)?;
    // Only the first `total` elements are written; nothing reads past them.
    let out = s.buffer((n * 4) as u64)?;
    let count_tiles = gpu.pipeline(&COMPACT, "count_tiles", T::SCALAR)?;
    let scatter_tiles = gpu.pipeline(&COMPACT, "scatter_tiles", T::SCALAR)?;
    let slots = [
        Bind::elems(x, w, 4),
        mask(keep, w),
        Bind::Unused,
        Bind::elems(&counts, (0, m), 4),
        Bind::UnusedWritable,
    ];
    s.kernel(&count_tiles, &params(keep, n, m, 0, 0), slots, m as u64);
    record_scan::<u32>(&mut s, &counts, &offsets, m, true)?;
    let slots = [
        Bind::elems(x, w, 4),
        mask(keep, w),
        Bind::elems(&offsets, (0, m), 4),
        Bind::UnusedWritable,
        Bind::elems(&out, w, 4),
    ];
    s.kernel(&scatter_tiles, &params(keep, n, m, 0, 0), slots, m as u64);
    let last = ((m - 1) * 4) as u64;
    s.copy(&offsets, last, &marks, 0, 4);
    s.copy(&counts, last, &marks, 4, 4);
    let t = s.read::<u32>(&marks, 0, 2)?;
    let total = t[0].wrapping_add(t[1]) as usize;
    Ok((total > 0).then_some((out, total)))
}

/// The number of the `n` elements of `x` that `keep` keeps. `n` must be at least 1.
pub(crate) fn count_kept<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    keep: &Keep<'_, T>,
    n: usize,
) -> Result<usize> {
    let c = count(gpu, op, x, keep, n)?;
    Ok(c.starts.last().copied().unwrap_or(0) as usize)
}

/// The kept elements of `x` (`n` of them, `n` at least 1), in order, in a new
/// device buffer with their count; `None` when nothing is kept.
pub(crate) fn compact<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    keep: &Keep<'_, T>,
    n: usize,
) -> Result<Option<(wgpu::Buffer, usize)>> {
    if windows(gpu, n)?.len() == 1 {
        return compact_one_window(gpu, op, x, keep, n);
    }
    let c = count(gpu, op, x, keep, n)?;
    let total = c.starts.last().copied().unwrap_or(0) as usize;
    if total == 0 {
        return Ok(None);
    }
    let mut s = Stream::new(gpu, op);
    let out = s.buffer((total * 4) as u64)?;
    let pipeline = gpu.pipeline(&COMPACT, "scatter_tiles", T::SCALAR)?;
    let mut first = 0;
    for (k, (&w, &t)) in c.windows.iter().zip(&c.tiles).enumerate() {
        let (o0, o1) = (c.starts[k] as usize, c.starts[k + 1] as usize);
        if o1 > o0 {
            let (offs, base) = gpu.window_at(&c.offsets, c.m, first, 4);
            // This window's output, bound from an aligned element at or before o0.
            let (dst, shift) = gpu.window_at(&out, total, o0, 4);
            let out_start = (o0 - shift as usize) as u32;
            let slots = [
                Bind::elems(x, w, 4),
                mask(keep, w),
                offs,
                Bind::UnusedWritable,
                dst,
            ];
            let p = params(keep, w.1, t, base, out_start);
            s.kernel(&pipeline, &p, slots, t as u64);
        }
        first += t;
    }
    s.submit()?;
    Ok(Some((out, total)))
}
