//! Searching a sorted buffer: `lower_bound` and `upper_bound`, numpy's
//! `searchsorted` with side "left" and "right", for many queries at once.
//!
//! - The order is [`Context::sort`]'s total order (floats as `total_cmp`, so
//!   -0 comes before +0 and NaNs sort last, or first with the sign bit set).
//!   Results are `u32` indices in `0..=sorted.len()`, identical on both sides.
//! - A `sorted` buffer that is not sorted gives unspecified indices, each still
//!   in `0..=sorted.len()`; never a panic.
//! - GPU: one invocation per query, a branch-free binary search of
//!   `ceil(log2 n) + 1` steps over the whole sorted buffer (bound once: it must
//!   fit one storage binding, else `Policy::Auto` searches on the CPU and
//!   `Policy::Gpu` fails with [`crate::ErrorKind::LimitExceeded`]). One read of
//!   the queries and one write of the answers (8 bytes per query) plus the
//!   search's reads, which hit the cache near the top of the tree. f32, i32,
//!   u32; f64 runs on the CPU.
//! - CPU: the same search on rayon, 16 queries descending in lock-step (`cpu.rs`).

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::ops::call;
use crate::{Context, Policy};

impl Context {
    /// For each query, the index of the first element of `sorted` that does not
    /// come before it: where it would be inserted, before any equal elements.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let sorted = ctx.upload(&[1.0f32, 2.0, 2.0, 5.0])?;
    /// let q = ctx.upload(&[0.0f32, 2.0, 3.0, 9.0])?;
    /// assert_eq!(ctx.lower_bound(&sorted, &q)?.to_vec()?, vec![0, 1, 3, 4]);
    /// assert_eq!(ctx.upper_bound(&sorted, &q)?.to_vec()?, vec![0, 3, 3, 4]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when `sorted` holds more than
    /// `u32::MAX` elements. Under `Policy::Gpu`: [`crate::Error::Unsupported`]
    /// for f64, [`crate::Error::LimitExceeded`] when `sorted` does not fit one
    /// storage binding, and GPU errors.
    pub fn lower_bound<T: Element>(
        &self,
        sorted: &Buffer<T>,
        queries: &Buffer<T>,
    ) -> Result<Buffer<u32>> {
        self.search(Op::LowerBound, sorted, queries, false)
    }

    /// For each query, the index of the first element of `sorted` that comes
    /// after it: where it would be inserted, after any equal elements.
    ///
    /// # Errors
    /// As [`Context::lower_bound`].
    pub fn upper_bound<T: Element>(
        &self,
        sorted: &Buffer<T>,
        queries: &Buffer<T>,
    ) -> Result<Buffer<u32>> {
        self.search(Op::UpperBound, sorted, queries, true)
    }

    fn search<T: Element>(
        &self,
        kind: Op,
        sorted: &Buffer<T>,
        queries: &Buffer<T>,
        upper: bool,
    ) -> Result<Buffer<u32>> {
        let op = kind.name();
        let (n_s, n_q) = (sorted.len(), queries.len());
        if n_s > u32::MAX as usize {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "{n_s} sorted elements: indices are u32, so search at most {} (split the buffer with slice)",
                    u32::MAX
                ),
            });
        }
        if n_s == 0 || n_q == 0 {
            // Every query goes before an empty array: answered on the host.
            return Ok(Buffer::from_host(vec![0; n_q]));
        }
        let (w, g) = call(self, kind, &gpu::SEARCH, n_q, 0, &[queries, sorted]);
        let mut w = w.output::<u32>(n_q);
        if let Some(g) = g {
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits(&g, n_s);
            }
        }
        dispatch::run(
            self,
            w,
            || {
                let (s, q) = (sorted.host()?, queries.host()?);
                Ok(Buffer::from_host(match upper {
                    true => cpu::upper_bound(&s, &q),
                    false => cpu::lower_bound(&s, &q),
                }))
            },
            |g| {
                let (ds, dq) = (sorted.device(g, op)?, queries.device(g, op)?);
                let out = gpu::search::<T>(g, op, &ds, n_s, &dq, n_q, upper)?;
                Ok(Buffer::device_output(g, n_q, out))
            },
        )
    }
}
