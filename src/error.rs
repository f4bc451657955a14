//! The one error type of tandem.
//!
//! Every failure that a user's input or a device can cause comes back as an
//! [`Error`]; nothing in tandem panics on bad input. Each variant's message says
//! what went wrong and what to do about it.

use std::time::Duration;

/// A failure of a tandem call.
///
/// Match on [`Error::kind`] for a stable, field-less classification; the variants
/// carry the details for the message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No GPU adapter could be used, and the policy asked for one.
    #[error("no usable GPU adapter: {reason}. Install a Vulkan, Metal, DX12 or GL driver (on Linux without a GPU: Mesa's lavapipe, package mesa-vulkan-drivers), or use Policy::Cpu / TANDEM_BACKEND=cpu")]
    NoAdapter {
        /// Why no adapter was usable.
        reason: String,
    },
    /// A dispatch or binding would exceed a device limit that tandem could not work around.
    #[error("{what} needs {requested}, but this device allows at most {limit}; split the work into smaller calls")]
    LimitExceeded {
        /// The limit in question.
        what: &'static str,
        /// What was asked for.
        requested: u64,
        /// The device's limit.
        limit: u64,
    },
    /// The buffer can never fit on this device (or, for a host allocation, in
    /// this process's address space), whatever is freed.
    #[error("a buffer of {bytes} bytes can never fit here (largest possible: {max} bytes); process the data in smaller pieces, or use Policy::Cpu when the limit is the GPU's")]
    TooLarge {
        /// The bytes asked for.
        bytes: u64,
        /// The largest buffer the device allows.
        max: u64,
    },
    /// The device (or the host, for a host allocation) ran out of memory now; the
    /// same call may pass once other buffers are dropped.
    #[error("out of memory during {op}: {message}; drop other buffers and retry, or use smaller inputs (Policy::Cpu when the GPU is the one short of memory)")]
    OutOfMemory {
        /// The op that failed.
        op: &'static str,
        /// The driver's message.
        message: String,
    },
    /// The GPU device was lost (driver reset, removal, or destroyed).
    #[error("the GPU device was lost ({reason}); data that lived only on the GPU is gone. Policy::Auto re-runs ops on the CPU, and the context opens the GPU again on a later call")]
    DeviceLost {
        /// The reason the driver gave.
        reason: String,
    },
    /// The GPU did not finish in time.
    #[error("the GPU did not finish {op} within {after:?}; raise ContextBuilder::gpu_timeout or use Policy::Cpu")]
    Timeout {
        /// The op that timed out.
        op: &'static str,
        /// How long tandem waited.
        after: Duration,
    },
    /// A WGSL shader failed to parse or validate.
    #[error("shader `{shader}` did not compile:\n{message}")]
    ShaderCompile {
        /// The shader's name.
        shader: String,
        /// naga's message, with the line.
        message: String,
    },
    /// Two inputs that must have equal lengths do not.
    #[error("{op}: length mismatch: expected {expected} elements, got {actual}; pass buffers of equal length")]
    LengthMismatch {
        /// The op.
        op: &'static str,
        /// The expected length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// An argument is out of its domain.
    #[error("{op}: invalid argument: {message}")]
    InvalidArgument {
        /// The op.
        op: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The chosen side cannot run this op for this element type.
    #[error("{op} on {ty} is not supported on the {side}: {why}; use Policy::Auto or Policy::Cpu")]
    Unsupported {
        /// The op.
        op: &'static str,
        /// The element type.
        ty: &'static str,
        /// The side that lacks it.
        side: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A file (such as a calibration profile) could not be read or written.
    #[error("cannot use {path}: {message}; check the folder's permissions, or set TANDEM_CACHE_DIR to a writable folder")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// Any other error the GPU driver or wgpu reported.
    #[error("GPU error during {op}: {message}")]
    Gpu {
        /// The op.
        op: &'static str,
        /// wgpu's message.
        message: String,
    },
    /// An op of a distributed world ([`crate::dist::World`]) failed on one member;
    /// every member of the world returns this same error.
    #[error("member {member} of the world failed: {message}")]
    Member {
        /// The first member (rank) that failed.
        member: usize,
        /// The kind of the error that member saw.
        kind: ErrorKind,
        /// That member's error message, which says what to do.
        message: String,
    },
}

/// A field-less classification of [`Error`], stable for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NoAdapter`].
    NoAdapter,
    /// See [`Error::LimitExceeded`].
    LimitExceeded,
    /// See [`Error::TooLarge`].
    TooLarge,
    /// See [`Error::OutOfMemory`].
    OutOfMemory,
    /// See [`Error::DeviceLost`].
    DeviceLost,
    /// See [`Error::Timeout`].
    Timeout,
    /// See [`Error::ShaderCompile`].
    ShaderCompile,
    /// See [`Error::LengthMismatch`].
    LengthMismatch,
    /// See [`Error::InvalidArgument`].
    InvalidArgument,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Io`].
    Io,
    /// See [`Error::Gpu`].
    Gpu,
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoAdapter { .. } => ErrorKind::NoAdapter,
            Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
            Error::DeviceLost { .. } => ErrorKind::DeviceLost,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::ShaderCompile { .. } => ErrorKind::ShaderCompile,
            Error::LengthMismatch { .. } => ErrorKind::LengthMismatch,
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Io { .. } => ErrorKind::Io,
            Error::Gpu { .. } => ErrorKind::Gpu,
            Error::Member { kind, .. } => *kind,
        }
    }

    /// True when the same call could pass if retried on the CPU: the GPU failed,
    /// not the input. `Policy::Auto` re-runs such ops on the CPU.
    pub fn is_device_failure(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::DeviceLost
                | ErrorKind::Timeout
                | ErrorKind::OutOfMemory
                | ErrorKind::TooLarge
                | ErrorKind::LimitExceeded
                | ErrorKind::Unsupported
                | ErrorKind::Gpu
        )
    }
}

/// The result type of tandem calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;
