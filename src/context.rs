//! `Context`, its builder, and `Policy`: the entry point of every op.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::buffer::Buffer;
use crate::dispatch::profile::{self, Profile, ProfileKey, ProfileStatus};
pub use crate::dispatch::SimulatedFault;
use crate::dispatch::{Dispatcher, Op, Reason, RunLog, RunRecord};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuInfo, GpuOptions};

mod builder;
mod sync;
pub use builder::ContextBuilder;
use builder::ProfileSource;
pub use sync::StreamStats;

/// Which side runs ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Choose per call from the work's size, where the data lives and the adapter.
    #[default]
    Auto,
    /// Always the CPU (rayon). Never opens a GPU.
    Cpu,
    /// Always the GPU; an error when there is none.
    Gpu,
    /// Element-wise ops, reductions and map kernels run on both sides at once,
    /// the range divided in proportion to measured throughput (halves without a
    /// profile); every other op is dispatched as under Auto.
    Split,
}

impl FromStr for Policy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Policy::Auto),
            "cpu" => Ok(Policy::Cpu),
            "gpu" => Ok(Policy::Gpu),
            "split" => Ok(Policy::Split),
            other => Err(Error::InvalidArgument {
                op: "TANDEM_BACKEND",
                message: format!("`{other}` is not a policy; use auto, cpu, gpu or split"),
            }),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Auto => "auto",
            Policy::Cpu => "cpu",
            Policy::Gpu => "gpu",
            Policy::Split => "split",
        })
    }
}

struct Shared {
    /// Keeps the host pool alive; the last context's drop empties it.
    _host_pool: crate::host_pool::ContextHold,
    /// The open device (or why there is none); replaced when a lost one is rebuilt.
    gpu: RwLock<Option<std::result::Result<Arc<GpuBackend>, Error>>>,
    gpu_opts: GpuOptions,
    /// The dispatcher's state: run log, learned histories, fault hook, crossover.
    dispatcher: Dispatcher,
    profile_source: ProfileSource,
    /// Where profiles are read and written.
    profile_dir: Option<std::path::PathBuf>,
    profile: RwLock<Option<Arc<Profile>>>,
    /// Set once the profile has been looked for, with what was found.
    profile_loaded: OnceLock<ProfileStatus>,
    rebuild_after: Duration,
    /// The last time a rebuild was tried.
    last_rebuild: Mutex<Option<Instant>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Deferred batches hold their buffers (and those the device): finish
        // them, so that nothing recorded outlives the last context.
        if let Some(g) = self.current() {
            let _ = g.synchronize("context drop");
        }
    }
}

impl Shared {
    /// The device as it is now, without opening or rebuilding it.
    fn current(&self) -> Option<Arc<GpuBackend>> {
        match &*self.gpu.read().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(g)) => Some(g.clone()),
            _ => None,
        }
    }

    /// The device, opening it on first use and rebuilding it when it was lost
    /// at least `rebuild_after` ago (and no rebuild was tried since then).
    fn open_gpu(&self) -> Result<Arc<GpuBackend>> {
        {
            let g = self.gpu.read().unwrap_or_else(|p| p.into_inner());
            match &*g {
                Some(Ok(b)) if !b.is_lost() => return Ok(b.clone()),
                Some(Ok(b)) if !self.rebuild_due(b) => return Ok(b.clone()),
                Some(Err(e)) => return Err(e.clone()),
                _ => {}
            }
        }
        let mut g = self.gpu.write().unwrap_or_else(|p| p.into_inner());
        match &*g {
            None => {
                let r = GpuBackend::open(&self.gpu_opts);
                *g = Some(r.clone());
                r
            }
            Some(Ok(old)) if old.is_lost() && self.rebuild_due(old) => {
                *self.last_rebuild.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                match GpuBackend::open(&self.gpu_opts) {
                    Ok(new) => {
                        tracing::warn!(target: "tandem", "the GPU device was lost; opened it again");
                        *g = Some(Ok(new.clone()));
                        Ok(new)
                    }
                    Err(e) => {
                        tracing::warn!(target: "tandem", "the GPU device was lost and could not be opened again yet: {e}");
                        Ok(old.clone())
                    }
                }
            }
            Some(r) => r.clone(),
        }
    }

    /// Makes `profile` the one Auto uses.
    fn install_profile(&self, profile: Option<Profile>) {
        self.dispatcher.use_profile(profile.as_ref());
        *self.profile.write().unwrap_or_else(|p| p.into_inner()) = profile.map(Arc::new);
    }

    /// Whether a lost device should be opened again now.
    fn rebuild_due(&self, lost: &GpuBackend) -> bool {
        let since_loss = lost.lost_for().unwrap_or(Duration::ZERO);
        let since_try = self
            .last_rebuild
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::MAX, |t| t.elapsed());
        // A device abandoned after a timeout is not broken: replace it at once
        // (still at most once per `rebuild_after`).
        (lost.was_abandoned() || since_loss >= self.rebuild_after)
            && since_try >= self.rebuild_after
    }

    /// Looks for the profile once (not under Policy::Cpu, which never needs one).
    fn load_profile(&self) -> &ProfileStatus {
        self.profile_loaded.get_or_init(|| {
            let (profile, status) = match &self.profile_source {
                ProfileSource::Off => (
                    None,
                    ProfileStatus::Unavailable("turned off by the program".into()),
                ),
                ProfileSource::Given(p) => (Some((**p).clone()), ProfileStatus::Given),
                ProfileSource::Cache => match (self.open_gpu(), self.profile_dir.clone()) {
                    (Err(_), _) => (None, ProfileStatus::Unavailable("no GPU to profile".into())),
                    (_, None) => (
                        None,
                        ProfileStatus::Unavailable("no cache folder; set TANDEM_CACHE_DIR".into()),
                    ),
                    (Ok(g), Some(dir)) => profile::load(&dir, &profile_key(&g)),
                },
            };
            report_profile_status(&status);
            self.install_profile(profile);
            status
        })
    }
}

/// The key of this machine's profile.
pub(crate) fn profile_key(g: &GpuBackend) -> ProfileKey {
    ProfileKey {
        adapter: g.info.name.clone(),
        backend: g.info.backend.clone(),
        driver: g.info.driver.clone(),
        cpu_threads: crate::cpu::threads(),
        tandem_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Says what loading found: a warning for an ignored file, and once per process
/// a note that Auto runs without one.
fn report_profile_status(status: &ProfileStatus) {
    static SAID_MISSING: std::sync::Once = std::sync::Once::new();
    match status {
        ProfileStatus::Ignored(..) => {
            tracing::warn!(target: "tandem", "{status}");
            if crate::dispatch::stderr_level() >= 1 {
                eprintln!("tandem: warning: {status}");
            }
        }
        ProfileStatus::Missing(_) => SAID_MISSING.call_once(|| {
            tracing::info!(target: "tandem", "{status}");
            if crate::dispatch::stderr_level() >= 2 {
                eprintln!("tandem: {status}");
            }
        }),
        _ => tracing::debug!(target: "tandem", "{status}"),
    }
}

/// The handle every op goes through: a policy plus shared CPU and GPU backends.
///
/// `Context` is `Send + Sync + Clone`; clones and [`Context::with_policy`] views
/// share the GPU device, its compiled kernels and the run log.
#[derive(Clone)]
pub struct Context {
    shared: Arc<Shared>,
    policy: Policy,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("policy", &self.policy)
            .field("gpu", &self.shared.current().map(|g| g.info.name.clone()))
            .finish()
    }
}

impl Context {
    /// A context with Policy::Auto, or the policy `TANDEM_BACKEND` names.
    ///
    /// # Errors
    /// As [`ContextBuilder::build`].
    pub fn new() -> Result<Context> {
        Context::builder().build()
    }

    /// A builder for a configured context.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// A cheap view of this context with another policy; it shares the backends.
    pub fn with_policy(&self, policy: Policy) -> Context {
        Context {
            shared: self.shared.clone(),
            policy,
        }
    }

    /// This context's policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// True when a GPU device is open and not lost. Opens one first if this
    /// context was built with Policy::Cpu and has not tried yet.
    pub fn has_gpu(&self) -> bool {
        self.shared
            .open_gpu()
            .is_ok_and(|g| g.lost_reason().is_none())
    }

    /// The GPU this context uses, if any.
    pub fn gpu_info(&self) -> Option<GpuInfo> {
        self.shared.open_gpu().ok().map(|g| g.info.clone())
    }

    /// Why there is no GPU, when there is none: `Some` exactly when
    /// [`Context::has_gpu`] is false (no adapter, or the device was lost and not
    /// opened again yet).
    pub fn gpu_unavailable_reason(&self) -> Option<String> {
        match self.shared.open_gpu() {
            Err(e) => Some(e.to_string()),
            Ok(g) => g
                .lost_reason()
                .map(|reason| Error::DeviceLost { reason }.to_string()),
        }
    }

    /// Compiles every built-in kernel now, so that first calls do not pay for it.
    ///
    /// # Errors
    /// [`Error::ShaderCompile`] or a GPU error; Ok without a GPU.
    pub fn warm_up(&self) -> Result<()> {
        match self.gpu_for(self.policy) {
            Some(g) => g.warm_up(crate::ops::builtin_kernels()),
            None => Ok(()),
        }
    }

    /// The most recent op's record: which side ran it and why.
    pub fn last_run(&self) -> Option<RunRecord> {
        self.shared.dispatcher.log.last()
    }

    /// The records of the last 1,024 ops, oldest first.
    pub fn runs(&self) -> Vec<RunRecord> {
        self.shared.dispatcher.log.all()
    }

    /// The run records grouped by op and side, one line each: calls, total time,
    /// the dispatcher's reason, and whether the GPU failed and the CPU took over.
    /// For reports such as the examples print.
    pub fn run_summary(&self) -> String {
        let mut rows: Vec<(&'static str, crate::Side, usize, Duration, Reason, bool)> = Vec::new();
        for r in self.shared.dispatcher.log.all() {
            let fell_back = r.fallback.is_some();
            match rows.iter_mut().find(|x| x.0 == r.op && x.1 == r.side) {
                Some(x) => {
                    x.2 += 1;
                    x.3 += r.elapsed;
                    x.5 |= fell_back;
                }
                None => rows.push((r.op, r.side, 1, r.elapsed, r.reason, fell_back)),
            }
        }
        rows.iter()
            .map(|(op, side, calls, t, reason, fb)| {
                let fb = if *fb { " (after a GPU failure)" } else { "" };
                format!("\n  {op:<11} x{calls:<4} on {side:?}, {t:>9.2?} in all: {reason}{fb}")
            })
            .collect()
    }

    /// Forgets the run records.
    pub fn clear_runs(&self) {
        self.shared.dispatcher.log.clear()
    }

    /// A buffer holding a copy of `data` (on the host; it moves to the GPU when an op needs it there).
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] when the host cannot hold the copy.
    pub fn upload<T: Element>(&self, data: &[T]) -> Result<Buffer<T>> {
        // Pooled memory where a block fits: an upload in a loop faults no pages in.
        let mut v = crate::host_pool::try_take_empty("upload", data.len())?;
        v.extend_from_slice(data);
        Ok(Buffer::from_host(v))
    }

    /// Frees the idle host memory that tandem keeps for reuse by op outputs
    /// (the host pool, see [`crate::host_pool`]); returns the bytes freed. Memory
    /// of live buffers is not touched. The pool is shared by every context of
    /// the process and also emptied when the last context is dropped.
    pub fn release_host_memory(&self) -> usize {
        crate::host_pool::release()
    }

    /// What the host pool holds and how often op outputs reused its blocks.
    pub fn host_pool_stats(&self) -> crate::HostPoolStats {
        crate::host_pool::stats()
    }

    /// Frees the idle GPU buffers this context's device keeps for reuse by op
    /// outputs (the device pool, see `ContextBuilder::device_pool_bytes`);
    /// returns the bytes freed. Buffers in use are not touched. 0 without a GPU.
    pub fn release_device_memory(&self) -> u64 {
        self.shared.current().map_or(0, |g| g.outputs.release())
    }

    /// What the device output pool holds and how often op outputs reused its
    /// buffers (all zero without a GPU; counted afresh when a lost device is
    /// rebuilt).
    pub fn device_pool_stats(&self) -> crate::DevicePoolStats {
        self.shared
            .current()
            .map(|g| g.outputs.stats())
            .unwrap_or_default()
    }

    /// A buffer that takes ownership of `v` without copying.
    ///
    /// # Errors
    /// None today; see [`Context::upload`].
    pub fn from_vec<T: Element>(&self, v: Vec<T>) -> Result<Buffer<T>> {
        Ok(Buffer::from_host(v))
    }

    /// A buffer of `n` zeros.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when `n` elements can never be allocated (past
    /// `isize::MAX` bytes); [`Error::OutOfMemory`] when the host refuses them now.
    pub fn zeros<T: Element>(&self, n: usize) -> Result<Buffer<T>> {
        Ok(Buffer::from_host(crate::host::try_filled(
            "zeros",
            n,
            T::zero(),
        )?))
    }

    /// Copies `buffer` to the GPU now (keeping its host copy), so that later ops
    /// find it resident. Does nothing without a GPU or under Policy::Cpu.
    ///
    /// # Errors
    /// [`Error::TooLarge`], [`Error::OutOfMemory`] or another GPU error.
    pub fn prefetch<T: Element>(&self, buffer: &Buffer<T>) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        match self.gpu_for(self.policy) {
            Some(g) if g.supports_scalar(T::SCALAR) => buffer.device(&g, "prefetch").map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Destroys the GPU device, as a driver reset would, so that tests can check
    /// what happens to ops and data after a device loss. Not for production use.
    pub fn simulate_device_loss(&self) {
        if let Some(g) = self.shared.current() {
            g.destroy_for_test();
        }
    }

    /// Makes the next `times` GPU attempts of ops fail with `fault` before they
    /// start, so that tests can check the fallback. An out-of-memory attempt is
    /// retried once after freeing cached memory, so `times: 1` checks the retry and
    /// `times: 2` an out-of-memory that persists. Not for production use.
    pub fn simulate_gpu_fault(&self, fault: SimulatedFault, times: u32) {
        self.shared.dispatcher.faults.set(fault, times);
    }

    /// The profile Auto uses now, if any: loaded from the cache folder, given to
    /// the builder, or measured by [`Context::calibrate`].
    pub fn profile(&self) -> Option<Profile> {
        self.shared.load_profile();
        self.profile_for_dispatch().map(|p| (*p).clone())
    }

    /// What the context found when it looked for a profile, in words: where it
    /// came from, or why Auto runs on its built-in rules.
    pub fn profile_status(&self) -> String {
        let status = self.shared.load_profile();
        match status {
            ProfileStatus::Loaded(_) | ProfileStatus::Given => status.to_string(),
            _ if self.profile_for_dispatch().is_some() => {
                "profile measured in this process by Context::calibrate".into()
            }
            _ => status.to_string(),
        }
    }

    /// Measures this machine (see `src/calibrate.rs`), stores the
    /// profile in the cache folder, and makes this context (and its clones) use it.
    /// Takes several seconds; `progress` hears about each step.
    ///
    /// # Errors
    /// [`Error::NoAdapter`] without a GPU; [`Error::Io`] when the profile cannot
    /// be written (it is still used); GPU errors from the measurements.
    pub fn calibrate_with(
        &self,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(Profile, Option<std::path::PathBuf>)> {
        let g = self.shared.open_gpu()?;
        g.check_alive()?;
        let mut p = crate::calibrate::measure(self, profile_key(&g), progress)?;
        self.shared.load_profile();
        let previous = self.profile_for_dispatch();
        // The split is timed with the new curves in use, so that its cut is Auto's;
        // if it fails, the context keeps the profile it had.
        self.shared.install_profile(Some(p.clone()));
        match crate::calibrate::measure_split_factor(self, &p, progress) {
            Ok(f) => p.split_factor = f,
            Err(e) => {
                self.shared
                    .install_profile(previous.map(|old| (*old).clone()));
                return Err(e);
            }
        }
        self.shared.install_profile(Some(p.clone()));
        let path = match self.shared.profile_dir.clone() {
            Some(dir) => {
                let path = dir.join(p.key.file_name());
                p.save(&path)?;
                Some(path)
            }
            None => None,
        };
        Ok((p, path))
    }

    /// [`Context::calibrate_with`] without progress reports.
    ///
    /// # Errors
    /// As [`Context::calibrate_with`].
    pub fn calibrate(&self) -> Result<Profile> {
        self.calibrate_with(&mut |_| {}).map(|(p, _)| p)
    }

    /// Work below which Auto runs `op` on host data on the CPU without
    /// predicting (0: none).
    pub(crate) fn cpu_only_below(&self, op: Op) -> u64 {
        self.shared.dispatcher.cpu_only_below(op)
    }

    pub(crate) fn profile_for_dispatch(&self) -> Option<Arc<Profile>> {
        if self.shared.profile_loaded.get().is_none() {
            self.shared.load_profile();
        }
        self.shared
            .profile
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn gpu_for(&self, policy: Policy) -> Option<Arc<GpuBackend>> {
        match policy {
            Policy::Cpu => None,
            _ => self.shared.open_gpu().ok(),
        }
    }

    pub(crate) fn crossover(&self) -> Option<usize> {
        self.shared.dispatcher.crossover
    }

    pub(crate) fn log(&self) -> &RunLog {
        &self.shared.dispatcher.log
    }
}

/// What the dispatcher gets from a context: never the context itself.
impl crate::dispatch::Caller for Context {
    fn policy(&self) -> Policy {
        self.policy
    }
    fn gpu(&self) -> Option<Arc<GpuBackend>> {
        self.gpu_for(self.policy)
    }
    fn profile(&self) -> Option<Arc<Profile>> {
        self.profile_for_dispatch()
    }
    fn dispatcher(&self) -> &Dispatcher {
        &self.shared.dispatcher
    }
}
