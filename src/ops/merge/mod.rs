//! Merging two sorted buffers: `merge` and `merge_by_key`.
//!
//! - Both inputs must be sorted ascending by the total order of
//!   [`Context::sort`] (floats as `total_cmp`: -NaN < -inf < ... < -0 < +0 <
//!   ... < +inf < NaN). The result is sorted the same way; on ties `a`'s
//!   elements come before `b`'s, each side keeping its order (a stable merge).
//!   Results are identical on both sides, bit for bit.
//! - Inputs that are not sorted give an output of the inputs' length made of
//!   input elements in an unspecified order (each piece of the output is merged
//!   from ranges clamped to the inputs); never a panic or a value from outside.
//! - GPU: merge path. One pass finds, for each tile of 2,048 outputs, where the
//!   tile starts in `a` (a binary search along its diagonal); the second gives
//!   each invocation 8 outputs of a tile: it finds where they start by the same
//!   search within the tile's two input ranges (11 steps, in cache) and merges
//!   them sequentially. About one read of each input and one write of the output: 8 bytes
//!   moved per merged element (16 with values). Keys f32, i32, u32 and 32-bit
//!   values; f64 runs on the CPU. `a` and `b` are read at random positions, so
//!   each must fit one storage binding (the output may be of any length); past
//!   it `Policy::Auto` merges on the CPU and `Policy::Gpu` fails with
//!   [`crate::ErrorKind::LimitExceeded`].
//! - CPU: the same merge path on rayon, over pieces of the output (`cpu.rs`).

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
    /// `a` and `b`, both sorted ascending (by [`Context::sort`]'s total order),
    /// merged into one sorted buffer; on ties `a`'s elements come first.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let a = ctx.upload(&[1u32, 3, 3, 8])?;
    /// let b = ctx.upload(&[2u32, 3, 9])?;
    /// assert_eq!(ctx.merge(&a, &b)?.to_vec()?, vec![1, 2, 3, 3, 3, 8, 9]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Under `Policy::Gpu`: [`crate::Error::Unsupported`] for f64,
    /// [`crate::Error::LimitExceeded`] when `a` or `b` does not fit one storage
    /// binding, and GPU errors.
    pub fn merge<T: Element>(&self, a: &Buffer<T>, b: &Buffer<T>) -> Result<Buffer<T>> {
        let kind = Op::Merge;
        let op = kind.name();
        let n = a.len() + b.len();
        let (w, g) = call(self, kind, &gpu::MERGE, n, 0, &[a, b]);
        let mut w = w.output::<T>(n);
        if let Some(g) = g {
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits(&g, a.len(), b.len());
            }
        }
        dispatch::run(
            self,
            w,
            || Ok(Buffer::from_host(cpu::merge(&a.host()?, &b.host()?))),
            |g| {
                let (da, db) = (device(a, g, op)?, device(b, g, op)?);
                let (sa, sb) = (
                    gpu::Side::new(&da, &None, a.len()),
                    gpu::Side::new(&db, &None, b.len()),
                );
                let (out, _) = gpu::merge::<T>(g, op, &sa, &sb)?;
                Ok(on_device(g, n, out))
            },
        )
    }

    /// Merges the pairs `(ka[i], va[i])` and `(kb[j], vb[j])` by key, as
    /// [`Context::merge`] merges keys: the values follow their keys, and on
    /// equal keys `a`'s pairs come first.
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let (ka, va) = (ctx.upload(&[1.0f32, 4.0])?, ctx.upload(&[10u32, 40])?);
    /// let (kb, vb) = (ctx.upload(&[4.0f32, 5.0])?, ctx.upload(&[41u32, 50])?);
    /// let (k, v) = ctx.merge_by_key(&ka, &va, &kb, &vb)?;
    /// assert_eq!(k.to_vec()?, vec![1.0, 4.0, 4.0, 5.0]);
    /// assert_eq!(v.to_vec()?, vec![10, 40, 41, 50]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when a key buffer and its value buffer
    /// differ in length. Under `Policy::Gpu`: [`crate::Error::Unsupported`] for
    /// f64 keys or values, and the errors of [`Context::merge`].
    pub fn merge_by_key<K: Element, V: Element>(
        &self,
        ka: &Buffer<K>,
        va: &Buffer<V>,
        kb: &Buffer<K>,
        vb: &Buffer<V>,
    ) -> Result<(Buffer<K>, Buffer<V>)> {
        let kind = Op::MergeByKey;
        let op = kind.name();
        ka.same_len(va, op)?;
        kb.same_len(vb, op)?;
        let n = ka.len() + kb.len();
        let (w, g) = call(self, kind, &gpu::MERGE, n, 0, &[ka, kb, va, vb]);
        let mut w = w.output::<K>(n);
        w.out_bytes += (n * std::mem::size_of::<V>()) as u64;
        // The GPU moves values as 32-bit words.
        w.gpu_supported &= std::mem::size_of::<V>() == 4;
        if let Some(g) = g {
            if self.policy() != Policy::Gpu {
                w.gpu_supported &= gpu::fits(&g, ka.len(), kb.len());
            }
        }
        dispatch::run(
            self,
            w,
            || {
                let (k, v) = cpu::merge_by_key(&ka.host()?, &va.host()?, &kb.host()?, &vb.host()?);
                Ok((Buffer::from_host(k), Buffer::from_host(v)))
            },
            |g| {
                let (dka, dva) = (device(ka, g, op)?, device(va, g, op)?);
                let (dkb, dvb) = (device(kb, g, op)?, device(vb, g, op)?);
                let (k, v) = gpu::merge::<K>(
                    g,
                    op,
                    &gpu::Side::new(&dka, &dva, ka.len()),
                    &gpu::Side::new(&dkb, &dvb, kb.len()),
                )?;
                let v = v.ok_or_else(|| crate::Error::Gpu {
                    op,
                    message: "the merge kernel returned no values".into(),
                })?;
                Ok((on_device(g, n, k), on_device(g, n, v)))
            },
        )
    }
}

/// The device copy of `x`, or `None` when it is empty (a zero-size binding is
/// a validation error: the kernel binds a placeholder instead).
fn device<T: Element>(
    x: &Buffer<T>,
    g: &std::sync::Arc<crate::gpu::GpuBackend>,
    op: &'static str,
) -> Result<Option<wgpu::Buffer>> {
    match x.is_empty() {
        true => Ok(None),
        false => x.device(g, op).map(Some),
    }
}

fn on_device<T: Element>(
    g: &std::sync::Arc<crate::gpu::GpuBackend>,
    n: usize,
    buffer: wgpu::Buffer,
) -> Buffer<T> {
    Buffer::device_only(g, n, buffer)
}
