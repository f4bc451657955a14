//! Matrix product by row blocks: every member multiplies its rows of A by the
//! whole of B, which every member holds; C comes out by the same rows.

use super::buffer::DistBuffer;
use super::World;
use crate::buffer::Buffer;
use crate::error::{Error, Result};

impl World {
    /// `C = A * B` for row-major f32 matrices: A is `m x k`, split over the
    /// members by whole rows (each part's length a multiple of `k`); `b` is the
    /// whole `k x n` matrix B on every member. Returns C (`m x n`) by the same
    /// rows. Each block is [`crate::Context::matmul`] on its member's side, so
    /// every element of C has a single context's tolerance.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `a_rows.len() != m * k` or
    /// `b.len() != k * n`; [`Error::InvalidArgument`] when a part is not whole
    /// rows (rebalance with `Balance::Lens` in multiples of `k`) or a shape
    /// overflows; [`Error::Member`] naming a member whose block failed.
    pub fn matmul(
        &self,
        a_rows: &DistBuffer<f32>,
        b: &Buffer<f32>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Result<DistBuffer<f32>> {
        let op = "matmul";
        self.check_world(a_rows, op)?;
        // Checked on every member and agreed: m, k, n and B are this rank's arguments.
        let checks = || -> Result<()> {
            let dims = |x: usize, y: usize| {
                x.checked_mul(y).ok_or_else(|| Error::InvalidArgument {
                    op,
                    message: format!("{x} x {y} overflows usize"),
                })
            };
            let (mk, kn) = (dims(m, k)?, dims(k, n)?);
            dims(m, n)?;
            if a_rows.len() != mk {
                return Err(Error::LengthMismatch {
                    op,
                    expected: mk,
                    actual: a_rows.len(),
                });
            }
            if b.len() != kn {
                return Err(Error::LengthMismatch {
                    op,
                    expected: kn,
                    actual: b.len(),
                });
            }
            if k > 0 && a_rows.lens.iter().any(|&l| l % k != 0) {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "A's parts {:?} are not whole rows of {k}; rebalance with Balance::Lens in multiples of k",
                        a_rows.lens
                    ),
                });
            }
            Ok(())
        };
        self.agreed(checks())?;
        let rows: Vec<usize> = a_rows
            .lens
            .iter()
            .map(|&l| l.checked_div(k).unwrap_or(0))
            .collect();
        // With k == 0, A is empty and its parts say nothing of the rows: all go to member 0.
        let rows = if k == 0 {
            let mut r = vec![0; self.size()];
            r[0] = m;
            r
        } else {
            rows
        };
        let held = self.comm.held();
        self.call(op, a_rows.len(), |_| {
            self.note_lens(&a_rows.lens);
            // Members other than the first held one get their own copy of B, so
            // that members on different devices do not move one buffer back and forth.
            let b_host = if self.members.len() > 1 {
                Some(b.host()?)
            } else {
                None
            };
            let parts = self.each(|h, ctx| {
                let r = rows[held.start + h];
                match (&b_host, h) {
                    (Some(bh), h) if h > 0 => {
                        let own = ctx.upload(bh)?;
                        ctx.matmul(&a_rows.parts[h], &own, r, k, n)
                    }
                    _ => ctx.matmul(&a_rows.parts[h], b, r, k, n),
                }
            })?;
            Ok(self.wrap(parts, rows.iter().map(|&r| r * n).collect()))
        })
    }
}
