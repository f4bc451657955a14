//! User WGSL kernels: the user writes the WGSL and a Rust twin; tandem reflects
//! and checks the bindings, creates the bind group, caches the pipeline, folds
//! the grid past 65,535 workgroups, and runs either side through the dispatcher.
//!
//! The kernel's bindings live in group 0, numbered densely from 0. For a grid
//! past 65,535 workgroups tandem dispatches `(x, y, 1)` workgroups; compute the
//! linear index as `(wg.y * nwg.x + wg.x) * WORKGROUP_SIZE + local_index` (with
//! `@builtin(workgroup_id) wg` and `@builtin(num_workgroups) nwg`) and skip indices
//! past your element count, which you pass in a uniform.
//!
//! Both sides check the arguments against the WGSL before running: the count
//! and kind of each binding, a uniform at least as large as its WGSL struct,
//! and a buffer's element type against its binding's array type (a mismatch
//! is [`Error::InvalidArgument`]; on the GPU it would be a silent wrong answer).
//! An empty buffer cannot be bound: under `Policy::Gpu` that is
//! [`Error::InvalidArgument`], under Auto the twin runs.
//!
//! Loops: llvmpipe (Mesa's software Vulkan and GL) silently ends any shader loop
//! after 65,535 iterations and carries on with a wrong result. tandem cannot see
//! a user kernel's trip counts, so keep each loop of your kernel below 65,535
//! iterations whatever the input (spread long loops over invocations or calls);
//! tandem's own kernels never loop over a user-chosen length.
//!
//! ```
//! use tandem::kernel::{Arg, WgslKernel};
//! use tandem::gpu::shader::Binding;
//! # fn main() -> Result<(), tandem::Error> {
//! let src = r#"
//! struct P { n: u32, a: f32 }
//! @group(0) @binding(0) var<uniform> p: P;
//! @group(0) @binding(1) var<storage, read> x: array<f32>;
//! @group(0) @binding(2) var<storage, read_write> y: array<f32>;
//! @compute @workgroup_size(64)
//! fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
//!         @builtin(local_invocation_index) lid: u32) {
//!     let i = (wg.y * nwg.x + wg.x) * 64u + lid;
//!     if (i < p.n) { y[i] = p.a * x[i] + y[i]; }
//! }"#;
//! let k = WgslKernel::new("saxpy", src, "main")?
//!     .expect_bindings(&[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite])?;
//! let ctx = tandem::Context::new()?;
//! let x = ctx.upload(&[1.0f32, 2.0, 3.0])?;
//! let mut y = ctx.upload(&[10.0f32, 10.0, 10.0])?;
//! let params: [u32; 2] = [3, 2.0f32.to_bits()];
//! ctx.run_wgsl(&k, 3, &mut [Arg::uniform(&params), Arg::read(&x), Arg::write(&mut y)], |args| {
//!     let [_, a] = args.uniform::<[u32; 2]>(0)?;
//!     let x = args.read::<f32>(1)?;
//!     for (y, x) in args.write::<f32>(2)?.iter_mut().zip(x.iter()) {
//!         *y += f32::from_bits(a) * x;
//!     }
//!     Ok(())
//! })?;
//! assert_eq!(y.to_vec()?, [12.0, 14.0, 16.0]);
//! # Ok(()) }
//! ```

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::buffer::{Buffer, DeviceCopy};
use crate::dispatch::{self, GpuGap, Work};
use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
use crate::gpu::shader::{self, Binding};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;
use crate::Context;

static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 48);

/// A user's WGSL compute kernel, parsed, validated and reflected once.
#[derive(Debug, Clone)]
pub struct WgslKernel {
    id: u64,
    name: String,
    source: String,
    entry: String,
    bindings: Vec<Binding>,
    /// Per binding, what the WGSL declares: checked against the arguments on
    /// both sides, since a GPU binding of the wrong type or size gives a wrong
    /// answer, not an error.
    shapes: Vec<Shape>,
    workgroup_size: u32,
}

/// What a binding's WGSL type demands of its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A uniform struct of this many bytes (its WGSL size, padding included).
    Uniform(u32),
    /// A storage array whose elements are made of this scalar type.
    Array(ScalarType),
    /// Something tandem does not check (a struct of storage members, or a
    /// scalar type tandem has no element for).
    Unchecked,
}

/// The tandem element type of a naga scalar, if there is one.
fn element_of(s: naga::Scalar) -> Option<ScalarType> {
    match (s.kind, s.width) {
        (naga::ScalarKind::Float, 4) => Some(ScalarType::F32),
        (naga::ScalarKind::Float, 8) => Some(ScalarType::F64),
        (naga::ScalarKind::Sint, 4) => Some(ScalarType::I32),
        (naga::ScalarKind::Uint, 4) => Some(ScalarType::U32),
        _ => None,
    }
}

/// The shape a global of WGSL type `ty` in `space` demands.
fn shape_of(module: &naga::Module, ty: naga::Handle<naga::Type>, uniform: bool) -> Shape {
    let inner = &module.types[ty].inner;
    if uniform {
        return Shape::Uniform(inner.size(module.to_ctx()));
    }
    let naga::TypeInner::Array { base, .. } = inner else {
        return Shape::Unchecked;
    };
    let scalar = match module.types[*base].inner {
        naga::TypeInner::Scalar(s) | naga::TypeInner::Atomic(s) => Some(s),
        naga::TypeInner::Vector { scalar, .. } | naga::TypeInner::Matrix { scalar, .. } => {
            Some(scalar)
        }
        _ => None,
    };
    scalar
        .and_then(element_of)
        .map_or(Shape::Unchecked, Shape::Array)
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument {
        op: "wgsl kernel",
        message,
    }
}

impl WgslKernel {
    /// Parses and validates `source` with naga and reflects the bindings of group 0
    /// and the workgroup size of the compute entry point `entry`.
    ///
    /// # Errors
    /// [`Error::ShaderCompile`] with naga's message and line when the WGSL does not
    /// compile; [`Error::InvalidArgument`] when `entry` is not a compute entry point,
    /// or the bindings are not buffers numbered densely from 0 in group 0.
    pub fn new(name: &str, source: &str, entry: &str) -> Result<WgslKernel> {
        shader::validate_wgsl(name, source)?;
        let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::ShaderCompile {
            shader: name.to_string(),
            message: e.emit_to_string_with_path(source, name),
        })?;
        let ep = module
            .entry_points
            .iter()
            .find(|e| e.name == entry && e.stage == naga::ShaderStage::Compute)
            .ok_or_else(|| {
                invalid(format!(
                    "`{name}` has no compute entry point named `{entry}`"
                ))
            })?;
        let [x, y, z] = ep.workgroup_size;
        let mut found: Vec<(u32, Binding, Shape)> = Vec::new();
        for (_, var) in module.global_variables.iter() {
            let Some(rb) = &var.binding else { continue };
            if rb.group != 0 {
                return Err(invalid(format!(
                    "`{name}`: binding {} is in group {}; tandem binds group 0 only",
                    rb.binding, rb.group
                )));
            }
            let kind = match var.space {
                naga::AddressSpace::Uniform => Binding::Uniform,
                naga::AddressSpace::Storage { access }
                    if access.contains(naga::StorageAccess::STORE) =>
                {
                    Binding::ReadWrite
                }
                naga::AddressSpace::Storage { .. } => Binding::ReadOnly,
                _ => {
                    return Err(invalid(format!(
                        "`{name}`: binding {} is not a buffer; tandem binds buffers only",
                        rb.binding
                    )))
                }
            };
            let shape = shape_of(&module, var.ty, kind == Binding::Uniform);
            found.push((rb.binding, kind, shape));
        }
        found.sort_by_key(|b| b.0);
        for (i, (b, _, _)) in found.iter().enumerate() {
            if *b != i as u32 {
                return Err(invalid(format!("`{name}`: bindings must be numbered 0, 1, 2, ... without gaps; found {b} where {i} was expected")));
            }
        }
        Ok(WgslKernel {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_string(),
            source: source.to_string(),
            entry: entry.to_string(),
            bindings: found.iter().map(|b| b.1).collect(),
            shapes: found.iter().map(|b| b.2).collect(),
            workgroup_size: x * y * z,
        })
    }

    /// Reads the WGSL from a file.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the file cannot be read; otherwise as [`WgslKernel::new`].
    pub fn from_file(path: impl AsRef<std::path::Path>, entry: &str) -> Result<WgslKernel> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        WgslKernel::new(&path.display().to_string(), &source, entry)
    }

    /// Checks that the kernel's bindings are the ones the caller declares.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first binding that differs.
    pub fn expect_bindings(self, declared: &[Binding]) -> Result<WgslKernel> {
        if declared != self.bindings.as_slice() {
            return Err(invalid(format!(
                "`{}` declares bindings {declared:?}, but its WGSL has {:?}",
                self.name, self.bindings
            )));
        }
        Ok(self)
    }

    /// The reflected bindings of group 0, in binding order.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Invocations per workgroup of the entry point.
    pub fn workgroup_size(&self) -> u32 {
        self.workgroup_size
    }
}

/// What a buffer argument needs to do, whatever its element type.
trait ErasedBuffer {
    fn scalar(&self) -> ScalarType;
    fn len(&self) -> usize;
    fn on_device(&self, gpu: &GpuBackend) -> bool;
    fn on_host(&self) -> bool;
    fn device(&self, gpu: &Arc<GpuBackend>) -> Result<wgpu::Buffer>;
    fn host_any(&self) -> Result<Box<dyn Any + Send + Sync>>;
    fn take_host_any(&mut self) -> Result<Box<dyn Any + Send + Sync>>;
    fn put_host_any(&mut self, v: Box<dyn Any + Send + Sync>);
    fn put_device(&mut self, copy: DeviceCopy);
    /// Marks the contents failed with an error, later (a deferred batch that failed).
    fn fail_later(&self) -> crate::gpu::deferred::Fail;
}

impl<T: Element> ErasedBuffer for Buffer<T> {
    fn scalar(&self) -> ScalarType {
        T::SCALAR
    }
    fn len(&self) -> usize {
        Buffer::len(self)
    }
    fn on_device(&self, gpu: &GpuBackend) -> bool {
        Buffer::on_device(self, gpu)
    }
    fn on_host(&self) -> bool {
        Buffer::on_host(self)
    }
    fn device(&self, gpu: &Arc<GpuBackend>) -> Result<wgpu::Buffer> {
        Buffer::device(self, gpu, "wgsl kernel")
    }
    fn host_any(&self) -> Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(self.host()?))
    }
    fn take_host_any(&mut self) -> Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(self.host()?.as_ref().clone()))
    }
    fn put_host_any(&mut self, v: Box<dyn Any + Send + Sync>) {
        if let Ok(v) = v.downcast::<Vec<T>>() {
            self.replace_host(*v);
        }
    }
    fn put_device(&mut self, copy: DeviceCopy) {
        self.replace_device(copy);
    }
    fn fail_later(&self) -> crate::gpu::deferred::Fail {
        let slot = self.slot();
        Box::new(move |e| slot.fail(e))
    }
}

enum ArgKind<'a> {
    Read(&'a dyn ErasedBuffer),
    Write(&'a mut dyn ErasedBuffer),
    Uniform(&'a [u8]),
}

/// One argument of [`Context::run_wgsl`], in binding order.
pub struct Arg<'a>(ArgKind<'a>);

impl<'a> Arg<'a> {
    /// A buffer the kernel only reads (`var<storage, read>`).
    pub fn read<T: Element>(b: &'a Buffer<T>) -> Arg<'a> {
        Arg(ArgKind::Read(b))
    }
    /// A buffer the kernel reads and writes (`var<storage, read_write>`); its
    /// contents are replaced by the kernel's.
    pub fn write<T: Element>(b: &'a mut Buffer<T>) -> Arg<'a> {
        Arg(ArgKind::Write(b))
    }
    /// A uniform block (`var<uniform>`), laid out as WGSL's uniform rules say.
    pub fn uniform<P: bytemuck::Pod>(p: &'a P) -> Arg<'a> {
        Arg(ArgKind::Uniform(bytemuck::bytes_of(p)))
    }
}

impl Arg<'_> {
    /// The buffer of a read or write argument.
    fn buffer(&self) -> Option<&dyn ErasedBuffer> {
        match &self.0 {
            ArgKind::Read(b) => Some(*b),
            ArgKind::Write(b) => Some(&**b),
            ArgKind::Uniform(_) => None,
        }
    }
}

enum Slot {
    Read(Box<dyn Any + Send + Sync>),
    Write(Box<dyn Any + Send + Sync>),
    Uniform(Vec<u8>),
}

/// The arguments as the Rust twin sees them, by binding index.
pub struct CpuArgs {
    slots: Vec<Slot>,
}

fn wrong(i: usize, what: &str) -> Error {
    invalid(format!("the twin asked binding {i} for {what}, which it is not (wrong index, kind or element type)"))
}

impl CpuArgs {
    /// The contents of read-only buffer `i`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when binding `i` is not a read-only buffer of `T`.
    pub fn read<T: Element>(&self, i: usize) -> Result<Arc<Vec<T>>> {
        match self.slots.get(i) {
            Some(Slot::Read(b)) => b
                .downcast_ref::<Arc<Vec<T>>>()
                .cloned()
                .ok_or_else(|| wrong(i, "a read buffer of this type")),
            _ => Err(wrong(i, "a read buffer")),
        }
    }

    /// The contents of read-write buffer `i`, to update in place.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when binding `i` is not a read-write buffer of `T`.
    pub fn write<T: Element>(&mut self, i: usize) -> Result<&mut [T]> {
        match self.slots.get_mut(i) {
            Some(Slot::Write(b)) => b
                .downcast_mut::<Vec<T>>()
                .map(|v| v.as_mut_slice())
                .ok_or_else(|| wrong(i, "a write buffer of this type")),
            _ => Err(wrong(i, "a write buffer")),
        }
    }

    /// The uniform block `i`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when binding `i` is not a uniform of `P`'s size.
    pub fn uniform<P: bytemuck::Pod>(&self, i: usize) -> Result<P> {
        match self.slots.get(i) {
            Some(Slot::Uniform(b)) if b.len() == std::mem::size_of::<P>() => {
                Ok(bytemuck::pod_read_unaligned(b))
            }
            _ => Err(wrong(i, "a uniform of this size")),
        }
    }
}

impl Context {
    /// Runs a user WGSL kernel over `invocations` invocations (rounded up to whole
    /// workgroups; the kernel skips the extra ones), or its Rust twin `cpu`, as the
    /// dispatcher decides. Read-write buffers hold the kernel's results afterwards.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the arguments do not match the kernel's
    /// bindings (count, kind) or the twin misreads them; [`Error::LimitExceeded`]
    /// when a buffer exceeds the device's largest binding (Auto then runs the twin);
    /// GPU errors under Policy::Gpu; whatever the twin returns.
    pub fn run_wgsl(
        &self,
        kernel: &WgslKernel,
        invocations: usize,
        args: &mut [Arg<'_>],
        cpu: impl FnOnce(&mut CpuArgs) -> Result<()>,
    ) -> Result<()> {
        if args.len() != kernel.bindings.len() {
            return Err(invalid(format!(
                "`{}` has {} bindings, but {} arguments were given",
                kernel.name,
                kernel.bindings.len(),
                args.len()
            )));
        }
        for (i, (a, b)) in args.iter().zip(&kernel.bindings).enumerate() {
            let ok = matches!(
                (&a.0, b),
                (ArgKind::Read(_), Binding::ReadOnly)
                    | (ArgKind::Write(_), Binding::ReadWrite)
                    | (ArgKind::Uniform(_), Binding::Uniform)
            );
            if !ok {
                return Err(invalid(format!(
                    "`{}`: argument {i} does not match binding {i}, which is {b:?}",
                    kernel.name
                )));
            }
            check_shape(kernel, i, a, kernel.shapes[i])?;
        }
        let gpu = self.gpu_for(self.policy());
        let buffers = || {
            args.iter().filter_map(|a| match &a.0 {
                ArgKind::Read(b) => Some(&**b),
                ArgKind::Write(b) => Some(&**b as &dyn ErasedBuffer),
                ArgKind::Uniform(_) => None,
            })
        };
        let supported = gpu
            .as_ref()
            .is_some_and(|g| buffers().all(|b| b.len() > 0 && g.supports_scalar(b.scalar())));
        let mut work = Work::new(dispatch::Op::RunWgsl, "user kernel", invocations);
        work.gpu_supported = supported;
        work.gpu_gap = if buffers().any(|b| b.len() == 0) {
            GpuGap::EmptyBinding
        } else {
            GpuGap::NoF64
        };
        for b in buffers() {
            let bytes = (b.len() * b.scalar().size()) as u64;
            let (host, device) = (b.on_host(), gpu.as_ref().is_some_and(|g| b.on_device(g)));
            work.in_bytes += bytes;
            work.inputs_on_host &= host;
            work.inputs_on_device &= device;
            work.upload_bytes += if device { 0 } else { bytes };
            work.readback_bytes += if host { 0 } else { bytes };
        }
        if invocations == 0 {
            return Ok(());
        }
        // Under Policy::Gpu the launch joins the open batch; if the batch fails,
        // the written buffers hold the error. Under Auto and Split it runs before
        // the call returns: its outputs are written in place, so a failed batch
        // could not re-run it on the CPU from its inputs.
        let entry = (self.policy() == crate::Policy::Gpu).then(|| {
            let fails: Vec<crate::gpu::deferred::Fail> = args
                .iter()
                .filter_map(|a| match &a.0 {
                    ArgKind::Write(b) => Some(b.fail_later()),
                    _ => None,
                })
                .collect();
            dispatch::failing_entry(fails)
        });
        let args_cell = std::cell::RefCell::new(args);
        dispatch::run_with_entry(
            self,
            work,
            || {
                let mut args = args_cell.borrow_mut();
                let mut slots = Vec::with_capacity(args.len());
                for a in args.iter_mut() {
                    slots.push(match &mut a.0 {
                        ArgKind::Read(b) => Slot::Read(b.host_any()?),
                        ArgKind::Write(b) => Slot::Write(b.take_host_any()?),
                        ArgKind::Uniform(u) => Slot::Uniform(u.to_vec()),
                    });
                }
                let mut cpu_args = CpuArgs { slots };
                cpu(&mut cpu_args)?;
                for (a, s) in args.iter_mut().zip(cpu_args.slots) {
                    if let (ArgKind::Write(b), Slot::Write(v)) = (&mut a.0, s) {
                        b.put_host_any(v);
                    }
                }
                Ok(())
            },
            |g| {
                let mut args = args_cell.borrow_mut();
                let written = launch(g, kernel, invocations, &args)?;
                for (a, w) in args.iter_mut().zip(written) {
                    if let (ArgKind::Write(b), Some(buffer)) = (&mut a.0, w) {
                        b.put_device(DeviceCopy::new(g, buffer));
                    }
                }
                Ok(())
            },
            entry,
        )
    }
}

/// Checks argument `i` against what binding `i`'s WGSL type demands.
fn check_shape(kernel: &WgslKernel, i: usize, a: &Arg<'_>, shape: Shape) -> Result<()> {
    match (&a.0, shape) {
        (ArgKind::Uniform(u), Shape::Uniform(size)) if u.len() < size as usize => {
            Err(invalid(format!(
                "`{}`: the uniform for binding {i} has {} bytes, but its WGSL struct needs {size}; pass a value of the struct's full size (padding included)",
                kernel.name,
                u.len()
            )))
        }
        (ArgKind::Read(b), Shape::Array(t)) if b.scalar() != t => Err(wrong_type(kernel, i, b.scalar(), t)),
        (ArgKind::Write(b), Shape::Array(t)) if b.scalar() != t => Err(wrong_type(kernel, i, b.scalar(), t)),
        _ => Ok(()),
    }
}

fn wrong_type(kernel: &WgslKernel, i: usize, given: ScalarType, wgsl: ScalarType) -> Error {
    invalid(format!(
        "`{}`: binding {i} is an array of {} in the WGSL, but a Buffer<{}> was passed; pass a buffer of the binding's element type",
        kernel.name,
        wgsl.wgsl(),
        given.wgsl()
    ))
}

/// Binds, dispatches and waits; returns the device buffers of the written arguments.
fn launch(
    g: &Arc<GpuBackend>,
    kernel: &WgslKernel,
    invocations: usize,
    args: &[Arg<'_>],
) -> Result<Vec<Option<wgpu::Buffer>>> {
    let op = "run_wgsl";
    let max = g.limits.max_storage_buffer_binding_size;
    let mut bindings = Vec::with_capacity(args.len());
    let mut written = Vec::with_capacity(args.len());
    for a in args {
        if let Some(b) = a.buffer() {
            let bytes = (b.len() * b.scalar().size()) as u64;
            if bytes > max {
                return Err(Error::LimitExceeded {
                    what: "a user kernel's buffer binding",
                    requested: bytes,
                    limit: max,
                });
            }
            let d = b.device(g)?;
            written.push(matches!(a.0, ArgKind::Write(_)).then(|| d.clone()));
            bindings.push(Bind::bytes(&d, 0, bytes));
        } else if let ArgKind::Uniform(u) = &a.0 {
            bindings.push(Bind::Uniform(u.to_vec()));
            written.push(None);
        }
    }
    let source = kernel.source.clone();
    // User WGSL names its own types: the variant does not apply (U32 stands
    // for "not f64", which picks nothing here since the source ignores it).
    let pipeline = g.pipeline_generated(
        kernel.id,
        &kernel.name,
        ScalarType::U32,
        |_| source,
        &kernel.bindings,
        &kernel.entry,
    )?;
    let groups = (invocations as u64).div_ceil(kernel.workgroup_size.max(1) as u64);
    let mut s = Stream::new(g, op);
    s.dispatch(&pipeline, bindings, groups);
    s.submit()?;
    Ok(written)
}
