//! Launches of `shaders/elementwise.wgsl` and `shaders/fill.wgsl`, one dispatch
//! per binding window, grids folded past 65,535 workgroups.

use std::sync::Arc;

use crate::element::Element;
use crate::element::ScalarType;
use crate::error::Result;
use crate::gpu::pool::Output;
use crate::gpu::shader::{Binding, KernelSpec, ALL_SCALARS};
use crate::gpu::stream::{Bind, Stream};
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
    params: scalar_params_size,
};

/// `shaders/fill.wgsl`.
pub(crate) static FILL: KernelSpec = KernelSpec {
    name: "fill",
    source: include_str!("../../../shaders/fill.wgsl"),
    entries: &["fill"],
    bindings: &[Binding::Uniform, Binding::ReadWrite],
    scalars: ALL_SCALARS,
    params: scalar_params_size,
};

/// `Params` of both shaders: n, padding, then a scalar of `T` at byte 16.
#[repr(C)]
#[derive(Clone, Copy)]
struct ScalarParams<T> {
    n: u32,
    pad: [u32; 3],
    value: T,
}

// SAFETY: `T` is an `Element` (f32, f64, i32 or u32: `Pod`, size 4 or 8), so
// the struct is 16 bytes of u32 then one `T` at an offset aligned for it:
// no padding, every bit pattern valid.
unsafe impl<T: Element> bytemuck::Zeroable for ScalarParams<T> {}
// SAFETY: as above.
unsafe impl<T: Element> bytemuck::Pod for ScalarParams<T> {}

fn scalar_params_size(scalar: ScalarType) -> usize {
    match scalar {
        ScalarType::F64 => std::mem::size_of::<ScalarParams<f64>>(),
        _ => std::mem::size_of::<ScalarParams<f32>>(),
    }
}

fn params<T: Element>(n: usize, value: T) -> ScalarParams<T> {
    ScalarParams {
        n: n as u32,
        pad: [0; 3],
        value,
    }
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
) -> Result<Output> {
    let size = std::mem::size_of::<T>();
    let mut s = Stream::new(gpu, op);
    let out = s.output((n * size) as u64)?;
    let pipeline = gpu.pipeline(&ELEMENTWISE, entry, T::SCALAR)?;
    s.per_window(&pipeline, n, size, |w| {
        let storage = vec![
            Bind::elems(a, w, size),
            Bind::elems(b, w, size),
            Bind::elems(&out, w, size),
        ];
        (params(w.1, alpha), storage)
    });
    s.submit()?;
    Ok(out)
}

/// Sets `n` elements of `out` to `value`.
pub(crate) fn fill<T: Element>(
    gpu: &Arc<GpuBackend>,
    out: &wgpu::Buffer,
    n: usize,
    value: T,
) -> Result<()> {
    let size = std::mem::size_of::<T>();
    let pipeline = gpu.pipeline(&FILL, "fill", T::SCALAR)?;
    let mut s = Stream::new(gpu, "fill");
    s.per_window(&pipeline, n, size, |w| {
        (params(w.1, value), vec![Bind::elems(out, w, size)])
    });
    s.submit()
}
