//! The MPI transport (cargo feature `mpi`): one member per rank of
//! `MPI_COMM_WORLD`, through rsmpi over the system's MPI library.
//!
//! MPI is initialised with `MPI_THREAD_SERIALIZED` and every call here holds one
//! lock, so a world may be used from any thread, one call at a time. MPI's
//! default error handler aborts the job on a communication failure, so a broken
//! link ends the job instead of hanging it; a panic does the same through the
//! hook [`install_abort_on_panic`] installs.

use std::ops::Range;
use std::sync::Mutex;

use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;

use super::collectives::Transport;
use crate::error::{Error, Result};

/// This rank's view of `MPI_COMM_WORLD`. Holds the MPI universe: MPI is
/// finalised when the world and its buffers are gone.
pub(crate) struct MpiTransport {
    _universe: mpi::environment::Universe,
    rank: usize,
    size: usize,
    lock: Mutex<()>,
}

impl MpiTransport {
    /// Initialises MPI (once per process).
    pub(crate) fn init() -> Result<MpiTransport> {
        let Some((universe, _)) = mpi::initialize_with_threading(mpi::Threading::Serialized) else {
            return Err(Error::InvalidArgument {
                op: "World::mpi",
                message: "MPI is already initialised in this process; make one World::mpi per process and keep it".into(),
            });
        };
        let world = universe.world();
        Ok(MpiTransport {
            rank: world.rank() as usize,
            size: world.size() as usize,
            _universe: universe,
            lock: Mutex::new(()),
        })
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> (std::sync::MutexGuard<'_, ()>, SimpleCommunicator) {
        let g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        (g, SimpleCommunicator::world())
    }
}

/// Counts and displacements for a partitioned MPI buffer (checked against
/// `Count` by [`Transport::max_bytes`] before any call).
fn counts_displs(counts: impl Iterator<Item = usize>) -> (Vec<Count>, Vec<Count>) {
    let counts: Vec<Count> = counts.map(|c| c as Count).collect();
    let displs = counts
        .iter()
        .scan(0 as Count, |acc, &c| {
            let d = *acc;
            *acc += c;
            Some(d)
        })
        .collect();
    (counts, displs)
}

impl Transport for MpiTransport {
    fn size(&self) -> usize {
        self.size
    }

    fn held(&self) -> Range<usize> {
        self.rank..self.rank + 1
    }

    fn max_bytes(&self) -> Option<u64> {
        Some(Count::MAX as u64)
    }

    fn all_gather_u64(&self, mine: &[&[u64]], count: usize) -> Result<Vec<u64>> {
        let mut out = vec![0u64; self.size * count];
        let (_g, world) = self.world();
        world.all_gather_into(&mine[0][..count], &mut out[..]);
        Ok(out)
    }

    fn all_gather_bytes(&self, mine: &[&[u8]], counts: &[usize], out: &mut [u8]) -> Result<()> {
        let (c, d) = counts_displs(counts.iter().copied());
        let (_g, world) = self.world();
        let mut part = PartitionMut::new(out, c, d);
        world.all_gather_varcount_into(mine[0], &mut part);
        Ok(())
    }

    fn all_to_all_bytes(
        &self,
        send: &[&[u8]],
        counts: &[Vec<usize>],
        recv: &mut [&mut [u8]],
    ) -> Result<()> {
        let me = self.rank;
        let (sc, sd) = counts_displs(counts[me].iter().copied());
        let (rc, rd) = counts_displs((0..self.size).map(|s| counts[s][me]));
        let (_g, world) = self.world();
        let sp = Partition::new(send[0], sc, sd);
        let mut rp = PartitionMut::new(&mut *recv[0], rc, rd);
        world.all_to_all_varcount_into(&sp, &mut rp);
        Ok(())
    }

    fn all_reduce_sum_u32(&self, mine: &[&[u32]], len: usize) -> Result<Vec<u32>> {
        let mut out = vec![0u32; len];
        if len == 0 {
            return Ok(out);
        }
        let (_g, world) = self.world();
        world.all_reduce_into(&mine[0][..len], &mut out[..], SystemOperation::sum());
        Ok(out)
    }
}

/// Makes a panic on this rank end the whole job at once: the hook prints the
/// rank and the message (after the usual panic report) and calls `MPI_Abort`,
/// which kills every rank, instead of leaving the others blocked in their next
/// collective.
pub(crate) fn install_abort_on_panic(rank: usize, size: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        eprintln!("tandem: MPI rank {rank} of {size} panicked ({info}); aborting the whole job");
        SimpleCommunicator::world().abort(101);
    }));
}
