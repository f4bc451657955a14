//! [`ContextBuilder`]: a configured [`Context`].

use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use super::{Context, Policy, Shared};
use crate::dispatch::profile::{self, Profile};
use crate::dispatch::Dispatcher;
use crate::error::Result;
use crate::gpu::GpuOptions;

/// Where Auto's profile comes from.
#[derive(Debug, Clone, Default)]
pub(super) enum ProfileSource {
    /// The user's cache folder (the default).
    #[default]
    Cache,
    /// This one.
    Given(Box<Profile>),
    /// None: the built-in rules.
    Off,
}

/// Configures a [`Context`]. Start from [`Context::builder`].
#[derive(Debug, Clone, Default)]
pub struct ContextBuilder {
    policy: Option<Policy>,
    gpu: GpuOptions,
    crossover: Option<usize>,
    profile: ProfileSource,
    profile_dir: Option<std::path::PathBuf>,
    rebuild_after: Option<Duration>,
    host_pool_bytes: Option<usize>,
}

/// How long after a device loss the context first tries to open the GPU again.
const DEFAULT_REBUILD_AFTER: Duration = Duration::from_secs(1);

impl ContextBuilder {
    /// The policy. Without this call, `TANDEM_BACKEND` (auto|cpu|gpu|split) decides, else Auto.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Caps the storage-binding size tandem uses, below the device's own limit.
    /// Ops then bind larger buffers in windows of at most this many bytes.
    /// Values below 64 KiB are raised to 64 KiB (the kernels' own bindings need
    /// that much).
    pub fn storage_binding_limit(mut self, bytes: u64) -> Self {
        self.gpu.storage_binding_limit = Some(bytes);
        self
    }

    /// Caps the size of one GPU buffer, below the device's own limit. Larger
    /// data then stays on the CPU under Auto and is refused under Gpu.
    /// Values below 64 KiB are raised to 64 KiB.
    pub fn buffer_size_limit(mut self, bytes: u64) -> Self {
        self.gpu.buffer_size_limit = Some(bytes);
        self
    }

    /// How long to wait for one GPU submission before [`crate::Error::Timeout`] (default 60 s).
    ///
    /// Not honoured on wgpu's GL backend with llvmpipe: there the work runs
    /// inside `Queue::submit` (wgpu-hal replays the commands into GL, and
    /// llvmpipe's `glDispatchCompute` returns when the grid is done), so the call
    /// returns, with the result, only when the kernel ends; the wait that follows
    /// has nothing left to time out. With a GL driver that runs dispatches
    /// asynchronously, tandem waits on the fence in short slices against this
    /// timeout (untested here: llvmpipe is the only GL driver on CI).
    pub fn gpu_timeout(mut self, timeout: Duration) -> Self {
        self.gpu.timeout = Some(timeout);
        self
    }

    /// Opens the adapter at `index` in [`crate::list_adapters`]'s order (best
    /// first) instead of the best one, e.g. to give each GPU of a machine its
    /// own context. An index past the last adapter means no GPU.
    pub fn adapter_index(mut self, index: usize) -> Self {
        self.gpu.adapter_index = Some(index);
        self
    }

    /// Uses the plain kernels even where the adapter has subgroups.
    pub fn disable_subgroups(mut self) -> Self {
        self.gpu.disable_subgroups = true;
        self
    }

    /// Under Auto, run every op of at least `elems` elements on the GPU and
    /// smaller ones on the CPU, overriding the cost model.
    pub fn gpu_crossover(mut self, elems: usize) -> Self {
        self.crossover = Some(elems);
        self
    }

    /// Uses this profile instead of the one in the cache folder.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = ProfileSource::Given(Box::new(profile));
        self
    }

    /// Keeps profiles in `dir` instead of the cache folder: Auto loads this
    /// machine's profile from there, and [`Context::calibrate`] writes it there.
    pub fn profile_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.profile_dir = Some(dir.into());
        self
    }

    /// Uses no profile: Auto keeps its conservative built-in rules.
    pub fn without_profile(mut self) -> Self {
        self.profile = ProfileSource::Off;
        self
    }

    /// After a device loss, waits this long before opening the GPU again on a
    /// later call (default 1 s); calls in between run on the CPU under Auto.
    pub fn gpu_rebuild_after(mut self, wait: Duration) -> Self {
        self.rebuild_after = Some(wait);
        self
    }

    /// Bounds the idle host memory that tandem keeps for reuse by op outputs
    /// (default [`crate::host_pool::DEFAULT_LIMIT_BYTES`], 1 GiB; 0 turns the pool
    /// off). The pool is one per process, shared by every context: the bound
    /// applies to all of them, the last one set wins. See [`crate::host_pool`].
    pub fn host_pool_bytes(mut self, bytes: usize) -> Self {
        self.host_pool_bytes = Some(bytes);
        self
    }

    /// Bounds the idle GPU memory that the device keeps for reuse by op outputs
    /// (default 256 MiB; 0 turns the pool off). A dropped output's buffer is
    /// kept and handed to the next output of the same size, so a loop over
    /// device data neither creates buffers nor has wgpu zero-fill them; the
    /// buffers returned longest ago are freed past the bound, and all on
    /// [`Context::release_device_memory`] or when the device's memory runs out.
    pub fn device_pool_bytes(mut self, bytes: u64) -> Self {
        self.gpu.device_pool_bytes = Some(bytes);
        self
    }

    /// Whether deferred ops measure their GPU time with timestamp queries
    /// (`RunRecord::gpu_time`, and what Auto learns from a deferred run of a
    /// user kernel), where the device has `TIMESTAMP_QUERY`. Default: on for
    /// hardware GPUs, off for software adapters, where each timestamp stalls
    /// the pipeline (lavapipe: tens of microseconds per op).
    pub fn gpu_timestamps(mut self, on: bool) -> Self {
        self.gpu.timestamps = Some(on);
        self
    }

    /// Builds the context. With Auto, Gpu or Split it opens the best GPU adapter
    /// now, and with Auto or Split it loads this machine's profile.
    ///
    /// # Errors
    /// [`crate::Error::NoAdapter`] under `Policy::Gpu` when no adapter can be opened;
    /// [`crate::Error::InvalidArgument`] when `TANDEM_BACKEND` holds something else than auto, cpu, gpu or split.
    pub fn build(self) -> Result<Context> {
        let policy = match self.policy {
            Some(p) => p,
            None => match std::env::var("TANDEM_BACKEND") {
                Ok(v) => v.parse()?,
                Err(_) => Policy::Auto,
            },
        };
        if let Some(bytes) = self.host_pool_bytes {
            crate::host_pool::set_limit(bytes);
        }
        let ctx = Context {
            shared: Arc::new(Shared {
                _host_pool: crate::host_pool::ContextHold::new(),
                gpu: RwLock::new(None),
                gpu_opts: self.gpu,
                dispatcher: Dispatcher::new(self.crossover),
                profile_source: self.profile,
                profile_dir: self.profile_dir.or_else(profile::cache_dir),
                profile: RwLock::new(None),
                profile_loaded: OnceLock::new(),
                rebuild_after: self.rebuild_after.unwrap_or(DEFAULT_REBUILD_AFTER),
                last_rebuild: Mutex::new(None),
            }),
            policy,
        };
        match policy {
            Policy::Cpu => {}
            Policy::Auto | Policy::Split => {
                if let Err(e) = ctx.shared.open_gpu() {
                    tracing::info!(target: "tandem", "no GPU, Auto runs everything on the CPU: {e}");
                }
                ctx.shared.load_profile();
            }
            Policy::Gpu => {
                ctx.shared.open_gpu()?;
            }
        }
        Ok(ctx)
    }
}
