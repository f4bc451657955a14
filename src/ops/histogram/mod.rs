//! `histogram`: counts of equal-width bins over `[lo, hi)`.
//!
//! `ctx.histogram(&x, bins, lo, hi)` returns `bins` counts (a `Buffer<u32>`).
//! Values outside `[lo, hi)` and NaN are ignored. The counts are identical bit
//! for bit on both sides, because the bin of a value is defined by exact
//! comparisons against fixed bin edges, never by float rounding:
//!
//! - **The rule.** Element `x` falls in bin `k` when `edge[k] <= x < edge[k + 1]`
//!   (`edge[0] = lo`, `edge[bins] = hi`, the edges non-decreasing). `-0` and `+0`
//!   are equal; a value equal to `hi` is outside.
//! - **Integers** (i32, u32): `edge[k] = lo + ceil(k * (hi - lo) / bins)` in exact
//!   64-bit arithmetic, so the bin is exactly `floor((x - lo) * bins / (hi - lo))`.
//! - **f32**: `edge[k]` is the smallest f32 not below `lo + (hi - lo) * k / bins`
//!   evaluated in f64 (in that order). This is `floor((x - lo) * bins / (hi - lo))`
//!   up to the rounding of each edge to an f32; where bins are narrower than the
//!   f32 spacing some bins are empty. `lo` and `hi` must be finite.
//! - **f64** (CPU only): the same, with the edges in f64.
//!
//! How it runs: each side guesses the bin with float arithmetic (`(x - lo) * scale`),
//! checks the guess against the two edges with integer comparisons of order
//! keys, and binary-searches the edges when the guess is wrong (rare: only near
//! an edge, or for extreme ranges). A GPU that flushes subnormals or fuses
//! operations can only change the guess, never the bin.
//!
//! Limits: `bins` from 1 to [`cpu::MAX_BINS`] (2^24). On the GPU the counts and
//! the edges must each fit one storage binding (32M bins on a 128 MiB binding);
//! under `Policy::Auto` larger histograms run on the CPU, under `Policy::Gpu` they
//! fail with [`crate::ErrorKind::LimitExceeded`]. The input itself may be of any
//! length (the GPU reads it window by window, all windows adding into one set of
//! counts). Counts wrap at 2^32 on both sides.
//!
//! GPU kernels: up to 256 bins per-workgroup counters in workgroup memory, up to
//! 4,096 bins likewise in a 16 KiB array, past that global atomics directly.

pub(crate) mod bins;
pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::Result;
use crate::ops::call;
use crate::{Context, Policy};

impl Context {
    /// Counts the elements of `x` in `bins` equal-width bins over `[lo, hi)`;
    /// values outside the range and NaN are ignored. The binning rule, identical
    /// on both sides, is described in [`crate::ops::histogram`].
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let x = ctx.upload(&[0.5f32, 1.5, 1.7, 3.9, 4.0, f32::NAN, -1.0])?;
    /// let h = ctx.histogram(&x, 4, 0.0, 4.0)?;
    /// assert_eq!(h.to_vec()?, vec![1, 2, 0, 1]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when `bins` is 0 or above 2^24, when
    /// `lo >= hi`, or (floats) when `lo` or `hi` is NaN or infinite;
    /// [`crate::Error::LimitExceeded`] under `Policy::Gpu` when the counts do not
    /// fit one storage binding; GPU errors under `Policy::Gpu`.
    pub fn histogram<T: Element>(
        &self,
        x: &Buffer<T>,
        bins: usize,
        lo: T,
        hi: T,
    ) -> Result<Buffer<u32>> {
        let kind = Op::Histogram;
        let op = kind.name();
        let plan = cpu::plan(bins, lo, hi)?;
        let (w, g) = call(self, kind, &gpu::HISTOGRAM, x.len(), 0, &[x]);
        let mut w = w.output::<u32>(bins);
        if let (Some(g), true) = (g, self.policy() != Policy::Gpu) {
            w.gpu_supported &= gpu::fits(&g, bins);
        }
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::count(&x.host()?, &plan)?)),
            |g| {
                let cpu::Plan::K32(b) = &plan else {
                    return Err(crate::Error::Unsupported {
                        op,
                        ty: T::SCALAR.wgsl(),
                        side: "GPU",
                        why: "the GPU histogram needs 32-bit elements",
                    });
                };
                let counts = gpu::histogram::<T>(g, &x.device(g, op)?, x.len(), b)?;
                Ok(Buffer::device_only(g, bins, counts))
            },
        )
    }
}
