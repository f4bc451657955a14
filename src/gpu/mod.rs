//! wgpu plumbing only: adapter choice, device and limits, error scopes,
//! pipelines, transfers and grid folding. Nothing here knows what an op computes.
//!
//! Rules this module keeps: every resource creation, `finish()` and `submit()`
//! runs inside error scopes (thread-local in wgpu 30); every wait has a timeout;
//! the uncaptured-error handler records instead of panicking; a lost device is
//! noticed through its callback and reported as [`Error::DeviceLost`].

mod adapters;
pub(crate) mod deferred;
pub use adapters::{list_adapters, AdapterSummary};
use adapters::{new_instance, sort_adapters};
mod gate;
mod pipelines;
pub(crate) mod pool;
pub mod shader;
pub(crate) mod stream;
pub(crate) mod timing;
mod transfer;
mod uniforms;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::element::ScalarType;
use crate::error::{Error, Result};
use shader::Binding;

/// What tandem knows about the GPU it chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuInfo {
    /// The adapter's name, e.g. "NVIDIA H100" or "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// The graphics API: "Vulkan", "Metal", "Dx12" or "Gl".
    pub backend: String,
    /// The device type: "DiscreteGpu", "IntegratedGpu", "VirtualGpu", "Cpu" (a software rasterizer) or "Other".
    pub device_type: String,
    /// The driver's name and version.
    pub driver: String,
    /// True for a software adapter (lavapipe, llvmpipe, WARP).
    pub is_software: bool,
    /// Largest storage-buffer binding in bytes.
    pub max_storage_binding: u64,
    /// Largest buffer in bytes.
    pub max_buffer_size: u64,
    /// Most workgroups per dispatch dimension.
    pub max_workgroups_per_dimension: u32,
    /// Most invocations per workgroup.
    pub max_invocations_per_workgroup: u32,
    /// Workgroup shared memory in bytes.
    pub max_workgroup_storage: u32,
    /// Subgroup operations available (kernels use their subgroup variant).
    pub subgroups: bool,
    /// f64 in shaders.
    pub f64: bool,
    /// Timestamp queries.
    pub timestamps: bool,
}

/// Options for GPU start-up, set through [`crate::ContextBuilder`].
#[derive(Debug, Clone, Default)]
pub(crate) struct GpuOptions {
    pub storage_binding_limit: Option<u64>,
    pub buffer_size_limit: Option<u64>,
    pub timeout: Option<Duration>,
    pub disable_subgroups: bool,
    /// The adapter to open, by its place in the sorted list; None: the best.
    pub adapter_index: Option<usize>,
    /// The bound on the device output pool's idle bytes; None: the default.
    pub device_pool_bytes: Option<u64>,
    /// Whether deferred batches are timed; None: on hardware adapters.
    pub timestamps: Option<bool>,
}

/// The smallest storage-binding and buffer-size caps a context takes
/// (`ContextBuilder::storage_binding_limit`, `buffer_size_limit`); smaller
/// requests are raised to this.
pub(crate) const MIN_USER_LIMIT: u64 = 64 << 10;

/// The default wait for one submission.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Unused read-write slots one dispatch may have.
const SCRATCH_SLOTS: usize = 4;

static NEXT_DEVICE_ID: AtomicU64 = AtomicU64::new(1);

type PipelineKey = (&'static str, &'static str, ScalarType);

/// An open GPU device with everything tandem keeps beside it.
pub(crate) struct GpuBackend {
    /// Unique per device, so buffers know whether their device copy belongs here.
    pub id: u64,
    _instance: wgpu::Instance,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: GpuInfo,
    pub limits: wgpu::Limits,
    pub variant_subgroups: bool,
    pub f64: bool,
    pub(crate) timeout: Duration,
    lost: Arc<Mutex<Option<String>>>,
    /// Set with `lost`: a lock-free check for the dispatcher's hot path, and when.
    lost_flag: Arc<std::sync::atomic::AtomicBool>,
    lost_at: Arc<Mutex<Option<std::time::Instant>>>,
    /// Set when the device was given up after a timeout (see `abandon`).
    abandoned: std::sync::atomic::AtomicBool,
    uncaptured: Arc<Mutex<Option<String>>>,
    layouts: Mutex<HashMap<Vec<Binding>, wgpu::BindGroupLayout>>,
    generated: Mutex<HashMap<(u64, String), wgpu::ComputePipeline>>,
    pipelines: Mutex<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    staging: transfer::StagingPool,
    dummy: wgpu::Buffer,
    /// Read-write slots for bindings a kernel entry does not write, distinct
    /// from each other and from `dummy` (see `stream::Bind::UnusedWritable`).
    scratch: [wgpu::Buffer; SCRATCH_SLOTS],
    /// Shaders compiled and staging buffers made so far: a run that did either
    /// paid a one-off cost, which the dispatcher must not learn from.
    one_offs: std::sync::atomic::AtomicU64,
    /// One caller at a time on GL (see `gate`).
    gate: gate::GlGate,
    /// The open batch of deferred ops and the batches in flight.
    pub(crate) deferred: deferred::Queue,
    /// Buffers of dropped outputs, for the next output of their size.
    pub(crate) outputs: Arc<pool::DevicePool>,
    /// Timestamp queries of deferred batches (see `timing`).
    pub(crate) timings: timing::Timings,
    /// Idle uniform buffers (see `uniforms`).
    pub(crate) uniforms: uniforms::UniformPool,
}

impl GpuBackend {
    /// Opens the best adapter: discrete, then integrated, then virtual, then software;
    /// native APIs before GL.
    pub fn open(opts: &GpuOptions) -> Result<Arc<GpuBackend>> {
        let instance = new_instance();
        let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        adapters.retain(|a| {
            a.get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        });
        sort_adapters(&mut adapters);
        let Some(adapter) = adapters.into_iter().nth(opts.adapter_index.unwrap_or(0)) else {
            return Err(Error::NoAdapter {
                reason: "wgpu found no adapter with compute shaders".into(),
            });
        };
        let ainfo = adapter.get_info();
        let afeatures = adapter.features();
        let mut limits = adapter.limits();
        // Caps below MIN_USER_LIMIT are raised to it: smaller windows than the
        // kernels' own fixed bindings (offset alignment, counters, uniforms)
        // cannot work, and a 1-element window recursed without end.
        if let Some(l) = opts.storage_binding_limit {
            limits.max_storage_buffer_binding_size = limits
                .max_storage_buffer_binding_size
                .min(l.max(MIN_USER_LIMIT));
        }
        if let Some(l) = opts.buffer_size_limit {
            limits.max_buffer_size = limits.max_buffer_size.min(l.max(MIN_USER_LIMIT));
        }
        let wanted =
            wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F64 | wgpu::Features::TIMESTAMP_QUERY;
        let mut features = afeatures & wanted;
        if opts.disable_subgroups {
            features.remove(wgpu::Features::SUBGROUP);
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("tandem"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|e| Error::NoAdapter {
                reason: format!("{} ({:?}) refused a device: {e}", ainfo.name, ainfo.backend),
            })?;

        let uncaptured = Arc::new(Mutex::new(None::<String>));
        let rec = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::warn!(target: "tandem::gpu", "uncaptured wgpu error: {e}");
            if let Ok(mut g) = rec.lock() {
                *g = Some(e.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None::<String>));
        let rec = lost.clone();
        let lost_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let lost_at = Arc::new(Mutex::new(None));
        let (flag, at) = (lost_flag.clone(), lost_at.clone());
        device.set_device_lost_callback(move |reason, msg| {
            tracing::warn!(target: "tandem::gpu", "GPU device lost: {reason:?} {msg}");
            // The first reason stays: a simulated loss or an abandonment records
            // its own before the driver reports it (often with no message).
            if let Ok(mut g) = rec.lock() {
                g.get_or_insert_with(|| loss_reason(reason, &msg));
            }
            if let Ok(mut t) = at.lock() {
                t.get_or_insert_with(std::time::Instant::now);
            }
            flag.store(true, std::sync::atomic::Ordering::Release);
        });

        let dev_limits = device.limits();
        let subgroups = device.features().contains(wgpu::Features::SUBGROUP);
        let f64 = device.features().contains(wgpu::Features::SHADER_F64);
        let info = GpuInfo {
            name: ainfo.name.clone(),
            backend: format!("{:?}", ainfo.backend),
            device_type: format!("{:?}", ainfo.device_type),
            driver: format!("{} {}", ainfo.driver, ainfo.driver_info)
                .trim()
                .to_string(),
            is_software: ainfo.device_type == wgpu::DeviceType::Cpu,
            max_storage_binding: dev_limits.max_storage_buffer_binding_size,
            max_buffer_size: dev_limits.max_buffer_size,
            max_workgroups_per_dimension: dev_limits.max_compute_workgroups_per_dimension,
            max_invocations_per_workgroup: dev_limits.max_compute_invocations_per_workgroup,
            max_workgroup_storage: dev_limits.max_compute_workgroup_storage_size,
            subgroups,
            f64,
            timestamps: device.features().contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        let timed = info.timestamps && opts.timestamps.unwrap_or(!info.is_software);
        let timings = timing::Timings::new(timed, &queue);
        let dummy = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tandem dummy binding"),
            size: 256,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let scratch = std::array::from_fn(|_| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tandem scratch binding"),
                size: 256,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        });
        Ok(Arc::new(GpuBackend {
            id: NEXT_DEVICE_ID.fetch_add(1, Ordering::Relaxed),
            _instance: instance,
            device,
            queue,
            info,
            limits: dev_limits,
            variant_subgroups: subgroups,
            f64,
            timeout: opts.timeout.unwrap_or(DEFAULT_TIMEOUT),
            lost,
            lost_flag,
            lost_at,
            abandoned: std::sync::atomic::AtomicBool::new(false),
            uncaptured,
            layouts: Mutex::new(HashMap::new()),
            generated: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            staging: transfer::StagingPool::default(),
            dummy,
            scratch,
            one_offs: std::sync::atomic::AtomicU64::new(0),
            gate: gate::GlGate::new(ainfo.backend),
            deferred: deferred::Queue::default(),
            outputs: pool::DevicePool::new(
                opts.device_pool_bytes.unwrap_or(pool::DEFAULT_LIMIT_BYTES),
            ),
            timings,
            uniforms: uniforms::UniformPool::default(),
        }))
    }

    /// The reason the device was lost, if it was.
    pub fn lost_reason(&self) -> Option<String> {
        if !self.is_lost() {
            return None;
        }
        self.lost.lock().ok().and_then(|g| g.clone())
    }

    /// True once the device is lost; one atomic load.
    pub fn is_lost(&self) -> bool {
        self.lost_flag.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How long ago the device was lost, if it was.
    pub fn lost_for(&self) -> Option<Duration> {
        if !self.is_lost() {
            return None;
        }
        self.lost_at
            .lock()
            .ok()
            .and_then(|t| t.map(|t| t.elapsed()))
    }

    /// Frees what tandem caches on the device (pooled staging and output
    /// buffers), before an out-of-memory failure is retried.
    pub fn free_cached_memory(&self) {
        let _gate = self.gate();
        self.staging.clear();
        self.outputs.release();
        self.uniforms.clear();
        self.poll_once();
    }

    /// True when tandem gave the device up after a timeout (it may still work,
    /// so the context opens a new one on the next call rather than waiting).
    pub fn was_abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Fails with [`Error::DeviceLost`] when the device is gone.
    pub fn check_alive(&self) -> Result<()> {
        match self.lost_reason() {
            Some(reason) => Err(Error::DeviceLost { reason }),
            None => Ok(()),
        }
    }

    /// Marks the device lost with `reason` (the first reason recorded stays).
    /// Marked before the device is destroyed, so that every error another
    /// thread sees from the destruction already finds the device lost.
    fn mark_lost(&self, reason: &str) {
        if let Ok(mut g) = self.lost.lock() {
            g.get_or_insert_with(|| reason.to_string());
        }
        if let Ok(mut t) = self.lost_at.lock() {
            t.get_or_insert_with(std::time::Instant::now);
        }
        self.lost_flag
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Destroys the device, as a driver reset would; for fault tests.
    pub fn destroy_for_test(&self) {
        let _gate = self.gate();
        self.mark_lost("Destroyed: simulated device loss (Context::simulate_device_loss)");
        self.device.destroy();
        self.poll_once();
    }

    /// Gives the device up after a submission did not finish in time: it counts
    /// as lost from now on (the context opens a new one on a later call), and
    /// its handles are leaked so that nothing ever waits for the abandoned work,
    /// neither a later drop nor the process's exit.
    fn abandon(&self, op: &'static str) {
        if self.is_lost() {
            return;
        }
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
        self.mark_lost(&format!(
            "abandoned: {op} did not finish within {:?}, and the device may still be busy with it",
            self.timeout
        ));
        // Dropping the last handle of a device waits for its queue to go idle,
        // which for runaway work can take minutes: keep one of each forever.
        std::mem::forget(self.device.clone());
        std::mem::forget(self.queue.clone());
    }

    /// `e`, or [`Error::DeviceLost`] when the device is lost: errors that come
    /// from a device in the middle of being lost (invalid buffers, submissions
    /// that never happened) describe the loss, not the op.
    pub fn lost_or(&self, e: Error) -> Error {
        match (&e, self.lost_reason()) {
            (Error::Gpu { .. } | Error::OutOfMemory { .. }, Some(reason)) => {
                Error::DeviceLost { reason }
            }
            _ => e,
        }
    }

    /// Whether kernels of this scalar type can run here.
    pub fn supports_scalar(&self, scalar: ScalarType) -> bool {
        scalar != ScalarType::F64 || self.f64
    }

    /// Splits a 1-D count of workgroups into a grid within the per-dimension limit.
    pub fn fold_grid(&self, groups: u64) -> Result<(u32, u32)> {
        fold_grid(groups, self.limits.max_compute_workgroups_per_dimension)
    }

    /// Runs `f` inside out-of-memory and validation error scopes, mapping what
    /// they catch (or a lost device) to tandem errors.
    pub fn scoped<R>(&self, op: &'static str, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let _gate = self.gate();
        self.check_alive()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let r = f();
        let e_int = pollster::block_on(internal.pop());
        let e_val = pollster::block_on(val.pop());
        let e_oom = pollster::block_on(oom.pop());
        if let Some(reason) = self.lost_reason() {
            return Err(Error::DeviceLost { reason });
        }
        if let Some(e) = e_oom {
            return Err(Error::OutOfMemory {
                op,
                message: e.to_string(),
            });
        }
        if let Some(e) = e_val.or(e_int) {
            let message = e.to_string();
            if self.is_lost()
                || message.to_ascii_lowercase().contains("lost")
                || message.contains("destroyed")
            {
                return Err(Error::DeviceLost { reason: message });
            }
            return Err(Error::Gpu { op, message });
        }
        r
    }

    /// Submits `commands` after the open batch and waits, with the timeout.
    pub(crate) fn submit_and_wait(
        &self,
        op: &'static str,
        commands: Vec<stream::Command>,
    ) -> Result<()> {
        let index = self.submit_batch(op, commands)?;
        self.wait(op, Some(index))
    }

    /// Waits for a submission (or all work) to finish; on failure every batch
    /// in flight is recovered (see [`deferred`]).
    pub fn wait(&self, op: &'static str, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
        // A wait that fails names the oldest deferred op still in flight.
        let op = self.oldest_in_flight().unwrap_or(op);
        let r = self.wait_inner(op, index);
        match &r {
            Ok(()) => self.waited(),
            Err(e) => self.wait_failed(e),
        }
        r
    }

    fn wait_inner(&self, op: &'static str, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
        let r = self.poll_until_done(index, self.timeout);
        self.check_alive()?;
        match r {
            Ok(_) => Ok(()),
            Err(wgpu::PollError::Timeout) => {
                self.abandon(op);
                Err(Error::Timeout {
                    op,
                    after: self.timeout,
                })
            }
            Err(e) => {
                let extra = self
                    .take_uncaptured()
                    .map(|m| format!(" (last uncaptured error: {m})"))
                    .unwrap_or_default();
                Err(Error::Gpu {
                    op,
                    message: format!("{e}{extra}"),
                })
            }
        }
    }

    /// A storage buffer for `bytes` bytes, checked against the device's limits.
    pub fn create_storage(&self, op: &'static str, bytes: u64) -> Result<wgpu::Buffer> {
        let size = bytes.max(4).next_multiple_of(4);
        if size > self.limits.max_buffer_size {
            return Err(Error::TooLarge {
                bytes: size,
                max: self.limits.max_buffer_size,
            });
        }
        self.scoped(op, || {
            Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(op),
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }))
        })
    }

    /// A small read-only buffer to fill binding slots a kernel entry does not read.
    pub fn dummy(&self) -> &wgpu::Buffer {
        &self.dummy
    }

    /// The `k`-th small read-write buffer for binding slots a kernel entry does
    /// not write; `None` past the few a dispatch may have.
    pub(crate) fn scratch(&self, k: usize) -> Option<&wgpu::Buffer> {
        self.scratch.get(k)
    }

    /// How many one-off setups (shader compiles, staging buffers made for a
    /// transfer size the pool had none for) this device has done: a run that
    /// did one is slower than the next run of the same op.
    pub fn one_off_setups(&self) -> u64 {
        self.one_offs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one one-off setup (see [`GpuBackend::one_off_setups`]).
    pub(crate) fn count_one_off(&self) {
        self.one_offs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The last error that reached the uncaptured handler, if any.
    pub fn take_uncaptured(&self) -> Option<String> {
        self.uncaptured.lock().ok().and_then(|mut g| g.take())
    }
}

/// The loss reason from the driver's callback, never an empty message.
fn loss_reason(reason: wgpu::DeviceLostReason, msg: &str) -> String {
    let msg = msg.trim();
    if msg.is_empty() {
        format!("{reason:?}: the driver gave no further reason")
    } else {
        format!("{reason:?}: {msg}")
    }
}

fn poisoned() -> Error {
    Error::Gpu {
        op: "lock",
        message: "a thread panicked while holding a GPU lock".into(),
    }
}

/// Splits `groups` workgroups into an (x, y) grid with x, y <= `max_dim`.
pub(crate) fn fold_grid(groups: u64, max_dim: u32) -> Result<(u32, u32)> {
    let max = max_dim.max(1) as u64;
    if groups <= max {
        return Ok((groups as u32, 1));
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(Error::LimitExceeded {
            what: "a dispatch",
            requested: groups,
            limit: max * max,
        });
    }
    Ok((max as u32, y as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folding_covers_every_group() {
        for groups in [0u64, 1, 65_534, 65_535, 65_536, 131_072, 65_535 * 65_535] {
            let (x, y) = fold_grid(groups, 65_535).unwrap();
            assert!(x as u64 * y as u64 >= groups);
            assert!(x <= 65_535 && y <= 65_535);
            assert!((x as u64) * (y as u64) < groups + x as u64 || groups == 0);
        }
        assert!(fold_grid(65_535u64 * 65_535 + 1, 65_535).is_err());
    }
}
