//! Prefix sums: `inclusive_scan` and `exclusive_scan`.
//!
//! `inclusive_scan(x)[i] = x[0] + ... + x[i]`; `exclusive_scan(x)[i] = x[0] + ... + x[i-1]`
//! (0 at index 0). Both start from the additive identity `+0`, and the output
//! has the input's length (empty in, empty out).
//!
//! - Integers wrap, so integer results are identical on both sides, bit for bit.
//! - Floats differ by association order only. The CPU sums 16,384-element chunks
//!   (32 lanes each), scans the chunk sums in order, then scans each chunk from
//!   its offset; the GPU sums 2,048-element tiles, scans the tile sums the same
//!   way (recursively), then scans each tile from its offset (8 elements per
//!   thread, then a workgroup scan of the 256 thread totals). An output element
//!   is a chain of at most `16,384 + 1,100 + n / 16,384` rounded additions on the
//!   CPU and a few hundred on the GPU, so its difference from the exact prefix
//!   sum is bounded by that count times `eps * (|x[0]| + ... + |x[i]|)`; typical
//!   errors are far smaller (rounding errors of random sign grow as the square
//!   root). The tests allow `4,200 * eps * (|x[0]| + ... + |x[i]|)`.
//!   Prefix sums of small integers held in floats are exact on both sides while
//!   they stay below 2^24 (f32) or 2^53 (f64). NaN and infinities propagate as
//!   in any order: once the prefix holds a NaN, or both infinities, it is NaN.
//! - f64 runs on the GPU where the adapter has `SHADER_F64`; elsewhere Policy::Gpu
//!   refuses it with [`crate::ErrorKind::Unsupported`] and Auto runs it on the CPU.

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
    fn scan_op<T: Element>(&self, kind: Op, x: &Buffer<T>, exclusive: bool) -> Result<Buffer<T>> {
        let op = kind.name();
        let w = work(self, kind, &gpu::SCAN, &[x]).output::<T>(x.len());
        let sx = x.share();
        dispatch::run_deferred(
            self,
            w,
            move || {
                let h = sx.host()?;
                Ok(Buffer::from_host(if exclusive {
                    cpu::exclusive_scan(&h)
                } else {
                    cpu::inclusive_scan(&h)
                }))
            },
            |g| {
                let out = gpu::scan::<T>(g, op, &x.device(g, op)?, x.len(), exclusive)?;
                Ok(Buffer::device_output(g, x.len(), out))
            },
        )
    }

    /// Inclusive prefix sum: `y[i] = x[0] + ... + x[i]`. Integers wrap; float
    /// results differ between sides by association order only (see [`crate::ops::scan`]).
    ///
    /// # Errors
    /// GPU errors under Policy::Gpu ([`crate::ErrorKind::Unsupported`] for f64 on an
    /// adapter without it); [`crate::Error::DeviceLost`] if `x` lived only on a lost GPU.
    pub fn inclusive_scan<T: Element>(&self, x: &Buffer<T>) -> Result<Buffer<T>> {
        self.scan_op(Op::InclusiveScan, x, false)
    }

    /// Exclusive prefix sum: `y[0] = 0`, `y[i] = x[0] + ... + x[i-1]`. Integers
    /// wrap; floats as [`Context::inclusive_scan`].
    ///
    /// # Errors
    /// As [`Context::inclusive_scan`].
    pub fn exclusive_scan<T: Element>(&self, x: &Buffer<T>) -> Result<Buffer<T>> {
        self.scan_op(Op::ExclusiveScan, x, true)
    }
}
