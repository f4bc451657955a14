//! Launch of the GPU radix sort: `shaders/sort_radix.wgsl` (histogram, scatter)
//! and `shaders/sort_scan.wgsl` (the scan of the digit counts).
//!
//! Four LSD passes of 8 bits; each pass is histogram -> scan -> scatter, and keys
//! (and values) ping-pong between two pairs of buffers, input -> A -> B -> A -> B,
//! so the user's buffers are never written. All passes of a sort go in one
//! submission (one [`Stream`]). Grids past 65,535 workgroups are folded into 2-D.
//!
//! Buffers past the storage binding limit are bound in windows: tiles never cross
//! a source window, and the scatter is dispatched once per (source window,
//! destination window) pair, each writing the keys that land in its destination
//! window. The digit counts (256 words per tile of 4,096 keys) must fit one
//! binding; where they do not (only with an artificially small binding limit),
//! the sort answers [`Error::LimitExceeded`], and Policy::Auto runs it on the CPU.

use std::sync::Arc;

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{params_of, Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
use crate::gpu::stream::{cut, Bind, Stream};
use crate::gpu::GpuBackend;

/// `shaders/sort_radix.wgsl`: per-tile digit histograms and the stable scatter.
pub(crate) static SORT_RADIX: KernelSpec = KernelSpec {
    name: "sort_radix",
    source: include_str!("../../../shaders/sort_radix.wgsl"),
    entries: &["histogram", "scatter"],
    bindings: &[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    scalars: SCALARS_32,
    params: params_of::<RadixParams>,
};

/// `shaders/sort_scan.wgsl`: exclusive scan of the digit counts (u32 only).
pub(crate) static SORT_SCAN: KernelSpec = KernelSpec {
    name: "sort_scan",
    source: include_str!("../../../shaders/sort_scan.wgsl"),
    entries: &["scan_reduce", "scan_block"],
    bindings: &[Binding::Uniform, Binding::ReadWrite, Binding::ReadWrite],
    scalars: &[ScalarType::U32],
    params: params_of::<SortScanParams>,
};

// The shaders use one invocation per digit.
const _: () = assert!(WORKGROUP_SIZE == 256);

/// Rounds of 256 keys per scatter/histogram workgroup.
const ROUNDS: u64 = 16;
/// Elements per scan workgroup (`BLOCK` in the shader).
const BLOCK: u64 = 2048;
/// Digits per pass.
const RADIX: u64 = 256;

/// `Params` of `shaders/sort_radix.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RadixParams {
    n: u32,
    groups: u32,
    group_offset: u32,
    total_groups: u32,
    shift: u32,
    dst_base: u32,
    dst_len: u32,
    has_values: u32,
    rounds: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

/// `ScanParams` of `shaders/sort_scan.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SortScanParams {
    n: u32,
    groups: u32,
    use_sums: u32,
    pad: u32,
}

/// The element counts of the scan levels: level 0 is the counts, each next one
/// holds a sum per block of the one below, until one block is left.
fn scan_levels(counts: u64) -> Vec<u64> {
    let mut levels = vec![counts];
    let mut len = counts;
    while len > BLOCK {
        len = len.div_ceil(BLOCK);
        levels.push(len);
    }
    levels
}

/// Sorts `n` 32-bit keys of `keys` (and `values`, 32-bit words, when given).
/// Returns the sorted keys and values in new buffers.
pub(crate) fn sort<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    keys: &wgpu::Buffer,
    values: Option<&wgpu::Buffer>,
    n: usize,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>)> {
    sort_tiled::<T>(gpu, op, keys, values, n, ROUNDS, 4)
}

/// [`sort`] with tiles of `rounds` x 256 keys, by the low `passes` digits (small
/// tiles and one pass let the tests cross the 65,535-workgroup limit cheaply).
fn sort_tiled<T: Element>(
    gpu: &Arc<GpuBackend>,
    op: &'static str,
    keys: &wgpu::Buffer,
    values: Option<&wgpu::Buffer>,
    n: usize,
    rounds: u64,
    passes: u32,
) -> Result<(wgpu::Buffer, Option<wgpu::Buffer>)> {
    let tile = rounds * WORKGROUP_SIZE as u64;
    let n64 = n as u64;
    let win = (gpu.window_elems(4) as u64 / tile) * tile;
    if win == 0 {
        return Err(Error::LimitExceeded {
            what: "a sort binding window (bytes)",
            requested: tile * 4,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let tiles = n64.div_ceil(tile);
    let counts_len = RADIX * tiles;
    if counts_len * 4 > gpu.limits.max_storage_buffer_binding_size {
        return Err(Error::LimitExceeded {
            what: "the sort's digit counts in one binding (bytes)",
            requested: counts_len * 4,
            limit: gpu.limits.max_storage_buffer_binding_size,
        });
    }
    let windows = cut(n, win as usize);
    let levels = scan_levels(counts_len);

    let mut s = Stream::new(gpu, op);
    // Buffers: 0 = user keys, 1/2 = ping-pong keys; values likewise.
    let bytes = n64 * 4;
    let key_bufs = [keys.clone(), s.buffer(bytes)?, s.buffer(bytes)?];
    let val_bufs = match values {
        Some(v) => Some([v.clone(), s.buffer(bytes)?, s.buffer(bytes)?]),
        None => None,
    };
    let level_bufs: Vec<wgpu::Buffer> = levels
        .iter()
        .map(|&l| s.buffer(l * 4))
        .collect::<Result<_>>()?;
    let counts = Bind::whole(&level_bufs[0]);

    let histogram = gpu.pipeline(&SORT_RADIX, "histogram", T::SCALAR)?;
    let scatter = gpu.pipeline(&SORT_RADIX, "scatter", T::SCALAR)?;
    let scan_reduce = gpu.pipeline(&SORT_SCAN, "scan_reduce", ScalarType::U32)?;
    let scan_block = gpu.pipeline(&SORT_SCAN, "scan_block", ScalarType::U32)?;
    let has_values = values.is_some() as u32;
    let radix = |pass: u32, (start, len): (usize, usize), (dst_base, dst_len): (usize, usize)| {
        RadixParams {
            n: len as u32,
            groups: (len as u64).div_ceil(tile) as u32,
            group_offset: (start as u64 / tile) as u32,
            total_groups: tiles as u32,
            shift: pass * 8,
            dst_base: dst_base as u32,
            dst_len: dst_len as u32,
            has_values,
            rounds: rounds as u32,
            pad0: 0,
            pad1: 0,
            pad2: 0,
        }
    };
    let scan = |len: u64, use_sums: bool| SortScanParams {
        n: len as u32,
        groups: len.div_ceil(BLOCK) as u32,
        use_sums: use_sums as u32,
        pad: 0,
    };

    let mut src = 0usize;
    for pass in 0..passes {
        let dst = if src == 1 { 2 } else { 1 };
        for &w in &windows {
            let slots = [
                Bind::elems(&key_bufs[src], w, 4),
                Bind::Unused,
                counts.clone(),
                Bind::UnusedWritable,
                Bind::UnusedWritable,
            ];
            let groups = (w.1 as u64).div_ceil(tile);
            s.kernel(&histogram, &radix(pass, w, (0, 0)), slots, groups);
        }
        for (l, &len) in levels.iter().enumerate().take(levels.len() - 1) {
            let slots = [Bind::whole(&level_bufs[l]), Bind::whole(&level_bufs[l + 1])];
            s.kernel(&scan_reduce, &scan(len, false), slots, len.div_ceil(BLOCK));
        }
        for (l, &len) in levels.iter().enumerate().rev() {
            let use_sums = l + 1 < levels.len();
            let sums = match use_sums {
                true => Bind::whole(&level_bufs[l + 1]),
                false => Bind::UnusedWritable,
            };
            let slots = [Bind::whole(&level_bufs[l]), sums];
            s.kernel(
                &scan_block,
                &scan(len, use_sums),
                slots,
                len.div_ceil(BLOCK),
            );
        }
        for &w in &windows {
            for &dw in &windows {
                let (vin, vout) = match &val_bufs {
                    Some(v) => (Bind::elems(&v[src], w, 4), Bind::elems(&v[dst], dw, 4)),
                    None => (Bind::Unused, Bind::UnusedWritable),
                };
                let slots = [
                    Bind::elems(&key_bufs[src], w, 4),
                    vin,
                    counts.clone(),
                    Bind::elems(&key_bufs[dst], dw, 4),
                    vout,
                ];
                let groups = (w.1 as u64).div_ceil(tile);
                s.kernel(&scatter, &radix(pass, w, dw), slots, groups);
            }
        }
        src = dst;
    }
    s.submit()?;
    let [_, a, b] = key_bufs;
    let out_keys = if src == 1 { a } else { b };
    let out_vals = val_bufs.map(|[_, a, b]| if src == 1 { a } else { b });
    Ok((out_keys, out_vals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuOptions;

    /// Tiles of 256 keys make more than 65,535 workgroups from 2^24 + 300 keys,
    /// so the histogram and scatter grids fold into 2-D. One pass (the low digit)
    /// keeps it cheap on a software adapter; it must be a stable sort by that digit.
    #[test]
    fn more_than_65535_workgroups_fold_and_sort() {
        let gpu = match GpuBackend::open(&GpuOptions::default()) {
            Ok(g) => g,
            Err(e) => {
                assert_ne!(
                    std::env::var("TANDEM_REQUIRE_GPU").as_deref(),
                    Ok("1"),
                    "TANDEM_REQUIRE_GPU=1 but no GPU: {e}"
                );
                eprintln!("GPU test skipped: {e}");
                return;
            }
        };
        let n = 65_536 * 256 + 300;
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let keys: Vec<u32> = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 32) as u32
            })
            .collect();
        let vals: Vec<u32> = (0..n as u32).collect();
        let op = "sort test";
        let kb = gpu.create_storage(op, n as u64 * 4).unwrap();
        let vb = gpu.create_storage(op, n as u64 * 4).unwrap();
        gpu.write(op, &kb, &keys).unwrap();
        gpu.write(op, &vb, &vals).unwrap();
        let (k, v) = sort_tiled::<u32>(&gpu, op, &kb, Some(&vb), n, 1, 1).unwrap();
        let got_k = gpu.read::<u32>(op, &k, 0, n).unwrap();
        let got_v = gpu.read::<u32>(op, &v.unwrap(), 0, n).unwrap();
        let mut want: Vec<(u32, u32)> = keys.iter().copied().zip(vals).collect();
        want.sort_by_key(|&(k, _)| k & 0xff);
        assert!(
            got_k
                .iter()
                .zip(&got_v)
                .eq(want.iter().map(|(k, v)| (k, v))),
            "not a stable sort by the low digit"
        );
    }

    #[test]
    fn scan_levels_end_in_one_block() {
        assert_eq!(scan_levels(1), vec![1]);
        assert_eq!(scan_levels(2048), vec![2048]);
        assert_eq!(scan_levels(2049), vec![2049, 2]);
        assert_eq!(scan_levels(256 * 8192), vec![256 * 8192, 1024]);
        assert_eq!(scan_levels(1 << 23), vec![1 << 23, 4096, 2]);
    }
}
