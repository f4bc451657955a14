//! Launch of `shaders/adjacent_difference.wgsl`: one invocation per element,
//! per binding window of the output, in one submission. Each window of `x` is
//! bound from one alignment unit before the output's window, so that the
//! element before the window's first is bound too: one read of `x`, one write
//! of the output.

use std::sync::Arc;

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{cut, Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/adjacent_difference.wgsl`.
pub(crate) static ADJACENT_DIFFERENCE: KernelSpec = KernelSpec {
    name: "adjacent_difference",
    source: include_str!("../../../shaders/adjacent_difference.wgsl"),
    entries: &["adjacent_difference"],
    bindings: &[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite],
    scalars: SCALARS_32,
    params: params_of::<Params>,
};

/// `Params` of `shaders/adjacent_difference.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    base: u32,
    first: u32,
    pad0: u32,
}

/// The differences of neighbours of the `n >= 1` elements of `x` (32-bit `T`),
/// in a new device buffer.
pub(crate) fn adjacent_difference<T: Element>(
    gpu: &Arc<GpuBackend>,
    x: &wgpu::Buffer,
    n: usize,
) -> Result<Output> {
    let align = (gpu.storage_align() / 4) as usize;
    let full = gpu.window_elems(4);
    if full < 2 * align {
        return Err(Error::LimitExceeded {
            what: "adjacent_difference's storage binding",
            requested: (2 * align * 4) as u64,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let mut s = Stream::new(gpu, "adjacent_difference");
    let out = s.output((n * 4) as u64)?;
    let pipeline = gpu.pipeline(&ADJACENT_DIFFERENCE, "adjacent_difference", T::SCALAR)?;
    // Output windows one alignment unit short of a binding: x's window, which
    // starts one unit earlier, still fits.
    for w @ (first, len) in cut(n, full - align) {
        let x_start = first.saturating_sub(align);
        let base = first - x_start;
        let params = Params {
            n: len as u32,
            base: base as u32,
            first: (first == 0) as u32,
            pad0: 0,
        };
        let slots = [
            Bind::elems(x, (x_start, base + len), 4),
            Bind::elems(&out, w, 4),
        ];
        let groups = (len as u64).div_ceil(WORKGROUP_SIZE as u64);
        s.kernel(&pipeline, &params, slots, groups);
    }
    s.submit()?;
    Ok(out)
}
