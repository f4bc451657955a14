//! [`Dispatcher`]: the dispatcher's state, one per context (shared by its
//! clones and policy views).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::fallback::Faults;
use super::learn::RunHistories;
use super::profile::Profile;
use super::records::RunLog;
use super::Op;

/// What the dispatcher keeps between calls.
pub(crate) struct Dispatcher {
    /// The run records.
    pub log: RunLog,
    /// User kernels' run histories (shared with the timers of deferred runs).
    pub histories: Arc<RunHistories>,
    /// The fault-injection hook.
    pub faults: Faults,
    /// `ContextBuilder::gpu_crossover`: overrides the cost model under Auto.
    pub crossover: Option<usize>,
    /// Each op's curve's [`Profile::cpu_only_below_for`] (by [`Op::index`]), or
    /// 0: Auto's fast path, read without a lock.
    cpu_only_below: [AtomicU64; Op::ALL.len()],
}

impl Dispatcher {
    /// A dispatcher with nothing learned and no profile.
    pub fn new(crossover: Option<usize>) -> Dispatcher {
        Dispatcher {
            log: RunLog::default(),
            histories: Arc::default(),
            faults: Faults::default(),
            crossover,
            cpu_only_below: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Takes the fast path's sizes from `profile` (none: no fast path).
    pub fn use_profile(&self, profile: Option<&Profile>) {
        for (slot, op) in self.cpu_only_below.iter().zip(Op::ALL) {
            let below = profile.map_or(0, |p| p.cpu_only_below_for(op.curve().name()) as u64);
            slot.store(below, Ordering::Relaxed);
        }
    }

    /// Work below which Auto runs `op` on host data on the CPU without
    /// predicting (0: never).
    pub fn cpu_only_below(&self, op: Op) -> u64 {
        self.cpu_only_below[op.index()].load(Ordering::Relaxed)
    }
}
