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
use crate::gpu::pool::Output;
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
    /// Set when `buffer` came from the device's output pool: it goes back
    /// there when the last copy holding the lease is dropped.
    lease: Option<Output>,
}

impl DeviceCopy {
    /// `buffer`, on `gpu`: a buffer no other copy holds, or the buffer of the
    /// copy it replaces (see [`Buffer::replace_device`]).
    pub fn new(gpu: &Arc<GpuBackend>, buffer: wgpu::Buffer) -> Self {
        DeviceCopy {
            buffer,
            gpu: gpu.clone(),
            lease: None,
        }
    }

    /// A pooled output buffer, on `gpu`.
    pub fn output(gpu: &Arc<GpuBackend>, out: Output) -> Self {
        DeviceCopy {
            buffer: (*out).clone(),
            gpu: gpu.clone(),
            lease: Some(out),
        }
    }
}

struct State<T> {
    host: Option<Arc<Vec<T>>>,
    device: Option<DeviceCopy>,
    /// Set when the deferred op that was to produce the contents failed and
    /// could not re-run on the CPU: every read returns this error.
    failed: Option<Error>,
    /// Set while a failed deferred batch re-runs the op that produces the
    /// contents on the CPU: reads wait for it.
    recovering: bool,
    /// Counts in-place overwrites (`replace_host`, `replace_device`), so that a
    /// deferred op's re-run never reads contents written after the op.
    version: u64,
}

impl<T> State<T> {
    fn new(host: Option<Arc<Vec<T>>>, device: Option<DeviceCopy>) -> Self {
        State {
            host,
            device,
            failed: None,
            recovering: false,
            version: 0,
        }
    }
}

/// One logical array of `T`, shared by the CPU and GPU sides.
///
/// Create one with [`crate::Context::upload`], [`crate::Context::from_vec`] or
/// [`crate::Context::zeros`]; read it with [`Buffer::to_vec`].
pub struct Buffer<T: Element> {
    len: usize,
    /// Shared with the entries of deferred ops that read or write it (see
    /// `crate::gpu::deferred`), which keep it alive until their batch completes.
    state: Arc<Mutex<State<T>>>,
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
            state: Arc::new(Mutex::new(State::new(Some(Arc::new(v)), None))),
        }
    }

    /// A buffer of `len` elements whose only copy is the pooled `out` on `gpu`.
    pub(crate) fn device_output(gpu: &Arc<GpuBackend>, len: usize, out: Output) -> Self {
        Self::from_device(len, DeviceCopy::output(gpu, out))
    }

    /// A buffer of `len` elements whose only copy is `buffer` on `gpu`.
    pub(crate) fn device_only(gpu: &Arc<GpuBackend>, len: usize, buffer: wgpu::Buffer) -> Self {
        Self::from_device(len, DeviceCopy::new(gpu, buffer))
    }

    pub(crate) fn from_device(len: usize, copy: DeviceCopy) -> Self {
        Buffer {
            len,
            state: Arc::new(Mutex::new(State::new(None, Some(copy)))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding this lock cannot leave the state half-written
        // (every update is a single assignment), so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state once no CPU re-run of a failed batch is filling it in (a
    /// re-run is CPU work that always ends, in fill or fail).
    fn settled(&self) -> MutexGuard<'_, State<T>> {
        loop {
            let s = self.lock();
            if !s.recovering {
                return s;
            }
            drop(s);
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
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
            let s = self.settled();
            if let Some(h) = &s.host {
                return Ok(h.clone());
            }
            if let Some(e) = &s.failed {
                return Err(e.clone());
            }
            s.device.clone()
        };
        let Some(copy) = device else {
            // Only an empty buffer can have neither copy.
            return Ok(Arc::new(Vec::new()));
        };
        let read = copy.gpu.read::<T>("readback", &copy.buffer, 0, self.len);
        let v = match read {
            Ok(v) => Arc::new(v),
            Err(e) => {
                // A failed deferred batch re-runs on the CPU before the error
                // returns: the contents may be on the host now.
                let s = self.settled();
                return match (&s.host, &s.failed) {
                    (Some(h), _) => Ok(h.clone()),
                    (None, Some(f)) => Err(f.clone()),
                    (None, None) => Err(e),
                };
            }
        };
        // The batch that was to write the device copy may have failed while
        // the read was under way (it is marked before any later submission):
        // then what was read is not the contents.
        let mut s = self.settled();
        match (&s.host, &s.failed) {
            (Some(h), _) => Ok(h.clone()),
            (None, Some(f)) => Err(f.clone()),
            (None, None) if s.device.is_none() => Err(Error::Gpu {
                op: "readback",
                message: "the device copy was dropped while it was read back".into(),
            }),
            (None, None) => {
                s.host = Some(v.clone());
                Ok(v)
            }
        }
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
            let s = self.settled();
            if let Some(e) = &s.failed {
                return Err(e.clone());
            }
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
        // The upload writes the whole buffer (an empty one is never bound).
        let out = gpu.take_output(op, bytes)?;
        gpu.write(op, &out, &host)?;
        let buffer = (*out).clone();
        let mut s = self.lock();
        // Another thread uploaded meanwhile: its copy may be bound by its op
        // already, so it stays; ours, used by nobody, goes back to the pool.
        if let Some(d) = &s.device {
            if d.gpu.id == gpu.id {
                return Ok(d.buffer.clone());
            }
            // A copy on another device, replaced under `&self`: an op on that
            // device may be recording with it now, so it must not be reused.
            if let Some(lease) = &d.lease {
                lease.retire();
            }
        }
        s.device = Some(DeviceCopy::output(gpu, out));
        Ok(buffer)
    }

    /// Replaces the contents with a host vector of the same length.
    pub(crate) fn replace_host(&mut self, v: Vec<T>) {
        debug_assert_eq!(v.len(), self.len);
        let old = {
            let mut s = self.lock();
            s.device = None;
            s.failed = None;
            s.version += 1;
            s.host.replace(Arc::new(v))
        };
        pool_host(old);
    }

    /// Replaces the contents with a device copy; the host copy becomes stale and
    /// is dropped. A copy of the buffer the old copy held (an op that wrote it in
    /// place) keeps the old copy's pool lease, so the buffer is not given back
    /// to the pool while this one still uses it.
    pub(crate) fn replace_device(&mut self, mut copy: DeviceCopy) {
        let old = {
            let mut s = self.lock();
            if let Some(d) = s.device.take() {
                if copy.lease.is_none() && d.buffer == copy.buffer {
                    copy.lease = d.lease;
                }
            }
            s.device = Some(copy);
            s.failed = None;
            s.version += 1;
            s.host.take()
        };
        pool_host(old);
    }

    /// Another handle to this buffer's contents, for a deferred op's CPU
    /// re-run: it reads what this buffer holds when the re-run happens.
    pub(crate) fn share(&self) -> Shared<T> {
        let version = self.lock().version;
        Shared(
            Buffer {
                len: self.len,
                state: self.state.clone(),
            },
            version,
        )
    }

    /// Where a deferred op that produces this buffer fills in or fails the
    /// contents later; does not keep the buffer alive.
    pub(crate) fn slot(&self) -> BufferSlot<T> {
        BufferSlot(Arc::downgrade(&self.state))
    }

    /// Checks that the device copy, if any, is not on a lost GPU with no host copy.
    pub(crate) fn check_recoverable(&self) -> Result<()> {
        let s = self.settled();
        if let (None, Some(e)) = (&s.host, &s.failed) {
            return Err(e.clone());
        }
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
        // The last handle gives the host copy to the pool; a deferred op's
        // re-run may still hold another.
        if let Some(m) = Arc::get_mut(&mut self.state) {
            let s = m.get_mut().unwrap_or_else(|p| p.into_inner());
            pool_host(s.host.take());
        }
    }
}

/// A second handle to a buffer's contents as they were when it was made (see
/// [`Buffer::share`]); cloning it shares them too.
pub(crate) struct Shared<T: Element>(Buffer<T>, u64);

impl<T: Element> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(
            Buffer {
                len: self.0.len,
                state: self.0.state.clone(),
            },
            self.1,
        )
    }
}

impl<T: Element> Shared<T> {
    /// The host copy (read back if needed), as [`Buffer::host`]; an error if
    /// the buffer was overwritten in place since the handle was made.
    pub fn host(&self) -> Result<Arc<Vec<T>>> {
        let h = self.0.host()?;
        if self.0.lock().version != self.1 {
            return Err(Error::InvalidArgument {
                op: "deferred re-run",
                message:
                    "an input of a deferred op that failed on the GPU was overwritten in place \
                          (fill, scatter or a WGSL kernel's output) before the op could re-run on \
                          the CPU; call Context::synchronize before overwriting buffers that \
                          pending ops read"
                        .into(),
            });
        }
        Ok(h)
    }
}

/// A deferred op's output, seen from its batch (see [`Buffer::slot`]).
pub(crate) struct BufferSlot<T>(std::sync::Weak<Mutex<State<T>>>);

impl<T: Element> BufferSlot<T> {
    /// Gives the buffer the contents of `fresh` (the op re-run on the CPU).
    pub fn fill(&self, fresh: Buffer<T>) -> Result<()> {
        let host = fresh.host()?;
        if let Some(state) = self.0.upgrade() {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.host = Some(host);
            s.device = None;
            s.failed = None;
            s.recovering = false;
        }
        Ok(())
    }

    /// Marks the contents as being re-run on the CPU: the device copy holds
    /// nothing, and reads wait for [`BufferSlot::fill`] or [`BufferSlot::fail`].
    pub fn hold(&self) {
        if let Some(state) = self.0.upgrade() {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.device = None;
            s.recovering = s.host.is_none();
        }
    }

    /// Marks the contents lost with `e`: the device copy holds nothing.
    pub fn fail(&self, e: &Error) {
        if let Some(state) = self.0.upgrade() {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.device = None;
            s.recovering = false;
            if s.host.is_none() {
                s.failed = Some(e.clone());
            }
        }
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
