//! Indexed copies: `gather` (`out[i] = src[idx[i]]`) and `scatter`
//! (`dst[idx[i]] = src[i]`), with `u32` indices.
//!
//! - Results are identical on both sides, duplicates included: in `scatter`, when
//!   several `i` share one index, the largest `i` (the last one) wins, on the CPU
//!   and on the GPU alike (the GPU first lets each slot claim its largest `i` with
//!   an atomic max, then writes the winners).
//! - Every index is checked before anything is written: an index out of range is
//!   [`crate::ErrorKind::InvalidArgument`], and `scatter` then leaves `dst`
//!   unchanged on both sides.
//! - The GPU reads (gather) or writes (scatter) the indexed buffer at random
//!   positions, so that buffer must fit one storage binding (128 MiB on
//!   lavapipe; `gpu_info().max_storage_binding`). Past it, `Policy::Auto` runs the
//!   op on the CPU and `Policy::Gpu` fails with [`crate::ErrorKind::LimitExceeded`].
//!   The linearly read buffers (`idx`, gather's output, scatter's `src`) may be of
//!   any length.
//! - GPU kernels exist for f32, i32 and u32; f64 runs on the CPU.
//! - Cost: a GPU scatter makes two passes over `idx` plus a `dst.len()` array of
//!   claims; a CPU scatter into a buffer with only a host copy copies `dst` once
//!   (a buffer's host copy is shared, so it is copied before it is written).

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::{Buffer, DeviceCopy};
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::ops::call;
use crate::{Context, Policy};

fn empty_source(op: &'static str, n: usize) -> Error {
    Error::InvalidArgument {
        op,
        message: format!("{n} indices into an empty buffer: every index is out of range"),
    }
}

/// What a scatter produced: a new host copy, or the written device copy.
enum Written<T> {
    Host(Vec<T>),
    Device(DeviceCopy),
}

impl Context {
    /// `out[i] = src[idx[i]]`: a buffer of `idx.len()` elements.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let src = ctx.upload(&[10.0f32, 20.0, 30.0])?;
    /// let idx = ctx.upload(&[2u32, 0, 2])?;
    /// assert_eq!(ctx.gather(&src, &idx)?.to_vec()?, vec![30.0, 10.0, 30.0]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when an index is not below `src.len()`;
    /// [`crate::Error::LimitExceeded`] under `Policy::Gpu` when `src` does not fit
    /// one storage binding; GPU errors under `Policy::Gpu`.
    pub fn gather<T: Element>(&self, src: &Buffer<T>, idx: &Buffer<u32>) -> Result<Buffer<T>> {
        let kind = Op::Gather;
        let op = kind.name();
        let n = idx.len();
        if n > 0 && src.is_empty() {
            return Err(empty_source(op, n));
        }
        let (w, g) = call(self, kind, &gpu::GATHER, n, 0, &[src, idx]);
        let mut w = w.output::<T>(n);
        if let Some(g) = g {
            w.gpu_supported &= (src.len() as u64) < u32::MAX as u64;
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits::<T>(&g, src.len());
            }
        }
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::gather(&src.host()?, &idx.host()?)?)),
            |g| {
                let out =
                    gpu::gather::<T>(g, &src.device(g, op)?, src.len(), &idx.device(g, op)?, n)?;
                Ok(Buffer::device_output(g, n, out))
            },
        )
    }

    /// `dst[idx[i]] = src[i]` for every `i`; when indices repeat, the largest `i`
    /// wins (on both sides). `dst` is written on the side that runs the op and
    /// keeps its length.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let src = ctx.upload(&[1u32, 2, 3])?;
    /// let idx = ctx.upload(&[3u32, 0, 3])?;
    /// let mut dst = ctx.zeros::<u32>(4)?;
    /// ctx.scatter(&src, &idx, &mut dst)?;
    /// assert_eq!(dst.to_vec()?, vec![2, 0, 0, 3]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when `src` and `idx` differ in length;
    /// [`crate::Error::InvalidArgument`] when an index is not below `dst.len()`
    /// (then `dst` is unchanged); [`crate::Error::LimitExceeded`] under
    /// `Policy::Gpu` when `dst` does not fit one storage binding; GPU errors under
    /// `Policy::Gpu`.
    pub fn scatter<T: Element>(
        &self,
        src: &Buffer<T>,
        idx: &Buffer<u32>,
        dst: &mut Buffer<T>,
    ) -> Result<()> {
        let kind = Op::Scatter;
        let op = kind.name();
        src.same_len(idx, op)?;
        let n = src.len();
        if n == 0 {
            return Ok(());
        }
        if dst.is_empty() {
            return Err(empty_source(op, n));
        }
        let (w, g) = call(self, kind, &gpu::SCATTER, n, 0, &[src, &*dst, idx]);
        let mut w = w.output::<T>(dst.len());
        if let Some(g) = g {
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits::<T>(&g, dst.len());
            }
        }
        let d = &*dst;
        let written = dispatch::run(
            self,
            w,
            || {
                let mut v = d.host()?.as_ref().clone();
                cpu::scatter(&src.host()?, &idx.host()?, &mut v)?;
                Ok(Written::Host(v))
            },
            |g| {
                let buffer = d.device(g, op)?;
                gpu::scatter::<T>(
                    g,
                    &src.device(g, op)?,
                    &idx.device(g, op)?,
                    n,
                    &buffer,
                    d.len(),
                )?;
                Ok(Written::Device(DeviceCopy::new(g, buffer)))
            },
        )?;
        match written {
            Written::Host(v) => dst.replace_host(v),
            Written::Device(copy) => dst.replace_device(copy),
        }
        Ok(())
    }
}
