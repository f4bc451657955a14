//! Reductions: `sum`, `dot`, `min`, `max`, `argmin`, `argmax`.
//!
//! - `sum` and `dot` of an empty buffer are 0. Integers wrap, so integer results
//!   are identical on both sides. Float results differ by association order only:
//!   each side sums in a fixed tree (the CPU in 32 lanes per 65,536-element chunk,
//!   the GPU in 256 threads x 8 elements per workgroup), so the difference from
//!   the exact sum is bounded by about `n_seq * eps * sum(|x|)` with `n_seq` near 2,048
//!   on the CPU and 8 + log2(n) on the GPU. Sums of small integers held in floats
//!   are exact on both sides.
//! - `min`, `max`, `argmin`, `argmax` are identical on both sides: NaN is ignored
//!   (an all-NaN input gives NaN, or index 0), `-0 < +0`, and ties go to the first
//!   index. They return `None` for an empty buffer. On the GPU they need 32-bit
//!   elements; f64 runs on the CPU under Auto.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::element::Element;
use crate::error::Result;
use crate::ops::work;
use crate::Context;

impl Context {
    /// The sum of all elements; 0 when empty. Integers wrap.
    ///
    /// # Errors
    /// GPU errors under Policy::Gpu; [`crate::Error::DeviceLost`] if `x` lived only on a lost GPU.
    pub fn sum<T: Element>(&self, x: &Buffer<T>) -> Result<T> {
        let w = work(self, "sum", &gpu::REDUCE, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::sum(&x.host()?)),
            |g| gpu::sum(g, &x.device(g, "sum")?, x.len()),
        )
    }

    /// The dot product `sum(a[i] * b[i])`; 0 when empty. Integers wrap.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ; otherwise as [`Context::sum`].
    pub fn dot<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<T> {
        a.same_len(b, "dot")?;
        let w = work(self, "dot", &gpu::REDUCE, &[a, b]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::dot(&a.host()?, &b.host()?)),
            |g| gpu::dot(g, &a.device(g, "dot")?, &b.device(g, "dot")?, a.len()),
        )
    }

    /// The smallest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn min<T: Element>(&self, x: &Buffer<T>) -> Result<Option<T>> {
        let w = work(self, "min", &gpu::REDUCE_ORDER, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::min(&x.host()?)),
            |g| {
                let (k, _) = gpu::best::<T>(g, "min", false, &x.device(g, "min")?, x.len())?;
                Ok(Some(T::from_key(T::key_from_u32(k))))
            },
        )
    }

    /// The largest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn max<T: Element>(&self, x: &Buffer<T>) -> Result<Option<T>> {
        let w = work(self, "max", &gpu::REDUCE_ORDER, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::max(&x.host()?)),
            |g| {
                let (k, _) = gpu::best::<T>(g, "max", true, &x.device(g, "max")?, x.len())?;
                Ok(Some(T::from_key(T::key_from_u32(!k))))
            },
        )
    }

    /// The index of the first smallest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn argmin<T: Element>(&self, x: &Buffer<T>) -> Result<Option<usize>> {
        let w = work(self, "argmin", &gpu::REDUCE_ORDER, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::argmin(&x.host()?)),
            |g| {
                Ok(Some(
                    gpu::best::<T>(g, "argmin", false, &x.device(g, "argmin")?, x.len())?.1
                        as usize,
                ))
            },
        )
    }

    /// The index of the first largest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn argmax<T: Element>(&self, x: &Buffer<T>) -> Result<Option<usize>> {
        let w = work(self, "argmax", &gpu::REDUCE_ORDER, &[x]);
        dispatch::run(
            self,
            w,
            || Ok(cpu::argmax(&x.host()?)),
            |g| {
                Ok(Some(
                    gpu::best::<T>(g, "argmax", true, &x.device(g, "argmax")?, x.len())?.1 as usize,
                ))
            },
        )
    }
}
