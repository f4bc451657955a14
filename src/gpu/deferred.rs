//! Deferred submission: the device's open batch, what is in flight, and how
//! a failed batch is re-run.
//!
//! While the dispatcher runs a deferrable op on the GPU (see
//! [`Deferring`]), every [`super::stream::Stream::submit`] of that op keeps
//! its commands on the calling thread; when the op returns, the dispatcher
//! commits them to the device's open batch together with an [`Entry`]: the
//! op's name, how to re-run it on the CPU, and how to mark its outputs failed.
//! Nothing waits. The batch is submitted, in one command buffer, when
//!
//! - something must run after it: any other submission on the device (a
//!   read, an upload, a synchronous op) puts the batch first in its own
//!   submission, so queue order is program order;
//! - it holds [`MAX_BATCH_DISPATCHES`] dispatches (and then the previous full
//!   batch is waited for, so that at most two are in flight without a read);
//! - the program calls `Context::flush` or `Context::synchronize`.
//!
//! A submitted batch stays in flight, its entries kept, until the device says
//! it finished. A batch that fails (a fault recorded with one of its ops, a
//! validation or out-of-memory error while encoding or submitting, a timeout
//! or a lost device while waiting) is recovered in program order: each entry
//! re-runs on the CPU (ops called under Auto or Split) or marks its outputs
//! failed (under Policy::Gpu), so a later read gets the answer or the error,
//! never stale device memory. An op that was recording while a batch failed
//! may have bound that batch's outputs: its own submission fails with the same
//! error (and so re-runs on the CPU under Auto) rather than run on them.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::stream::{encode, Command};
use super::timing::{BatchTiming, Timer};
use super::GpuBackend;
use crate::error::{Error, Result};

/// A batch is submitted once it holds this many dispatches, so that a long loop
/// with no read still keeps the GPU busy and the buffers its recorded ops hold
/// alive stay bounded (each dispatch holds at most a few buffers).
pub(crate) const MAX_BATCH_DISPATCHES: usize = 256;

/// Re-runs a deferred op on the CPU and fills its outputs in.
pub(crate) type Replay = Box<dyn FnOnce() -> Result<()> + Send>;
/// Marks a deferred op's outputs failed with an error, or (None) held for its re-run.
pub(crate) type Mark = Box<dyn Fn(Option<&Error>) + Send>;
/// Marks one output failed with an error.
pub(crate) type Fail = Box<dyn Fn(&Error) + Send>;

/// One deferred op in a batch.
pub(crate) struct Entry {
    /// The op's name, for errors.
    pub op: &'static str,
    /// A simulated fault the batch fails with at submission.
    pub fault: Option<Error>,
    /// Re-runs the op on the CPU and fills in its outputs; None under Policy::Gpu.
    pub replay: Option<Replay>,
    /// Marks the op's outputs failed with an error, or (None) held for the re-run.
    pub mark: Mark,
    /// The device's failure count when the op started (see [`Queue::failures`]).
    pub epoch: u64,
    /// Receives the GPU time of the op's passes, where the device times them.
    pub timer: Option<Timer>,
    /// The op's dispatches (set when it is committed).
    pub dispatches: usize,
}

#[derive(Default)]
struct Batch {
    commands: Vec<Command>,
    entries: Vec<Entry>,
    dispatches: usize,
}

struct InFlight {
    seq: u64,
    entries: Vec<Entry>,
}

/// Submissions, waits and dispatches on one device, for `Context::stream_stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub submits: AtomicU64,
    pub waits: AtomicU64,
    pub dispatches: AtomicU64,
    pub deferred: AtomicU64,
}

/// A device's deferred work.
pub(crate) struct Queue {
    open: Mutex<Batch>,
    /// Held from taking the open batch to submitting it, so that batches reach
    /// the queue in the order they were taken.
    order: Mutex<()>,
    in_flight: Mutex<VecDeque<InFlight>>,
    /// The highest submission sequence number the device finished.
    completed: Arc<AtomicU64>,
    next_seq: AtomicU64,
    /// How many batches failed; an op that started before the last failure
    /// may hold that batch's output buffers.
    failures: AtomicU64,
    last_failure: Mutex<Option<Error>>,
    /// The last batch that [`GpuBackend::commit`] submitted because it was full.
    backlog: Mutex<Option<wgpu::SubmissionIndex>>,
    pub counters: Counters,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            open: Mutex::default(),
            order: Mutex::default(),
            in_flight: Mutex::default(),
            completed: Arc::new(AtomicU64::new(0)),
            next_seq: AtomicU64::new(1),
            failures: AtomicU64::new(0),
            last_failure: Mutex::default(),
            backlog: Mutex::default(),
            counters: Counters::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single push, take or swap.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

thread_local! {
    /// The op this thread is running on a GPU now: the device, the failure
    /// count when it started, and (when deferring) the commands it recorded.
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

struct Current {
    gpu: u64,
    epoch: u64,
    deferring: bool,
    commands: Vec<Command>,
}

/// Marks the calling thread as running one op on a GPU; dropped when the
/// attempt ends. Nested ops (an op calling another inside its GPU part) run
/// inside the outer one's scope.
pub(crate) struct Deferring {
    outer: bool,
}

impl Deferring {
    /// Starts an op on `gpu`; `defer` whether its submissions join the open batch.
    pub fn begin(gpu: &GpuBackend, defer: bool) -> Deferring {
        let epoch = gpu.deferred.failures.load(Ordering::Acquire);
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_some() {
                return Deferring { outer: false };
            }
            *c = Some(Current {
                gpu: gpu.id,
                epoch,
                deferring: defer,
                commands: Vec::new(),
            });
            Deferring { outer: true }
        })
    }

    /// Whether this scope is the op's own (not nested in another op's).
    pub fn is_outer(&self) -> bool {
        self.outer
    }

    /// The failure count when the op started.
    pub fn epoch(&self) -> u64 {
        CURRENT.with(|c| c.borrow().as_ref().map_or(0, |c| c.epoch))
    }

    /// Takes the commands the op recorded so far (an attempt that failed
    /// throws them away: they never ran).
    pub fn take(&self) -> Vec<Command> {
        if !self.outer {
            return Vec::new();
        }
        CURRENT.with(|c| {
            c.borrow_mut()
                .as_mut()
                .map(|c| std::mem::take(&mut c.commands))
                .unwrap_or_default()
        })
    }
}

impl Drop for Deferring {
    fn drop(&mut self) {
        if self.outer {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
}

/// For `Stream::submit`: inside a deferring op on `gpu`, keeps `commands` for
/// the op's batch entry and returns None; otherwise gives them back.
pub(crate) fn record_deferred(gpu: &GpuBackend, commands: Vec<Command>) -> Option<Vec<Command>> {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(c) if c.deferring && c.gpu == gpu.id => {
            c.commands.extend(commands);
            None
        }
        _ => Some(commands),
    })
}

/// What the op running on this thread recorded on `gpu` and has not committed:
/// a submission the op makes itself must run it first.
fn take_uncommitted(gpu: &GpuBackend) -> (Vec<Command>, Option<u64>) {
    CURRENT.with(|c| match c.borrow_mut().as_mut() {
        Some(c) if c.gpu == gpu.id => (std::mem::take(&mut c.commands), Some(c.epoch)),
        _ => (Vec::new(), None),
    })
}

fn dispatches(commands: &[Command]) -> usize {
    commands
        .iter()
        .filter(|c| matches!(c, Command::Dispatch { .. }))
        .count()
}

impl GpuBackend {
    /// Commits a deferred op: its commands and entry join the open batch,
    /// which is submitted (without a wait) once it holds
    /// [`MAX_BATCH_DISPATCHES`] dispatches.
    pub(crate) fn commit(&self, commands: Vec<Command>, mut entry: Entry) {
        let op = entry.op;
        entry.dispatches = dispatches(&commands);
        let full = {
            let mut b = lock(&self.deferred.open);
            b.dispatches += entry.dispatches;
            b.commands.extend(commands);
            b.entries.push(entry);
            b.dispatches >= MAX_BATCH_DISPATCHES
        };
        self.deferred
            .counters
            .deferred
            .fetch_add(1, Ordering::Relaxed);
        if full {
            // A failure is recovered inside: the batch's outputs hold the answer or the error.
            if let Ok(index) = self.submit_batch(op, Vec::new()) {
                // The full batch before this one is waited for, so that a loop
                // that never reads keeps at most two full batches (and their
                // buffers) in flight while the GPU always has one to run.
                let previous = lock(&self.deferred.backlog).replace(index);
                if let Some(p) = previous {
                    let _ = self.wait(op, Some(p));
                }
            }
        }
    }

    /// Whether the open batch holds anything.
    pub(crate) fn has_open_batch(&self) -> bool {
        !lock(&self.deferred.open).entries.is_empty()
    }

    /// Submits, as one submission: the open batch, then whatever the op on this
    /// thread recorded and has not committed, then `own`. Does not wait. If
    /// the submission fails and carried a batch, the batch is recovered (see
    /// the module docs) and `own` is submitted again alone: a read gets its
    /// own data (or, when the failed batch produced it, the batch's answer or
    /// error), not another op's failure; an op that started before the failure
    /// is refused with it (it may have bound the batch's outputs). With nothing
    /// of its own (a flush) the batch's error returns.
    pub(crate) fn submit_batch(
        &self,
        op: &'static str,
        own: Vec<Command>,
    ) -> Result<wgpu::SubmissionIndex> {
        let _gate = self.gate(); // the gate before `order`, as every GL caller takes them
        let order = lock(&self.deferred.order);
        let Batch {
            mut commands,
            mut entries,
            ..
        } = std::mem::take(&mut *lock(&self.deferred.open));
        let (mut uncommitted, epoch) = take_uncommitted(self);
        uncommitted.extend(own);
        let own = uncommitted;
        let carried = !entries.is_empty();
        if carried {
            commands.extend(own.iter().cloned());
        }
        let all = if carried { &commands } else { &own };
        // The batch's dispatches come first: its ops' passes are the ones timed.
        let timers = entries.iter_mut().map(|e| (e.dispatches, e.timer.take()));
        let timing = self.batch_timing(op, timers.collect());
        let r = self.submit_now(op, all, &entries, epoch, timing);
        drop(commands);
        match r {
            Ok((seq, index)) => {
                if !entries.is_empty() {
                    lock(&self.deferred.in_flight).push_back(InFlight { seq, entries });
                }
                drop(order);
                self.prune();
                Ok(index)
            }
            Err(e) => {
                // Marked before any later submission can read the outputs.
                let e = self.lost_or(e);
                self.mark_failed(&entries, &e);
                drop(order);
                self.replay(entries);
                if self.is_lost() {
                    self.recover_all(&e);
                    return Err(e);
                }
                // A flush (nothing of its own) reports the batch's failure.
                match carried && !own.is_empty() {
                    true => self.submit_own(op, own, epoch),
                    false => Err(e),
                }
            }
        }
    }

    /// Submits `own` with no batch before it (after a batch it carried failed).
    fn submit_own(
        &self,
        op: &'static str,
        own: Vec<Command>,
        epoch: Option<u64>,
    ) -> Result<wgpu::SubmissionIndex> {
        let _gate = self.gate();
        // What was recorded meanwhile stays open, to be submitted after this.
        let order = lock(&self.deferred.order);
        let r = self.submit_now(op, &own, &[], epoch, None);
        drop(order);
        r.map(|(_, index)| index).map_err(|e| self.lost_or(e))
    }

    fn submit_now(
        &self,
        op: &'static str,
        commands: &[Command],
        entries: &[Entry],
        epoch: Option<u64>,
        timing: Option<BatchTiming>,
    ) -> Result<(u64, wgpu::SubmissionIndex)> {
        let blame = entries.first().map_or(op, |e| e.op);
        if let Some(e) = entries.iter().find_map(|e| e.fault.clone()) {
            return Err(e);
        }
        // An op that started before a batch failed may have bound that
        // batch's outputs, which hold nothing: do not run it on them.
        let failures = self.deferred.failures.load(Ordering::Acquire);
        let stale = entries.iter().map(|e| e.epoch).chain(epoch).min();
        if stale.is_some_and(|s| s < failures) {
            if let Some(e) = lock(&self.deferred.last_failure).clone() {
                return Err(e);
            }
        }
        let mut buffers = Vec::with_capacity(1);
        let mut uniforms = None;
        if !commands.is_empty() {
            let (encoder, u) = encode(self, blame, commands, timing.as_ref())?;
            buffers.push(encoder);
            uniforms = u;
        }
        let seq = self.deferred.next_seq.fetch_add(1, Ordering::Relaxed);
        let index = self.scoped(blame, || {
            Ok(self.queue.submit(buffers.into_iter().map(|e| e.finish())))
        })?;
        // In the queue now: a later submission may write it again (see `uniforms`).
        if let Some(u) = uniforms {
            self.uniforms.give(u);
        }
        // None when nothing was encoded: no op had a pass to time.
        if let Some(t) = timing {
            self.after_timed_submit(t);
        }
        let done = self.deferred.completed.clone();
        self.queue.on_submitted_work_done(move || {
            done.fetch_max(seq, Ordering::AcqRel);
        });
        let c = &self.deferred.counters;
        c.submits.fetch_add(1, Ordering::Relaxed);
        c.dispatches
            .fetch_add(dispatches(commands) as u64, Ordering::Relaxed);
        Ok((seq, index))
    }

    /// Drops the entries of batches the device finished, and hands out the
    /// GPU times of those that were timed.
    pub(crate) fn prune(&self) {
        self.read_timings();
        let done = self.deferred.completed.load(Ordering::Acquire);
        let finished: Vec<InFlight> = {
            let mut f = lock(&self.deferred.in_flight);
            let keep = f.iter().take_while(|b| b.seq <= done).count();
            f.drain(..keep).collect()
        };
        drop(finished); // outside the lock: entries hold buffers
    }

    /// The op of the oldest deferred entry not known to have finished.
    pub(crate) fn oldest_in_flight(&self) -> Option<&'static str> {
        let f = lock(&self.deferred.in_flight);
        f.front().and_then(|b| b.entries.first()).map(|e| e.op)
    }

    /// Counts a wait that succeeded.
    pub(crate) fn waited(&self) {
        self.deferred.counters.waits.fetch_add(1, Ordering::Relaxed);
        self.prune();
    }

    /// After a wait failed: every batch in flight is recovered.
    pub(crate) fn wait_failed(&self, e: &Error) {
        self.deferred.counters.waits.fetch_add(1, Ordering::Relaxed);
        let all: Vec<InFlight> = lock(&self.deferred.in_flight).drain(..).collect();
        let entries: Vec<Entry> = all.into_iter().flat_map(|b| b.entries).collect();
        self.recover(entries, e);
        if self.is_lost() {
            self.recover_all(e);
        }
    }

    /// After the device was lost: the open batch and every batch in flight
    /// are recovered (their ops can never run here).
    pub(crate) fn recover_all(&self, e: &Error) {
        let open = std::mem::take(&mut *lock(&self.deferred.open));
        let flying: Vec<InFlight> = lock(&self.deferred.in_flight).drain(..).collect();
        let mut entries: Vec<Entry> = flying.into_iter().flat_map(|b| b.entries).collect();
        entries.extend(open.entries);
        self.recover(entries, e);
    }

    /// Recovers a failed batch in program order (see [`GpuBackend::mark_failed`]
    /// and [`GpuBackend::replay`]).
    fn recover(&self, entries: Vec<Entry>, e: &Error) {
        self.mark_failed(&entries, e);
        self.replay(entries);
    }

    /// The first half of a recovery: every output of a failed batch is marked
    /// (held for its re-run, or failed), so that no read and no op started
    /// from now on takes its device copy, which holds nothing.
    fn mark_failed(&self, entries: &[Entry], e: &Error) {
        if entries.is_empty() {
            return;
        }
        *lock(&self.deferred.last_failure) = Some(e.clone());
        for entry in entries {
            match entry.replay {
                Some(_) => (entry.mark)(None),
                None => (entry.mark)(Some(e)),
            }
        }
        self.deferred.failures.fetch_add(1, Ordering::AcqRel);
        let ops: Vec<&str> = entries.iter().map(|e| e.op).collect();
        tracing::warn!(target: "tandem::dispatch", "a deferred batch ({}) failed; re-running it on the CPU where the policy allows: {e}", ops.join(", "));
    }

    /// The second half: each op that may re-run on the CPU does, in program
    /// order, and fills its outputs in (or fails them with the re-run's error).
    fn replay(&self, entries: Vec<Entry>) {
        for entry in entries {
            if let Some(replay) = entry.replay {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(replay));
                let e = match r {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(_) => Error::Gpu {
                        op: entry.op,
                        message: "the CPU re-run of a failed deferred batch panicked".into(),
                    },
                };
                (entry.mark)(Some(&e));
            }
        }
    }

    /// Submits the open batch without waiting.
    pub(crate) fn flush(&self, op: &'static str) -> Result<()> {
        match self.has_open_batch() {
            true => self.submit_batch(op, Vec::new()).map(|_| ()),
            false => Ok(()),
        }
    }

    /// Submits the open batch and waits for everything submitted so far.
    pub(crate) fn synchronize(&self, op: &'static str) -> Result<()> {
        self.flush(op)?;
        self.wait(op, None)
    }

    /// (submits, waits, dispatches, deferred ops) so far.
    pub(crate) fn stream_counts(&self) -> (u64, u64, u64, u64) {
        let c = &self.deferred.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        (l(&c.submits), l(&c.waits), l(&c.dispatches), l(&c.deferred))
    }
}
