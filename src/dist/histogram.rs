//! Histogram over a world: local counts on every member, then one all-reduce.

use super::buffer::DistBuffer;
use super::World;
use crate::element::Element;
use crate::error::Result;

impl World {
    /// Counts of `d`'s elements in `bins` equal bins over `[lo, hi)`, on every
    /// member, identical to [`crate::Context::histogram`] of the whole array:
    /// values outside and NaN are ignored. Counts wrap past `u32::MAX`, as the
    /// single-context counts would overflow.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] on every member when `bins` is 0 or
    /// above 2^24, when `lo >= hi` or (floats) when `lo` or `hi` is not finite;
    /// [`crate::Error::Member`] naming a member whose local histogram failed.
    pub fn histogram<T: Element>(
        &self,
        d: &DistBuffer<T>,
        bins: usize,
        lo: T,
        hi: T,
    ) -> Result<Vec<u32>> {
        self.check_world(d, "histogram")?;
        // The same check on every member, before any member runs: the same
        // typed error everywhere, with no member named.
        self.agreed(crate::ops::histogram::cpu::plan(bins, lo, hi).map(|_| ()))?;
        self.call("histogram", d.len(), |_| {
            self.note_lens(&d.lens);
            let counts =
                self.each(|h, ctx| ctx.histogram(&d.parts[h], bins, lo, hi)?.into_vec())?;
            let mine: Vec<&[u32]> = counts.iter().map(|c| c.as_slice()).collect();
            self.comm.all_reduce_sum_u32(&mine, bins)
        })
    }
}
