//! `adjacent_difference`: `d[0] = x[0]`, `d[i] = x[i] - x[i - 1]` (Thrust's
//! `adjacent_difference`; the inverse of an inclusive scan).
//!
//! - Integers wrap; floats round once per element. Identical on both sides
//!   (GPUs that flush subnormal results to zero may differ there).
//! - GPU: one read of `x`, one write of the result (8 bytes per element), in
//!   binding windows of any length. f32, i32, u32; f64 runs on the CPU.

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
    /// The differences of neighbours: `d[0] = x[0]`, `d[i] = x[i] - x[i - 1]`.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let x = ctx.upload(&[3i32, 5, 4, 10])?;
    /// assert_eq!(ctx.adjacent_difference(&x)?.to_vec()?, vec![3, 2, -1, 6]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Under `Policy::Gpu`: [`crate::Error::Unsupported`] for f64 and GPU errors.
    pub fn adjacent_difference<T: Element>(&self, x: &Buffer<T>) -> Result<Buffer<T>> {
        let kind = Op::AdjacentDifference;
        let op = kind.name();
        let n = x.len();
        let w = work(self, kind, &gpu::ADJACENT_DIFFERENCE, &[x]).output::<T>(n);
        let sx = x.share();
        dispatch::run_deferred(
            self,
            w,
            move || Ok(Buffer::from_host(cpu::adjacent_difference(&sx.host()?))),
            |g| {
                let out = gpu::adjacent_difference::<T>(g, &x.device(g, op)?, n)?;
                Ok(Buffer::device_output(g, n, out))
            },
        )
    }
}
