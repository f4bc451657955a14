//! Launch of `shaders/sequence.wgsl`: one invocation per element, per binding
//! window of the output ([`Stream::per_window`]), in one submission; the output is written once.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/sequence.wgsl`.
pub(crate) static SEQUENCE: KernelSpec = KernelSpec {
    name: "sequence",
    source: include_str!("../../../shaders/sequence.wgsl"),
    entries: &["sequence"],
    bindings: &[Binding::Uniform, Binding::ReadWrite],
    scalars: SCALARS_32,
    params: params_of::<Params>,
};

/// `Params` of `shaders/sequence.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    base: u32,
    start: u32,
    step: u32,
    zero: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

/// `start + i * step` for `i` in `0..n` (`n >= 1`, 32-bit `T`), in a new device buffer.
pub(crate) fn sequence<T: Element>(
    gpu: &Arc<GpuBackend>,
    n: usize,
    start: T,
    step: T,
) -> Result<Output> {
    let mut s = Stream::new(gpu, "sequence");
    let out = s.output((n * 4) as u64)?;
    let pipeline = gpu.pipeline(&SEQUENCE, "sequence", T::SCALAR)?;
    let bits = |v: T| -> u32 { bytemuck::cast_slice::<T, u32>(std::slice::from_ref(&v))[0] };
    s.per_window(&pipeline, n, 4, |w| {
        let params = Params {
            n: w.1 as u32,
            base: w.0 as u32,
            start: bits(start),
            step: bits(step),
            zero: 0,
            pad0: 0,
            pad1: 0,
            pad2: 0,
        };
        (params, vec![Bind::elems(&out, w, 4)])
    });
    s.submit()?;
    Ok(out)
}
