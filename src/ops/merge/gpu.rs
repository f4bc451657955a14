//! Launch of `shaders/merge.wgsl`: merge path, in one submission.
//!
//! `merge_partition` finds where each tile of `TILE` outputs starts in `a`
//! (one binary search per tile boundary), then `merge_tiles` merges each tile,
//! once per binding window of the output (windows of whole tiles). `a` and `b`
//! are read at random positions, so each must fit one storage binding, else
//! [`Error::LimitExceeded`] (and `Policy::Auto` runs the merge on the CPU).

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::legacy::{Recorder, Slot};
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
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
    params: crate::gpu::legacy::unported,
};

/// Outputs per `merge_tiles` workgroup (`TILE` in the shader).
pub(crate) const TILE: usize = WORKGROUP_SIZE as usize * 8;

/// The shader's `Params`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    na: u32,
    nb: u32,
    count: u32,
    tile_base: u32,
    values: u32,
    pad: [u32; 3],
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
    let out = gpu.create_storage(op, (n * 4) as u64)?;
    let vout = match with_values {
        true => Some(gpu.create_storage(op, (n * 4) as u64)?),
        false => None,
    };
    let tiles = n.div_ceil(TILE);
    let part = gpu.create_storage(op, ((tiles + 1) * 4) as u64)?;
    let partition = gpu.pipeline_pair(&MERGE, "merge_partition", T::SCALAR)?;
    let tiles_pipe = gpu.pipeline_pair(&MERGE, "merge_tiles", T::SCALAR)?;
    let mut rec = Recorder::new(gpu, op);
    let (scratch, scratch2) = (rec.scratch()?, rec.scratch()?);
    let dummy = gpu.dummy();
    let whole = |buf: Option<&wgpu::Buffer>, len: usize| -> Slot {
        match buf {
            Some(b) if len > 0 => (b.clone(), 0, (len * 4) as u64),
            _ => (dummy.clone(), 0, dummy.size()),
        }
    };
    let params = |count: usize, tile_base: usize| -> Vec<u8> {
        bytemuck::bytes_of(&Params {
            na: na as u32,
            nb: nb as u32,
            count: count as u32,
            tile_base: tile_base as u32,
            values: with_values as u32,
            pad: [0; 3],
        })
        .to_vec()
    };
    let inputs = [
        whole(a.keys, na),
        whole(b.keys, nb),
        whole(a.values, na),
        whole(b.values, nb),
        (part.clone(), 0, ((tiles + 1) * 4) as u64),
    ];
    let scratch_slot: Slot = (scratch.clone(), 0, scratch.size());
    let mut slots = inputs.to_vec();
    slots.extend([scratch_slot.clone(), (scratch2.clone(), 0, scratch2.size())]);
    rec.pass(
        &partition,
        params(tiles + 1, 0),
        slots,
        ((tiles + 1) as u64).div_ceil(WORKGROUP_SIZE as u64),
    );
    // Output windows of whole tiles, each starting at an aligned element.
    let per_window = gpu.window_elems(4) / TILE * TILE;
    for start in (0..n).step_by(per_window) {
        let len = per_window.min(n - start);
        let win =
            |buf: &wgpu::Buffer| -> Slot { (buf.clone(), (start * 4) as u64, (len * 4) as u64) };
        let mut slots = inputs.to_vec();
        slots.push(win(&out));
        slots.push(match &vout {
            Some(v) => win(v),
            None => scratch_slot.clone(),
        });
        let window_tiles = len.div_ceil(TILE);
        rec.pass(
            &tiles_pipe,
            params(window_tiles, start / TILE),
            slots,
            window_tiles as u64,
        );
    }
    rec.submit()?;
    Ok((out, vout))
}
