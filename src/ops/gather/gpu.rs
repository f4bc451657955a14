//! Launches of `shaders/gather.wgsl` and `shaders/scatter.wgsl`.
//!
//! The linear sides (idx, out for gather; src, idx for scatter) are cut into
//! binding windows; the randomly addressed side (src for gather; dst for
//! scatter) must fit one binding, else [`Error::LimitExceeded`]. Each op is one
//! [`Stream`] whose one submission ends with the 4-byte read of the bad-index
//! flag.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/gather.wgsl`.
pub(crate) static GATHER: KernelSpec = KernelSpec {
    name: "gather",
    source: include_str!("../../../shaders/gather.wgsl"),
    entries: &["gather"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<GatherParams>,
};

/// `shaders/scatter.wgsl`.
pub(crate) static SCATTER: KernelSpec = KernelSpec {
    name: "scatter",
    source: include_str!("../../../shaders/scatter.wgsl"),
    entries: &["scatter_claim", "scatter_write"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<ScatterParams>,
};

/// Whether `len` elements of `T` fit one storage binding on `gpu`.
pub(crate) fn fits<T: Element>(gpu: &GpuBackend, len: usize) -> bool {
    len <= gpu.window_elems(std::mem::size_of::<T>())
}

fn too_big<T: Element>(gpu: &GpuBackend, what: &'static str, len: usize) -> Error {
    Error::LimitExceeded {
        what,
        requested: (len * std::mem::size_of::<T>()) as u64,
        limit: gpu.limits.max_storage_buffer_binding_size,
    }
}

/// `Params` of `shaders/gather.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GatherParams {
    n: u32,
    src_len: u32,
    pad0: u32,
    pad1: u32,
}

/// `Params` of `shaders/scatter.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScatterParams {
    n: u32,
    dst_len: u32,
    base: u32,
    pad0: u32,
}

/// Submits `s` with the read of the bad-index flag, and answers it.
fn check_flag(s: Stream<'_>, flag: &wgpu::Buffer, len: usize) -> Result<()> {
    let op = s.op();
    if s.read::<u32>(flag, 0, 1)?.first() != Some(&0) {
        return Err(Error::InvalidArgument {
            op,
            message: format!("an index is out of range for {len} elements"),
        });
    }
    Ok(())
}

/// `out[i] = src[idx[i]]` for `n` indices; `src` has `src_len` elements.
pub(crate) fn gather<T: Element>(
    gpu: &Arc<GpuBackend>,
    src: &wgpu::Buffer,
    src_len: usize,
    idx: &wgpu::Buffer,
    n: usize,
) -> Result<Output> {
    let op = "gather";
    if !fits::<T>(gpu, src_len) {
        return Err(too_big::<T>(
            gpu,
            "gather's source (one storage binding)",
            src_len,
        ));
    }
    let size = std::mem::size_of::<T>();
    let pipeline = gpu.pipeline(&GATHER, "gather", T::SCALAR)?;
    let mut s = Stream::new(gpu, op);
    let out = s.output((n * size) as u64)?;
    let flag = s.buffer(4)?;
    s.per_window(&pipeline, n, size.max(4), |w| {
        let params = GatherParams {
            n: w.1 as u32,
            src_len: src_len as u32,
            pad0: 0,
            pad1: 0,
        };
        let storage = vec![
            Bind::elems(src, (0, src_len), size),
            Bind::elems(idx, w, 4),
            Bind::elems(&out, w, size),
            Bind::whole(&flag),
        ];
        (params, storage)
    });
    check_flag(s, &flag, src_len)?;
    Ok(out)
}

/// `dst[idx[i]] = src[i]` for `n` elements (last duplicate wins); `dst` has
/// `dst_len` elements and is written only when every index is in range.
pub(crate) fn scatter<T: Element>(
    gpu: &Arc<GpuBackend>,
    src: &wgpu::Buffer,
    idx: &wgpu::Buffer,
    n: usize,
    dst: &wgpu::Buffer,
    dst_len: usize,
) -> Result<()> {
    let op = "scatter";
    if !fits::<T>(gpu, dst_len) {
        return Err(too_big::<T>(
            gpu,
            "scatter's destination (one storage binding)",
            dst_len,
        ));
    }
    let size = std::mem::size_of::<T>();
    let claim = gpu.pipeline(&SCATTER, "scatter_claim", T::SCALAR)?;
    let write = gpu.pipeline(&SCATTER, "scatter_write", T::SCALAR)?;
    let mut s = Stream::new(gpu, op);
    let winner = s.buffer((dst_len * 4) as u64)?;
    let flag = s.buffer(4)?;
    // Every claim finishes before any write starts.
    for pipeline in [&claim, &write] {
        s.per_window(pipeline, n, size.max(4), |w| {
            let params = ScatterParams {
                n: w.1 as u32,
                dst_len: dst_len as u32,
                base: w.0 as u32,
                pad0: 0,
            };
            let storage = vec![
                Bind::elems(src, w, size),
                Bind::elems(idx, w, 4),
                Bind::elems(dst, (0, dst_len), size),
                Bind::whole(&winner),
                Bind::whole(&flag),
            ];
            (params, storage)
        });
    }
    check_flag(s, &flag, dst_len)
}
