//! `slice`: a copy of a range of a buffer, made where the data lives.
//!
//! - A buffer with a copy on the context's GPU (under any policy but
//!   `Policy::Cpu`) is sliced there, by one device-to-device copy of the range
//!   (2 x 4 bytes moved per element for 32-bit types, nothing crosses the bus);
//!   the result lives on the GPU.
//! - Otherwise the range is copied on the host. Under `Policy::Cpu`, a buffer
//!   that lives only on the GPU reads back just the range.
//! - Every element type, f64 included (a copy needs no kernel).
//! - A range past the end or reversed (`a > b`) is
//!   [`crate::ErrorKind::InvalidArgument`]; an empty range gives an empty buffer.
//!
//! The choice is not the cost model's: copying where the data is beats moving
//! it anywhere first. It is recorded as every op's is ([`Context::last_run`]).

pub(crate) mod gpu;

use std::ops::{Bound, RangeBounds};
use std::time::Instant;

use crate::buffer::{Buffer, DeviceCopy};
use crate::dispatch::{Reason, RunRecord, Side};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::{Context, Policy};

impl Context {
    /// A new buffer holding `x[range]`, copied where `x` lives (see the module docs).
    ///
    /// ```
    /// # fn main() -> Result<(), tandem::Error> {
    /// let ctx = tandem::Context::new()?;
    /// let x = ctx.upload(&[5u32, 6, 7, 8, 9])?;
    /// assert_eq!(ctx.slice(&x, 1..4)?.to_vec()?, vec![6, 7, 8]);
    /// assert_eq!(ctx.slice(&x, 3..)?.to_vec()?, vec![8, 9]);
    /// assert!(ctx.slice(&x, 4..6).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when the range ends past `x.len()` or
    /// starts after it ends; GPU errors (with the data only on the GPU).
    pub fn slice<T: Element>(
        &self,
        x: &Buffer<T>,
        range: impl RangeBounds<usize>,
    ) -> Result<Buffer<T>> {
        let op = "slice";
        let start_time = Instant::now();
        let n = x.len();
        let invalid = |message: String| Error::InvalidArgument { op, message };
        let a = match range.start_bound() {
            Bound::Included(&a) => Some(a),
            Bound::Excluded(&a) => a.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let b = match range.end_bound() {
            Bound::Included(&b) => b.checked_add(1),
            Bound::Excluded(&b) => Some(b),
            Bound::Unbounded => Some(n),
        };
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) if a <= b && b <= n => (a, b),
            (Some(a), Some(b)) if a > b => {
                return Err(invalid(format!(
                    "the range {a}..{b} is reversed: give start <= end"
                )))
            }
            (a, b) => {
                return Err(invalid(format!(
                    "the range {}..{} ends past the buffer's {n} elements",
                    a.map_or("overflow".to_string(), |v| v.to_string()),
                    b.map_or("overflow".to_string(), |v| v.to_string()),
                )))
            }
        };
        let policy = self.policy();
        let size = std::mem::size_of::<T>() as u64;
        // Looked up only where it can matter, so a host slice never opens a GPU.
        let gpu = match policy != Policy::Cpu || !x.on_host() {
            true => self
                .gpu_for(Policy::Gpu)
                .filter(|g| !g.is_lost() && x.on_device(g)),
            false => None,
        };
        let (out, side, reason) = match gpu {
            _ if a == b => (Buffer::from_host(Vec::new()), Side::Cpu, Reason::EmptyInput),
            Some(g) if policy != Policy::Cpu => {
                let src = x.device(&g, op)?;
                let dst = gpu::copy_range(&g, &src, a as u64 * size, (b - a) as u64 * size)?;
                let copy = DeviceCopy::new(&g, dst);
                (
                    Buffer::from_device(b - a, copy),
                    Side::Gpu,
                    Reason::SliceOnDevice,
                )
            }
            Some(g) if !x.on_host() => {
                let src = x.device(&g, op)?;
                let v = g.read::<T>(op, &src, a as u64 * size, b - a)?;
                (Buffer::from_host(v), Side::Cpu, Reason::SliceReadBack)
            }
            _ => (
                Buffer::from_host(x.host()?[a..b].to_vec()),
                Side::Cpu,
                Reason::SliceOnHost,
            ),
        };
        self.log().push(RunRecord {
            op,
            len: b - a,
            policy,
            side,
            reason,
            predicted_cpu: None,
            predicted_gpu: None,
            predicted_split: None,
            gpu_share: None,
            fallback: None,
            error: None,
            elapsed: start_time.elapsed(),
            deferred: false,
            gpu_time: None,
        });
        Ok(out)
    }
}
