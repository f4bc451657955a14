//! `Context`, its builder, and `Policy`: the entry point of every op.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::buffer::Buffer;
use crate::dispatch::profile::{self, Profile, ProfileKey, ProfileStatus};
use crate::dispatch::{Op, Reason, RunLog, RunRecord};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::{GpuBackend, GpuInfo, GpuOptions};

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

/// Where Auto's profile comes from.
#[derive(Debug, Clone, Default)]
enum ProfileSource {
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

    /// How long to wait for one GPU submission before [`Error::Timeout`] (default 60 s).
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

    /// Builds the context. With Auto, Gpu or Split it opens the best GPU adapter
    /// now, and with Auto or Split it loads this machine's profile.
    ///
    /// # Errors
    /// [`Error::NoAdapter`] under `Policy::Gpu` when no adapter can be opened;
    /// [`Error::InvalidArgument`] when `TANDEM_BACKEND` holds something else than auto, cpu, gpu or split.
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
                crossover: self.crossover,
                log: RunLog::default(),
                learned: crate::dispatch::Learned::default(),
                profile_source: self.profile,
                profile_dir: self.profile_dir.or_else(profile::cache_dir),
                profile: RwLock::new(None),
                profile_loaded: OnceLock::new(),
                faults: Mutex::new(None),
                cpu_only_below: std::array::from_fn(|_| Default::default()),
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

/// A GPU fault to simulate on the next GPU attempts, for fault tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimulatedFault {
    /// [`Error::OutOfMemory`], as if a buffer could not be allocated.
    OutOfMemory,
    /// [`Error::Timeout`], as if the GPU never finished.
    Timeout,
}

struct Shared {
    /// Keeps the host pool alive; the last context's drop empties it.
    _host_pool: crate::host_pool::ContextHold,
    /// The open device (or why there is none); replaced when a lost one is rebuilt.
    gpu: RwLock<Option<std::result::Result<Arc<GpuBackend>, Error>>>,
    gpu_opts: GpuOptions,
    crossover: Option<usize>,
    log: RunLog,
    /// User kernels' learned cost corrections.
    learned: crate::dispatch::Learned,
    profile_source: ProfileSource,
    /// Where profiles are read and written.
    profile_dir: Option<std::path::PathBuf>,
    profile: RwLock<Option<Arc<Profile>>>,
    /// Set once the profile has been looked for, with what was found.
    profile_loaded: OnceLock<ProfileStatus>,
    /// A fault to simulate on the next GPU attempts, and how many more times.
    faults: Mutex<Option<(SimulatedFault, u32)>>,
    /// Each op's curve's [`Profile::cpu_only_below_for`] (indexed by
    /// [`Op::index`]), or 0: Auto's fast path, read without a lock.
    cpu_only_below: [std::sync::atomic::AtomicU64; Op::ALL.len()],
    rebuild_after: Duration,
    /// The last time a rebuild was tried.
    last_rebuild: Mutex<Option<Instant>>,
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
        for (slot, op) in self.cpu_only_below.iter().zip(Op::ALL) {
            let below = profile
                .as_ref()
                .map_or(0, |p| p.cpu_only_below_for(op.curve().name()) as u64);
            slot.store(below, std::sync::atomic::Ordering::Relaxed);
        }
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
            Some(g) => g.warm_up(),
            None => Ok(()),
        }
    }

    /// The most recent op's record: which side ran it and why.
    pub fn last_run(&self) -> Option<RunRecord> {
        self.shared.log.last()
    }

    /// The records of the last 1,024 ops, oldest first.
    pub fn runs(&self) -> Vec<RunRecord> {
        self.shared.log.all()
    }

    /// The run records grouped by op and side, one line each: calls, total time,
    /// the dispatcher's reason, and whether the GPU failed and the CPU took over.
    /// For reports such as the examples print.
    pub fn run_summary(&self) -> String {
        let mut rows: Vec<(&'static str, crate::Side, usize, Duration, Reason, bool)> = Vec::new();
        for r in self.shared.log.all() {
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
        self.shared.log.clear()
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
        *self.shared.faults.lock().unwrap_or_else(|p| p.into_inner()) =
            (times > 0).then_some((fault, times));
    }

    /// The simulated fault for this GPU attempt, if one is pending.
    pub(crate) fn take_simulated_fault(&self, op: &'static str, g: &GpuBackend) -> Option<Error> {
        let mut f = self.shared.faults.lock().unwrap_or_else(|p| p.into_inner());
        let (fault, left) = (*f)?;
        *f = (left > 1).then_some((fault, left - 1));
        Some(match fault {
            SimulatedFault::OutOfMemory => Error::OutOfMemory {
                op,
                message: "simulated out-of-memory".into(),
            },
            SimulatedFault::Timeout => Error::Timeout {
                op,
                after: g.timeout,
            },
        })
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

    /// Measures this machine (see [`crate::dispatch::calibrate`]), stores the
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
        let mut p = crate::dispatch::calibrate::measure(self, profile_key(&g), progress)?;
        self.shared.load_profile();
        let previous = self.profile_for_dispatch();
        // The split is timed with the new curves in use, so that its cut is Auto's;
        // if it fails, the context keeps the profile it had.
        self.shared.install_profile(Some(p.clone()));
        match crate::dispatch::calibrate::measure_split_factor(self, &p, progress) {
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
        self.shared.cpu_only_below[op.index()].load(std::sync::atomic::Ordering::Relaxed)
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
        self.shared.crossover
    }

    pub(crate) fn learned(&self) -> &crate::dispatch::Learned {
        &self.shared.learned
    }

    pub(crate) fn log(&self) -> &RunLog {
        &self.shared.log
    }
}
