//! Launch of `shaders/search.wgsl`: one binary search per query, in one
//! submission, per binding window of the queries. The sorted array is read at
//! random positions and must fit one storage binding, else
//! [`Error::LimitExceeded`] (`Policy::Auto` then searches on the CPU).

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32};
use crate::gpu::GpuBackend;

/// `shaders/search.wgsl`.
pub(crate) static SEARCH: KernelSpec = KernelSpec {
    name: "search",
    source: include_str!("../../../shaders/search.wgsl"),
    entries: &["search"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: crate::gpu::legacy::unported,
};

/// The shader's `Params`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n_q: u32,
    n_s: u32,
    upper: u32,
    pad: u32,
}

/// Whether a sorted array of `len` 4-byte elements fits one binding on `gpu`.
pub(crate) fn fits(gpu: &GpuBackend, len: usize) -> bool {
    len <= gpu.window_elems(4)
}

/// For each of the `n_q >= 1` queries, its insertion point in `sorted`
/// (`n_s >= 1` elements), as a new `u32` device buffer.
pub(crate) fn search<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    sorted: &wgpu::Buffer,
    n_s: usize,
    queries: &wgpu::Buffer,
    n_q: usize,
    upper: bool,
) -> Result<wgpu::Buffer> {
    if !fits(gpu, n_s) {
        return Err(Error::LimitExceeded {
            what: "a search's sorted buffer (one storage binding)",
            requested: (n_s * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let out = gpu.create_storage(op, (n_q * 4) as u64)?;
    let (pipeline, layout) = gpu.pipeline_pair(&SEARCH, "search", T::SCALAR)?;
    let sorted_bytes = (n_s * 4) as u64;
    gpu.run_windowed(
        op,
        &pipeline,
        &layout,
        n_q,
        4,
        16,
        |len| {
            bytemuck::bytes_of(&Params {
                n_q: len as u32,
                n_s: n_s as u32,
                upper: upper as u32,
                pad: 0,
            })
            .to_vec()
        },
        |offset, bytes| {
            vec![
                (sorted, 0, sorted_bytes),
                (queries, offset, bytes),
                (&out, offset, bytes),
            ]
        },
    )?;
    Ok(out)
}
