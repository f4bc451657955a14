//! Element-wise ops: `add`, `sub`, `mul`, `scale`, `axpy`, `fill`.
//!
//! Integer results are identical on both sides (arithmetic wraps). Float results
//! are identical for add, sub, mul and scale; axpy may differ in the last bit
//! where a GPU driver fuses `alpha * x + y` into one fma.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::{Buffer, DeviceCopy};
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::Result;
use crate::ops::work;
use crate::Context;

impl Context {
    fn zip_op<T: Element>(
        &self,
        kind: Op,
        entry: &'static str,
        a: &Buffer<T>,
        b: &Buffer<T>,
        alpha: T,
        cpu_fn: impl Fn(&[T], &[T]) -> Vec<T> + Sync + Send + Copy + 'static,
    ) -> Result<Buffer<T>> {
        let op = kind.name();
        a.same_len(b, op)?;
        let w = work(self, kind, &gpu::ELEMENTWISE, &[a, b]).output::<T>(a.len());
        let (sa, sb) = (a.share(), b.share());
        dispatch::run_split_deferred(
            self,
            w,
            move || Ok(Buffer::from_host(cpu_fn(&sa.host()?, &sb.host()?))),
            |g| {
                let (da, db) = (a.device(g, op)?, b.device(g, op)?);
                let out = gpu::binary(g, op, entry, &da, &db, a.len(), alpha)?;
                Ok(Buffer::device_output(g, a.len(), out))
            },
            |g, cut| {
                let (ha, hb) = (a.host()?, b.host()?);
                dispatch::split_elementwise(
                    g,
                    op,
                    &[&ha, &hb],
                    cut,
                    |d| gpu::binary(g, op, entry, &d[0], &d[1], cut, alpha),
                    |t| cpu_fn(t[0], t[1]),
                )
            },
        )
    }

    /// `a + b`, element-wise (wrapping for integers).
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ; GPU errors under Policy::Gpu.
    pub fn add<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<Buffer<T>> {
        self.zip_op(Op::Add, "add", a, b, T::zero(), cpu::add)
    }

    /// `a - b`, element-wise (wrapping for integers).
    ///
    /// # Errors
    /// As [`Context::add`].
    pub fn sub<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<Buffer<T>> {
        self.zip_op(Op::Sub, "sub", a, b, T::zero(), cpu::sub)
    }

    /// `a * b`, element-wise (wrapping for integers).
    ///
    /// # Errors
    /// As [`Context::add`].
    pub fn mul<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<Buffer<T>> {
        self.zip_op(Op::Mul, "mul", a, b, T::zero(), cpu::mul)
    }

    /// `alpha * x + y`, element-wise.
    ///
    /// # Errors
    /// As [`Context::add`].
    pub fn axpy<T: Element>(&self, alpha: T, x: &Buffer<T>, y: &Buffer<T>) -> Result<Buffer<T>> {
        self.zip_op(Op::Axpy, "axpy", x, y, alpha, move |x, y| {
            cpu::axpy(alpha, x, y)
        })
    }

    /// `alpha * x`, element-wise.
    ///
    /// # Errors
    /// GPU errors under Policy::Gpu.
    pub fn scale<T: Element>(&self, x: &Buffer<T>, alpha: T) -> Result<Buffer<T>> {
        let kind = Op::Scale;
        let op = kind.name();
        let w = work(self, kind, &gpu::ELEMENTWISE, &[x]).output::<T>(x.len());
        let sx = x.share();
        dispatch::run_split_deferred(
            self,
            w,
            move || Ok(Buffer::from_host(cpu::scale(&sx.host()?, alpha))),
            |g| {
                let dx = x.device(g, op)?;
                let out = gpu::binary(g, op, "scale", &dx, &dx, x.len(), alpha)?;
                Ok(Buffer::device_output(g, x.len(), out))
            },
            |g, cut| {
                let hx = x.host()?;
                dispatch::split_elementwise(
                    g,
                    op,
                    &[&hx],
                    cut,
                    |d| gpu::binary(g, op, "scale", &d[0], &d[0], cut, alpha),
                    |t| cpu::scale(t[0], alpha),
                )
            },
        )
    }

    /// Sets every element of `x` to `value`, on the side where `x` lives.
    ///
    /// # Errors
    /// GPU errors under Policy::Gpu.
    pub fn fill<T: Element>(&self, x: &mut Buffer<T>, value: T) -> Result<()> {
        let kind = Op::Fill;
        let op = kind.name();
        x.check_recoverable().or_else(|_| {
            // The old contents are about to be overwritten: losing them is fine.
            let n = x.len();
            x.replace_host(vec![T::zero(); n]);
            Ok::<(), crate::Error>(())
        })?;
        let w = work(self, kind, &gpu::FILL, &[&*x]);
        let n = x.len();
        let xr = &*x;
        let on_gpu = dispatch::run(
            self,
            w,
            || Ok(None),
            |g| {
                let dst = if xr.on_device(g) {
                    xr.device(g, op)?
                } else {
                    g.create_storage(op, (n * std::mem::size_of::<T>()) as u64)?
                };
                gpu::fill(g, &dst, n, value)?;
                Ok(Some(DeviceCopy::new(g, dst)))
            },
        )?;
        match on_gpu {
            Some(copy) => x.replace_device(copy),
            None => {
                // The old contents are not needed: write a fresh host copy.
                let mut v = vec![T::zero(); n];
                cpu::fill(&mut v, value);
                x.replace_host(v);
            }
        }
        Ok(())
    }
}
