//! Workloads that `tandem bench` and the criterion benches share, so that both
//! time the same calls.

use crate::{Buffer, Context, Result};

/// Ops in [`chain`]: fifteen element-wise ops and the sum that reads the result.
pub const CHAIN_OPS: usize = 16;

/// Sixteen dependent ops on `x` and `y` (of equal length): fifteen element-wise
/// ops, each on the previous result, then its sum, the chain's only read.
/// With `wait_each`, [`Context::synchronize`] follows every op, as if each op
/// waited for its own submission (the synchronous path); without, the GPU
/// part of the chain is one submission and one wait.
///
/// # Errors
/// As the ops: [`crate::Error::LengthMismatch`] when the lengths differ, GPU
/// errors under `Policy::Gpu`.
pub fn chain(ctx: &Context, x: &Buffer<f32>, y: &Buffer<f32>, wait_each: bool) -> Result<f32> {
    let sync = |b: Buffer<f32>| -> Result<Buffer<f32>> {
        if wait_each {
            ctx.synchronize()?;
        }
        Ok(b)
    };
    let mut v = sync(ctx.axpy(0.5, x, y)?)?;
    for i in 0..(CHAIN_OPS - 2) / 2 {
        v = sync(ctx.mul(&v, y)?)?;
        v = sync(if i % 2 == 0 {
            ctx.axpy(-0.25, &v, x)?
        } else {
            ctx.sub(&v, x)?
        })?;
    }
    ctx.sum(&v)
}
