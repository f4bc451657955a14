//! `sequence`: `start, start + step, start + 2 * step, ...` (Thrust's
//! `sequence`, numpy's `arange`), made on the side that runs it.
//!
//! - Floats: element `i` is `start + (i as T) * step` with two roundings (the
//!   product, then the sum; never a fused multiply-add), so both sides agree
//!   bit for bit. GPUs that flush subnormal results to zero may differ there.
//! - Integers wrap (`i` is taken modulo 2^32): identical on both sides.
//! - GPU: one write of the output (4 bytes per element, no reads). f32, i32,
//!   u32; f64 runs on the CPU. Up to `u32::MAX - 1` elements on the GPU.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::Result;
use crate::ops::call;
use crate::Context;

impl Context {
    /// `n` elements `start + i * step` for `i` in `0..n` (see the module docs
    /// for the rounding of floats; integers wrap).
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// assert_eq!(ctx.sequence::<u32>(4, 10, 3)?.to_vec()?, vec![10, 13, 16, 19]);
    /// assert_eq!(ctx.sequence::<f32>(3, 1.0, 0.5)?.to_vec()?, vec![1.0, 1.5, 2.0]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Under `Policy::Gpu`: [`crate::Error::Unsupported`] for f64 and GPU errors.
    pub fn sequence<T: Element>(&self, n: usize, start: T, step: T) -> Result<Buffer<T>> {
        let (w, g) = call(self, Op::Sequence, &gpu::SEQUENCE, n, 0, &[]);
        let mut w = w.output::<T>(n);
        // No inputs tell `call` the element type.
        w.ty = T::SCALAR.wgsl();
        w.gpu_supported &= gpu::SEQUENCE.supports(T::SCALAR)
            && g.as_ref().is_some_and(|g| g.supports_scalar(T::SCALAR));
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::sequence(n, start, step))),
            |g| {
                let out = gpu::sequence(g, n, start, step)?;
                Ok(Buffer::device_output(g, n, out))
            },
        )
    }
}
