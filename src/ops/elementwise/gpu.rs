//! Launches of `shaders/elementwise.wgsl` and `shaders/fill.wgsl`, one dispatch
//! per binding window, grids folded past 65,535 workgroups.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{Binding, KernelSpec, ALL_SCALARS, WORKGROUP_SIZE};
use crate::gpu::GpuBackend;

/// `shaders/elementwise.wgsl`: add, sub, mul, scale, axpy.
pub(crate) static ELEMENTWISE: KernelSpec = KernelSpec {
    name: "elementwise",
    source: include_str!("../../../shaders/elementwise.wgsl"),
    entries: &["add", "sub", "mul", "scale", "axpy"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: ALL_SCALARS,
};

/// `shaders/fill.wgsl`.
pub(crate) static FILL: KernelSpec = KernelSpec {
    name: "fill",
    source: include_str!("../../../shaders/fill.wgsl"),
    entries: &["fill"],
    bindings: &[Binding::Uniform, Binding::ReadWrite],
    scalars: ALL_SCALARS,
};

/// The kernels' uniform block: n, padding, then a scalar at byte 16.
fn params<T: Element>(n: usize, scalar: T) -> Vec<u8> {
    let mut b = vec![0u8; 32];
    b[0..4].copy_from_slice(&(n as u32).to_le_bytes());
    let s = bytemuck::bytes_of(&scalar);
    b[16..16 + s.len()].copy_from_slice(s);
    b
}

/// `out = entry(a, b)` over `n` elements; `b` may be `a` for unary entries.
pub(crate) fn binary<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    entry: &'static str,
    a: &wgpu::Buffer,
    b: &wgpu::Buffer,
    n: usize,
    alpha: T,
) -> Result<wgpu::Buffer> {
    let size = std::mem::size_of::<T>();
    let out = gpu.create_storage(op, (n * size) as u64)?;
    let (pipeline, layout) = gpu.pipeline(&ELEMENTWISE, entry, T::SCALAR)?;
    let windows = gpu.windows(n, size);
    let blocks: Vec<Vec<u8>> = windows.iter().map(|&(_, len)| params(len, alpha)).collect();
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.encoder();
        for (i, &(start, len)) in windows.iter().enumerate() {
            let (off, bytes) = ((start * size) as u64, (len * size) as u64);
            let bg = gpu.bind_group(
                &layout,
                (&uniforms, i as u64 * stride, 32),
                &[(a, off, bytes), (b, off, bytes), (&out, off, bytes)],
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
    Ok(out)
}

/// Sets `n` elements of `out` to `value`.
pub(crate) fn fill<T: Element>(
    gpu: &Arc<GpuBackend>,
    out: &wgpu::Buffer,
    n: usize,
    value: T,
) -> Result<()> {
    let op = "fill";
    let size = std::mem::size_of::<T>();
    let (pipeline, layout) = gpu.pipeline(&FILL, "fill", T::SCALAR)?;
    let windows = gpu.windows(n, size);
    let blocks: Vec<Vec<u8>> = windows.iter().map(|&(_, len)| params(len, value)).collect();
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.encoder();
        for (i, &(start, len)) in windows.iter().enumerate() {
            let bg = gpu.bind_group(
                &layout,
                (&uniforms, i as u64 * stride, 32),
                &[(out, (start * size) as u64, (len * size) as u64)],
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
    gpu.submit_and_wait(op, encoder)
}
