//! Launch of `shaders/search.wgsl`: one binary search per query, in one
//! submission (one [`Stream`]), one dispatch per binding window of the
//! queries. The sorted array is read at random positions and must fit one
//! storage binding, else [`Error::LimitExceeded`] (`Policy::Auto` then
//! searches on the CPU).

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{Bind, Stream};
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
    params: params_of::<SearchParams>,
};

/// `Params` of `shaders/search.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SearchParams {
    n_q: u32,
    n_s: u32,
    upper: u32,
    pad0: u32,
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
) -> Result<Output> {
    if !fits(gpu, n_s) {
        return Err(Error::LimitExceeded {
            what: "a search's sorted buffer (one storage binding)",
            requested: (n_s * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let pipeline = gpu.pipeline(&SEARCH, "search", T::SCALAR)?;
    let mut s = Stream::new(gpu, op);
    let out = s.output((n_q * 4) as u64)?;
    s.per_window(&pipeline, n_q, 4, |w| {
        let params = SearchParams {
            n_q: w.1 as u32,
            n_s: n_s as u32,
            upper: upper as u32,
            pad0: 0,
        };
        let storage = vec![
            Bind::elems(sorted, (0, n_s), 4),
            Bind::elems(queries, w, 4),
            Bind::elems(&out, w, 4),
        ];
        (params, storage)
    });
    s.submit()?;
    Ok(out)
}
