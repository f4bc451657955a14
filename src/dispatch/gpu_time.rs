//! [`GpuTime`]: the GPU time of one deferred call, which arrives after the call
//! returned (when a wait sees its batch finished, see `crate::gpu::timing`),
//! and what learns from it.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::gpu::timing::Timer;

/// Learns from a deferred call's GPU time.
pub(crate) type Learn = Box<dyn FnOnce(Duration) + Send>;

/// A deferred call's GPU time, once known, shared by its run record and its
/// batch entry's timer.
#[derive(Default)]
pub(crate) struct GpuTime {
    time: OnceLock<Duration>,
    learn: Mutex<Option<Learn>>,
}

impl GpuTime {
    /// The time, once the batch finished and a wait read its timestamps.
    pub fn get(&self) -> Option<Duration> {
        self.time.get().copied()
    }

    /// The timer for the call's batch entry: sets the time and runs the learner.
    pub fn timer(self: &Arc<Self>) -> Timer {
        let me = self.clone();
        Box::new(move |d| {
            let _ = me.time.set(d);
            let learn = me.learn.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(learn) = learn {
                learn(d);
            }
        })
    }

    /// Runs `learn` with the time: now if it is known, else when it arrives.
    pub fn then_learn(&self, learn: Learn) {
        // The timer sets the time before it takes the learner, so under this
        // lock either the time is known or the timer has not taken it yet.
        let mut slot = self.learn.lock().unwrap_or_else(|p| p.into_inner());
        match self.get() {
            Some(d) => {
                drop(slot);
                learn(d)
            }
            None => *slot = Some(learn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counting(seen: &Arc<AtomicU64>) -> Learn {
        let seen = seen.clone();
        Box::new(move |d| {
            seen.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        })
    }

    #[test]
    fn the_learner_runs_once_whichever_comes_first() {
        for time_first in [false, true] {
            let t = Arc::new(GpuTime::default());
            let seen = Arc::new(AtomicU64::new(0));
            let timer = t.timer();
            if time_first {
                timer(Duration::from_nanos(7));
                t.then_learn(counting(&seen));
            } else {
                t.then_learn(counting(&seen));
                timer(Duration::from_nanos(7));
            }
            assert_eq!(seen.load(Ordering::Relaxed), 7);
            assert_eq!(t.get(), Some(Duration::from_nanos(7)));
        }
    }
}
