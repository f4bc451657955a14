//! Launch of `shaders/merge.wgsl`: merge path, in one [`Stream`] (one submission).
//!
//! `merge_partition` finds where each tile of `TILE` outputs starts in `a`
//! (one binary search per tile boundary), then `merge_tiles` merges each tile,
//! once per binding window of the output (windows of whole tiles). `a` and `b`
//! are read at random positions, so each must fit one storage binding, else
//! [`Error::LimitExceeded`] (and `Policy::Auto` runs the merge on the CPU).

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{cut, Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/merge.wgsl`: `merge_partition` and `merge_tiles`.
pub(crate) static MERGE: KernelSpec = KernelSpec {
    name: "merge",
    source: include_str!("../../../shaders/merge.wgsl"),
    entries: &["merge_partition", "merge_tiles"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<Params>,
};

/// Outputs per `merge_tiles` workgroup (`TILE` in the shader).
pub(crate) const TILE: usize = WORKGROUP_SIZE as usize * 8;

/// `Params` of `shaders/merge.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    na: u32,
    nb: u32,
    count: u32,
    tile_base: u32,
    values: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

/// One sorted input on the device: keys, values (for `merge_by_key`), length.
pub(crate) struct Side<'a> {
    pub keys: Option<&'a wgpu::Buffer>,
    pub values: Option<&'a wgpu::Buffer>,
    pub len: usize,
}

impl<'a> Side<'a> {
    /// A side from its (possibly absent, when empty) device buffers.
    pub fn new(
        keys: &'a Option<wgpu::Buffer>,
        values: &'a Option<wgpu::Buffer>,
        len: usize,
    ) -> Self {
        Side {
            keys: keys.as_ref(),
            values: values.as_ref(),
            len,
        }
    }
}

/// Whether `merge` can run on `gpu` with inputs of `na` and `nb` 4-byte elements.
pub(crate) fn fits(gpu: &GpuBackend, na: usize, nb: usize) -> bool {
    let w = gpu.window_elems(4);
    na <= w && nb <= w && gpu.window_elems(4) >= TILE && na + nb < u32::MAX as usize - 2 * TILE
}

/// Merges `a` and `b` (`n = a.len + b.len >= 1`) into new device buffers:
/// the keys, and the values when both sides have them.
pub(crate) fn merge<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    a: &Side<'_>,
    b: &Side<'_>,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>)> {
    let (na, nb) = (a.len, b.len);
    let n = na + nb;
    if !fits(gpu, na, nb) {
        return Err(Error::LimitExceeded {
            what: "a merge's inputs (each must fit one storage binding)",
            requested: (na.max(nb) * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let with_values = a.values.is_some() || b.values.is_some();
    let mut s = Stream::new(gpu, op);
    let out = s.buffer((n * 4) as u64)?;
    let vout = match with_values {
        true => Some(s.buffer((n * 4) as u64)?),
        false => None,
    };
    let tiles = n.div_ceil(TILE);
    let part = s.buffer(((tiles + 1) * 4) as u64)?;
    let partition = gpu.pipeline(&MERGE, "merge_partition", T::SCALAR)?;
    let tiles_pipe = gpu.pipeline(&MERGE, "merge_tiles", T::SCALAR)?;
    let whole = |buf: Option<&wgpu::Buffer>, len: usize| match buf {
        Some(b) if len > 0 => Bind::elems(b, (0, len), 4),
        _ => Bind::Unused,
    };
    let params = |count: usize, tile_base: usize| Params {
        na: na as u32,
        nb: nb as u32,
        count: count as u32,
        tile_base: tile_base as u32,
        values: with_values as u32,
        pad0: 0,
        pad1: 0,
        pad2: 0,
    };
    let inputs = [
        whole(a.keys, na),
        whole(b.keys, nb),
        whole(a.values, na),
        whole(b.values, nb),
        Bind::elems(&part, (0, tiles + 1), 4),
    ];
    let mut slots = inputs.to_vec();
    slots.extend([Bind::UnusedWritable, Bind::UnusedWritable]);
    let groups = ((tiles + 1) as u64).div_ceil(WORKGROUP_SIZE as u64);
    s.kernel(&partition, &params(tiles + 1, 0), slots, groups);
    // Output windows of whole tiles, each starting at an aligned element.
    for w @ (start, len) in cut(n, gpu.window_elems(4) / TILE * TILE) {
        let mut slots = inputs.to_vec();
        slots.push(Bind::elems(&out, w, 4));
        slots.push(match &vout {
            Some(v) => Bind::elems(v, w, 4),
            None => Bind::UnusedWritable,
        });
        let window_tiles = len.div_ceil(TILE);
        let p = params(window_tiles, start / TILE);
        s.kernel(&tiles_pipe, &p, slots, window_tiles as u64);
    }
    s.submit()?;
    Ok((out, vout))
}
