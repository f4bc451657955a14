//! Segmented reduce: `segmented_reduce(values, offsets, op)`.
//!
//! - Segment `s` is `values[offsets[s]..offsets[s + 1]]`; `offsets` has one
//!   entry more than there are segments. Elements outside every segment are
//!   ignored. An empty segment gives the op's identity: 0 for
//!   [`ReduceOp::Sum`], the type's largest value (+inf for floats) for
//!   [`ReduceOp::Min`], its smallest (-inf) for [`ReduceOp::Max`].
//! - Offsets that decrease or pass `values.len()` are
//!   [`crate::ErrorKind::InvalidArgument`]; they are checked on the host (the
//!   offsets are read there when they live only on the GPU). An empty `offsets`
//!   is invalid too; a single entry means no segments (an empty output).
//! - Min and Max follow `min`/`max` (NaN ignored, an all-NaN segment gives NaN,
//!   `-0 < +0`) and are identical on both sides; integer sums wrap; float sums
//!   differ by association (the CPU as `sum` does per segment, the GPU as the
//!   segmented scan of [`crate::ops::by_key`]; tolerance as stated there).
//! - GPU: 32-bit values; the values and the offsets must each fit one storage
//!   binding (they are read at random positions). Past it, or for f64, Auto runs
//!   the CPU twin and Policy::Gpu fails ([`crate::ErrorKind::LimitExceeded`],
//!   [`crate::ErrorKind::Unsupported`]).

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::{Error, Result};
use crate::ops::by_key::{device, ReduceOp};
use crate::ops::call;
use crate::{Context, Policy};

/// Checks that `offsets` never decrease and stay within `n`.
fn check_offsets(op: &'static str, offsets: &[u32], n: usize) -> Result<()> {
    if offsets.is_empty() {
        return Err(Error::InvalidArgument {
            op,
            message: "offsets is empty: give segments + 1 entries (one entry: no segments)".into(),
        });
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "offsets decrease at entry {}: {} after {}; they must never decrease",
                i + 1,
                offsets[i + 1],
                offsets[i]
            ),
        });
    }
    let last = offsets[offsets.len() - 1] as usize;
    if last > n {
        return Err(Error::InvalidArgument {
            op,
            message: format!("the last offset {last} passes the end of {n} values"),
        });
    }
    Ok(())
}

impl Context {
    /// One reduction per segment: `out[s]` reduces `values[offsets[s]..offsets[s + 1]]`
    /// with `op` (the op's identity for an empty segment).
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// use tandem::ReduceOp;
    /// let ctx = tandem::Context::new()?;
    /// let v = ctx.upload(&[1i32, 2, 3, 4, 5])?;
    /// let offsets = ctx.upload(&[0u32, 2, 2, 5])?;
    /// let s = ctx.segmented_reduce(&v, &offsets, ReduceOp::Sum)?;
    /// assert_eq!(s.to_vec()?, vec![3, 0, 12]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when `offsets` is empty, decreases or
    /// passes `values.len()`, or past 2^32 - 2 values; under Policy::Gpu,
    /// [`crate::Error::Unsupported`] for f64, [`crate::Error::LimitExceeded`]
    /// when the values or offsets do not fit one binding, and GPU errors.
    pub fn segmented_reduce<T: Element>(
        &self,
        values: &Buffer<T>,
        offsets: &Buffer<u32>,
        op: ReduceOp,
    ) -> Result<Buffer<T>> {
        let kind = Op::SegmentedReduce;
        let name = kind.name();
        let n = values.len();
        if n >= u32::MAX as usize - 1 {
            return Err(Error::InvalidArgument {
                op: name,
                message: format!("{n} values: at most 2^32 - 2 are supported (u32 offsets)"),
            });
        }
        let offs = offsets.host()?;
        check_offsets(name, &offs, n)?;
        let m = offs.len();
        if m == 1 {
            return Ok(Buffer::from_host(Vec::new()));
        }
        if n == 0 {
            return Ok(Buffer::from_host(vec![op.identity(); m - 1]));
        }
        let (w, g) = call(self, kind, &gpu::SEGMENTED_REDUCE, n, 0, &[values, offsets]);
        let mut w = w.output::<T>(m - 1);
        if let Some(g) = g {
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits(&g, n, m);
            }
        }
        dispatch::run(
            self,
            w,
            || {
                Ok(Buffer::from_host(cpu::segmented_reduce(
                    &values.host()?,
                    &offs,
                    op,
                )))
            },
            |g| {
                let (dv, doffs) = (values.device(g, name)?, offsets.device(g, name)?);
                let out = gpu::segmented_reduce::<T>(g, name, &dv, n, &doffs, m, op)?;
                Ok(device(g, out, m - 1))
            },
        )
    }
}
