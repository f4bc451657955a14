//! A slice of a device buffer: one buffer-to-buffer copy on the GPU
//! (one [`Stream`], one submission), no shader.

use std::sync::Arc;

use crate::error::Result;
use crate::gpu::stream::Stream;
use crate::gpu::GpuBackend;

/// Bytes `[offset, offset + bytes)` of `src` (both multiples of 4, `bytes >= 4`)
/// copied into a new device buffer.
pub(crate) fn copy_range(
    gpu: &Arc<GpuBackend>,
    src: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
) -> Result<wgpu::Buffer> {
    let mut s = Stream::new(gpu, "slice");
    let dst = s.buffer(bytes)?;
    s.copy(src, offset, &dst, 0, bytes);
    s.submit()?;
    Ok(dst)
}
