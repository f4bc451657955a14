//! Launches of `shaders/segmented_reduce.wgsl` around the segmented scan of
//! `ops::by_key`, in one [`Stream`] (one submission): segment heads (a binary search of the
//! offsets per element), the segmented inclusive scan, and one read of the scan
//! per segment. The offsets and the values are read at random positions, so
//! each must fit one storage binding ([`fits`]).

use std::sync::Arc;

use bytemuck::{Pod, Zeroable};

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;
use crate::ops::by_key::gpu::{ident_lane, record_seg_scan, Lanes, Mode, MAP_IN, MAP_OUT};
use crate::ops::by_key::ReduceOp;

/// `shaders/segmented_reduce.wgsl`: `segment_heads` and `segment_results`.
pub(crate) static SEGMENTED_REDUCE: KernelSpec = KernelSpec {
    name: "segmented_reduce",
    source: include_str!("../../../shaders/segmented_reduce.wgsl"),
    entries: &["segment_heads", "segment_results"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<Params>,
};

/// `Params` of `shaders/segmented_reduce.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Params {
    n: u32,
    start: u32,
    m: u32,
    empty: u32,
}

/// Whether `n` values and `m` offsets fit one binding each.
pub(crate) fn fits(gpu: &GpuBackend, n: usize, m: usize) -> bool {
    let w = gpu.window_elems(4);
    n <= w && m <= w
}

/// The reductions of the `m - 1` segments of `n` values (both at least 1),
/// checked offsets given.
pub(crate) fn segmented_reduce<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    values: &wgpu::Buffer,
    n: usize,
    offsets: &wgpu::Buffer,
    m: usize,
    rop: ReduceOp,
) -> Result<wgpu::Buffer> {
    if !fits(gpu, n, m) {
        return Err(Error::LimitExceeded {
            what: "segmented_reduce's values and offsets (one storage binding each)",
            requested: (n.max(m) * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let segments = m - 1;
    let mut s = Stream::new(gpu, op);
    let heads = s.buffer((n * 4) as u64)?;
    let scan = s.buffer((n * 4) as u64)?;
    let out = s.buffer((segments * 4) as u64)?;
    let heads_p = gpu.pipeline(&SEGMENTED_REDUCE, "segment_heads", ScalarType::U32)?;
    let results_p = gpu.pipeline(&SEGMENTED_REDUCE, "segment_results", ScalarType::U32)?;
    let offs = Bind::elems(offsets, (0, m), 4);
    let params = |(start, len): (usize, usize), empty: u32| Params {
        n: len as u32,
        start: start as u32,
        m: m as u32,
        empty,
    };
    s.per_window(&heads_p, n, 4, |w| {
        let slots = vec![offs.clone(), Bind::Unused, Bind::elems(&heads, w, 4)];
        (params(w, 0), slots)
    });
    let lanes = Lanes {
        op: rop,
        flags: MAP_IN | MAP_OUT,
        ident: ident_lane::<T>(rop),
    };
    record_seg_scan::<T>(&mut s, values, &heads, &scan, n, Mode::Inclusive, lanes)?;
    let empty: u32 = bytemuck::cast::<T, u32>(rop.identity::<T>());
    let whole_scan = Bind::elems(&scan, (0, n), 4);
    s.per_window(&results_p, segments, 4, |w| {
        let slots = vec![offs.clone(), whole_scan.clone(), Bind::elems(&out, w, 4)];
        (params(w, empty), slots)
    });
    s.submit()?;
    Ok(out)
}
