//! [`Work`]: what the dispatcher knows about one call before deciding.

use crate::element::Element;
use crate::error::Error;
use crate::gpu::GpuBackend;
use crate::Buffer;

use super::Op;

/// What the dispatcher needs to know about one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Work {
    pub op: Op,
    /// The element type's WGSL name.
    pub ty: &'static str,
    /// Elements of the main input; multiply-adds for matmul. The cost model's work.
    pub len: usize,
    /// Every input already has a valid copy on the GPU.
    pub inputs_on_device: bool,
    /// Every input has a valid host copy.
    pub inputs_on_host: bool,
    /// The GPU has a kernel for this op and element type.
    pub gpu_supported: bool,
    /// Why the GPU cannot run this call, when `gpu_supported` is false: what
    /// Policy::Gpu's error says.
    pub gpu_gap: GpuGap,
    /// Bytes of all inputs.
    pub in_bytes: u64,
    /// Input bytes with no copy on the GPU: the GPU side must upload them.
    pub upload_bytes: u64,
    /// Input bytes with no host copy: the CPU side must read them back.
    pub readback_bytes: u64,
    /// Bytes of a buffer result. A GPU result stays on the GPU; when the inputs
    /// came from the host the model counts reading it back, as the caller will.
    pub out_bytes: u64,
    /// The op can run split between GPU and CPU ([`Op::splittable`]).
    pub splittable: bool,
    /// A user kernel's id (0 for built-in ops): its cost is learned from its own runs.
    pub kernel: u64,
    /// Auto's fast path: every input is on the host and the work is below the
    /// profile's [`Profile::cpu_only_below_for`] the op, so the CPU runs it without a
    /// prediction. Set only by `ops::call`, which then skips the GPU's handle
    /// and residency (`gpu_supported` and `inputs_on_device` are false).
    pub host_fast: bool,
}

/// Why the GPU cannot run a call ([`Work::gpu_gap`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpuGap {
    /// tandem has no GPU kernel for this op and element type.
    NoKernel,
    /// The kernel needs f64 and the adapter lacks SHADER_F64.
    NoF64,
    /// More elements than a kernel indexes (32-bit indices).
    TooLong,
    /// A buffer the kernel binds is empty (a zero-size binding is invalid).
    EmptyBinding,
}

impl GpuGap {
    /// Policy::Gpu's error for a call the GPU cannot run.
    pub fn error(self, w: &Work) -> Error {
        let unsupported = |why| Error::Unsupported {
            op: w.op.name(),
            ty: w.ty,
            side: "GPU",
            why,
        };
        match self {
            GpuGap::NoKernel => unsupported("tandem has no GPU kernel for this op and element type"),
            GpuGap::NoF64 => unsupported("the adapter lacks SHADER_F64, which f64 kernels need"),
            GpuGap::TooLong => Error::LimitExceeded {
                what: "elements in one GPU op (kernels index with 32 bits)",
                requested: w.len as u64,
                limit: u32::MAX as u64 - 1,
            },
            GpuGap::EmptyBinding => Error::InvalidArgument {
                op: w.op.name(),
                message: "a buffer argument is empty, and a GPU binding cannot be; skip the call or pass non-empty buffers".into(),
            },
        }
    }
}

/// An op's input as the dispatcher sees it, whatever its element type.
pub(crate) trait Input {
    /// The element type.
    fn scalar(&self) -> crate::element::ScalarType;
    /// Number of elements.
    fn elems(&self) -> usize;
    /// Whether it has a valid host copy, and a valid copy on `gpu`.
    fn copies_on(&self, gpu: Option<&GpuBackend>) -> (bool, bool);
}

impl<T: Element> Input for Buffer<T> {
    fn scalar(&self) -> crate::element::ScalarType {
        T::SCALAR
    }
    fn elems(&self) -> usize {
        self.len()
    }
    fn copies_on(&self, gpu: Option<&GpuBackend>) -> (bool, bool) {
        Buffer::copies_on(self, gpu)
    }
}

impl Work {
    /// A call of `op` on `ty` elements over `len` elements, before its inputs are added.
    pub fn new(op: Op, ty: &'static str, len: usize) -> Work {
        Work {
            op,
            ty,
            len,
            inputs_on_device: true,
            inputs_on_host: true,
            gpu_supported: false,
            gpu_gap: GpuGap::NoKernel,
            in_bytes: 0,
            upload_bytes: 0,
            readback_bytes: 0,
            out_bytes: 0,
            splittable: op.splittable(),
            kernel: 0,
            host_fast: false,
        }
    }

    /// Counts `b` as an input: where it lives, and what moving it would cost.
    pub fn input(&mut self, gpu: Option<&GpuBackend>, b: &dyn Input) {
        let (host, device) = b.copies_on(gpu);
        let bytes = (b.elems() * b.scalar().size()) as u64;
        self.in_bytes += bytes;
        self.inputs_on_host &= host;
        self.inputs_on_device &= device;
        if !device {
            self.upload_bytes += bytes;
        }
        if !host {
            self.readback_bytes += bytes;
        }
    }

    /// Declares a buffer result of `elems` elements of `T`.
    pub fn output<T: Element>(mut self, elems: usize) -> Work {
        self.out_bytes = (elems * std::mem::size_of::<T>()) as u64;
        self
    }
}
