//! Launches of `shaders/partition.wgsl`, composed with the compaction of
//! `ops::compact`.
//!
//! Submission one writes the pass and fail masks (one pass over `x`); each mask
//! then compacts `x` (`ops::compact`: count, scan of the tile counts, readback
//! of the count, scatter: two submissions each, since the output's size is
//! known only after the count); a last submission copies the two parts into
//! one buffer, the passing elements first (its offsets need both counts).
//! Six submissions in all, each one [`Stream`].

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{Bind, Stream};
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
    params: params_of::<PartitionParams>,
};

/// `Params` of `shaders/partition.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PartitionParams {
    n: u32,
    cmp: u32,
    key_v: u32,
    v_nan: u32,
    is_float: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
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
    let pipeline = gpu.pipeline(&PARTITION, "split_masks", T::SCALAR)?;
    // -0 compares equal to +0: take its key (as `ops::compact` does).
    let canon = if value == T::zero() { T::zero() } else { value };
    let key_v = T::key_to_u32(canon.key_min()).unwrap_or(0);
    let mut s = Stream::new(gpu, op);
    let pass = s.buffer((n * 4) as u64)?;
    let fail = s.buffer((n * 4) as u64)?;
    s.per_window(&pipeline, n, 4, |w| {
        let params = PartitionParams {
            n: w.1 as u32,
            cmp: cmp.code(),
            key_v,
            v_nan: value.is_nan() as u32,
            is_float: T::SCALAR.is_float() as u32,
            pad0: 0,
            pad1: 0,
            pad2: 0,
        };
        let storage = vec![
            Bind::elems(x, w, 4),
            Bind::elems(&pass, w, 4),
            Bind::elems(&fail, w, 4),
        ];
        (params, storage)
    });
    s.submit()?;
    let passed = compact::<T>(gpu, op, x, &Keep::Mask(&pass), n)?;
    let failed = compact::<T>(gpu, op, x, &Keep::Mask(&fail), n)?;
    let n_true = passed.as_ref().map_or(0, |p| p.1);
    // One side empty: the other is the whole answer.
    match (passed, failed) {
        (Some((b, _)), None) | (None, Some((b, _))) => Ok((b, n_true)),
        (Some((a, na)), Some((b, nb))) => {
            let mut s = Stream::new(gpu, op);
            let out = s.buffer((n * 4) as u64)?;
            s.copy(&a, 0, &out, 0, (na * 4) as u64);
            s.copy(&b, 0, &out, (na * 4) as u64, (nb * 4) as u64);
            s.submit()?;
            Ok((out, n_true))
        }
        // n >= 1 elements either pass or fail; a GPU that kept none is faulty.
        (None, None) => Err(crate::error::Error::Gpu {
            op,
            message: "the partition kept no element of a non-empty input".into(),
        }),
    }
}
