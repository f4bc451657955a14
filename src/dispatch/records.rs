//! Records: what each call did ([`RunRecord`]), the bounded log a context keeps
//! ([`RunLog`]), and how much tandem prints by itself ([`stderr_level`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::gpu_time::GpuTime;
use super::{Reason, Side, Work};
use crate::Policy;

/// How many records a context keeps.
const LOG_CAPACITY: usize = 1024;

/// What one op call did, kept by the context (see [`crate::Context::last_run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The op's name, e.g. "sum".
    pub op: &'static str,
    /// Elements in the op's main input (multiply-adds for matmul).
    pub len: usize,
    /// The policy of the context that made the call.
    pub policy: Policy,
    /// The side that produced the result.
    pub side: Side,
    /// Why that side was chosen.
    pub reason: Reason,
    /// The cost model's prediction for the CPU side, transfers included (with a profile).
    pub predicted_cpu: Option<Duration>,
    /// The cost model's prediction for the GPU side, transfers included (with a profile).
    pub predicted_gpu: Option<Duration>,
    /// The cost model's prediction for a split, where one was considered.
    pub predicted_split: Option<Duration>,
    /// For [`Side::Split`]: the share of the elements the GPU ran.
    pub gpu_share: Option<f64>,
    /// Set when the GPU failed and the op re-ran on the CPU: the GPU's error.
    pub fallback: Option<String>,
    /// Set when the call failed: the error it returned (then `side` is the side
    /// that failed, or the GPU for a call refused before running).
    pub error: Option<String>,
    /// Wall time of the op, decision and any fallback included (for a
    /// deferred call: the time to record it, not to run it).
    pub elapsed: Duration,
    /// True when the GPU part joined the device's open batch and ran after the
    /// call returned (see `Context::synchronize`).
    pub deferred: bool,
    /// For a deferred call: its time on the GPU, from the start of its first
    /// compute pass to the end of its last, measured with timestamp queries
    /// where the device has `TIMESTAMP_QUERY` ([`crate::GpuInfo::timestamps`])
    /// and timing is on (`ContextBuilder::gpu_timestamps`). Known once its
    /// batch finished and a later submission or wait on this device read the
    /// timestamps: after `Context::synchronize` or a read of a result made
    /// after it, when one thread drives the device (with several, another
    /// thread's poll may deliver it a little later). None before, for
    /// synchronous calls, and without timing.
    pub gpu_time: Option<Duration>,
}

impl RunRecord {
    /// A record of `work` run on `side` for `reason`, with no prediction,
    /// fallback or error; the caller fills in what applies.
    pub(crate) fn new(work: &Work, policy: Policy, side: Side, reason: Reason) -> RunRecord {
        RunRecord {
            op: work.op.name(),
            len: work.len,
            policy,
            side,
            reason,
            predicted_cpu: None,
            predicted_gpu: None,
            predicted_split: None,
            gpu_share: None,
            fallback: None,
            error: None,
            elapsed: Duration::ZERO,
            deferred: false,
            gpu_time: None,
        }
    }
}

/// How much tandem prints to stderr by itself, from `TANDEM_LOG` (off, warn,
/// info, debug; default warn). Every message also goes to `tracing`.
pub(crate) fn stderr_level() -> u8 {
    static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var("TANDEM_LOG")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "off" | "none" | "error" | "0" => 0,
            "info" => 2,
            "debug" | "trace" => 3,
            _ => 1,
        }
    })
}

/// The bounded log of run records a context keeps.
#[derive(Default)]
pub(crate) struct RunLog {
    /// Each record with, for a deferred call, where its GPU time arrives.
    records: Mutex<VecDeque<(RunRecord, Option<Arc<GpuTime>>)>>,
}

/// `r` with its GPU time, if it arrived.
fn completed((r, gpu_time): &(RunRecord, Option<Arc<GpuTime>>)) -> RunRecord {
    let mut r = r.clone();
    if let Some(t) = gpu_time {
        r.gpu_time = t.get();
    }
    r
}

fn micros(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64() * 1e6)
}

impl RunLog {
    pub fn push(&self, r: RunRecord) {
        self.push_timed(r, None)
    }

    /// Pushes `r`, whose GPU time arrives in `gpu_time`.
    pub fn push_timed(&self, r: RunRecord, gpu_time: Option<Arc<GpuTime>>) {
        tracing::debug!(
            target: "tandem::dispatch",
            op = r.op,
            len = r.len,
            policy = ?r.policy,
            side = ?r.side,
            reason = r.reason.as_str(),
            predicted_cpu_us = micros(r.predicted_cpu),
            predicted_gpu_us = micros(r.predicted_gpu),
            predicted_split_us = micros(r.predicted_split),
            gpu_share = r.gpu_share,
            fallback = r.fallback.as_deref(),
            elapsed_us = r.elapsed.as_micros() as u64,
            "op ran"
        );
        if stderr_level() >= 3 {
            eprintln!(
                "tandem: {} n={} on {:?} under {:?} ({}); predicted cpu {:?}, gpu {:?}{}; took {:?}{}",
                r.op,
                r.len,
                r.side,
                r.policy,
                r.reason,
                r.predicted_cpu,
                r.predicted_gpu,
                r.predicted_split
                    .map(|s| format!(", split {s:?}"))
                    .unwrap_or_default(),
                r.elapsed,
                r.fallback
                    .as_deref()
                    .map(|f| format!("; GPU failed, re-ran on the CPU: {f}"))
                    .unwrap_or_default()
            );
        }
        let mut g = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() == LOG_CAPACITY {
            g.pop_front();
        }
        g.push_back((r, gpu_time));
    }

    pub fn last(&self) -> Option<RunRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .back()
            .map(completed)
    }

    pub fn all(&self) -> Vec<RunRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(completed)
            .collect()
    }

    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
