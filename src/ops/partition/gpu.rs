//! Launches of `shaders/partition.wgsl`, composed with the compaction of
//! `ops::compact`.
//!
//! Submission one writes the pass and fail masks (one pass over `x`); each mask
//! then compacts `x` (`ops::compact`: count, scan of the tile counts, readback
//! of the count, scatter); a last submission copies the two parts into one
//! buffer, the passing elements first.

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32};
use crate::gpu::GpuBackend;
use crate::ops::compact::gpu::{compact, Keep};
use crate::ops::compact::Compare;

/// `shaders/partition.wgsl`: `split_masks`.
pub(crate) static PARTITION: KernelSpec = KernelSpec {
    name: "partition",
    source: include_str!("../../../shaders/partition.wgsl"),
    entries: &["split_masks"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: crate::gpu::legacy::unported,
};

/// The shader's `Params`.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Params {
    n: u32,
    cmp: u32,
    key_v: u32,
    v_nan: u32,
    is_float: u32,
    pad: [u32; 3],
}

/// The stable partition of `n` (at least 1) elements of `x`: a new buffer with
/// the elements for which `e <cmp> value` holds first, and their count.
pub(crate) fn partition<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    n: usize,
    cmp: Compare,
    value: T,
) -> Result<(wgpu::Buffer, usize)> {
    let pass = gpu.create_storage(op, (n * 4) as u64)?;
    let fail = gpu.create_storage(op, (n * 4) as u64)?;
    let (pipeline, layout) = gpu.pipeline_pair(&PARTITION, "split_masks", T::SCALAR)?;
    // -0 compares equal to +0: take its key (as `ops::compact` does).
    let canon = if value == T::zero() { T::zero() } else { value };
    let key_v = T::key_to_u32(canon.key_min()).unwrap_or(0);
    let block = |len: usize| {
        bytemuck::bytes_of(&Params {
            n: len as u32,
            cmp: cmp.code(),
            key_v,
            v_nan: value.is_nan() as u32,
            is_float: T::SCALAR.is_float() as u32,
            pad: [0; 3],
        })
        .to_vec()
    };
    gpu.run_windowed(op, &pipeline, &layout, n, 4, 32, block, |off, bytes| {
        vec![(x, off, bytes), (&pass, off, bytes), (&fail, off, bytes)]
    })?;
    let passed = compact::<T>(gpu, op, x, &Keep::Mask(&pass), n)?;
    let failed = compact::<T>(gpu, op, x, &Keep::Mask(&fail), n)?;
    let n_true = passed.as_ref().map_or(0, |p| p.1);
    // One side empty: the other is the whole answer.
    match (passed, failed) {
        (Some((b, _)), None) | (None, Some((b, _))) => Ok((b, n_true)),
        (Some((a, na)), Some((b, nb))) => {
            let out = gpu.create_storage(op, (n * 4) as u64)?;
            let encoder = gpu.scoped(op, || {
                let mut enc = gpu.legacy_encoder();
                enc.copy_buffer_to_buffer(&a, 0, &out, 0, (na * 4) as u64);
                enc.copy_buffer_to_buffer(&b, 0, &out, (na * 4) as u64, (nb * 4) as u64);
                Ok(enc)
            })?;
            gpu.submit_and_wait(op, encoder)?;
            Ok((out, n_true))
        }
        // n >= 1 elements either pass or fail; a GPU that kept none is faulty.
        (None, None) => Err(crate::error::Error::Gpu {
            op,
            message: "the partition kept no element of a non-empty input".into(),
        }),
    }
}
