//! A slice of a device buffer: one buffer-to-buffer copy on the GPU, no shader.

use std::sync::Arc;

use crate::error::Result;
use crate::gpu::GpuBackend;

/// Bytes `[offset, offset + bytes)` of `src` (both multiples of 4, `bytes >= 4`)
/// copied into a new device buffer.
pub(crate) fn copy_range(
    gpu: &Arc<GpuBackend>,
    src: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
) -> Result<wgpu::Buffer> {
    let op = "slice";
    let dst = gpu.create_storage(op, bytes)?;
    let encoder = gpu.scoped(op, || {
        let mut enc = gpu.legacy_encoder();
        enc.copy_buffer_to_buffer(src, offset, &dst, 0, bytes);
        Ok(enc)
    })?;
    gpu.submit_and_wait(op, encoder)?;
    Ok(dst)
}
