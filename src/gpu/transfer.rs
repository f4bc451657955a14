//! Host <-> device transfers through a pool of reused staging buffers.
//!
//! Large transfers stream through staging buffers of at most [`STAGING_CHUNK`]
//! bytes, so a transfer never needs a second copy of the whole array. Readback
//! copies bytes into a `Vec<T>` that is aligned for `T`; the mapped range is never
//! reinterpreted in place, so its alignment does not matter.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::stream::Command;
use super::GpuBackend;
use crate::error::{Error, Result};

/// The largest staging buffer; bigger transfers are streamed in chunks of this size.
pub(crate) const STAGING_CHUNK: u64 = 64 << 20;
/// The smallest staging buffer, so that small transfers share one.
const STAGING_MIN: u64 = 1 << 16;
/// Staging buffers kept per direction.
const POOL_KEEP: usize = 4;

/// Free staging buffers, one list per direction.
#[derive(Default)]
pub(crate) struct StagingPool {
    read: Mutex<Vec<wgpu::Buffer>>,
    write: Mutex<Vec<wgpu::Buffer>>,
}

impl StagingPool {
    /// Drops every pooled staging buffer, returning their memory to the driver.
    pub fn clear(&self) {
        for list in [&self.read, &self.write] {
            if let Ok(mut l) = list.lock() {
                l.clear();
            }
        }
    }
}

fn take(list: &Mutex<Vec<wgpu::Buffer>>, size: u64) -> Option<wgpu::Buffer> {
    let mut list = list.lock().ok()?;
    let pos = list.iter().position(|b| b.size() >= size)?;
    Some(list.swap_remove(pos))
}

fn give(list: &Mutex<Vec<wgpu::Buffer>>, buf: wgpu::Buffer) {
    if let Ok(mut list) = list.lock() {
        if list.len() < POOL_KEEP {
            list.push(buf);
        } else if let Some(smallest) = list
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| b.size())
            .map(|(i, _)| i)
        {
            if list[smallest].size() < buf.size() {
                list[smallest] = buf;
            }
        }
    }
}

/// Copies the first `dst.len()` bytes of the mapped range `..padded` of
/// `stage` into `dst`, then unmaps it.
fn copy_mapped(op: &'static str, stage: &wgpu::Buffer, padded: u64, dst: &mut [u8]) -> Result<()> {
    {
        let view = stage
            .slice(..padded)
            .get_mapped_range()
            .map_err(|e| Error::Gpu {
                op,
                message: format!("staging buffer not mapped: {e}"),
            })?;
        dst.copy_from_slice(&view[..dst.len()]);
    }
    stage.unmap();
    Ok(())
}

fn staging_size(bytes: u64) -> u64 {
    bytes.next_power_of_two().clamp(STAGING_MIN, STAGING_CHUNK)
}

impl GpuBackend {
    /// A new command encoder labelled with the op.
    pub(super) fn encoder(&self, op: &'static str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(op) })
    }

    /// A staging buffer of at least `size` bytes from the pool, or a new one.
    fn staging(&self, op: &'static str, size: u64, upload: bool) -> Result<wgpu::Buffer> {
        let (list, usage, label) = if upload {
            (
                &self.staging.write,
                wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
                "tandem staging (upload)",
            )
        } else {
            (
                &self.staging.read,
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                "tandem staging (readback)",
            )
        };
        match take(list, size) {
            Some(b) => Ok(b),
            None => self.scoped(op, || {
                self.count_one_off();
                Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage,
                    mapped_at_creation: false,
                }))
            }),
        }
    }

    /// Submits the open batch, `commands` and a copy of `len` elements of
    /// `src` (from byte `offset`) into a staging buffer as one submission,
    /// then maps it: one submission and one wait for a result that fits one
    /// staging buffer; larger reads submit first and stream through
    /// [`GpuBackend::read`].
    pub(crate) fn read_after<T: bytemuck::Pod + Default>(
        &self,
        op: &'static str,
        commands: Vec<Command>,
        src: &wgpu::Buffer,
        offset: u64,
        len: usize,
    ) -> Result<Vec<T>> {
        let _gate = self.gate(); // map, copy and unmap as one GL caller
        if let Err(e) = self.check_alive() {
            // What was recorded here can never run: re-run it (or fail it) now.
            self.recover_all(&e);
            return Err(e);
        }
        let total = (len * std::mem::size_of::<T>()) as u64;
        let padded = total.next_multiple_of(4);
        if total == 0 || padded > STAGING_CHUNK {
            if !commands.is_empty() || self.has_open_batch() {
                let index = self.submit_batch(op, commands)?;
                self.wait(op, Some(index))?;
            }
            return self.read_chunks(op, src, offset, len);
        }
        let stage = self.staging(op, staging_size(padded), false)?;
        let mut commands = commands;
        commands.push(Command::copy(src, offset, &stage, 0, padded));
        let index = self.submit_batch(op, commands)?;
        let mut out = vec![T::default(); len];
        self.map_and_wait(op, &stage, wgpu::MapMode::Read, padded, Some(index))?;
        copy_mapped(op, &stage, padded, bytemuck::cast_slice_mut(&mut out))?;
        give(&self.staging.read, stage);
        Ok(out)
    }

    fn map_and_wait(
        &self,
        op: &'static str,
        buf: &wgpu::Buffer,
        mode: wgpu::MapMode,
        len: u64,
        index: Option<wgpu::SubmissionIndex>,
    ) -> Result<()> {
        let (tx, rx) = mpsc::channel();
        self.scoped(op, || {
            buf.slice(..len).map_async(mode, move |r| {
                let _ = tx.send(r);
            });
            Ok(())
        })?;
        self.wait(op, index)?;
        // Another thread's poll may be the one that runs our callback: wait for
        // it on the channel, polling, until the deadline.
        let deadline = Instant::now() + self.timeout;
        loop {
            match rx.recv_timeout(Duration::from_millis(1)) {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => {
                    self.check_alive()?;
                    return Err(Error::Gpu {
                        op,
                        message: format!("mapping a staging buffer failed: {e}"),
                    });
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.check_alive()?;
                    return Err(Error::Gpu {
                        op,
                        message: "a staging-buffer mapping was dropped".into(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            self.check_alive()?;
            if Instant::now() > deadline {
                self.abandon(op);
                return Err(Error::Timeout {
                    op,
                    after: self.timeout,
                });
            }
            self.poll_once();
        }
    }

    /// Copies `data` into `dst` at byte 0.
    pub fn write<T: bytemuck::Pod>(
        &self,
        op: &'static str,
        dst: &wgpu::Buffer,
        data: &[T],
    ) -> Result<()> {
        let _gate = self.gate(); // map, copy and unmap as one GL caller
        let bytes: &[u8] = bytemuck::cast_slice(data);
        // Buffer sizes are rounded up to 4 bytes; copies must be too.
        let total = bytes.len() as u64;
        if total == 0 {
            return Ok(());
        }
        let stage_size = staging_size(total.next_multiple_of(4));
        let stage = self.staging(op, stage_size, true)?;
        let mut offset = 0u64;
        while offset < total {
            let len = (total - offset).min(stage.size());
            let padded = len.next_multiple_of(4);
            self.map_and_wait(op, &stage, wgpu::MapMode::Write, padded, None)?;
            {
                let mut view =
                    stage
                        .slice(..padded)
                        .get_mapped_range_mut()
                        .map_err(|e| Error::Gpu {
                            op,
                            message: format!("staging buffer not mapped: {e}"),
                        })?;
                let src = &bytes[offset as usize..(offset + len) as usize];
                view.slice(..len as usize).copy_from_slice(src);
                if padded > len {
                    view.slice(len as usize..padded as usize)
                        .copy_from_slice(&[0u8; 4][..(padded - len) as usize]);
                }
            }
            stage.unmap();
            self.submit_and_wait(op, vec![Command::copy(&stage, 0, dst, offset, padded)])?;
            offset += len;
        }
        give(&self.staging.write, stage);
        Ok(())
    }

    /// Reads `len` elements of `T` from `src`, starting at byte `offset`,
    /// after the open batch: one submission and one wait up to one staging
    /// buffer's size.
    pub fn read<T: bytemuck::Pod + Default>(
        &self,
        op: &'static str,
        src: &wgpu::Buffer,
        offset: u64,
        len: usize,
    ) -> Result<Vec<T>> {
        self.read_after(op, Vec::new(), src, offset, len)
    }

    /// Reads through the staging buffer chunk by chunk (the open batch is
    /// submitted first by the first chunk's copy).
    fn read_chunks<T: bytemuck::Pod + Default>(
        &self,
        op: &'static str,
        src: &wgpu::Buffer,
        offset: u64,
        len: usize,
    ) -> Result<Vec<T>> {
        let _gate = self.gate(); // map, copy and unmap as one GL caller
        let mut out = vec![T::default(); len];
        let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
        let total = dst.len() as u64;
        if total == 0 {
            return Ok(out);
        }
        let stage_size = staging_size(total.next_multiple_of(4));
        let stage = self.staging(op, stage_size, false)?;
        let mut done = 0u64;
        while done < total {
            let len = (total - done).min(stage.size());
            let padded = len.next_multiple_of(4);
            let copy = Command::copy(src, offset + done, &stage, 0, padded);
            let index = self.submit_batch(op, vec![copy])?;
            self.map_and_wait(op, &stage, wgpu::MapMode::Read, padded, Some(index))?;
            copy_mapped(
                op,
                &stage,
                padded,
                &mut dst[done as usize..(done + len) as usize],
            )?;
            done += len;
        }
        give(&self.staging.read, stage);
        Ok(out)
    }
}
