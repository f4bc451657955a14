//! `Context`, its builder, and `Policy`: the entry point of every op.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::buffer::Buffer;
use crate::dispatch::{RunLog, RunRecord};
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
}

impl FromStr for Policy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Policy::Auto),
            "cpu" => Ok(Policy::Cpu),
            "gpu" => Ok(Policy::Gpu),
            other => Err(Error::InvalidArgument {
                op: "TANDEM_BACKEND",
                message: format!("`{other}` is not a policy; use auto, cpu or gpu"),
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
        })
    }
}

/// Configures a [`Context`]. Start from [`Context::builder`].
#[derive(Debug, Clone, Default)]
pub struct ContextBuilder {
    policy: Option<Policy>,
    gpu: GpuOptions,
    crossover: Option<usize>,
}

impl ContextBuilder {
    /// The policy. Without this call, `TANDEM_BACKEND` (auto|cpu|gpu) decides, else Auto.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Caps the storage-binding size tandem uses, below the device's own limit.
    /// Ops then bind larger buffers in windows of at most this many bytes.
    pub fn storage_binding_limit(mut self, bytes: u64) -> Self {
        self.gpu.storage_binding_limit = Some(bytes);
        self
    }

    /// Caps the size of one GPU buffer, below the device's own limit. Larger
    /// data then stays on the CPU under Auto and is refused under Gpu.
    pub fn buffer_size_limit(mut self, bytes: u64) -> Self {
        self.gpu.buffer_size_limit = Some(bytes);
        self
    }

    /// How long to wait for one GPU submission before [`Error::Timeout`] (default 60 s).
    pub fn gpu_timeout(mut self, timeout: Duration) -> Self {
        self.gpu.timeout = Some(timeout);
        self
    }

    /// Uses the plain kernels even where the adapter has subgroups.
    pub fn disable_subgroups(mut self) -> Self {
        self.gpu.disable_subgroups = true;
        self
    }

    /// Under Auto, run every op of at least `elems` elements on the GPU and
    /// smaller ones on the CPU, overriding the built-in model.
    pub fn gpu_crossover(mut self, elems: usize) -> Self {
        self.crossover = Some(elems);
        self
    }

    /// Builds the context. With Auto or Gpu it opens the best GPU adapter now.
    ///
    /// # Errors
    /// [`Error::NoAdapter`] under `Policy::Gpu` when no adapter can be opened;
    /// [`Error::InvalidArgument`] when `TANDEM_BACKEND` holds something else than auto, cpu or gpu.
    pub fn build(self) -> Result<Context> {
        let policy = match self.policy {
            Some(p) => p,
            None => match std::env::var("TANDEM_BACKEND") {
                Ok(v) => v.parse()?,
                Err(_) => Policy::Auto,
            },
        };
        let ctx = Context {
            shared: Arc::new(Shared {
                gpu: OnceLock::new(),
                gpu_opts: self.gpu,
                crossover: self.crossover,
                log: RunLog::default(),
            }),
            policy,
        };
        match policy {
            Policy::Cpu => {}
            Policy::Auto => {
                if let Err(e) = ctx.shared.open_gpu() {
                    tracing::info!(target: "tandem", "no GPU, Auto runs everything on the CPU: {e}");
                }
            }
            Policy::Gpu => {
                ctx.shared.open_gpu()?;
            }
        }
        Ok(ctx)
    }
}

struct Shared {
    gpu: OnceLock<std::result::Result<Arc<GpuBackend>, Error>>,
    gpu_opts: GpuOptions,
    crossover: Option<usize>,
    log: RunLog,
}

impl Shared {
    fn open_gpu(&self) -> Result<Arc<GpuBackend>> {
        self.gpu
            .get_or_init(|| GpuBackend::open(&self.gpu_opts))
            .clone()
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
            .field(
                "gpu",
                &self
                    .shared
                    .gpu
                    .get()
                    .and_then(|g| g.as_ref().ok())
                    .map(|g| g.info.name.clone()),
            )
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

    /// Why there is no GPU, when there is none.
    pub fn gpu_unavailable_reason(&self) -> Option<String> {
        self.shared.open_gpu().err().map(|e| e.to_string())
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
        let mut rows: Vec<(
            &'static str,
            crate::Side,
            usize,
            Duration,
            &'static str,
            bool,
        )> = Vec::new();
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
    /// None today; the `Result` leaves room for eager uploads.
    pub fn upload<T: Element>(&self, data: &[T]) -> Result<Buffer<T>> {
        Ok(Buffer::from_host(data.to_vec()))
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
    /// None today; see [`Context::upload`].
    pub fn zeros<T: Element>(&self, n: usize) -> Result<Buffer<T>> {
        Ok(Buffer::from_host(vec![T::zero(); n]))
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
        if let Some(Ok(g)) = self.shared.gpu.get() {
            g.destroy_for_test();
        }
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

    pub(crate) fn log(&self) -> &RunLog {
        &self.shared.log
    }
}
