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
//! [`Recorder`] and [`bind_part`] are shared with `ops::compact`.

use std::sync::Arc;

use crate::element::Element;
use crate::error::Result;
use crate::gpu::shader::{Binding, KernelSpec, ALL_SCALARS, WORKGROUP_SIZE};
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
};

/// Elements per tile (one workgroup): `TILE` in the shaders.
pub(crate) const TILE: usize = WORKGROUP_SIZE as usize * 8;

/// A storage binding: buffer, byte offset, byte size.
pub(crate) type Slot = (wgpu::Buffer, u64, u64);

/// One recorded dispatch.
struct Pass {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    params: Vec<u8>,
    storage: Vec<Slot>,
    groups: u64,
}

/// Collects dispatches and buffer copies, then records them in one encoder and
/// submits once. Uniform blocks of all passes share one buffer.
pub(crate) struct Recorder<'g> {
    pub gpu: &'g Arc<GpuBackend>,
    pub op: &'static str,
    passes: Vec<Pass>,
    /// (source, source offset, destination, destination offset, bytes), after the passes.
    copies: Vec<(wgpu::Buffer, u64, wgpu::Buffer, u64, u64)>,
}

impl<'g> Recorder<'g> {
    pub fn new(gpu: &'g Arc<GpuBackend>, op: &'static str) -> Self {
        Recorder {
            gpu,
            op,
            passes: Vec::new(),
            copies: Vec::new(),
        }
    }

    /// Adds a dispatch of `groups` workgroups (folded past the per-dimension limit).
    pub fn pass(
        &mut self,
        (pipeline, layout): &(wgpu::ComputePipeline, wgpu::BindGroupLayout),
        params: Vec<u8>,
        storage: Vec<Slot>,
        groups: u64,
    ) {
        self.passes.push(Pass {
            pipeline: pipeline.clone(),
            layout: layout.clone(),
            params,
            storage,
            groups,
        });
    }

    /// Adds a buffer-to-buffer copy, recorded after every pass.
    pub fn copy(
        &mut self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) {
        self.copies
            .push((src.clone(), src_off, dst.clone(), dst_off, bytes));
    }

    /// A small read-write buffer for binding slots an entry point does not use
    /// (the shared dummy is bound read-only elsewhere in the same dispatch).
    pub fn scratch(&self) -> Result<wgpu::Buffer> {
        self.gpu.create_storage(self.op, 256)
    }

    /// Records everything in one encoder, submits, and waits.
    pub fn submit(self) -> Result<()> {
        let gpu = self.gpu;
        let blocks: Vec<Vec<u8>> = self.passes.iter().map(|p| p.params.clone()).collect();
        let (uniforms, stride) = gpu.create_uniforms(self.op, &blocks)?;
        let encoder = gpu.scoped(self.op, || {
            let mut enc = gpu.encoder();
            for (i, p) in self.passes.iter().enumerate() {
                let storage: Vec<(&wgpu::Buffer, u64, u64)> =
                    p.storage.iter().map(|(b, o, s)| (b, *o, *s)).collect();
                let size = (p.params.len() as u64).next_multiple_of(16);
                let bg = gpu.bind_group(&p.layout, (&uniforms, i as u64 * stride, size), &storage);
                gpu.dispatch(&mut enc, &p.pipeline, &bg, p.groups)?;
            }
            for (src, so, dst, d_off, bytes) in &self.copies {
                enc.copy_buffer_to_buffer(src, *so, dst, *d_off, *bytes);
            }
            Ok(enc)
        })?;
        gpu.submit_and_wait(self.op, encoder)
    }
}

/// A binding of `buf` (holding `len` elements of `esize` bytes) that starts at
/// an aligned element at or before `first` and is as long as a binding may be;
/// returns it and the index of `first` inside it. Used for per-tile arrays,
/// whose windows need not start at an aligned element.
pub(crate) fn bind_part(
    gpu: &GpuBackend,
    buf: &wgpu::Buffer,
    len: usize,
    first: usize,
    esize: usize,
) -> (Slot, u32) {
    let align = (gpu.limits.min_storage_buffer_offset_alignment.max(16) as usize / esize).max(1);
    let start = first / align * align;
    let count = (len - start).min(gpu.window_elems(esize)).max(1);
    (
        (buf.clone(), (start * esize) as u64, (count * esize) as u64),
        (first - start) as u32,
    )
}

fn params(n: usize, groups: usize, part_base: u32, flags: u32) -> Vec<u8> {
    [n as u32, groups as u32, part_base, flags]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// Records the passes that write the scan (inclusive, or exclusive) of `n`
/// elements of `src` into `dst`. `n` must be at least 1.
pub(crate) fn record_scan<T: Element>(
    rec: &mut Recorder<'_>,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    n: usize,
    exclusive: bool,
) -> Result<()> {
    let gpu = rec.gpu;
    let es = std::mem::size_of::<T>();
    let windows = gpu.windows(n, es);
    let tiles: Vec<usize> = windows.iter().map(|w| w.1.div_ceil(TILE)).collect();
    let m: usize = tiles.iter().sum();
    let reduce = gpu.pipeline(&SCAN, "reduce_tiles", T::SCALAR)?;
    let scan = gpu.pipeline(&SCAN, "scan_tiles", T::SCALAR)?;
    let dummy = gpu.dummy();
    let dummy_slot: Slot = (dummy.clone(), 0, dummy.size());
    let win = |b: &wgpu::Buffer, (start, len): (usize, usize)| -> Slot {
        (b.clone(), (start * es) as u64, (len * es) as u64)
    };
    let excl = exclusive as u32;
    if m == 1 {
        // One tile: no offsets to add.
        let slots = vec![win(src, windows[0]), dummy_slot, win(dst, windows[0])];
        rec.pass(&scan, params(n, 1, 0, excl), slots, 1);
        return Ok(());
    }
    let sums = gpu.create_storage(rec.op, (m * es) as u64)?;
    let offsets = gpu.create_storage(rec.op, (m * es) as u64)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = bind_part(gpu, &sums, m, first, es);
        let slots = vec![win(src, w), dummy_slot.clone(), part];
        rec.pass(&reduce, params(w.1, t, base, 0), slots, t as u64);
        first += t;
    }
    record_scan::<T>(rec, &sums, &offsets, m, true)?;
    let mut first = 0;
    for (&w, &t) in windows.iter().zip(&tiles) {
        let (part, base) = bind_part(gpu, &offsets, m, first, es);
        let slots = vec![win(src, w), part, win(dst, w)];
        rec.pass(&scan, params(w.1, t, base, excl | 2), slots, t as u64);
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
) -> Result<wgpu::Buffer> {
    let out = gpu.create_storage(op, (n * std::mem::size_of::<T>()) as u64)?;
    let mut rec = Recorder::new(gpu, op);
    record_scan::<T>(&mut rec, x, &out, n, exclusive)?;
    rec.submit()?;
    Ok(out)
}
