//! Stable partition: `partition(x, cmp, value)`.
//!
//! - The elements `e` for which `e <cmp> value` holds come first, then the
//!   others; each group keeps its input order. The count of the first group is
//!   returned with the buffer. Results are identical on both sides.
//! - Comparisons are those of [`Compare`] (IEEE: NaN compares false except
//!   under [`Compare::Ne`]; `-0 == +0`), as in `compact_if`.
//! - GPU: 32-bit elements (f64 runs on the CPU under Auto and is refused with
//!   [`crate::ErrorKind::Unsupported`] under Policy::Gpu); any size, past the
//!   binding and dispatch limits. Empty inputs are answered on the host.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::Result;
use crate::ops::by_key::device;
use crate::ops::compact::Compare;
use crate::ops::work;
use crate::Context;

impl Context {
    /// A stable partition of `x`: the elements `e` with `e <cmp> value` first,
    /// then the rest, each in input order; and how many passed.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// use tandem::Compare;
    /// let ctx = tandem::Context::new()?;
    /// let x = ctx.upload(&[5i32, 1, 7, 2, 9, 3])?;
    /// let (p, n_true) = ctx.partition(&x, Compare::Lt, 4)?;
    /// assert_eq!((p.to_vec()?, n_true), (vec![1, 2, 3, 5, 7, 9], 3));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Under Policy::Gpu, [`crate::Error::Unsupported`] for f64, and GPU errors.
    pub fn partition<T: Element>(
        &self,
        x: &Buffer<T>,
        cmp: Compare,
        value: T,
    ) -> Result<(Buffer<T>, usize)> {
        let kind = Op::Partition;
        let op = kind.name();
        let n = x.len();
        if n == 0 {
            return Ok((Buffer::from_host(Vec::new()), 0));
        }
        let w = work(self, kind, &gpu::PARTITION, &[x]).output::<T>(n);
        dispatch::run(
            self,
            w,
            || {
                let (v, n_true) = cpu::partition(&x.host()?, cmp, value);
                Ok((Buffer::from_host(v), n_true))
            },
            |g| {
                let (b, n_true) = gpu::partition(g, op, &x.device(g, op)?, n, cmp, value)?;
                Ok((device(g, b, n), n_true))
            },
        )
    }
}
