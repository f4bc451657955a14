//! Launches of `shaders/by_key.wgsl`, composed with the compaction of
//! `ops::compact` (which is built on the scan of `ops::scan`).
//!
//! One [`Stream`] (one submission) writes the run heads (and tails) and the
//! segmented scan of the values ([`record_heads`], [`record_seg_scan`], which
//! other ops record into their own streams). The outputs whose length depends
//! on the data (one per run) are then compacted with the heads or tails as the
//! mask: two more submissions each, with a readback of the counts in between,
//! a host round trip that stays because the output size is known only after
//! counting.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{cut, Bind, Stream};
use crate::gpu::GpuBackend;
use crate::ops::by_key::ReduceOp;
use crate::ops::compact::gpu::{compact, Keep};
use crate::ops::scan::gpu::TILE;

/// `shaders/by_key.wgsl`: `heads`, `seg_reduce_tiles` and `seg_scan_tiles`
/// (32-bit values; keys are compared as 32-bit words).
pub(crate) static BY_KEY: KernelSpec = KernelSpec {
    name: "by_key",
    source: include_str!("../../../shaders/by_key.wgsl"),
    entries: &["heads", "seg_reduce_tiles", "seg_scan_tiles"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<Params>,
};

/// `Params` of `shaders/by_key.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
pub(crate) struct Params {
    pub n: u32,
    pub groups: u32,
    pub part_base: u32,
    pub mode: u32,
    pub op: u32,
    pub flags: u32,
    pub ident: u32,
    pub shift: u32,
    pub start: u32,
    pub total: u32,
    pub tails: u32,
    pub pad0: u32,
}

/// `Params::flags` bits.
pub(crate) const MAP_IN: u32 = 1;
pub(crate) const MAP_OUT: u32 = 2;
pub(crate) const ONES: u32 = 4;
const CARRIES: u32 = 8;

/// What `seg_scan_tiles` writes for each element.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The reduction of its run up to and including it.
    Inclusive = 0,
    /// Of its run before it (0 at a head).
    Exclusive = 1,
    /// Of the open run before it, heads included (the tile carries).
    Shifted = 2,
}

/// The identity lane of `op` over `T` (-0 for float sums: adding it is exact).
pub(crate) fn ident_lane<T: Element>(op: ReduceOp) -> u32 {
    match op {
        ReduceOp::Sum if T::SCALAR.is_float() => 0x8000_0000,
        ReduceOp::Sum => 0,
        ReduceOp::Min => u32::MAX,
        ReduceOp::Max => 0,
    }
}

/// Records `heads` over the `n` 32-bit keys of `keys`: `heads[i] = 1` where a
/// run starts, and `tails[i] = 1` where one ends (when given).
pub(crate) fn record_heads(
    s: &mut Stream<'_>,
    keys: &wgpu::Buffer,
    n: usize,
    heads: &wgpu::Buffer,
    tails: Option<&wgpu::Buffer>,
) -> Result<()> {
    let gpu = s.gpu();
    let align = (gpu.storage_align() / 4) as usize;
    let full = gpu.window_elems(4);
    if full < 3 * align {
        return Err(Error::LimitExceeded {
            what: "the by-key ops' storage binding",
            requested: (3 * align * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    // Each window also binds one alignment of keys before it and one key after.
    let pipeline = gpu.pipeline(&BY_KEY, "heads", ScalarType::U32)?;
    for w @ (start, len) in cut(n, full - 2 * align) {
        let shift = if start == 0 { 0 } else { align };
        let end = (start + len + 1).min(n);
        let k0 = start - shift;
        let slots = [
            Bind::elems(keys, (k0, end - k0), 4),
            Bind::Unused,
            Bind::Unused,
            Bind::elems(heads, w, 4),
            match tails {
                Some(t) => Bind::elems(t, w, 4),
                None => Bind::UnusedWritable,
            },
        ];
        let p = Params {
            n: len as u32,
            shift: shift as u32,
            start: start as u32,
            total: n as u32,
            tails: tails.is_some() as u32,
            ..Params::default()
        };
        s.kernel(
            &pipeline,
            &p,
            slots,
            (len as u64).div_ceil(WORKGROUP_SIZE as u64),
        );
    }
    Ok(())
}

/// How the first level of a segmented scan reads and writes values.
#[derive(Clone, Copy)]
pub(crate) struct Lanes {
    /// `op` of the scan.
    pub op: ReduceOp,
    /// `MAP_IN`, `MAP_OUT`, `ONES` bits for the first level.
    pub flags: u32,
    /// The identity lane.
    pub ident: u32,
}

/// Records the segmented scan (`mode`) of `n` values of `src` (32-bit words,
/// or ones) with run heads `heads` into `dst`. `T` is the values' type. `n` must
/// be at least 1, and `heads[0]` must be 1.
pub(crate) fn record_seg_scan<T: Element>(
    s: &mut Stream<'_>,
    src: &wgpu::Buffer,
    heads: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    n: usize,
    mode: Mode,
    lanes: Lanes,
) -> Result<()> {
    let gpu = s.gpu();
    let windows = gpu.windows(n, 4);
    let tiles: Vec<usize> = windows.iter().map(|w| w.1.div_ceil(TILE)).collect();
    let m: usize = tiles.iter().sum();
    let reduce = gpu.pipeline(&BY_KEY, "seg_reduce_tiles", T::SCALAR)?;
    let scan = gpu.pipeline(&BY_KEY, "seg_scan_tiles", T::SCALAR)?;
    let src_bind = |w| match lanes.flags & ONES {
        0 => Bind::elems(src, w, 4),
        _ => Bind::Unused,
    };
    let params = |len: usize, groups: usize, part_base: u32, flags: u32| Params {
        n: len as u32,
        groups: groups as u32,
        part_base,
        mode: mode as u32,
        op: lanes.op as u32,
        flags,
        ident: lanes.ident,
        ..Params::default()
    };
    if m == 1 {
        let w = windows[0];
        let slots = [
            src_bind(w),
            Bind::elems(heads, w, 4),
            Bind::Unused,
            Bind::elems(dst, w, 4),
            Bind::UnusedWritable,
        ];
        s.kernel(&scan, &params(n, 1, 0, lanes.flags), slots, 1);
        return Ok(());
    }
    let tile_lanes = s.buffer((m * 4) as u64)?;
    let tile_heads = s.buffer((m * 4) as u64)?;
    let carries = s.buffer((m * 4) as u64)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (lanes_part, base) = gpu.window_at(&tile_lanes, m, first, 4);
        let (heads_part, _) = gpu.window_at(&tile_heads, m, first, 4);
        let slots = [
            src_bind(w),
            Bind::elems(heads, w, 4),
            Bind::Unused,
            lanes_part,
            heads_part,
        ];
        let flags = lanes.flags & !MAP_OUT;
        s.kernel(&reduce, &params(w.1, t, base, flags), slots, t as u64);
        first += t;
    }
    // The tiles' carries: the open run before each tile, already in lanes.
    let inner = Lanes { flags: 0, ..lanes };
    record_seg_scan::<T>(
        s,
        &tile_lanes,
        &tile_heads,
        &carries,
        m,
        Mode::Shifted,
        inner,
    )?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = gpu.window_at(&carries, m, first, 4);
        let slots = [
            src_bind(w),
            Bind::elems(heads, w, 4),
            part,
            Bind::elems(dst, w, 4),
            Bind::UnusedWritable,
        ];
        let flags = lanes.flags | CARRIES;
        s.kernel(&scan, &params(w.1, t, base, flags), slots, t as u64);
        first += t;
    }
    Ok(())
}

/// The kept elements of `x` (`n` 32-bit words) where `mask` is nonzero, as
/// `T`, with their count; an empty buffer's stand-in when none is kept.
pub(crate) fn keep<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    mask: &wgpu::Buffer,
    n: usize,
) -> Result<Option<(wgpu::Buffer, usize)>> {
    compact::<T>(gpu, op, x, &Keep::Mask(mask), n)
}

/// New buffers for the heads (and tails, with `tails`) of `n` keys.
fn flag_buffers(
    s: &Stream<'_>,
    n: usize,
    tails: bool,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>)> {
    let h = s.buffer((n * 4) as u64)?;
    let t = match tails {
        true => Some(s.buffer((n * 4) as u64)?),
        false => None,
    };
    Ok((h, t))
}

/// Run heads of `n` keys (and tails, with `tails`), in one submission.
pub(crate) fn heads(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    keys: &wgpu::Buffer,
    n: usize,
    tails: bool,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>)> {
    let mut s = Stream::new(gpu, op);
    let (h, t) = flag_buffers(&s, n, tails)?;
    record_heads(&mut s, keys, n, &h, t.as_ref())?;
    s.submit()?;
    Ok((h, t))
}

/// The run heads (and tails, with `tails`) of `n` keys and the segmented scan
/// of `values` (`None`: ones) in `mode`, in one submission: (heads, tails, scan).
#[allow(clippy::too_many_arguments)]
pub(crate) fn heads_and_scan<V: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    keys: &wgpu::Buffer,
    values: Option<&wgpu::Buffer>,
    n: usize,
    mode: Mode,
    rop: ReduceOp,
    tails: bool,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>, wgpu::Buffer)> {
    let mut s = Stream::new(gpu, op);
    let (h, t) = flag_buffers(&s, n, tails)?;
    let out = s.buffer((n * 4) as u64)?;
    record_heads(&mut s, keys, n, &h, t.as_ref())?;
    let lanes = Lanes {
        op: rop,
        flags: match values {
            Some(_) => MAP_IN | MAP_OUT,
            None => ONES,
        },
        ident: ident_lane::<V>(rop),
    };
    // With ONES the source is never bound (the kernel reads no values).
    let src = values.unwrap_or_else(|| gpu.dummy());
    record_seg_scan::<V>(&mut s, src, &h, &out, n, mode, lanes)?;
    s.submit()?;
    Ok((h, t, out))
}
