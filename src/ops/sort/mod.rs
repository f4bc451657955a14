//! Sorting: `sort` and `sort_by_key`.
//!
//! - Ascending order: u32 and i32 by value; f32 and f64 by IEEE total order, as
//!   `f32::total_cmp` (-NaN < -inf < ... < -0 < +0 < ... < +inf < NaN, NaNs by
//!   payload). Both sides give identical outputs bit for bit.
//! - `sort_by_key` is stable: values with equal keys keep their input order.
//!   Values move as raw bits, so any element type works for them on the CPU.
//! - Both sides run an LSD radix sort with 8-bit digits (see [`cpu`] and the
//!   GPU notes below). Empty inputs are answered on the host.
//! - GPU: 32-bit keys (f32, i32, u32) and, for `sort_by_key`, 32-bit values.
//!   f64 keys or 64-bit values run on the CPU under Policy::Auto and are refused
//!   with [`crate::ErrorKind::Unsupported`] under Policy::Gpu. Inputs past the
//!   storage binding limit are sorted through binding windows (the scatter is
//!   dispatched once per pair of source and destination windows); only when the
//!   digit counts (1 word per 16 keys) would not fit one binding, which takes an
//!   artificially small binding limit, does the GPU refuse with
//!   [`crate::ErrorKind::LimitExceeded`] (Auto then runs the CPU twin).
//! - The GPU never writes the input buffers: it ping-pongs between two new ones.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::{Buffer, DeviceCopy};
use crate::dispatch;
use crate::dispatch::Op;
use crate::element::Element;
use crate::error::Result;
use crate::ops::{call, work};
use crate::Context;

impl Context {
    /// `keys` sorted ascending, in a new buffer: integers by value, floats by
    /// IEEE total order (`f32::total_cmp`).
    ///
    /// # Errors
    /// Under Policy::Gpu: [`crate::Error::Unsupported`] for f64, GPU errors
    /// ([`crate::Error::TooLarge`], [`crate::Error::OutOfMemory`], ...).
    /// [`crate::Error::DeviceLost`] if `keys` lived only on a lost GPU.
    pub fn sort<T: Element>(&self, keys: &Buffer<T>) -> Result<Buffer<T>> {
        let kind = Op::Sort;
        let op = kind.name();
        let w = work(self, kind, &gpu::SORT_RADIX, &[keys]).output::<T>(keys.len());
        let n = keys.len();
        let sk = keys.share();
        dispatch::run_deferred(
            self,
            w,
            move || Ok(Buffer::from_host(cpu::sort(&sk.host()?))),
            |g| {
                let (k, _) = gpu::sort::<T>(g, op, &keys.device(g, op)?, None, n)?;
                Ok(Buffer::device_only(g, n, k))
            },
        )
    }

    /// `keys` sorted as [`Context::sort`] does, and `values` permuted with them;
    /// stable: values with equal keys keep their input order.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ. Under
    /// Policy::Gpu: [`crate::Error::Unsupported`] for f64 keys or values, and
    /// GPU errors as for [`Context::sort`].
    pub fn sort_by_key<K: Element, V: Element>(
        &self,
        keys: &Buffer<K>,
        values: &Buffer<V>,
    ) -> Result<(Buffer<K>, Buffer<V>)> {
        let kind = Op::SortByKey;
        let op = kind.name();
        keys.same_len(values, op)?;
        // Values count for residency too.
        let (w, _) = call(self, kind, &gpu::SORT_RADIX, keys.len(), 0, &[keys, values]);
        let mut w = w.output::<K>(keys.len());
        // The GPU moves values as 32-bit words.
        w.gpu_supported &= std::mem::size_of::<V>() == 4;
        w.out_bytes *= 2;
        let n = keys.len();
        let (sk, sv) = (keys.share(), values.share());
        dispatch::run_deferred(
            self,
            w,
            move || {
                let (k, v) = cpu::sort_by_key(&sk.host()?, &sv.host()?);
                Ok((Buffer::from_host(k), Buffer::from_host(v)))
            },
            |g| {
                let (dk, dv) = (keys.device(g, op)?, values.device(g, op)?);
                let (k, v) = gpu::sort::<K>(g, op, &dk, Some(&dv), n)?;
                let copy = |buffer| DeviceCopy::new(g, buffer);
                // Values were given, so the sort returns their sorted copy (never
                // `dv` itself: two buffers must not share one device copy).
                let Some(v) = v else {
                    return Err(crate::Error::Gpu {
                        op,
                        message: "internal error: the GPU sort returned no values".into(),
                    });
                };
                Ok((
                    Buffer::from_device(n, copy(k)),
                    Buffer::from_device(n, copy(v)),
                ))
            },
        )
    }
}
