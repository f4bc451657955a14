//! Launches of `shaders/scan.wgsl`: reduce-then-scan, in one submission.
//!
//! For each binding window of the input, `reduce_tiles` writes one sum per tile
//! (WG * ITEMS elements); the tile sums are scanned (exclusive) by the same
//! scheme, recursively, until one tile is left; then `scan_tiles` scans each tile
//! of each window and adds its offset. Windows carry their offsets through the
//! tile sums, so a buffer past the largest binding scans as one array. No pass
//! waits on another workgroup (no single-pass look-back), so it cannot hang on
//! adapters without forward-progress guarantees.
//!
//! [`record_scan`] is shared with the ops that scan as one of their steps
//! (`compact`, `by_key`).

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::pool::Output;
use crate::gpu::shader::{params_of, Binding, KernelSpec, ALL_SCALARS, WORKGROUP_SIZE};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/scan.wgsl`: `reduce_tiles` and `scan_tiles`.
pub(crate) static SCAN: KernelSpec = KernelSpec {
    name: "scan",
    source: include_str!("../../../shaders/scan.wgsl"),
    entries: &["reduce_tiles", "scan_tiles"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ],
    scalars: ALL_SCALARS,
    params: params_of::<ScanParams>,
};

/// Elements per tile (one workgroup): `TILE` in the shaders.
pub(crate) const TILE: usize = WORKGROUP_SIZE as usize * 8;

/// `Params` of `shaders/scan.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScanParams {
    n: u32,
    groups: u32,
    part_base: u32,
    flags: u32,
}

fn params(n: usize, groups: usize, part_base: u32, flags: u32) -> ScanParams {
    ScanParams {
        n: n as u32,
        groups: groups as u32,
        part_base,
        flags,
    }
}

/// Records the passes that write the scan (inclusive, or exclusive) of `n`
/// elements of `src` into `dst`. `n` must be at least 1.
pub(crate) fn record_scan<T: Element>(
    s: &mut Stream<'_>,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    n: usize,
    exclusive: bool,
) -> Result<()> {
    let gpu = s.gpu();
    let es = std::mem::size_of::<T>();
    let windows = gpu.windows(n, es);
    let tiles: Vec<usize> = windows.iter().map(|w| w.1.div_ceil(TILE)).collect();
    let m: usize = tiles.iter().sum();
    let reduce = gpu.pipeline(&SCAN, "reduce_tiles", T::SCALAR)?;
    let scan = gpu.pipeline(&SCAN, "scan_tiles", T::SCALAR)?;
    let excl = exclusive as u32;
    if m == 1 {
        // One tile: no offsets to add.
        let w = windows[0];
        let slots = [
            Bind::elems(src, w, es),
            Bind::Unused,
            Bind::elems(dst, w, es),
        ];
        s.kernel(&scan, &params(n, 1, 0, excl), slots, 1);
        return Ok(());
    }
    let sums = s.buffer((m * es) as u64)?;
    let offsets = s.buffer((m * es) as u64)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = gpu.window_at(&sums, m, first, es);
        let slots = [Bind::elems(src, w, es), Bind::Unused, part];
        s.kernel(&reduce, &params(w.1, t, base, 0), slots, t as u64);
        first += t;
    }
    record_scan::<T>(s, &sums, &offsets, m, true)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = gpu.window_at(&offsets, m, first, es);
        let slots = [Bind::elems(src, w, es), part, Bind::elems(dst, w, es)];
        s.kernel(&scan, &params(w.1, t, base, excl | 2), slots, t as u64);
        first += t;
    }
    Ok(())
}

/// The scan of `n` elements of `x`, in a new device buffer. `n` must be at least 1.
pub(crate) fn scan<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    x: &wgpu::Buffer,
    n: usize,
    exclusive: bool,
) -> Result<Output> {
    let mut s = Stream::new(gpu, op);
    let out = s.output((n * std::mem::size_of::<T>()) as u64)?;
    record_scan::<T>(&mut s, x, &out, n, exclusive)?;
    s.submit()?;
    Ok(out)
}
