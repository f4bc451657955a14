//! One caller at a time on a GL device.
//!
//! wgpu's GL backend has one GL context per device, behind a lock that wgpu-hal
//! takes for every call that touches GL (resource creation and destruction,
//! submit, the fence wait of a poll, map and unmap) and that it gives up on
//! after a few seconds with a panic ("Could not lock adapter context. This is
//! most-likely a deadlock.", `wgpu-hal/src/gles/egl.rs`, 6 s on EGL, 1 s on
//! WGL). Several threads driving one GL device through tandem queue on that
//! lock, and on a busy llvmpipe one of them waits past the limit. So on GL,
//! tandem serialises its own GPU work per device with this gate: a re-entrant
//! lock with no time limit, taken around each op's GPU part, every error scope
//! (which encloses resource creation, writes and submits), every poll, and every
//! transfer. Threads then wait here, not on wgpu's lock. Vulkan, Metal and DX12
//! have no such lock: there the gate is a no-op and threads run concurrently.
//!
//! What the gate cannot cover: wgpu objects dropped outside it (a buffer's last
//! clone, dropped by a user thread) still take wgpu's lock briefly, behind
//! whatever GL call the gate's holder is in. tandem keeps each of those calls
//! short (waits are polled in slices of [`GL_WAIT_SLICE`]); the one it cannot
//! shorten is a submit, which on llvmpipe runs the dispatches before it returns.
//!
//! Lock order: the gate comes before every other lock tandem holds across a
//! wgpu call (a backend's layout cache), and is never taken while a buffer's
//! state lock is held.

use std::time::{Duration, Instant};

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};

use super::GpuBackend;

/// The longest single fence wait on GL: wgpu-hal holds its context lock for
/// the whole wait, and clamps a wait to `u32::MAX` ns (about 4.3 s) anyway,
/// which would end a longer `gpu_timeout` early.
pub(crate) const GL_WAIT_SLICE: Duration = Duration::from_millis(100);

/// The gate of one device: a lock on GL, nothing elsewhere.
pub(crate) struct GlGate(Option<ReentrantMutex<()>>);

/// Held while a thread is inside the gate (re-entrant: nested holds are free).
pub(crate) struct GateGuard<'a>(#[allow(dead_code)] Option<ReentrantMutexGuard<'a, ()>>);

impl GlGate {
    /// A gate for a device on `backend`.
    pub(crate) fn new(backend: wgpu::Backend) -> Self {
        GlGate((backend == wgpu::Backend::Gl).then(|| ReentrantMutex::new(())))
    }

    /// True when this gate serialises (the device is on GL).
    pub(crate) fn serialises(&self) -> bool {
        self.0.is_some()
    }
}

impl GpuBackend {
    /// Enters this device's gate (a no-op off GL): hold the guard around GPU work.
    pub(crate) fn gate(&self) -> GateGuard<'_> {
        GateGuard(self.gate.0.as_ref().map(|m| m.lock()))
    }

    /// Runs `f` (an op's GPU part) inside the gate, so that the wgpu objects it
    /// drops on the way are dropped inside it too.
    pub(crate) fn in_gate<R>(&self, f: impl FnOnce() -> R) -> R {
        let _gate = self.gate();
        f()
    }

    /// Polls until `index` (or all work) is done or `timeout` has passed. On
    /// GL the wait is cut into slices of [`GL_WAIT_SLICE`] against one deadline,
    /// so that wgpu's context lock is never held long and the whole timeout is
    /// honoured (one GL wait stops at about 4.3 s).
    pub(crate) fn poll_until_done(
        &self,
        index: Option<wgpu::SubmissionIndex>,
        timeout: Duration,
    ) -> Result<(), wgpu::PollError> {
        let _gate = self.gate();
        if !self.gate.serialises() {
            return self
                .device
                .poll(wgpu::PollType::Wait {
                    submission_index: index,
                    timeout: Some(timeout),
                })
                .map(|_| ());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = self.device.poll(wgpu::PollType::Wait {
                submission_index: index.clone(),
                timeout: Some(left.min(GL_WAIT_SLICE)),
            });
            match r {
                Err(wgpu::PollError::Timeout) if !left.is_zero() && !self.is_lost() => {}
                r => return r.map(|_| ()),
            }
        }
    }

    /// A non-blocking poll, inside the gate.
    pub(crate) fn poll_once(&self) {
        let _gate = self.gate();
        let _ = self.device.poll(wgpu::PollType::Poll);
    }
}
