//! Split: one call's range divided between the GPU (the first part) and the
//! CPU (the rest), both running at once.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::Buffer;

/// Where a split of `n` elements (n >= 2) cuts for a GPU share `share`: whole
/// chunks of 1,024 for each side, at least one element each.
pub(crate) fn cut_at(n: usize, share: f64) -> usize {
    ((n as f64 * share) as usize / 1024 * 1024).clamp(1, n - 1)
}

/// Runs `gpu_part` on the calling thread and `cpu_part` on a helper thread (whose
/// rayon work goes to the pool) at the same time, and returns both results.
/// A panic in `cpu_part` resumes on the caller.
pub(crate) fn both<G, C: Send>(
    gpu_part: impl FnOnce() -> Result<G>,
    cpu_part: impl FnOnce() -> Result<C> + Send,
) -> Result<(G, C)> {
    std::thread::scope(|s| {
        let h = s.spawn(cpu_part);
        let g = gpu_part();
        let c = match h.join() {
            Ok(c) => c,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok((g?, c?))
    })
}

/// The two halves of a split over host data: the GPU gets fresh device copies of
/// `inputs[..][..cut]` and runs `gpu_part` on them, while `cpu_part` runs on
/// `inputs[..][cut..]` at the same time.
pub(crate) fn split_parts<'a, T: Element, G, C: Send>(
    g: &Arc<GpuBackend>,
    op: &'static str,
    inputs: &[&'a [T]],
    cut: usize,
    gpu_part: impl FnOnce(&[wgpu::Buffer]) -> Result<G>,
    cpu_part: impl FnOnce(&[&'a [T]]) -> Result<C> + Send,
) -> Result<(G, C)> {
    let heads: Vec<&[T]> = inputs.iter().map(|x| &x[..cut]).collect();
    let tails: Vec<&[T]> = inputs.iter().map(|x| &x[cut..]).collect();
    both(
        || {
            let bufs = heads
                .iter()
                .map(|h| {
                    let b = g.create_storage(op, std::mem::size_of_val(*h) as u64)?;
                    g.write(op, &b, h)?;
                    Ok(b)
                })
                .collect::<Result<Vec<_>>>()?;
            gpu_part(&bufs)
        },
        move || cpu_part(&tails),
    )
}

/// [`split_parts`] for an element-wise op: the GPU's part is read back and the
/// two parts are joined into one host result.
pub(crate) fn split_elementwise<T: Element>(
    g: &Arc<GpuBackend>,
    op: &'static str,
    inputs: &[&[T]],
    cut: usize,
    gpu_part: impl FnOnce(&[wgpu::Buffer]) -> Result<crate::gpu::pool::Output>,
    cpu_part: impl FnOnce(&[&[T]]) -> Vec<T> + Send,
) -> Result<Buffer<T>> {
    let (mut head, tail) = split_parts(
        g,
        op,
        inputs,
        cut,
        |bufs| {
            let out = gpu_part(bufs)?;
            g.read::<T>(op, &out, 0, cut)
        },
        |tails| Ok(cpu_part(tails)),
    )?;
    head.extend_from_slice(&tail);
    Ok(Buffer::from_host(head))
}
