//! Thrust's by-key family: `reduce_by_key`, `inclusive_scan_by_key`,
//! `exclusive_scan_by_key`, `unique` and `run_length_encode`.
//!
//! - A run is a maximal stretch of consecutive equal keys. Keys are equal when
//!   their bits are equal, which is equality under the total order `sort` uses:
//!   after a `sort`, each distinct key is one run; `-0` and `+0` are different
//!   keys; NaNs with the same bits are one key.
//! - `reduce_by_key` gives one (key, reduction) per run, in order. [`ReduceOp::Sum`]
//!   wraps for integers; [`ReduceOp::Min`] and [`ReduceOp::Max`] follow `min` and
//!   `max` (NaN ignored, an all-NaN run gives NaN, `-0 < +0`) and are identical on
//!   both sides. The scans by key are sums that restart at each run
//!   (the exclusive one gives 0 at each run's head).
//! - Float sums within a run differ between sides by association only. The CPU
//!   adds in order within each half of a 65,536-element chunk (`reduce_by_key`;
//!   the scans within each chunk) and adds a run's partial sums of later halves
//!   and chunks in order; the GPU adds 8 elements per thread in
//!   order, then combines thread and tile partials in a tree (Hillis-Steele in
//!   a workgroup, the same scheme over tiles, recursively). A result is a chain
//!   of at most `65,536 + n / 65,536` rounded additions on the CPU and about
//!   `8 + 4 log2(n)` on the GPU, so it is within that count times
//!   `eps * (sum of |values| in the run)` of the exact sum; the tests allow
//!   `4,200 * eps * sum |v|` (or exactness, for small integers held in floats).
//! - Keys may be f32, i32, u32 (and f64 on the CPU); values are 32-bit on the
//!   GPU (f64 runs on the CPU under Auto and is refused with
//!   [`crate::ErrorKind::Unsupported`] under Policy::Gpu). Empty inputs give
//!   empty outputs, answered on the host.
//! - GPU: one submission writes run heads (and tails) and the segmented scan of
//!   the values (reduce-then-scan over tiles, no waiting between workgroups);
//!   the per-run outputs are then compacted with `ops::compact` (the heads or
//!   tails as the mask), which uses the shared scan. Any size works, past the
//!   binding and dispatch limits (binding windows, folded grids).

pub mod cpu;
pub(crate) mod gpu;

use std::sync::Arc;

use crate::buffer::Buffer;
use crate::dispatch::Op;
use crate::dispatch::{self, Work};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::ops::call;
use crate::Context;

/// The reduction of [`Context::reduce_by_key`] and [`Context::segmented_reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The sum (wrapping for integers).
    Sum = 0,
    /// The smallest value, as [`Context::min`] orders them (NaN ignored, `-0 < +0`).
    Min = 1,
    /// The largest value, as [`Context::max`] orders them.
    Max = 2,
}

impl ReduceOp {
    /// Every reduction.
    pub const ALL: [ReduceOp; 3] = [ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max];

    /// The result over no elements: 0, the type's largest value (or +inf), or
    /// its smallest (or -inf).
    pub fn identity<T: Element>(self) -> T {
        match self {
            ReduceOp::Sum => T::zero(),
            ReduceOp::Min => T::from_f64(f64::INFINITY),
            ReduceOp::Max => T::from_f64(f64::NEG_INFINITY),
        }
    }
}

/// A device buffer of `len` elements as a result.
pub(crate) fn device<T: Element>(
    g: &Arc<GpuBackend>,
    buffer: wgpu::Buffer,
    len: usize,
) -> Buffer<T> {
    Buffer::device_only(g, len, buffer)
}

/// A compaction's result as a buffer.
fn kept<T: Element>(g: &Arc<GpuBackend>, r: Option<(wgpu::Buffer, usize)>) -> Buffer<T> {
    match r {
        Some((b, len)) => device(g, b, len),
        None => Buffer::from_host(Vec::new()),
    }
}

/// The dispatcher's view of a by-key call over `inputs` (32-bit on the GPU),
/// with `outputs` output elements of `T` at most.
fn by_key_work<T: Element>(
    ctx: &Context,
    op: Op,
    inputs: &[&dyn dispatch::Input],
    n: usize,
    outputs: usize,
    all_32: bool,
) -> Work {
    let (w, _) = call(ctx, op, &gpu::BY_KEY, n, 0, inputs);
    let mut w = w.output::<T>(outputs);
    w.gpu_supported &= all_32;
    w
}

/// Tails were asked for, so this cannot happen; an error rather than a panic.
fn no_tails(op: &'static str) -> Error {
    Error::Gpu {
        op,
        message: "run tails were not written".into(),
    }
}

fn too_long(op: &'static str, n: usize) -> Error {
    Error::InvalidArgument {
        op,
        message: format!("{n} elements: at most 2^32 - 2 are supported (u32 indices and counts)"),
    }
}

impl Context {
    /// One result per run of equal consecutive keys: each run's key and the
    /// reduction (`op`) of its values. Sort first (`sort_by_key`) to reduce by
    /// distinct key.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// use tandem::ReduceOp;
    /// let ctx = tandem::Context::new()?;
    /// let keys = ctx.upload(&[1u32, 1, 2, 2, 2, 1])?;
    /// let vals = ctx.upload(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// let (k, s) = ctx.reduce_by_key(&keys, &vals, ReduceOp::Sum)?;
    /// assert_eq!(k.to_vec()?, vec![1, 2, 1]);
    /// assert_eq!(s.to_vec()?, vec![3.0, 12.0, 6.0]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ;
    /// [`crate::Error::InvalidArgument`] past 2^32 - 2 elements; under
    /// Policy::Gpu, [`crate::Error::Unsupported`] for 64-bit keys or values, and
    /// GPU errors.
    pub fn reduce_by_key<K: Element, V: Element>(
        &self,
        keys: &Buffer<K>,
        values: &Buffer<V>,
        op: ReduceOp,
    ) -> Result<(Buffer<K>, Buffer<V>)> {
        let kind = Op::ReduceByKey;
        let name = kind.name();
        keys.same_len(values, name)?;
        let n = keys.len();
        if n == 0 {
            return Ok((Buffer::from_host(Vec::new()), Buffer::from_host(Vec::new())));
        }
        if n >= u32::MAX as usize - 1 {
            return Err(too_long(name, n));
        }
        let all_32 = std::mem::size_of::<K>() == 4 && std::mem::size_of::<V>() == 4;
        let w = by_key_work::<V>(self, kind, &[keys, values], n, 2 * n, all_32);
        dispatch::run(
            self,
            w,
            || {
                let (k, v) = cpu::reduce_by_key(&keys.host()?, &values.host()?, op);
                Ok((Buffer::from_host(k), Buffer::from_host(v)))
            },
            |g| {
                let (dk, dv) = (keys.device(g, name)?, values.device(g, name)?);
                let mode = gpu::Mode::Inclusive;
                let (h, t, scan) =
                    gpu::heads_and_scan::<V>(g, name, &dk, Some(&dv), n, mode, op, true)?;
                let t = t.ok_or_else(|| no_tails(name))?;
                let k = kept::<K>(g, gpu::keep::<K>(g, name, &dk, &h, n)?);
                let v = kept::<V>(g, gpu::keep::<V>(g, name, &scan, &t, n)?);
                Ok((k, v))
            },
        )
    }

    fn scan_by_key_op<K: Element, V: Element>(
        &self,
        kind: Op,
        keys: &Buffer<K>,
        values: &Buffer<V>,
        exclusive: bool,
    ) -> Result<Buffer<V>> {
        let name = kind.name();
        keys.same_len(values, name)?;
        let n = keys.len();
        if n == 0 {
            return Ok(Buffer::from_host(Vec::new()));
        }
        if n >= u32::MAX as usize - 1 {
            return Err(too_long(name, n));
        }
        let all_32 = std::mem::size_of::<K>() == 4 && std::mem::size_of::<V>() == 4;
        let w = by_key_work::<V>(self, kind, &[keys, values], n, n, all_32);
        dispatch::run(
            self,
            w,
            || {
                let (k, v) = (keys.host()?, values.host()?);
                Ok(Buffer::from_host(if exclusive {
                    cpu::exclusive_scan_by_key(&k, &v)
                } else {
                    cpu::inclusive_scan_by_key(&k, &v)
                }))
            },
            |g| {
                let (dk, dv) = (keys.device(g, name)?, values.device(g, name)?);
                let mode = if exclusive {
                    gpu::Mode::Exclusive
                } else {
                    gpu::Mode::Inclusive
                };
                let sum = ReduceOp::Sum;
                let (_, _, scan) =
                    gpu::heads_and_scan::<V>(g, name, &dk, Some(&dv), n, mode, sum, false)?;
                Ok(device(g, scan, n))
            },
        )
    }

    /// A sum scan of `values` that restarts at each run of equal consecutive
    /// keys: `y[i] = values[h] + ... + values[i]`, where `h` starts `i`'s run.
    /// Integers wrap; floats as [`crate::ops::by_key`] states.
    ///
    /// # Errors
    /// As [`Context::reduce_by_key`].
    pub fn inclusive_scan_by_key<K: Element, V: Element>(
        &self,
        keys: &Buffer<K>,
        values: &Buffer<V>,
    ) -> Result<Buffer<V>> {
        self.scan_by_key_op(Op::InclusiveScanByKey, keys, values, false)
    }

    /// As [`Context::inclusive_scan_by_key`] without the element itself:
    /// `y[i] = values[h] + ... + values[i - 1]`, and 0 at each run's head.
    ///
    /// # Errors
    /// As [`Context::reduce_by_key`].
    pub fn exclusive_scan_by_key<K: Element, V: Element>(
        &self,
        keys: &Buffer<K>,
        values: &Buffer<V>,
    ) -> Result<Buffer<V>> {
        self.scan_by_key_op(Op::ExclusiveScanByKey, keys, values, true)
    }

    /// `x` without consecutive duplicates (equal bits): each run's first element.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] past 2^32 - 2 elements; under
    /// Policy::Gpu, [`crate::Error::Unsupported`] for f64, and GPU errors.
    pub fn unique<T: Element>(&self, x: &Buffer<T>) -> Result<Buffer<T>> {
        let kind = Op::Unique;
        let name = kind.name();
        let n = x.len();
        if n == 0 {
            return Ok(Buffer::from_host(Vec::new()));
        }
        if n >= u32::MAX as usize - 1 {
            return Err(too_long(name, n));
        }
        let w = by_key_work::<T>(self, kind, &[x], n, n, std::mem::size_of::<T>() == 4);
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::unique(&x.host()?))),
            |g| {
                let dx = x.device(g, name)?;
                let (h, _) = gpu::heads(g, name, &dx, n, false)?;
                Ok(kept::<T>(g, gpu::keep::<T>(g, name, &dx, &h, n)?))
            },
        )
    }

    /// Each run of equal consecutive elements (equal bits) as its element and
    /// its length.
    ///
    /// # Errors
    /// As [`Context::unique`].
    pub fn run_length_encode<T: Element>(&self, x: &Buffer<T>) -> Result<(Buffer<T>, Buffer<u32>)> {
        let kind = Op::RunLengthEncode;
        let name = kind.name();
        let n = x.len();
        if n == 0 {
            return Ok((Buffer::from_host(Vec::new()), Buffer::from_host(Vec::new())));
        }
        if n >= u32::MAX as usize - 1 {
            return Err(too_long(name, n));
        }
        let w = by_key_work::<T>(self, kind, &[x], n, 2 * n, std::mem::size_of::<T>() == 4);
        dispatch::run(
            self,
            w,
            || {
                let (v, c) = cpu::run_length_encode(&x.host()?);
                Ok((Buffer::from_host(v), Buffer::from_host(c)))
            },
            |g| {
                let dx = x.device(g, name)?;
                let mode = gpu::Mode::Inclusive;
                let sum = ReduceOp::Sum;
                let (h, t, counts) =
                    gpu::heads_and_scan::<u32>(g, name, &dx, None, n, mode, sum, true)?;
                let t = t.ok_or_else(|| no_tails(name))?;
                let v = kept::<T>(g, gpu::keep::<T>(g, name, &dx, &h, n)?);
                let c = kept::<u32>(g, gpu::keep::<u32>(g, name, &counts, &t, n)?);
                Ok((v, c))
            },
        )
    }
}
