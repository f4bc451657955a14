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
use crate::dispatch::Op;
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
        let w = work(self, Op::Sum, &gpu::REDUCE, &[x]);
        dispatch::run_split(
            self,
            w,
            || Ok(cpu::sum(&x.host()?)),
            |g| gpu::sum(g, &x.device(g, "sum")?, x.len()),
            |g, cut| {
                let h = x.host()?;
                let (a, b) = dispatch::split_parts(
                    g,
                    "sum",
                    &[&h],
                    cut,
                    |d| gpu::sum::<T>(g, &d[0], cut),
                    |t| Ok(cpu::sum(t[0])),
                )?;
                Ok(a.add(b))
            },
        )
    }

    /// The dot product `sum(a[i] * b[i])`; 0 when empty. Integers wrap.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ; otherwise as [`Context::sum`].
    pub fn dot<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<T> {
        a.same_len(b, "dot")?;
        let w = work(self, Op::Dot, &gpu::REDUCE, &[a, b]);
        dispatch::run_split(
            self,
            w,
            || Ok(cpu::dot(&a.host()?, &b.host()?)),
            |g| gpu::dot(g, &a.device(g, "dot")?, &b.device(g, "dot")?, a.len()),
            |g, cut| {
                let (ha, hb) = (a.host()?, b.host()?);
                let (p, q) = dispatch::split_parts(
                    g,
                    "dot",
                    &[&ha, &hb],
                    cut,
                    |d| gpu::dot::<T>(g, &d[0], &d[1], cut),
                    |t| Ok(cpu::dot(t[0], t[1])),
                )?;
                Ok(p.add(q))
            },
        )
    }

    /// The index of the first smallest (or, with `max`, largest) element of a
    /// non-empty `x`, from whichever side the dispatcher picks; `cpu` is the
    /// CPU twin for the whole input.
    fn best_index<T: Element, R>(
        &self,
        kind: Op,
        max: bool,
        x: &Buffer<T>,
        cpu: impl FnOnce(&[T]) -> R,
        from_gpu: impl Fn(u32, u32) -> R,
        from_index: impl FnOnce(&[T], usize) -> R,
    ) -> Result<R> {
        let op = kind.name();
        let w = work(self, kind, &gpu::REDUCE_ORDER, &[x]);
        let pick = move |h: &[T]| if max { cpu::argmax(h) } else { cpu::argmin(h) };
        dispatch::run_split(
            self,
            w,
            || Ok(cpu(&x.host()?)),
            |g| {
                let (k, i) = gpu::best::<T>(g, op, max, &x.device(g, op)?, x.len())?;
                Ok(from_gpu(k, i))
            },
            |g, cut| {
                let h = x.host()?;
                let (gi, ci) = dispatch::split_parts(
                    g,
                    op,
                    &[&h],
                    cut,
                    |d| Ok(gpu::best::<T>(g, op, max, &d[0], cut)?.1 as usize),
                    |t| Ok(pick(t[0]).map_or(0, |i| i + cut)),
                )?;
                // Ties go to the first index: the GPU's part comes first.
                let i = if pick(&[h[gi], h[ci]]) == Some(1) {
                    ci
                } else {
                    gi
                };
                Ok(from_index(&h, i))
            },
        )
    }

    /// The smallest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn min<T: Element>(&self, x: &Buffer<T>) -> Result<Option<T>> {
        self.best_index(
            Op::Min,
            false,
            x,
            cpu::min,
            |k, _| Some(T::from_key(T::key_from_u32(k))),
            // Through the twin, so that an all-NaN input gives the same NaN.
            |h, i| cpu::min(&h[i..=i]),
        )
    }

    /// The largest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn max<T: Element>(&self, x: &Buffer<T>) -> Result<Option<T>> {
        self.best_index(
            Op::Max,
            true,
            x,
            cpu::max,
            |k, _| Some(T::from_key(T::key_from_u32(!k))),
            |h, i| cpu::max(&h[i..=i]),
        )
    }

    /// The index of the first smallest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn argmin<T: Element>(&self, x: &Buffer<T>) -> Result<Option<usize>> {
        self.best_index(
            Op::Argmin,
            false,
            x,
            cpu::argmin,
            |_, i| Some(i as usize),
            |_, i| Some(i),
        )
    }

    /// The index of the first largest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`Context::sum`].
    pub fn argmax<T: Element>(&self, x: &Buffer<T>) -> Result<Option<usize>> {
        self.best_index(
            Op::Argmax,
            true,
            x,
            cpu::argmax,
            |_, i| Some(i as usize),
            |_, i| Some(i),
        )
    }
}
