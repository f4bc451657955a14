//! Stream compaction, built on the scan: `compact`, `compact_if`, `count_if`.
//!
//! - `compact(x, mask)` keeps `x[i]` where `mask[i] != 0`; `compact_if(x, cmp, value)`
//!   keeps the elements `e` for which `e <cmp> value` holds; both keep the order.
//!   `count_if` counts those elements. Results are identical on both sides.
//! - Comparisons are IEEE: NaN (as either operand) compares false, except under
//!   [`Compare::Ne`], where it compares true; `-0 == +0`.
//! - On the GPU the kept elements are counted per tile, the counts scanned, the
//!   total read back (a few bytes), the output allocated, and the elements
//!   scattered to their places. The GPU kernels take 32-bit elements; f64 runs
//!   on the CPU under Auto and is refused with [`crate::ErrorKind::Unsupported`]
//!   under Policy::Gpu.

pub mod cpu;
pub(crate) mod gpu;

use std::sync::Arc;

use crate::buffer::Buffer;
use crate::dispatch::Op;
use crate::dispatch::{self, Work};
use crate::element::Element;
use crate::error::Result;
use crate::gpu::GpuBackend;
use crate::ops::work;
use crate::Context;

/// A comparison of an element with a value, for [`Context::compact_if`] and
/// [`Context::count_if`]: the element is on the left, `e <cmp> value`.
///
/// Floats compare as IEEE does: NaN compares false, except under `Ne`; `-0 == +0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compare {
    /// `e < value`.
    Lt,
    /// `e <= value`.
    Le,
    /// `e > value`.
    Gt,
    /// `e >= value`.
    Ge,
    /// `e == value`.
    Eq,
    /// `e != value`.
    Ne,
}

impl Compare {
    /// Every comparison.
    pub const ALL: [Compare; 6] = [
        Compare::Lt,
        Compare::Le,
        Compare::Gt,
        Compare::Ge,
        Compare::Eq,
        Compare::Ne,
    ];

    /// The shader's code for this comparison.
    pub(crate) fn code(self) -> u32 {
        self as u32
    }

    /// Whether `a <self> b` holds, as the ops decide it.
    pub fn holds<T: Element>(self, a: T, b: T) -> bool {
        self.predicate(b)(a)
    }

    /// The test `e <self> value`, through order keys (which sort as the values
    /// do), with -0 taken as +0 and NaN handled first.
    pub(crate) fn predicate<T: Element>(self, value: T) -> impl Fn(T) -> bool + Sync + Send + Copy {
        let key = |v: T| {
            if v == T::zero() {
                T::zero().key_min()
            } else {
                v.key_min()
            }
        };
        let v_nan = value.is_nan();
        let kv = key(value);
        move |e: T| {
            if v_nan || e.is_nan() {
                return self == Compare::Ne;
            }
            let k = key(e);
            match self {
                Compare::Lt => k < kv,
                Compare::Le => k <= kv,
                Compare::Gt => k > kv,
                Compare::Ge => k >= kv,
                Compare::Eq => k == kv,
                Compare::Ne => k != kv,
            }
        }
    }
}

/// The dispatcher's view of a call over `x` and a `u32` mask.
fn work_with_mask<T: Element>(ctx: &Context, op: Op, x: &Buffer<T>, mask: &Buffer<u32>) -> Work {
    work(ctx, op, &gpu::COMPACT, &[x, mask]).output::<T>(x.len())
}

/// A GPU compaction's result as a buffer.
fn output<T: Element>(g: &Arc<GpuBackend>, r: Option<(wgpu::Buffer, usize)>) -> Buffer<T> {
    match r {
        Some((buffer, len)) => Buffer::device_only(g, len, buffer),
        None => Buffer::from_host(Vec::new()),
    }
}

impl Context {
    /// Keeps `x[i]` where `mask[i] != 0`, in order.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when `mask` is not as long as `x`; GPU
    /// errors under Policy::Gpu ([`crate::ErrorKind::Unsupported`] for f64).
    pub fn compact<T: Element>(&self, x: &Buffer<T>, mask: &Buffer<u32>) -> Result<Buffer<T>> {
        let kind = Op::Compact;
        let op = kind.name();
        x.same_len(mask, op)?;
        let w = work_with_mask(self, kind, x, mask);
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::compact(&x.host()?, &mask.host()?))),
            |g| {
                let (dx, dm) = (x.device(g, op)?, mask.device(g, op)?);
                let r = gpu::compact(g, op, &dx, &gpu::Keep::<T>::Mask(&dm), x.len())?;
                Ok(output(g, r))
            },
        )
    }

    /// Keeps the elements `e` of `x` for which `e <cmp> value` holds, in order.
    /// Floats compare as IEEE does: NaN compares false except under [`Compare::Ne`].
    ///
    /// # Errors
    /// GPU errors under Policy::Gpu ([`crate::ErrorKind::Unsupported`] for f64).
    pub fn compact_if<T: Element>(
        &self,
        x: &Buffer<T>,
        cmp: Compare,
        value: T,
    ) -> Result<Buffer<T>> {
        let kind = Op::CompactIf;
        let op = kind.name();
        let w = work(self, kind, &gpu::COMPACT, &[x]).output::<T>(x.len());
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::compact_if(&x.host()?, cmp, value))),
            |g| {
                let dx = x.device(g, op)?;
                let r = gpu::compact(g, op, &dx, &gpu::Keep::Cmp(cmp, value), x.len())?;
                Ok(output(g, r))
            },
        )
    }

    /// The number of elements `e` of `x` for which `e <cmp> value` holds.
    ///
    /// # Errors
    /// As [`Context::compact_if`].
    pub fn count_if<T: Element>(&self, x: &Buffer<T>, cmp: Compare, value: T) -> Result<usize> {
        let kind = Op::CountIf;
        let op = kind.name();
        let w = work(self, kind, &gpu::COMPACT, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::count_if(&x.host()?, cmp, value)),
            |g| {
                gpu::count_kept(
                    g,
                    op,
                    &x.device(g, op)?,
                    &gpu::Keep::Cmp(cmp, value),
                    x.len(),
                )
            },
        )
    }
}
