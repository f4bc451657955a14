//! The ops, one folder each: `mod.rs` holds the public API on [`crate::Context`]
//! (argument checks and the work estimate), `cpu.rs` the rayon twin (public, and
//! usable on plain slices), `gpu.rs` the launch of the WGSL kernel of the same name.

pub mod adjacent_difference;
pub mod by_key;
pub mod compact;
pub mod elementwise;
pub mod gather;
pub mod histogram;
pub mod matmul;
pub mod merge;
pub mod partition;
pub mod reduce;
pub mod scan;
pub mod search;
pub mod segmented_reduce;
pub mod sequence;
pub mod slice;
pub mod sort;

use std::sync::Arc;

use crate::dispatch::{GpuGap, Input, Op, Work};
use crate::element::ScalarType;
use crate::gpu::shader::KernelSpec;
use crate::gpu::GpuBackend;
use crate::{Context, Policy};

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
    &by_key::gpu::BY_KEY,
    &partition::gpu::PARTITION,
    &segmented_reduce::gpu::SEGMENTED_REDUCE,
    &merge::gpu::MERGE,
    &search::gpu::SEARCH,
    &sequence::gpu::SEQUENCE,
    &adjacent_difference::gpu::ADJACENT_DIFFERENCE,
];

/// The dispatcher's view of a call over `inputs`: the first input's length is
/// the work, and its element type the op's.
pub(crate) fn work(ctx: &Context, op: Op, kernel: &KernelSpec, inputs: &[&dyn Input]) -> Work {
    let len = inputs.first().map_or(0, |b| b.elems());
    call(ctx, op, kernel, len, 0, inputs).0
}

/// The dispatcher's view of a call over `inputs` with `len` elements of work
/// (and of user kernel `kernel_id`, 0 for none), and the GPU it would run on.
///
/// Under Auto, host data below the profile's CPU-only size takes the fast path
/// (`Work::host_fast`): no GPU handle, no device residency, no prediction,
/// which keeps the dispatcher's own cost at the smallest sizes near that of
/// `Policy::Cpu`. User kernels never take it: their cost is learned per kernel.
pub(crate) fn call(
    ctx: &Context,
    op: Op,
    kernel: &KernelSpec,
    len: usize,
    kernel_id: u64,
    inputs: &[&dyn Input],
) -> (Work, Option<Arc<GpuBackend>>) {
    call_for(ctx, op, kernel.scalars, len, kernel_id, inputs)
}

/// [`call`] for a kernel with instantiations for `scalars` (a generated
/// kernel has one for every type the adapter runs).
pub(crate) fn call_for(
    ctx: &Context,
    op: Op,
    scalars: &[ScalarType],
    len: usize,
    kernel_id: u64,
    inputs: &[&dyn Input],
) -> (Work, Option<Arc<GpuBackend>>) {
    let scalar = inputs.first().map_or(ScalarType::F32, |b| b.scalar());
    let count = |gpu: Option<&GpuBackend>| {
        let mut w = Work::new(op, scalar.wgsl(), len);
        w.kernel = kernel_id;
        for b in inputs {
            w.input(gpu, *b);
        }
        w
    };
    let policy = ctx.policy();
    if policy == Policy::Auto
        && kernel_id == 0
        && (len as u64) < ctx.cpu_only_below(op)
        && ctx.crossover().is_none()
    {
        let w = count(None);
        // Only when every input is on the host; else predict as usual.
        if w.readback_bytes == 0 {
            return (
                Work {
                    host_fast: true,
                    ..w
                },
                None,
            );
        }
    }
    let gpu = ctx.gpu_for(policy);
    let mut w = count(gpu.as_deref());
    w.gpu_supported = gpu.as_ref().is_some_and(|g| {
        scalars.contains(&scalar) && g.supports_scalar(scalar) && (len as u64) < u32::MAX as u64
    });
    w.gpu_gap = if !scalars.contains(&scalar) {
        GpuGap::NoKernel
    } else if gpu.as_ref().is_some_and(|g| !g.supports_scalar(scalar)) {
        GpuGap::NoF64
    } else if (len as u64) >= u32::MAX as u64 {
        GpuGap::TooLong
    } else {
        // An op's own later check (e.g. sort_by_key's 32-bit values) refused it.
        GpuGap::NoKernel
    };
    (w, gpu)
}
