//! GPU time of deferred ops, from timestamp queries.
//!
//! A deferred op returns before its kernels run, so its wall time says nothing
//! about them. Where the device has `TIMESTAMP_QUERY` (and timing is on, see
//! `ContextBuilder::gpu_timestamps`), a submitted batch writes two timestamps
//! per op, at the start of its first compute pass and at the end of its last,
//! resolves them and copies them into a mappable buffer, all in the batch's
//! own command buffer. Once the device has run it and a poll has mapped the
//! buffer, the next submission or successful wait reads the timestamps and
//! hands each op its time (its [`Timer`]): from its
//! first pass's start to its last pass's end, barriers between its passes
//! included. Two stamps per op, not per pass, because on some drivers each
//! stamp stalls the pipeline. Query sets and their buffers are kept for the
//! next batch, so a timed batch creates nothing in steady state.
//!
//! What is not timed: ops with no compute pass (copies alone), ops past
//! [`MAX_TIMED_OPS`] in one submission, synchronous ops, batches that fail,
//! and devices without the feature. Such ops have no GPU time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::GpuBackend;

/// Receives the GPU time of one deferred op's passes.
pub(crate) type Timer = Box<dyn FnOnce(Duration) + Send>;

/// The most ops one submission times: a query set holds at most
/// `QUERY_SET_MAX_QUERIES` timestamps, two per op.
pub(crate) const MAX_TIMED_OPS: usize = (wgpu::QUERY_SET_MAX_QUERIES / 2) as usize;

/// Idle query sets kept per device (a batch in flight holds one; at most two
/// full batches are in flight without a read).
const KEEP_SETS: usize = 4;

/// A query set with room for [`MAX_TIMED_OPS`] ops and its two buffers.
#[derive(Clone)]
struct Set {
    queries: wgpu::QuerySet,
    /// Where the queries resolve (QUERY_RESOLVE | COPY_SRC).
    resolved: wgpu::Buffer,
    /// What the host maps (MAP_READ | COPY_DST).
    read: wgpu::Buffer,
}

/// The timing of one submission: its query set, the timestamps each pass
/// writes (start, end), and the ops, in order: (slot, timer), op `k`'s stamps
/// being `2k` and `2k + 1`.
pub(crate) struct BatchTiming {
    set: Set,
    stamps: Vec<(Option<u32>, Option<u32>)>,
    ops: Vec<(Option<usize>, Option<Timer>)>,
    /// Ops with a slot.
    slots: usize,
}

impl BatchTiming {
    /// The query set and the timestamps that dispatch `i` of the submission
    /// writes, if any.
    pub fn writes(&self, i: usize) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        match self.stamps.get(i) {
            Some(&(start, end)) if start.is_some() || end.is_some() => {
                Some(wgpu::ComputePassTimestampWrites {
                    query_set: &self.set.queries,
                    beginning_of_pass_write_index: start,
                    end_of_pass_write_index: end,
                })
            }
            _ => None,
        }
    }

    fn bytes(&self) -> u64 {
        2 * self.slots as u64 * u64::from(wgpu::QUERY_SIZE)
    }

    /// Records, after the submission's last pass, the resolve of the
    /// timestamps and their copy into the mappable buffer.
    pub fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        let queries = 2 * self.slots as u32;
        enc.resolve_query_set(&self.set.queries, 0..queries, &self.set.resolved, 0);
        let bytes = u64::from(queries) * u64::from(wgpu::QUERY_SIZE);
        enc.copy_buffer_to_buffer(&self.set.resolved, 0, &self.set.read, 0, bytes);
    }
}

/// A device's timestamp state.
pub(crate) struct Timings {
    /// Whether batches are timed (the device has `TIMESTAMP_QUERY`).
    enabled: bool,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
    free: Mutex<Vec<Set>>,
    /// Batches the device finished whose timestamps are mapped, to be read.
    ready: Arc<Mutex<Vec<BatchTiming>>>,
    /// Ops whose GPU time was measured.
    pub timed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single push or take.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Timings {
    /// The timing state of a device with (`enabled`) or without the feature.
    pub fn new(enabled: bool, queue: &wgpu::Queue) -> Timings {
        Timings {
            enabled,
            period_ns: f64::from(queue.get_timestamp_period()),
            free: Mutex::default(),
            ready: Arc::default(),
            timed: AtomicU64::new(0),
        }
    }

    /// Whether deferred ops on this device learn their GPU time.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// Which timestamps each pass writes, for ops of (passes, timed) in order,
/// and each op's slot: timed ops with passes get slots in order, at most
/// [`MAX_TIMED_OPS`]; slot `k` is written at the start of the op's first pass
/// (`2k`) and the end of its last (`2k + 1`). Other ops' passes write none.
#[allow(clippy::type_complexity)]
fn plan(ops: &[(usize, bool)]) -> (Vec<(Option<u32>, Option<u32>)>, Vec<Option<usize>>) {
    let mut stamps = Vec::with_capacity(ops.iter().map(|o| o.0).sum());
    let mut slots = Vec::with_capacity(ops.len());
    let mut next = 0;
    for &(n, timed) in ops {
        let slot = (timed && n > 0 && next < MAX_TIMED_OPS).then_some(next);
        next += usize::from(slot.is_some());
        slots.push(slot);
        let k = slot.map(|k| 2 * k as u32);
        for p in 0..n {
            let start = k.filter(|_| p == 0);
            let end = k.map(|k| k + 1).filter(|_| p + 1 == n);
            stamps.push((start, end));
        }
    }
    (stamps, slots)
}

/// Each op's time from the resolved timestamps (`stamps[2k]`, `stamps[2k + 1]`
/// for slot `k`); an end at or before its start (a reset or wrapped counter)
/// or a time that is not a duration gives no time rather than a wrong one.
fn op_times(stamps: &[u64], period_ns: f64, slots: &[Option<usize>]) -> Vec<Option<Duration>> {
    slots
        .iter()
        .map(|slot| {
            let k = (*slot)?;
            let (start, end) = (*stamps.get(2 * k)?, *stamps.get(2 * k + 1)?);
            let ticks = end.checked_sub(start).filter(|&t| t > 0)?;
            Duration::try_from_secs_f64(ticks as f64 * period_ns * 1e-9).ok()
        })
        .collect()
}

impl GpuBackend {
    /// The timing of a submission whose commands start with the dispatches of
    /// `ops` (passes, timer), in order: None when the device cannot time, no op
    /// wants its time, or a query set cannot be made.
    pub(crate) fn batch_timing(
        &self,
        op: &'static str,
        ops: Vec<(usize, Option<Timer>)>,
    ) -> Option<BatchTiming> {
        let t = &self.timings;
        if !t.enabled || ops.iter().all(|o| o.0 == 0 || o.1.is_none()) {
            return None;
        }
        let (stamps, slots) = plan(&ops.iter().map(|o| (o.0, o.1.is_some())).collect::<Vec<_>>());
        let set = match lock(&t.free).pop() {
            Some(s) => s,
            None => self.scoped(op, || Ok(self.new_set())).ok()?,
        };
        let slots_used = slots.iter().flatten().count();
        let ops = slots
            .into_iter()
            .zip(ops.into_iter().map(|o| o.1))
            .collect();
        Some(BatchTiming {
            set,
            stamps,
            ops,
            slots: slots_used,
        })
    }

    fn new_set(&self) -> Set {
        let bytes = u64::from(wgpu::QUERY_SET_MAX_QUERIES) * u64::from(wgpu::QUERY_SIZE);
        let buffer = |usage| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tandem timestamps"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        Set {
            queries: self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("tandem timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count: wgpu::QUERY_SET_MAX_QUERIES,
            }),
            resolved: buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
            read: buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
        }
    }

    /// After the submission that carries `timing`: maps its timestamps once the
    /// device has run it (read by [`GpuBackend::read_timings`]).
    pub(crate) fn after_timed_submit(&self, timing: BatchTiming) {
        let bytes = timing.bytes();
        let read = timing.set.read.clone();
        let ready = self.timings.ready.clone();
        let mapped = move |r: Result<(), wgpu::BufferAsyncError>| {
            // A failed map (a lost device) drops the timers: those ops have no time.
            if r.is_ok() {
                lock(&ready).push(timing);
            }
        };
        let _ = self.scoped("timestamps", || {
            read.slice(..bytes).map_async(wgpu::MapMode::Read, mapped);
            Ok(())
        });
    }

    /// Reads the timestamps of finished batches and hands each op its GPU
    /// time. Called after each submission and wait (outside the device's
    /// poll), so that batches that finished never pile up mapped.
    pub(crate) fn read_timings(&self) {
        let t = &self.timings;
        if !t.enabled {
            return;
        }
        let mut timed = Vec::new();
        {
            // Mapped reads, unmaps and set drops as one GL caller (see `gate`).
            let _gate = self.gate();
            let ready: Vec<BatchTiming> = std::mem::take(&mut *lock(&t.ready));
            for timing in ready {
                let slice = timing.set.read.slice(..timing.bytes());
                let stamps: Option<Vec<u64>> = slice
                    .get_mapped_range()
                    .ok()
                    .map(|view| bytemuck::pod_collect_to_vec(&view));
                timing.set.read.unmap();
                let Some(stamps) = stamps else { continue };
                let slots: Vec<Option<usize>> = timing.ops.iter().map(|o| o.0).collect();
                let times = op_times(&stamps, t.period_ns, &slots);
                timed.extend(timing.ops.into_iter().map(|o| o.1).zip(times));
                let mut free = lock(&t.free);
                if free.len() < KEEP_SETS {
                    free.push(timing.set);
                }
            }
        }
        // Once the sets are back: a timer may learn, which takes other locks
        // (after the gate in lock order, wherever the caller holds it).
        for (timer, time) in timed {
            if let (Some(timer), Some(time)) = (timer, time) {
                t.timed.fetch_add(1, Ordering::Relaxed);
                timer(time);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_timed_op_stamps_the_start_of_its_first_pass_and_the_end_of_its_last() {
        // An op of 3 passes, one untimed op of 1, one of none, a timed op of 1.
        let (stamps, slots) = plan(&[(3, true), (1, false), (0, true), (1, true)]);
        assert_eq!(slots, vec![Some(0), None, None, Some(1)]);
        assert_eq!(
            stamps,
            vec![
                (Some(0), None),
                (None, None),
                (None, Some(1)),
                (None, None),
                (Some(2), Some(3)),
            ]
        );
    }

    #[test]
    fn ops_past_the_query_set_get_no_slot() {
        let ops = vec![(1, true); MAX_TIMED_OPS + 2];
        let (_, slots) = plan(&ops);
        assert_eq!(slots[MAX_TIMED_OPS - 1], Some(MAX_TIMED_OPS - 1));
        assert_eq!(slots[MAX_TIMED_OPS], None);
    }

    #[test]
    fn each_op_gets_its_own_stamps_and_a_reset_counter_gives_no_time() {
        // Slot 0: 100..160 ticks of 2 ns; slot 1 ends before it starts; slot 2
        // is past the stamps.
        let stamps = [100, 160, 50, 10];
        let t = op_times(&stamps, 2.0, &[Some(0), None, Some(1), Some(2)]);
        assert_eq!(t, vec![Some(Duration::from_nanos(120)), None, None, None]);
        // A period that makes no duration (a broken driver) gives none either.
        assert_eq!(op_times(&[0, 5], f64::NAN, &[Some(0)]), vec![None]);
    }
}
