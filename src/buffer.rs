//! `Buffer<T>`: one logical array with a host copy, a device copy, or both.
//!
//! Data moves only when a side needs a copy that is stale: an upload keeps the
//! host copy (so a lost device loses nothing the user gave), an op's output stays
//! on the side that produced it, and `to_vec` caches what it reads back.
//! Locks are held only to clone a handle, never while computing or waiting.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;

/// Where a buffer's valid copies live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residency {
    /// Only in host memory.
    Host,
    /// Only in GPU memory.
    Device,
    /// In both, and they agree.
    Both,
}

/// A buffer's copy on one device.
#[derive(Clone)]
pub(crate) struct DeviceCopy {
    pub buffer: wgpu::Buffer,
    pub gpu: Arc<GpuBackend>,
}

impl DeviceCopy {
    /// `buffer`, on `gpu`.
    pub fn new(gpu: &Arc<GpuBackend>, buffer: wgpu::Buffer) -> Self {
        DeviceCopy {
            buffer,
            gpu: gpu.clone(),
        }
    }
}

struct State<T> {
    host: Option<Arc<Vec<T>>>,
    device: Option<DeviceCopy>,
}

/// One logical array of `T`, shared by the CPU and GPU sides.
///
/// Create one with [`crate::Context::upload`], [`crate::Context::from_vec`] or
/// [`crate::Context::zeros`]; read it with [`Buffer::to_vec`].
pub struct Buffer<T: Element> {
    len: usize,
    state: Mutex<State<T>>,
}

impl<T: Element> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("type", &T::SCALAR.wgsl())
            .field("len", &self.len)
            .field("residency", &self.residency())
            .finish()
    }
}

impl<T: Element> Buffer<T> {
    pub(crate) fn from_host(v: Vec<T>) -> Self {
        Buffer {
            len: v.len(),
            state: Mutex::new(State {
                host: Some(Arc::new(v)),
                device: None,
            }),
        }
    }

    /// A buffer of `len` elements whose only copy is `buffer` on `gpu`.
    pub(crate) fn device_only(gpu: &Arc<GpuBackend>, len: usize, buffer: wgpu::Buffer) -> Self {
        Self::from_device(len, DeviceCopy::new(gpu, buffer))
    }

    pub(crate) fn from_device(len: usize, copy: DeviceCopy) -> Self {
        Buffer {
            len,
            state: Mutex::new(State {
                host: None,
                device: Some(copy),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state half-written
        // (every update is a single assignment), so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where the valid copies are now.
    pub fn residency(&self) -> Residency {
        let s = self.lock();
        match (&s.host, &s.device) {
            (Some(_), Some(_)) => Residency::Both,
            (None, Some(_)) => Residency::Device,
            _ => Residency::Host,
        }
    }

    /// The contents, copied to a new `Vec`; reads back from the GPU if needed
    /// and keeps the host copy for next time.
    ///
    /// # Errors
    /// [`Error::DeviceLost`] if the only copy was on a GPU that is gone;
    /// [`Error::Timeout`] or [`Error::Gpu`] if the readback fails.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        Ok(self.host()?.as_ref().clone())
    }

    /// The contents as a `Vec`, without a copy when this buffer holds the only
    /// host copy.
    ///
    /// # Errors
    /// As [`Buffer::to_vec`].
    pub fn into_vec(self) -> Result<Vec<T>> {
        let arc = self.host()?;
        drop(self);
        Ok(Arc::try_unwrap(arc).unwrap_or_else(|a| a.as_ref().clone()))
    }

    /// The host copy, reading it back from the device first if needed.
    pub(crate) fn host(&self) -> Result<Arc<Vec<T>>> {
        let device = {
            let s = self.lock();
            if let Some(h) = &s.host {
                return Ok(h.clone());
            }
            s.device.clone()
        };
        let Some(copy) = device else {
            // Only an empty buffer can have neither copy.
            return Ok(Arc::new(Vec::new()));
        };
        let v = Arc::new(copy.gpu.read::<T>("readback", &copy.buffer, 0, self.len)?);
        let mut s = self.lock();
        if s.host.is_none() {
            s.host = Some(v.clone());
        }
        Ok(v)
    }

    /// Whether a valid copy lives on the host, and on `gpu`; one lock.
    pub(crate) fn copies_on(&self, gpu: Option<&GpuBackend>) -> (bool, bool) {
        let s = self.lock();
        let device = match (gpu, &s.device) {
            (Some(g), Some(d)) => d.gpu.id == g.id,
            _ => false,
        };
        (s.host.is_some() || self.len == 0, device)
    }

    /// Frees the host copy when a device copy exists, to save host memory.
    /// Returns whether it did. The data then lives only on the GPU: a lost
    /// device loses it, and the CPU side must read it back first. By default
    /// tandem keeps the host copy of every buffer made from host data.
    ///
    /// # Errors
    /// None; the `Result` leaves room for devices that need a flush first.
    pub fn drop_host_copy(&self) -> Result<bool> {
        let mut s = self.lock();
        let alive = s.device.as_ref().is_some_and(|d| !d.gpu.is_lost());
        if alive && s.host.is_some() {
            let host = s.host.take();
            drop(s);
            pool_host(host);
            return Ok(true);
        }
        Ok(false)
    }

    /// True when a valid host copy exists.
    pub(crate) fn on_host(&self) -> bool {
        self.lock().host.is_some()
    }

    /// True when a valid copy lives on this GPU.
    pub(crate) fn on_device(&self, gpu: &GpuBackend) -> bool {
        self.lock()
            .device
            .as_ref()
            .is_some_and(|d| d.gpu.id == gpu.id)
    }

    /// The device copy on `gpu`, uploading the host copy if needed.
    pub(crate) fn device(&self, gpu: &Arc<GpuBackend>, op: &'static str) -> Result<wgpu::Buffer> {
        let host = {
            let s = self.lock();
            if let Some(d) = &s.device {
                if d.gpu.id == gpu.id {
                    return Ok(d.buffer.clone());
                }
            }
            s.host.clone()
        };
        let host = match host {
            Some(h) => h,
            None => self.host()?,
        };
        let bytes = std::mem::size_of_val(host.as_slice()) as u64;
        let buffer = gpu.create_storage(op, bytes)?;
        gpu.write(op, &buffer, &host)?;
        let mut s = self.lock();
        s.device = Some(DeviceCopy {
            buffer: buffer.clone(),
            gpu: gpu.clone(),
        });
        Ok(buffer)
    }

    /// Replaces the contents with a host vector of the same length.
    pub(crate) fn replace_host(&mut self, v: Vec<T>) {
        debug_assert_eq!(v.len(), self.len);
        let s = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        pool_host(s.host.replace(Arc::new(v)));
        s.device = None;
    }

    /// Replaces the contents with a device copy; the host copy becomes stale and is dropped.
    pub(crate) fn replace_device(&mut self, copy: DeviceCopy) {
        let s = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        pool_host(s.host.take());
        s.device = Some(copy);
    }

    /// Checks that the device copy, if any, is not on a lost GPU with no host copy.
    pub(crate) fn check_recoverable(&self) -> Result<()> {
        let s = self.lock();
        if s.host.is_none() {
            if let Some(d) = &s.device {
                d.gpu.check_alive()?;
            }
        }
        Ok(())
    }
}

/// Gives a host copy's memory to the host pool when nothing else shares it
/// (see [`crate::host_pool`]); a copy still shared elsewhere is freed as usual
/// by its last owner.
fn pool_host<T: Element>(host: Option<Arc<Vec<T>>>) {
    if let Some(v) = host.and_then(|h| Arc::try_unwrap(h).ok()) {
        crate::host_pool::give(v);
    }
}

impl<T: Element> Drop for Buffer<T> {
    fn drop(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        pool_host(s.host.take());
    }
}

impl<T: Element> Buffer<T> {
    /// Fails with [`Error::LengthMismatch`] unless `other` has this buffer's length.
    pub(crate) fn same_len<U: Element>(&self, other: &Buffer<U>, op: &'static str) -> Result<()> {
        if self.len != other.len {
            return Err(Error::LengthMismatch {
                op,
                expected: self.len,
                actual: other.len,
            });
        }
        Ok(())
    }
}
