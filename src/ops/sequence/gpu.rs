//! Launch of `shaders/sequence.wgsl`: one invocation per element, per binding
//! window of the output, in one submission; the output is written once.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::legacy::Recorder;
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::GpuBackend;

/// `shaders/sequence.wgsl`.
pub(crate) static SEQUENCE: KernelSpec = KernelSpec {
    name: "sequence",
    source: include_str!("../../../shaders/sequence.wgsl"),
    entries: &["sequence"],
    bindings: &[Binding::Uniform, Binding::ReadWrite],
    scalars: SCALARS_32,
    params: crate::gpu::legacy::unported,
};

/// The shader's `Params`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    base: u32,
    start: u32,
    step: u32,
    zero: u32,
    pad: [u32; 3],
}

/// `start + i * step` for `i` in `0..n` (`n >= 1`, 32-bit `T`), in a new device buffer.
pub(crate) fn sequence<T: Element>(
    gpu: &Arc<GpuBackend>,
    n: usize,
    start: T,
    step: T,
) -> Result<wgpu::Buffer> {
    let op = "sequence";
    let out = gpu.create_storage(op, (n * 4) as u64)?;
    let pipeline = gpu.pipeline_pair(&SEQUENCE, "sequence", T::SCALAR)?;
    let bits = |v: T| -> u32 { bytemuck::cast_slice::<T, u32>(std::slice::from_ref(&v))[0] };
    let mut rec = Recorder::new(gpu, op);
    for (first, len) in gpu.windows(n, 4) {
        let params = Params {
            n: len as u32,
            base: first as u32,
            start: bits(start),
            step: bits(step),
            zero: 0,
            pad: [0; 3],
        };
        let slots = vec![(out.clone(), (first * 4) as u64, (len * 4) as u64)];
        let groups = (len as u64).div_ceil(WORKGROUP_SIZE as u64);
        rec.pass(
            &pipeline,
            bytemuck::bytes_of(&params).to_vec(),
            slots,
            groups,
        );
    }
    rec.submit()?;
    Ok(out)
}
