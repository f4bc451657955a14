//! Launches of `shaders/elementwise.wgsl` and `shaders/fill.wgsl`, one dispatch
//! per binding window, grids folded past 65,535 workgroups.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{Binding, KernelSpec, ALL_SCALARS};
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
    gpu.run_windowed(
        op,
        &pipeline,
        &layout,
        n,
        size,
        32,
        |len| params(len, alpha),
        |off, bytes| vec![(a, off, bytes), (b, off, bytes), (&out, off, bytes)],
    )?;
    Ok(out)
}

/// Sets `n` elements of `out` to `value`.
pub(crate) fn fill<T: Element>(
    gpu: &Arc<GpuBackend>,
    out: &wgpu::Buffer,
    n: usize,
    value: T,
) -> Result<()> {
    let (pipeline, layout) = gpu.pipeline(&FILL, "fill", T::SCALAR)?;
    gpu.run_windowed(
        "fill",
        &pipeline,
        &layout,
        n,
        std::mem::size_of::<T>(),
        32,
        |len| params(len, value),
        |off, bytes| vec![(out, off, bytes)],
    )
}
