//! Launches of `shaders/compact.wgsl`, built on the scan of `ops::scan`.
//!
//! Submission one: `count_tiles` counts the kept elements of each tile (per
//! binding window), the tile counts are scanned (exclusive, `scan.wgsl` on
//! u32), and the offsets where each window's output starts, with the total, are
//! copied into a small buffer that is read back. Then the output is allocated
//! (the total is now known) and submission two runs `scatter_tiles`, one window
//! at a time, each binding the part of the output its elements go to.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32};
use crate::gpu::GpuBackend;
use crate::ops::compact::Compare;
use crate::ops::scan::gpu::{bind_part, record_scan, Recorder, Slot, TILE};

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
};

/// Which elements to keep.
pub(crate) enum Keep<'a, T> {
    /// Where the mask is nonzero.
    Mask(&'a wgpu::Buffer),
    /// Where `x <cmp> value` holds.
    Cmp(Compare, T),
}

/// The kernels' uniform block (12 u32, see `Params` in the shader).
fn params<T: Element>(
    keep: &Keep<'_, T>,
    n: usize,
    groups: usize,
    part_base: u32,
    out_start: u32,
) -> Vec<u8> {
    let (use_mask, cmp, key_v, v_nan) = match keep {
        Keep::Mask(_) => (1, 0, 0, 0),
        Keep::Cmp(c, v) => {
            // -0 compares equal to +0: take its key.
            let canon = if *v == T::zero() { T::zero() } else { *v };
            let key = T::key_to_u32(canon.key_min()).unwrap_or(0);
            (0, c.code(), key, v.is_nan() as u32)
        }
    };
    let is_float = T::SCALAR.is_float() as u32;
    [
        n as u32,
        groups as u32,
        part_base,
        out_start,
        use_mask,
        cmp,
        key_v,
        v_nan,
        is_float,
        0,
        0,
        0,
    ]
    .iter()
    .flat_map(|v| v.to_le_bytes())
    .collect()
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
    let align = (gpu.limits.min_storage_buffer_offset_alignment.max(16) / 4) as usize;
    let full = gpu.window_elems(4);
    if full < 2 * align {
        return Err(Error::LimitExceeded {
            what: "compaction's storage binding",
            requested: (2 * align * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let w = full - align;
    Ok((0..n).step_by(w).map(|s| (s, w.min(n - s))).collect())
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
    let counts = gpu.create_storage(op, (m * 4) as u64)?;
    let offsets = gpu.create_storage(op, (m * 4) as u64)?;
    let marks = gpu.create_storage(op, ((windows.len() + 2) * 4) as u64)?;
    let pipeline = gpu.pipeline(&COMPACT, "count_tiles", T::SCALAR)?;
    let mut rec = Recorder::new(gpu, op);
    let scratch = rec.scratch()?;
    let dummy = gpu.dummy();
    let mut first = 0;
    for (&(start, len), &t) in windows.iter().zip(&tiles) {
        let (part, base) = bind_part(gpu, &counts, m, first, 4);
        let win = ((start * 4) as u64, (len * 4) as u64);
        let mask: Slot = match keep {
            Keep::Mask(b) => ((*b).clone(), win.0, win.1),
            Keep::Cmp(..) => (dummy.clone(), 0, dummy.size()),
        };
        let slots = vec![
            (x.clone(), win.0, win.1),
            mask,
            (dummy.clone(), 0, dummy.size()),
            part,
            (scratch.clone(), 0, scratch.size()),
        ];
        rec.pass(&pipeline, params(keep, len, t, base, 0), slots, t as u64);
        first += t;
    }
    record_scan::<u32>(&mut rec, &counts, &offsets, m, true)?;
    let mut first = 0;
    for (k, &t) in tiles.iter().enumerate() {
        rec.copy(&offsets, (first * 4) as u64, &marks, (k * 4) as u64, 4);
        first += t;
    }
    let last = ((m - 1) * 4) as u64;
    let w = windows.len() as u64;
    rec.copy(&offsets, last, &marks, w * 4, 4);
    rec.copy(&counts, last, &marks, (w + 1) * 4, 4);
    rec.submit()?;
    let mut starts = gpu.read::<u32>(op, &marks, 0, windows.len() + 2)?;
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
    let c = count(gpu, op, x, keep, n)?;
    let total = c.starts.last().copied().unwrap_or(0) as usize;
    if total == 0 {
        return Ok(None);
    }
    let out = gpu.create_storage(op, (total * 4) as u64)?;
    let pipeline = gpu.pipeline(&COMPACT, "scatter_tiles", T::SCALAR)?;
    let mut rec = Recorder::new(gpu, op);
    let scratch = rec.scratch()?;
    let dummy = gpu.dummy();
    let mut first = 0;
    for (k, (&(start, len), &t)) in c.windows.iter().zip(&c.tiles).enumerate() {
        let (o0, o1) = (c.starts[k] as usize, c.starts[k + 1] as usize);
        if o1 > o0 {
            let (offs, base) = bind_part(gpu, &c.offsets, c.m, first, 4);
            // This window's output, bound from an aligned element at or before o0.
            let (dst, shift) = bind_part(gpu, &out, total, o0, 4);
            let out_start = (o0 - shift as usize) as u32;
            let win = ((start * 4) as u64, (len * 4) as u64);
            let mask: Slot = match keep {
                Keep::Mask(b) => ((*b).clone(), win.0, win.1),
                Keep::Cmp(..) => (dummy.clone(), 0, dummy.size()),
            };
            let slots = vec![
                (x.clone(), win.0, win.1),
                mask,
                offs,
                (scratch.clone(), 0, scratch.size()),
                dst,
            ];
            rec.pass(
                &pipeline,
                params(keep, len, t, base, out_start),
                slots,
                t as u64,
            );
        }
        first += t;
    }
    rec.submit()?;
    Ok(Some((out, total)))
}
