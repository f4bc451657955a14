//! Uniform buffers, kept for reuse: every submission packs its parameter
//! blocks into one uniform buffer (see `super::stream::encode`), and a loop of
//! synchronous ops made one per call.
//!
//! Why reuse is safe: a uniform buffer is taken while a submission is
//! encoded, written with `Queue::write_buffer`, and given back only after that
//! submission went to the queue. The next user's write runs at its own
//! submission, which the queue orders after every earlier one, so no command
//! that read the old blocks can see the new ones. (Output buffers are
//! different: they are taken while an op records, before earlier recorded
//! commands are submitted, so they are never written that way, see `pool`.)
//! Buffers come in power-of-two sizes from [`MIN_BYTES`]; at most [`KEEP`]
//! idle ones are kept per device.

use std::sync::Mutex;

use super::GpuBackend;
use crate::error::Result;

/// The smallest uniform buffer made: one block at the usual 256-byte offset alignment.
const MIN_BYTES: u64 = 256;
/// Idle uniform buffers kept per device: submissions encode one at a time,
/// but their sizes vary with what they carry.
const KEEP: usize = 8;

/// A device's idle uniform buffers.
#[derive(Default)]
pub(crate) struct UniformPool {
    idle: Mutex<Vec<wgpu::Buffer>>,
}

impl UniformPool {
    /// An idle buffer of at least `bytes` bytes, the smallest that fits.
    fn take(&self, bytes: u64) -> Option<wgpu::Buffer> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let best = idle
            .iter()
            .enumerate()
            .filter(|(_, b)| b.size() >= bytes)
            .min_by_key(|(_, b)| b.size())
            .map(|(i, _)| i)?;
        Some(idle.swap_remove(best))
    }

    /// Keeps `buffer` for a later submission; past [`KEEP`] the smallest goes.
    pub fn give(&self, buffer: wgpu::Buffer) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.push(buffer);
        if idle.len() > KEEP {
            let smallest = (0..idle.len()).min_by_key(|&i| idle[i].size());
            if let Some(i) = smallest {
                idle.swap_remove(i);
            }
        }
    }

    /// Frees every idle buffer.
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// The size of uniform buffer made for `bytes` bytes of blocks.
fn size_class(bytes: u64) -> u64 {
    bytes.max(MIN_BYTES).next_power_of_two()
}

impl GpuBackend {
    /// A uniform buffer holding `blocks`, each at its own aligned offset;
    /// returns the buffer and the stride between blocks. The buffer may be
    /// reused: give it back (`self.uniforms.give`) once the submission that
    /// binds it went to the queue.
    pub fn create_uniforms(
        &self,
        op: &'static str,
        blocks: &[impl AsRef<[u8]>],
    ) -> Result<(wgpu::Buffer, u64)> {
        let align = self.limits.min_uniform_buffer_offset_alignment.max(16) as u64;
        let block = blocks
            .iter()
            .map(|b| b.as_ref().len() as u64)
            .max()
            .unwrap_or(16)
            .max(16);
        let stride = block.next_multiple_of(align);
        let mut bytes = vec![0u8; (stride * blocks.len().max(1) as u64) as usize];
        for (i, b) in blocks.iter().enumerate() {
            let at = i * stride as usize;
            let b = b.as_ref();
            bytes[at..at + b.len()].copy_from_slice(b);
        }
        let size = size_class(bytes.len() as u64);
        let buf = self.scoped(op, || {
            let buf = match self.uniforms.take(size) {
                Some(b) => b,
                None => self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("tandem uniforms"),
                    size,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
            };
            self.queue.write_buffer(&buf, 0, &bytes);
            Ok(buf)
        })?;
        Ok((buf, stride))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_from_the_smallest() {
        assert_eq!(size_class(1), MIN_BYTES);
        assert_eq!(size_class(256), 256);
        assert_eq!(size_class(257), 512);
        assert_eq!(size_class(65_536), 65_536);
    }
}
