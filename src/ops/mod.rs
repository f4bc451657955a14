//! The ops, one folder each: `mod.rs` holds the public API on [`crate::Context`]
//! (argument checks and the work estimate), `cpu.rs` the rayon twin (public, and
//! usable on plain slices), `gpu.rs` the launch of the WGSL kernel of the same name.

pub mod compact;
pub mod elementwise;
pub mod gather;
pub mod histogram;
pub mod matmul;
pub mod reduce;
pub mod scan;
pub mod sort;

use crate::dispatch::Work;
use crate::element::Element;
use crate::gpu::shader::KernelSpec;
use crate::{Buffer, Context};

/// Every built-in kernel, for `Context::warm_up` and the naga validation test.
/// A new op adds its kernels here.
pub fn builtin_kernels() -> &'static [&'static KernelSpec] {
    BUILTIN_KERNELS
}

static BUILTIN_KERNELS: &[&KernelSpec] = &[
    &elementwise::gpu::ELEMENTWISE,
    &elementwise::gpu::FILL,
    &reduce::gpu::REDUCE,
    &reduce::gpu::REDUCE_ORDER,
    &scan::gpu::SCAN,
    &compact::gpu::COMPACT,
    &histogram::gpu::HISTOGRAM,
    &gather::gpu::GATHER,
    &gather::gpu::SCATTER,
    &matmul::gpu::MATMUL,
    &matmul::gpu::TRANSPOSE,
    &sort::gpu::SORT_RADIX,
    &sort::gpu::SORT_SCAN,
];

/// The dispatcher's view of a call over `inputs`: the first input's length is the work.
pub(crate) fn work<T: Element>(
    ctx: &Context,
    op: &'static str,
    kernel: &KernelSpec,
    inputs: &[&Buffer<T>],
) -> Work {
    let len = inputs.first().map_or(0, |b| b.len());
    let gpu = ctx.gpu_for(ctx.policy());
    let mut w = Work::new(op, T::SCALAR.wgsl(), len);
    for b in inputs {
        w.input(gpu.as_deref(), b);
    }
    w.gpu_supported = gpu.as_ref().is_some_and(|g| {
        kernel.supports(T::SCALAR) && g.supports_scalar(T::SCALAR) && (len as u64) < u32::MAX as u64
    });
    w
}
