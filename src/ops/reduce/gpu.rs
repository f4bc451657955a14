//! Launches of `shaders/reduce.wgsl` and `shaders/reduce_order.wgsl`.
//!
//! Pass one reduces each binding window of the input to partials (one per
//! workgroup of WG * ITEMS elements); later passes reduce the partials, ping-
//! ponging between two buffers, until one value is left; all passes go in one
//! submission, with the readback of the 4 or 8 bytes of the result.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{params_of, Binding, KernelSpec, ALL_SCALARS, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/reduce.wgsl`: sum and dot passes.
pub(crate) static REDUCE: KernelSpec = KernelSpec {
    name: "reduce",
    source: include_str!("../../../shaders/reduce.wgsl"),
    entries: &["sum_pass", "dot_pass"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: ALL_SCALARS,
    params: params_of::<ReduceParams>,
};

/// `shaders/reduce_order.wgsl`: min, max, argmin, argmax passes (32-bit keys).
pub(crate) static REDUCE_ORDER: KernelSpec = KernelSpec {
    name: "reduce_order",
    source: include_str!("../../../shaders/reduce_order.wgsl"),
    entries: &["min_first", "max_first", "pair_pass"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<ReduceParams>,
};

/// Elements one workgroup reduces (`WG * ITEMS` in the shaders).
const PER_GROUP: u64 = WORKGROUP_SIZE as u64 * 8;

/// `Params` of `shaders/reduce.wgsl` and `shaders/reduce_order.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    n: u32,
    groups: u32,
    out_offset: u32,
    base: u32,
}

/// One planned pass: where it reads, how many, where it writes.
struct Pass {
    /// None: the user's input (window `start..start+len`); Some(i): partial buffer i.
    src: Option<usize>,
    start: u64,
    len: u64,
    dst: usize,
    out_offset: u64,
}

/// Plans the passes for `n` input elements cut into `windows`; returns the passes,
/// the element count each partial buffer needs, and the buffer holding the result.
fn plan(windows: &[(usize, usize)]) -> (Vec<Pass>, [u64; 2], usize) {
    let mut passes = Vec::new();
    let mut offset = 0u64;
    for &(start, len) in windows {
        let groups = (len as u64).div_ceil(PER_GROUP);
        passes.push(Pass {
            src: None,
            start: start as u64,
            len: len as u64,
            dst: 0,
            out_offset: offset,
        });
        offset += groups;
    }
    let mut sizes = [offset.max(1), 1];
    let mut count = offset;
    let mut cur = 0;
    while count > 1 {
        let next = count.div_ceil(PER_GROUP);
        let dst = 1 - cur;
        sizes[dst] = sizes[dst].max(next);
        passes.push(Pass {
            src: Some(cur),
            start: 0,
            len: count,
            dst,
            out_offset: 0,
        });
        count = next;
        cur = dst;
    }
    (passes, sizes, cur)
}

/// Records a planned reduction; returns the buffer whose element 0 (of type
/// `P`) will hold the result. `first` and `later` are the entry points; `y` is
/// a second input read by `first` (dot), or None.
#[allow(clippy::too_many_arguments)]
fn record<T: Element, P: bytemuck::Pod>(
    s: &mut Stream<'_>,
    kernel: &'static KernelSpec,
    first: &'static str,
    later: &'static str,
    x: &wgpu::Buffer,
    y: Option<&wgpu::Buffer>,
    n: usize,
) -> Result<wgpu::Buffer> {
    let gpu = s.gpu();
    let esize = std::mem::size_of::<T>() as u64;
    let psize = std::mem::size_of::<P>() as u64;
    let windows = gpu.windows(n, esize as usize);
    let (passes, sizes, result) = plan(&windows);
    let partials = [s.buffer(sizes[0] * psize)?, s.buffer(sizes[1] * psize)?];
    let first_pl = gpu.pipeline(kernel, first, T::SCALAR)?;
    let later_pl = gpu.pipeline(kernel, later, T::SCALAR)?;
    for p in &passes {
        let groups = p.len.div_ceil(PER_GROUP);
        let params = ReduceParams {
            n: p.len as u32,
            groups: groups as u32,
            out_offset: p.out_offset as u32,
            base: p.start as u32,
        };
        let out = Bind::whole(&partials[p.dst]);
        match p.src {
            None => {
                let win = (p.start as usize, p.len as usize);
                let second = match y {
                    Some(y) => Bind::elems(y, win, esize as usize),
                    None => Bind::Unused,
                };
                let storage = [Bind::elems(x, win, esize as usize), second, out];
                s.kernel(&first_pl, &params, storage, groups);
            }
            Some(src) => {
                let src = Bind::whole(&partials[src]);
                let storage = match kernel.name {
                    // sum_pass reads the partials as x.
                    "reduce" => [src, Bind::Unused, out],
                    // pair_pass reads them as pairs.
                    _ => [Bind::Unused, src, out],
                };
                s.kernel(&later_pl, &params, storage, groups);
            }
        }
    }
    let [a, b] = partials;
    Ok(if result == 0 { a } else { b })
}

/// Runs a recorded reduction and reads its result back, in one submission.
#[allow(clippy::too_many_arguments)]
fn reduce<T: Element, P: bytemuck::Pod + Default>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    kernel: &'static KernelSpec,
    first: &'static str,
    later: &'static str,
    x: &wgpu::Buffer,
    y: Option<&wgpu::Buffer>,
    n: usize,
) -> Result<P> {
    let mut s = Stream::new(gpu, op);
    let result = record::<T, P>(&mut s, kernel, first, later, x, y, n)?;
    Ok(s.read::<P>(&result, 0, 1)?[0])
}

/// Records the sum of `n` elements of `x` into `s`; returns the buffer whose
/// element 0 will hold it.
pub(crate) fn record_sum<T: Element>(
    s: &mut Stream<'_>,
    x: &wgpu::Buffer,
    n: usize,
) -> Result<wgpu::Buffer> {
    record::<T, T>(s, &REDUCE, "sum_pass", "sum_pass", x, None, n)
}

/// Sum of `n` elements of `x`.
pub(crate) fn sum<T: Element>(gpu: &Arc<GpuBackend>, x: &wgpu::Buffer, n: usize) -> Result<T> {
    reduce::<T, T>(gpu, "sum", &REDUCE, "sum_pass", "sum_pass", x, None, n)
}

/// Dot product of `n` elements of `x` and `y`.
pub(crate) fn dot<T: Element>(
    gpu: &Arc<GpuBackend>,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    n: usize,
) -> Result<T> {
    reduce::<T, T>(gpu, "dot", &REDUCE, "dot_pass", "sum_pass", x, Some(y), n)
}

/// The (key, index) of the first smallest element (`max == false`) or largest one
/// (`max == true`; the key comes back inverted).
pub(crate) fn best<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    max: bool,
    x: &wgpu::Buffer,
    n: usize,
) -> Result<(u32, u32)> {
    let first = if max { "max_first" } else { "min_first" };
    let [k, i] = reduce::<T, [u32; 2]>(gpu, op, &REDUCE_ORDER, first, "pair_pass", x, None, n)?;
    Ok((k, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_end_with_one_value() {
        for n in [1usize, 2047, 2048, 2049, 1 << 22, (1 << 25) + 3] {
            for window in [1usize << 20, 1 << 25] {
                let windows: Vec<_> = (0..n)
                    .step_by(window)
                    .map(|s| (s, window.min(n - s)))
                    .collect();
                let (passes, sizes, result) = plan(&windows);
                let mut count = windows
                    .iter()
                    .map(|w| (w.1 as u64).div_ceil(PER_GROUP))
                    .sum::<u64>();
                for p in passes.iter().filter(|p| p.src.is_some()) {
                    assert_eq!(p.len, count);
                    count = count.div_ceil(PER_GROUP);
                    assert!(sizes[p.dst] >= count);
                }
                assert_eq!(count, 1, "n={n}");
                assert!(result < 2);
            }
        }
    }
}
