//! Launches of `shaders/gather.wgsl` and `shaders/scatter.wgsl`.
//!
//! The linear sides (idx, out for gather; src, idx for scatter) are cut into
//! binding windows; the randomly addressed side (src for gather; dst for
//! scatter) must fit one binding, else [`Error::LimitExceeded`]. Each op is one
//! submission, followed by a 4-byte read of the bad-index flag.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
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
    params: crate::gpu::legacy::unported,
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
    params: crate::gpu::legacy::unported,
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

fn params(n: usize, len: usize, base: usize) -> Vec<u8> {
    [n as u32, len as u32, base as u32, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

fn bad_index(gpu: &GpuBackend, op: &'static str, flag: &wgpu::Buffer, len: usize) -> Result<()> {
    if gpu.read::<u32>(op, flag, 0, 1)?[0] != 0 {
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
) -> Result<wgpu::Buffer> {
    let op = "gather";
    if !fits::<T>(gpu, src_len) {
        return Err(too_big::<T>(
            gpu,
            "gather's source (one storage binding)",
            src_len,
        ));
    }
    let size = std::mem::size_of::<T>();
    let out = gpu.create_storage(op, (n * size) as u64)?;
    let flag = gpu.create_storage(op, 4)?;
    let (pipeline, layout) = gpu.pipeline_pair(&GATHER, "gather", T::SCALAR)?;
    let windows = gpu.windows(n, size.max(4));
    let blocks: Vec<Vec<u8>> = windows
        .iter()
        .map(|&(s, len)| params(len, src_len, s))
        .collect();
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        for (i, &(s, len)) in windows.iter().enumerate() {
            let bg = gpu.bind_group(
                &layout,
                (&uniforms, i as u64 * stride, 16),
                &[
                    (src, 0, (src_len * size) as u64),
                    (idx, (s * 4) as u64, (len * 4) as u64),
                    (&out, (s * size) as u64, (len * size) as u64),
                    (&flag, 0, 4),
                ],
            );
            gpu.dispatch(
                &mut enc,
                &pipeline,
                &bg,
                (len as u64).div_ceil(WORKGROUP_SIZE as u64),
            )?;
        }
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    bad_index(gpu, op, &flag, src_len)?;
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
    let winner = gpu.create_storage(op, (dst_len * 4) as u64)?;
    let flag = gpu.create_storage(op, 4)?;
    let (claim, layout) = gpu.pipeline_pair(&SCATTER, "scatter_claim", T::SCALAR)?;
    let (write, _) = gpu.pipeline_pair(&SCATTER, "scatter_write", T::SCALAR)?;
    let windows = gpu.windows(n, size.max(4));
    let blocks: Vec<Vec<u8>> = windows
        .iter()
        .map(|&(s, len)| params(len, dst_len, s))
        .collect();
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        let groups: Vec<_> = windows
            .iter()
            .enumerate()
            .map(|(i, &(s, len))| {
                let bg = gpu.bind_group(
                    &layout,
                    (&uniforms, i as u64 * stride, 16),
                    &[
                        (src, (s * size) as u64, (len * size) as u64),
                        (idx, (s * 4) as u64, (len * 4) as u64),
                        (dst, 0, (dst_len * size) as u64),
                        (&winner, 0, (dst_len * 4) as u64),
                        (&flag, 0, 4),
                    ],
                );
                (bg, (len as u64).div_ceil(WORKGROUP_SIZE as u64))
            })
            .collect();
        // Every claim finishes before any write starts.
        for pipeline in [&claim, &write] {
            for (bg, g) in &groups {
                gpu.dispatch(&mut enc, pipeline, bg, *g)?;
            }
        }
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    bad_index(gpu, op, &flag, dst_len)
}
