//! Launch of the GPU radix sort: `shaders/sort_radix.wgsl` (histogram, scatter)
//! and `shaders/sort_scan.wgsl` (the scan of the digit counts).
//!
//! Four LSD passes of 8 bits; each pass is histogram -> scan -> scatter, and keys
//! (and values) ping-pong between two pairs of buffers, input -> A -> B -> A -> B,
//! so the user's buffers are never written. All passes of a sort go in one
//! submission. Grids past 65,535 workgroups are folded into 2-D.
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
use crate::gpu::shader::{Binding, KernelSpec, SCALARS_32, WORKGROUP_SIZE};
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
    params: crate::gpu::legacy::unported,
};

/// `shaders/sort_scan.wgsl`: exclusive scan of the digit counts (u32 only).
pub(crate) static SORT_SCAN: KernelSpec = KernelSpec {
    name: "sort_scan",
    source: include_str!("../../../shaders/sort_scan.wgsl"),
    entries: &["scan_reduce", "scan_block"],
    bindings: &[Binding::Uniform, Binding::ReadWrite, Binding::ReadWrite],
    scalars: &[ScalarType::U32],
    params: crate::gpu::legacy::unported,
};

// The shaders use one invocation per digit.
const _: () = assert!(WORKGROUP_SIZE == 256);

/// Rounds of 256 keys per scatter/histogram workgroup.
const ROUNDS: u64 = 16;
/// Elements per scan workgroup (`BLOCK` in the shader).
const BLOCK: u64 = 2048;
/// Digits per pass.
const RADIX: u64 = 256;
/// Bytes of the largest parameter block.
const PARAMS: u64 = 48;

fn block(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// One recorded dispatch, before bind groups exist.
enum Step {
    Histogram {
        src: usize,
        win: usize,
    },
    ScanReduce {
        level: usize,
    },
    ScanBlock {
        level: usize,
        use_sums: bool,
    },
    Scatter {
        src: usize,
        win: usize,
        dst: usize,
        dst_win: usize,
    },
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
    let windows: Vec<(u64, u64)> = (0..n64)
        .step_by(win as usize)
        .map(|s| (s, win.min(n64 - s)))
        .collect();
    let levels = scan_levels(counts_len);

    // Buffers: 0 = user keys, 1/2 = ping-pong keys; values likewise.
    let bytes = n64 * 4;
    let key_bufs = [
        keys.clone(),
        gpu.create_storage(op, bytes)?,
        gpu.create_storage(op, bytes)?,
    ];
    let val_bufs = match values {
        Some(v) => Some([
            v.clone(),
            gpu.create_storage(op, bytes)?,
            gpu.create_storage(op, bytes)?,
        ]),
        None => None,
    };
    let level_bufs: Vec<wgpu::Buffer> = levels
        .iter()
        .map(|&l| gpu.create_storage(op, l * 4))
        .collect::<Result<_>>()?;
    // Write-only slots a step does not use; distinct from every read binding.
    let spare = [gpu.create_storage(op, 16)?, gpu.create_storage(op, 16)?];

    // Plan every dispatch and its parameter block.
    let mut steps = Vec::new();
    let mut blocks = Vec::new();
    let has_values = values.is_some() as u32;
    let mut src = 0usize;
    for pass in 0..passes {
        let dst = if src == 1 { 2 } else { 1 };
        for (w, &(start, len)) in windows.iter().enumerate() {
            steps.push(Step::Histogram { src, win: w });
            blocks.push(block(&[
                len as u32,
                len.div_ceil(tile) as u32,
                (start / tile) as u32,
                tiles as u32,
                pass * 8,
                0,
                0,
                has_values,
                rounds as u32,
            ]));
        }
        for (l, &len) in levels.iter().enumerate().take(levels.len() - 1) {
            steps.push(Step::ScanReduce { level: l });
            blocks.push(block(&[len as u32, len.div_ceil(BLOCK) as u32, 0, 0]));
        }
        for (l, &len) in levels.iter().enumerate().rev() {
            let top = l + 1 == levels.len();
            steps.push(Step::ScanBlock {
                level: l,
                use_sums: !top,
            });
            blocks.push(block(&[
                len as u32,
                len.div_ceil(BLOCK) as u32,
                (!top) as u32,
                0,
            ]));
        }
        for (w, &(start, len)) in windows.iter().enumerate() {
            for (dw, &(dstart, dlen)) in windows.iter().enumerate() {
                steps.push(Step::Scatter {
                    src,
                    win: w,
                    dst,
                    dst_win: dw,
                });
                blocks.push(block(&[
                    len as u32,
                    len.div_ceil(tile) as u32,
                    (start / tile) as u32,
                    tiles as u32,
                    pass * 8,
                    dstart as u32,
                    dlen as u32,
                    has_values,
                    rounds as u32,
                ]));
            }
        }
        src = dst;
    }
    let result = src;

    let (hist_pl, radix_layout) = gpu.pipeline_pair(&SORT_RADIX, "histogram", T::SCALAR)?;
    let (scatter_pl, _) = gpu.pipeline_pair(&SORT_RADIX, "scatter", T::SCALAR)?;
    let (reduce_pl, scan_layout) = gpu.pipeline_pair(&SORT_SCAN, "scan_reduce", ScalarType::U32)?;
    let (block_pl, _) = gpu.pipeline_pair(&SORT_SCAN, "scan_block", ScalarType::U32)?;
    let (uniforms, stride) = gpu.create_uniforms(op, &blocks)?;
    let dummy = gpu.dummy();
    let window = |w: usize| (windows[w].0 * 4, windows[w].1 * 4);
    let counts = &level_bufs[0];

    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        for (i, step) in steps.iter().enumerate() {
            let u = (&uniforms, i as u64 * stride, PARAMS);
            match *step {
                Step::Histogram { src, win } => {
                    let (off, size) = window(win);
                    let bg = gpu.bind_group(
                        &radix_layout,
                        u,
                        &[
                            (&key_bufs[src], off, size),
                            (dummy, 0, dummy.size()),
                            (counts, 0, counts.size()),
                            (&spare[0], 0, spare[0].size()),
                            (&spare[1], 0, spare[1].size()),
                        ],
                    );
                    gpu.dispatch(&mut enc, &hist_pl, &bg, windows[win].1.div_ceil(tile))?;
                }
                Step::ScanReduce { level } => {
                    let (data, sums) = (&level_bufs[level], &level_bufs[level + 1]);
                    let bg = gpu.bind_group(
                        &scan_layout,
                        (&uniforms, i as u64 * stride, 16),
                        &[(data, 0, data.size()), (sums, 0, sums.size())],
                    );
                    gpu.dispatch(&mut enc, &reduce_pl, &bg, levels[level].div_ceil(BLOCK))?;
                }
                Step::ScanBlock { level, use_sums } => {
                    let data = &level_bufs[level];
                    let sums = if use_sums {
                        &level_bufs[level + 1]
                    } else {
                        &spare[0]
                    };
                    let bg = gpu.bind_group(
                        &scan_layout,
                        (&uniforms, i as u64 * stride, 16),
                        &[(data, 0, data.size()), (sums, 0, sums.size())],
                    );
                    gpu.dispatch(&mut enc, &block_pl, &bg, levels[level].div_ceil(BLOCK))?;
                }
                Step::Scatter {
                    src,
                    win,
                    dst,
                    dst_win,
                } => {
                    let (off, size) = window(win);
                    let (doff, dsize) = window(dst_win);
                    let (vin, vout) = match &val_bufs {
                        Some(v) => ((&v[src], off, size), (&v[dst], doff, dsize)),
                        None => ((dummy, 0, dummy.size()), (&spare[1], 0, spare[1].size())),
                    };
                    let bg = gpu.bind_group(
                        &radix_layout,
                        u,
                        &[
                            (&key_bufs[src], off, size),
                            vin,
                            (counts, 0, counts.size()),
                            (&key_bufs[dst], doff, dsize),
                            vout,
                        ],
                    );
                    gpu.dispatch(&mut enc, &scatter_pl, &bg, windows[win].1.div_ceil(tile))?;
                }
            }
        }
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    let [_, a, b] = key_bufs;
    let out_keys = if result == 1 { a } else { b };
    let out_vals = val_bufs.map(|[_, a, b]| if result == 1 { a } else { b });
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
