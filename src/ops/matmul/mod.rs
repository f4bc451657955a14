//! Dense matrix products and transposes: `matmul` and `transpose`.
//!
//! Matrices are row-major: element `(i, j)` of an `r x c` matrix is at `i * c + j`.
//!
//! - `matmul(a, b, m, k, n)` computes `C (m x n) = A (m x k) * B (k x n)` in f32.
//!   The CPU side is [faer](https://docs.rs/faer) (multithreaded on rayon's pool);
//!   the GPU side is a tiled, register-blocked WGSL kernel (128 x 128 outputs per
//!   workgroup, 8 x 8 per thread, k-tiles of 8 in workgroup memory).
//!   Float results differ between the sides (and from an exact product) by
//!   summation order only: every entry satisfies
//!   `|c_ij - exact_ij| <= k * eps * sum_p |a_ip| * |b_pj|` (eps = 2^-23; in
//!   practice far less, about `sqrt(k) * eps * ...`). Products of small integers
//!   held in f32 whose partial sums stay below 2^24 are exact on both sides.
//!   NaN and infinities propagate as IEEE arithmetic does, on both sides.
//! - `transpose(a, rows, cols)` returns the `cols x rows` transpose of any element
//!   type (f64 on the GPU only where the adapter has `SHADER_F64`); it only moves
//!   bits, so both sides agree exactly.
//!
//! Shapes: `a.len() != m * k` or `b.len() != k * n` (for transpose
//! `a.len() != rows * cols`) is [`crate::ErrorKind::LengthMismatch`], with the
//! expected length; a product of dimensions that overflows `usize` is
//! [`crate::ErrorKind::InvalidArgument`]. A zero dimension is answered on the
//! host without touching the GPU: `m == 0` or `n == 0` gives an empty C, `k == 0`
//! gives `m * n` zeros.
//!
//! GPU limits: a matrix larger than the device's largest storage binding is bound
//! in windows of whole rows (A and C of matmul, both sides of transpose). Matmul
//! needs all of B in one binding; when B is larger (or one row of A or C does not
//! fit in a binding), the GPU side returns [`crate::ErrorKind::LimitExceeded`]:
//! under `Policy::Gpu` that is the answer, under `Policy::Auto` the op re-runs on
//! the CPU.

pub mod cpu;
pub(crate) mod gpu;

use crate::buffer::Buffer;
use crate::dispatch::Op;
use crate::dispatch::{self, Work};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::ops::{call, work};
use crate::Context;

/// `x * y`, or InvalidArgument naming the shape when it overflows `usize`.
fn checked_dims(op: &'static str, x: usize, y: usize, what: &str) -> Result<usize> {
    x.checked_mul(y).ok_or_else(|| Error::InvalidArgument {
        op,
        message: format!("{what} ({x} x {y}) overflows usize"),
    })
}

fn shape_len<T: Element>(op: &'static str, buf: &Buffer<T>, expected: usize) -> Result<()> {
    if buf.len() != expected {
        return Err(Error::LengthMismatch {
            op,
            expected,
            actual: buf.len(),
        });
    }
    Ok(())
}

impl Context {
    /// The matrix product `C = A * B` of row-major f32 matrices: A is `m x k`,
    /// B is `k x n`, C is `m x n`. See the [module docs](crate::ops::matmul) for
    /// the float tolerance between the sides.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when `a.len() != m * k` or `b.len() != k * n`;
    /// [`crate::Error::InvalidArgument`] when `m * k`, `k * n` or `m * n` overflows;
    /// [`crate::Error::LimitExceeded`] under `Policy::Gpu` when B does not fit in one
    /// storage binding; other GPU errors under `Policy::Gpu`.
    pub fn matmul(
        &self,
        a: &Buffer<f32>,
        b: &Buffer<f32>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<Buffer<f32>> {
        let kind = Op::Matmul;
        let op = kind.name();
        let mk = checked_dims(op, m, k, "A's shape m x k")?;
        let kn = checked_dims(op, k, n, "B's shape k x n")?;
        let mn = checked_dims(op, m, n, "C's shape m x n")?;
        shape_len(op, a, mk)?;
        shape_len(op, b, kn)?;
        // The work is the multiply-adds; zero when any dimension is zero, which the
        // dispatcher answers on the host.
        let madds = mn.saturating_mul(k);
        let (w, g) = call(self, kind, &gpu::MATMUL, madds, 0, &[a, b]);
        let mut w: Work = w.output::<f32>(mn);
        // The kernel's bound is on each dimension (checked by the GPU side), not on the
        // multiply-adds.
        if let Some(g) = g {
            w.gpu_supported = g.supports_scalar(crate::element::ScalarType::F32);
        }
        let (sa, sb) = (a.share(), b.share());
        dispatch::run_deferred(
            self,
            w,
            move || {
                // C's size is the user's m x n: allocated fallibly (m = n = 2^20
                // with k = 0 asks for 4 TiB).
                let mut c = crate::host::try_filled(op, mn, 0.0f32)?;
                if madds > 0 {
                    cpu::matmul_into(&sa.host()?, &sb.host()?, &mut c, m, k, n);
                }
                Ok(Buffer::from_host(c))
            },
            |g| {
                let (da, db) = (a.device(g, op)?, b.device(g, op)?);
                let out = gpu::matmul(g, &da, &db, m, k, n)?;
                Ok(Buffer::device_output(g, mn, out))
            },
        )
    }

    /// The transpose of the row-major `rows x cols` matrix `a`: a `cols x rows`
    /// matrix with `out[j * rows + i] == a[i * cols + j]`. Exact on both sides.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when `a.len() != rows * cols`;
    /// [`crate::Error::InvalidArgument`] when `rows * cols` overflows;
    /// [`crate::Error::LimitExceeded`] under `Policy::Gpu` when one row of `a` or of the
    /// result does not fit in a storage binding; other GPU errors under `Policy::Gpu`.
    pub fn transpose<T: Element>(
        &self,
        a: &Buffer<T>,
        rows: usize,
        cols: usize,
    ) -> Result<Buffer<T>> {
        let kind = Op::Transpose;
        let op = kind.name();
        let len = checked_dims(op, rows, cols, "the shape rows x cols")?;
        shape_len(op, a, len)?;
        let w = work(self, kind, &gpu::TRANSPOSE, &[a]).output::<f32>(a.len());
        let sa = a.share();
        dispatch::run_deferred(
            self,
            w,
            move || Ok(Buffer::from_host(cpu::transpose(&sa.host()?, rows, cols))),
            |g| {
                let da = a.device(g, op)?;
                let out = gpu::transpose::<T>(g, &da, rows, cols)?;
                Ok(Buffer::device_output(g, len, out))
            },
        )
    }
}
