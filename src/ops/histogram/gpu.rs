//! Launch of `shaders/histogram.wgsl`: one dispatch per binding window of the
//! input, all adding into one zeroed counts buffer, in one submission (one
//! [`Stream`]; the edges are written to the device before it).
//!
//! Up to 256 bins the counters live in a 1 KiB workgroup array, up to 4,096 in a
//! 16 KiB one (when the device has room for it beside the prelude's arrays);
//! past that every element goes straight to a global atomic. On GL the 16 KiB
//! array is skipped: naga zeroes workgroup memory there with one invocation per
//! workgroup, which made it 6x slower than global atomics on llvmpipe.

use std::sync::Arc;

use super::cpu::Bins;
use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/histogram.wgsl`.
pub(crate) static HISTOGRAM: KernelSpec = KernelSpec {
    name: "histogram",
    source: include_str!("../../../shaders/histogram.wgsl"),
    entries: &["hist_small", "hist_shared", "hist_global"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<HistogramParams>,
};

/// `Params` of `shaders/histogram.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct HistogramParams {
    n: u32,
    groups: u32,
    per_thread: u32,
    bins: u32,
    klo: u32,
    kspan: u32,
    is_float: u32,
    pad0: u32,
    lo_f: f32,
    scale: f32,
    pad1: u32,
    pad2: u32,
}

/// Bins of the `hist_small` and `hist_shared` workgroup arrays.
const SMALL: usize = 256;
const SHARED: usize = 4096;
/// Workgroup bytes the prelude may add beside `hist_shared`'s array.
const PRELUDE_MARGIN: u32 = 4096;

/// Whether a histogram with `bins` bins can run on `gpu` (its counts and edges
/// must each fit one storage binding).
pub(crate) fn fits(gpu: &GpuBackend, bins: usize) -> bool {
    gpu.window_elems(4) > bins
}

/// The entry point and elements per invocation for `bins` bins: enough elements
/// per workgroup to pay for zeroing and flushing its counters.
fn choose(gpu: &GpuBackend, bins: usize) -> (&'static str, u32) {
    let room = gpu.limits.max_compute_workgroup_storage_size;
    if bins <= SMALL {
        ("hist_small", 8)
    } else if bins <= SHARED
        && room >= (SHARED * 4) as u32 + PRELUDE_MARGIN
        && gpu.info.backend != "Gl"
    {
        (
            "hist_shared",
            (bins * 4).div_ceil(WORKGROUP_SIZE as usize).max(16) as u32,
        )
    } else {
        ("hist_global", 1)
    }
}

/// Counts `n` elements of `x` under `plan`; returns the counts buffer (`bins` u32).
pub(crate) fn histogram<T: Element>(
    gpu: &Arc<GpuBackend>,
    x: &wgpu::Buffer,
    n: usize,
    plan: &Bins<u32>,
) -> Result<wgpu::Buffer> {
    let op = "histogram";
    let bins = plan.bins;
    if !fits(gpu, bins) {
        return Err(Error::LimitExceeded {
            what: "a histogram's counts (one storage binding)",
            requested: (bins as u64 + 1) * 4,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let (entry, per_thread) = choose(gpu, bins);
    let pipeline = gpu.pipeline(&HISTOGRAM, entry, T::SCALAR)?;
    let mut s = Stream::new(gpu, op);
    let counts = s.buffer(bins as u64 * 4)?;
    let edges = s.buffer((bins as u64 + 1) * 4)?;
    gpu.write(op, &edges, &plan.edges)?;
    let is_float = T::SCALAR == ScalarType::F32;
    let scale = (plan.scale as f32).min(f32::MAX);
    let per_group = per_thread as u64 * WORKGROUP_SIZE as u64;
    for w in gpu.windows(n, 4) {
        let groups = (w.1 as u64).div_ceil(per_group);
        let params = HistogramParams {
            n: w.1 as u32,
            groups: groups as u32,
            per_thread,
            bins: bins as u32,
            klo: plan.edges[0],
            kspan: plan.edges[bins] - plan.edges[0],
            is_float: is_float as u32,
            pad0: 0,
            lo_f: plan.lo as f32,
            scale,
            pad1: 0,
            pad2: 0,
        };
        let slots = [
            Bind::elems(x, w, 4),
            Bind::whole(&edges),
            Bind::whole(&counts),
        ];
        s.kernel(&pipeline, &params, slots, groups);
    }
    s.submit()?;
    Ok(counts)
}
