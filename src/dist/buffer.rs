//! `DistBuffer<T>`: one logical array split over a world's members.

use std::sync::Arc;

use super::collectives::Comm;
use crate::buffer::Buffer;
use crate::element::Element;
use crate::error::{Error, Result};

/// One logical array whose parts live on a world's members, in member order:
/// member 0 holds the first `part_lens()[0]` elements, member 1 the next, and
/// so on. Parts may be uneven or empty.
///
/// In a local world this process holds every part; under MPI it holds its
/// rank's part and knows every part's length.
pub struct DistBuffer<T: Element> {
    pub(crate) comm: Arc<Comm>,
    pub(crate) world_id: u64,
    /// The held members' parts, in member order.
    pub(crate) parts: Vec<Buffer<T>>,
    /// Every member's part length.
    pub(crate) lens: Vec<usize>,
}

impl<T: Element> std::fmt::Debug for DistBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistBuffer")
            .field("type", &T::SCALAR.wgsl())
            .field("part_lens", &self.lens)
            .finish()
    }
}

impl<T: Element> DistBuffer<T> {
    /// The global length: every member's part together.
    pub fn len(&self) -> usize {
        self.lens.iter().sum()
    }

    /// True when the whole array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements held by this process: its rank's part under MPI, every part in
    /// a local world.
    pub fn local_len(&self) -> usize {
        self.parts.iter().map(|p| p.len()).sum()
    }

    /// Every member's part length, in member order.
    pub fn part_lens(&self) -> &[usize] {
        &self.lens
    }

    /// Where each member's part starts in the global array.
    pub fn part_offsets(&self) -> Vec<usize> {
        offsets(&self.lens)
    }

    /// The parts this process holds, in member order (one under MPI).
    pub fn parts(&self) -> &[Buffer<T>] {
        &self.parts
    }

    /// The whole array, in order, on every member. Under MPI this is a
    /// collective: every rank must call it.
    ///
    /// # Errors
    /// [`Error::Member`] naming a member whose part could not be read (its
    /// only copy was on a lost GPU); [`Error::LimitExceeded`] under MPI when
    /// the array is over 2 GiB.
    pub fn to_vec(&self) -> Result<Vec<T>> {
        let hosts = self
            .comm
            .agree(self.parts.iter().map(|p| p.host()).collect())?;
        let slices: Vec<&[T]> = hosts.iter().map(|h| h.as_slice()).collect();
        self.comm.all_gather_concat(&slices, &self.lens)
    }

    /// Fails unless `other` has the same world and the same part lengths (on
    /// every member alike: a collective).
    pub(crate) fn same_layout<U: Element>(
        &self,
        other: &DistBuffer<U>,
        op: &'static str,
    ) -> Result<()> {
        let r = self.layout_check(other, op);
        let status: Vec<Result<()>> = (0..self.parts.len()).map(|_| r.clone()).collect();
        self.comm.agree(status).map(|_| ())
    }

    fn layout_check<U: Element>(&self, other: &DistBuffer<U>, op: &'static str) -> Result<()> {
        if other.world_id != self.world_id {
            return Err(Error::InvalidArgument {
                op,
                message: "the buffers belong to different worlds; make both with the same World"
                    .into(),
            });
        }
        if other.len() != self.len() {
            return Err(Error::LengthMismatch {
                op,
                expected: self.len(),
                actual: other.len(),
            });
        }
        if other.lens != self.lens {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "the buffers are split differently ({:?} and {:?}); first call world.rebalance(&b, Balance::Lens(a.part_lens().to_vec()))",
                    self.lens, other.lens
                ),
            });
        }
        Ok(())
    }
}

/// Exclusive prefix sums of `lens`: each part's start.
pub(crate) fn offsets(lens: &[usize]) -> Vec<usize> {
    lens.iter()
        .scan(0, |acc, &n| {
            let s = *acc;
            *acc += n;
            Some(s)
        })
        .collect()
}
