//! The device output pool: storage buffers of dropped op outputs, kept for the
//! next output of the same size, as PyTorch's caching allocator does.
//!
//! A fresh wgpu buffer costs a creation inside error scopes and, before its
//! first use, a zero-fill of its whole size (wgpu cannot know that a shader will
//! write all of it). A loop that chains ops on device data makes a new output
//! per op, so it paid both on every call. A pooled buffer is already
//! initialised, so wgpu does not clear it again.
//!
//! Rules:
//! - **Only outputs that a kernel writes in full** take pooled buffers (see
//!   [`GpuBackend::take_output`]): a pooled buffer holds an earlier output's
//!   values, not zeros. Outputs that count into zeroed memory (histogram, the
//!   compaction counters) and every scratch buffer stay fresh.
//! - **A buffer returns when the last copy holding it is dropped**: the
//!   [`Output`] lease is shared by the clones of its `DeviceCopy`. By then
//!   every op that reads or writes it has recorded its commands and committed
//!   them in queue order (ops hold their inputs while they record; deferred
//!   entries hold them until their batch completes), so the next op to take it
//!   runs after them on the one queue. A copy made around the same buffer (an
//!   in-place op such as `fill` or `scatter`) inherits the lease (see
//!   `Buffer::replace_device`). The one copy dropped while an op may still
//!   hold its buffer, a copy on another device that an upload replaces under
//!   `&Buffer`, is retired: freed, never reused.
//! - **Written in queue order only**: by kernels and copies recorded after the
//!   take, never by `Queue::write_buffer`, which runs before the commands
//!   still waiting in the open batch, some of which may read the old contents.
//!   Uploads write through a staging copy in their own submission, after the
//!   open batch, so they take pooled buffers too.
//! - **Exact sizes**: a buffer is handed out only for a request of its exact
//!   size, so bindings and `arrayLength` see what a fresh buffer gives.
//! - **Bounded**: at most [`DEFAULT_LIMIT_BYTES`] of idle buffers per device
//!   (`ContextBuilder::device_pool_bytes`; 0 turns the pool off), the ones
//!   returned longest ago freed first; `Context::release_device_memory` frees
//!   them all, and so does an allocation that fails for lack of memory before
//!   it retries once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::GpuBackend;
use crate::error::{Error, Result};

/// The default bound on the idle bytes kept per device: 256 MiB, four outputs
/// of 2^24 f32 elements.
pub const DEFAULT_LIMIT_BYTES: u64 = 256 << 20;
/// The most idle buffers kept (a bound on the search, whatever their sizes).
const MAX_BUFFERS: usize = 64;

/// What a device's output pool holds and has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevicePoolStats {
    /// The bound on idle bytes held.
    pub limit_bytes: u64,
    /// Idle bytes held now, ready for reuse.
    pub held_bytes: u64,
    /// Idle buffers held now.
    pub held_buffers: usize,
    /// Outputs that took a pooled buffer (no creation, no zero-fill).
    pub reused: u64,
    /// Outputs that found no buffer of their size and were created fresh.
    pub created: u64,
    /// Buffers given back by dropped outputs.
    pub returned: u64,
    /// Buffers freed: evicted by the bound, released on request or for memory.
    pub freed: u64,
}

#[derive(Default)]
struct Idle {
    buffers: VecDeque<wgpu::Buffer>,
    bytes: u64,
}

/// One device's idle output buffers.
pub(crate) struct DevicePool {
    idle: Mutex<Idle>,
    limit: AtomicU64,
    reused: AtomicU64,
    created: AtomicU64,
    returned: AtomicU64,
    freed: AtomicU64,
}

impl DevicePool {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(DevicePool {
            idle: Mutex::new(Idle::default()),
            limit: AtomicU64::new(limit),
            reused: AtomicU64::new(0),
            created: AtomicU64::new(0),
            returned: AtomicU64::new(0),
            freed: AtomicU64::new(0),
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The lists stay consistent under a panic elsewhere: only push and pop.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle buffer of exactly `size` bytes, the one returned last (warmest).
    pub fn take(&self, size: u64) -> Option<wgpu::Buffer> {
        let mut idle = self.idle();
        let at = idle.buffers.iter().rposition(|b| b.size() == size)?;
        let b = idle.buffers.remove(at)?;
        idle.bytes -= size;
        drop(idle);
        self.reused.fetch_add(1, Ordering::Relaxed);
        Some(b)
    }

    /// Counts an output created fresh.
    pub fn count_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps `b` for reuse, then frees the oldest idle buffers past the bound.
    fn give(&self, b: wgpu::Buffer) {
        let limit = self.limit.load(Ordering::Relaxed);
        self.returned.fetch_add(1, Ordering::Relaxed);
        if b.size() > limit {
            self.freed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let evicted = {
            let mut idle = self.idle();
            idle.bytes += b.size();
            idle.buffers.push_back(b);
            let mut evicted = Vec::new();
            while idle.bytes > limit || idle.buffers.len() > MAX_BUFFERS {
                let Some(old) = idle.buffers.pop_front() else {
                    break;
                };
                idle.bytes -= old.size();
                evicted.push(old);
            }
            evicted
        };
        self.freed
            .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        // Dropped outside the lock: wgpu frees them once the GPU is done.
        drop(evicted);
    }

    /// Frees every idle buffer; returns the bytes freed.
    pub fn release(&self) -> u64 {
        let all = std::mem::take(&mut *self.idle());
        self.freed
            .fetch_add(all.buffers.len() as u64, Ordering::Relaxed);
        all.bytes
    }

    pub fn stats(&self) -> DevicePoolStats {
        let idle = self.idle();
        DevicePoolStats {
            limit_bytes: self.limit.load(Ordering::Relaxed),
            held_bytes: idle.bytes,
            held_buffers: idle.buffers.len(),
            reused: self.reused.load(Ordering::Relaxed),
            created: self.created.load(Ordering::Relaxed),
            returned: self.returned.load(Ordering::Relaxed),
            freed: self.freed.load(Ordering::Relaxed),
        }
    }
}

impl GpuBackend {
    /// A buffer for an op output of `bytes` bytes that the op's kernels write
    /// in full before anything reads it: an idle one of the same size from the
    /// device's pool (holding an earlier output's values), else a fresh one.
    /// See the module docs for why reuse is safe.
    pub fn take_output(&self, op: &'static str, bytes: u64) -> Result<Output> {
        let size = bytes.max(4).next_multiple_of(4);
        if let Some(b) = self.outputs.take(size) {
            return Ok(Output::new(b, &self.outputs));
        }
        let b = match self.create_storage(op, size) {
            Err(Error::OutOfMemory { .. }) if self.outputs.release() > 0 => {
                self.poll_once(); // lets wgpu free what was released
                self.create_storage(op, size)?
            }
            r => r?,
        };
        self.outputs.count_created();
        Ok(Output::new(b, &self.outputs))
    }
}

struct Lease {
    buffer: wgpu::Buffer,
    pool: Arc<DevicePool>,
    /// Set by [`Output::retire`]: the buffer is freed, not given back.
    retired: AtomicBool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.retired.load(Ordering::Acquire) {
            self.pool.give(self.buffer.clone());
        }
    }
}

/// A device buffer for an op output that a kernel writes in full; its memory
/// goes back to the device's pool when the last clone is dropped. Hold it (not
/// just the `wgpu::Buffer` it derefs to) for as long as the buffer is used.
#[derive(Clone)]
pub(crate) struct Output(Arc<Lease>);

impl Output {
    pub fn new(buffer: wgpu::Buffer, pool: &Arc<DevicePool>) -> Self {
        Output(Arc::new(Lease {
            buffer,
            pool: pool.clone(),
            retired: AtomicBool::new(false),
        }))
    }

    /// The buffer is never given back to the pool: for a copy dropped while
    /// an op may still be recording with the buffer (see `Buffer::device`).
    pub fn retire(&self) {
        self.0.retired.store(true, Ordering::Release);
    }
}

impl std::ops::Deref for Output {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        &self.0.buffer
    }
}
