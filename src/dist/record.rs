//! The dist record: what one call of a world did on each member, so that the
//! communication overhead is visible beside the compute.

use std::time::Duration;

use crate::Side;

/// What one member did in one call of a [`super::World`] op.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRecord {
    /// The member (rank).
    pub member: usize,
    /// Elements of this member's part of the main input.
    pub len: usize,
    /// The side its last local op ran on (`None` when it ran no op, e.g. an empty part).
    pub side: Option<Side>,
    /// Set when that op's GPU failed and it re-ran on the CPU (under Auto): the GPU's error.
    pub fallback: Option<String>,
    /// Wall time of its local steps.
    pub compute: Duration,
    /// Wall time in collectives (the same for every member a process holds:
    /// they take part in each collective together).
    pub communication: Duration,
    /// Bytes it sent to other members.
    pub bytes_sent: u64,
}

/// One call of a world op.
#[derive(Debug, Clone, PartialEq)]
pub struct DistRecord {
    /// The op, e.g. "sort".
    pub op: &'static str,
    /// Global elements of the main input.
    pub len: usize,
    /// The members this process holds (all of them in a local world; this rank's under MPI).
    pub members: Vec<MemberRecord>,
    /// Wall time of the whole call on this process.
    pub elapsed: Duration,
    /// Whether the call returned an error.
    pub failed: bool,
}

impl DistRecord {
    /// The share of the call's time spent in collectives on this process
    /// (0 to 1): communication over elapsed, for the member held here that
    /// communicated longest.
    pub fn communication_share(&self) -> f64 {
        let comm = self
            .members
            .iter()
            .map(|m| m.communication)
            .max()
            .unwrap_or_default();
        if self.elapsed.is_zero() {
            0.0
        } else {
            (comm.as_secs_f64() / self.elapsed.as_secs_f64()).min(1.0)
        }
    }
}
