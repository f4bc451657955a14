//! The dispatcher: the one place that decides which side runs an op, runs it,
//! falls back to the CPU when the GPU fails under `Policy::Auto`, and records
//! what ran where, why, and what it predicted.
//!
//! With a measured profile (`tandem calibrate`, see [`profile`]) each side's time
//! is predicted from the op's measured curve, plus the transfers that side would
//! need for data that is not already where it needs it; Auto takes the faster
//! side, or splits element-wise work between both when that is predicted to win.
//! Without a profile it keeps conservative built-in rules. GPU work runs on the
//! calling thread, never on a rayon worker.
//!
//! The pieces, each in its own file: [`Op`] and [`Reason`] (what runs, and why
//! there); `work` (a call as the dispatcher sees it); `cost` (the cost model,
//! pure functions); `decide` (the decision); `learn` (user kernels' run
//! histories and exploration); `split`; `fallback` (OOM retry, device failure,
//! fault injection); `records` (run records, the log, log levels); `state` (the
//! [`Dispatcher`] a context owns). The dispatcher never sees the `Context`: it
//! gets what it needs through [`Caller`].

mod cost;
mod decide;
mod defer;
mod fallback;
mod gpu_time;
mod learn;
mod op;
pub mod profile;
mod reason;
mod records;
mod split;
mod state;
mod work;

pub(crate) use cost::{predict, split_seconds};
pub(crate) use defer::Deferrable;
use defer::MakeEntry;
pub use fallback::SimulatedFault;
pub use op::Op;
pub use reason::Reason;
pub use records::RunRecord;
pub(crate) use records::{stderr_level, RunLog};
pub(crate) use split::{split_elementwise, split_parts};
pub(crate) use state::Dispatcher;
pub(crate) use work::{GpuGap, Input, Work};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::gpu::deferred::Deferring;
use crate::gpu::timing::Timer;
use crate::gpu::GpuBackend;
use crate::Policy;
use decide::{decide, Decision};
use gpu_time::GpuTime;
use learn::Knowledge;
use profile::Profile;

/// A side that runs ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Multicore CPU code on rayon.
    Cpu,
    /// A WGSL kernel through wgpu.
    Gpu,
    /// Both at once: the GPU took the first part of the range, the CPU the rest.
    Split,
}

/// What the dispatcher needs from whoever makes a call (a `Context`).
pub(crate) trait Caller {
    /// The policy of this call.
    fn policy(&self) -> Policy;
    /// The GPU the call may use (opened or rebuilt as needed); None under
    /// `Policy::Cpu` or without one.
    fn gpu(&self) -> Option<Arc<GpuBackend>>;
    /// The profile Auto and Split predict from.
    fn profile(&self) -> Option<Arc<Profile>>;
    /// The dispatcher's state.
    fn dispatcher(&self) -> &Dispatcher;
}

/// The split of an op that has none.
type NoSplit<R> = fn(&Arc<GpuBackend>, usize) -> Result<R>;

/// Decides, runs and records one op. `cpu` and `gpu` compute the same result.
pub(crate) fn run<R>(
    caller: &impl Caller,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    debug_assert!(
        !work.op.splittable(),
        "{} passes a split: run_split",
        work.op
    );
    run_with(caller, work, cpu, gpu, None::<NoSplit<R>>, None)
}

/// As [`run`], for an op whose GPU part may be deferred: it records into the
/// device's open batch and returns at once (see `crate::gpu::deferred`).
/// `cpu` owns what it reads (shared handles, `Buffer::share`), so that the
/// batch can re-run the call on the CPU if it fails after the call returned.
pub(crate) fn run_deferred<R: Deferrable>(
    caller: &impl Caller,
    work: Work,
    cpu: impl FnOnce() -> Result<R> + Clone + Send + 'static,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
) -> Result<R> {
    debug_assert!(!work.op.splittable(), "{} passes a split", work.op);
    let make = defer::entry_maker(cpu.clone());
    run_with(caller, work, cpu, gpu, None::<NoSplit<R>>, Some(make))
}

/// As [`run`], deferring the GPU part when `entry` is given (see
/// [`failing_entry`] for an op that cannot re-run on the CPU later).
pub(crate) fn run_with_entry<R>(
    caller: &impl Caller,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
    entry: Option<MakeEntry<'_, R>>,
) -> Result<R> {
    run_with(caller, work, cpu, gpu, None::<NoSplit<R>>, entry)
}

/// The batch entry of a deferred op with no CPU re-run: on failure, `fails`
/// mark its outputs failed.
pub(crate) fn failing_entry<'a, R>(fails: Vec<crate::gpu::deferred::Fail>) -> MakeEntry<'a, R> {
    Box::new(move |_: &R, _| {
        // With no re-run there is nothing to hold for: only a failure marks.
        let mark = move |e: Option<&crate::Error>| {
            if let Some(e) = e {
                fails.iter().for_each(|f| f(e));
            }
        };
        (None, Box::new(mark) as crate::gpu::deferred::Mark)
    })
}

/// [`run_split`] for an op whose GPU part may be deferred (see [`run_deferred`]).
pub(crate) fn run_split_deferred<R: Deferrable>(
    caller: &impl Caller,
    work: Work,
    cpu: impl FnOnce() -> Result<R> + Clone + Send + 'static,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
    split: impl FnOnce(&Arc<GpuBackend>, usize) -> Result<R>,
) -> Result<R> {
    debug_assert!(work.op.splittable(), "{} cannot split", work.op);
    let make = defer::entry_maker(cpu.clone());
    run_with(caller, work, cpu, gpu, Some(split), Some(make))
}

/// As [`run`], for an op Split can divide ([`Op::splittable`]): `split(gpu,
/// cut)` computes the same result with the GPU on elements `..cut` and the CPU
/// on `cut..` at once (see `split::both`).
pub(crate) fn run_split<R>(
    caller: &impl Caller,
    work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
    split: impl FnOnce(&Arc<GpuBackend>, usize) -> Result<R>,
) -> Result<R> {
    debug_assert!(work.op.splittable(), "{} cannot split: run", work.op);
    run_with(caller, work, cpu, gpu, Some(split), None)
}

fn run_with<R>(
    caller: &impl Caller,
    mut work: Work,
    cpu: impl FnOnce() -> Result<R>,
    gpu: impl FnMut(&Arc<GpuBackend>) -> Result<R>,
    split: Option<impl FnOnce(&Arc<GpuBackend>, usize) -> Result<R>>,
    make_entry: Option<MakeEntry<'_, R>>,
) -> Result<R> {
    let start = Instant::now();
    let (policy, state) = (caller.policy(), caller.dispatcher());
    // Auto's fast path: host data too small for the GPU's fixed cost alone, per the profile.
    if policy == Policy::Auto && work.host_fast {
        let result = cpu();
        let r = RunRecord::new(&work, policy, Side::Cpu, Reason::CpuBeforeGpuFixedCost);
        finish(state, r, &result, start, None);
        return result;
    }
    work.splittable &= split.is_some();
    let backend = caller.gpu();
    let profile = match policy {
        Policy::Auto | Policy::Split => caller.profile(),
        _ => None,
    };
    let learning = work.kernel != 0 && policy == Policy::Auto && profile.is_some();
    let known = match learning {
        true => state.histories.begin(work.kernel, work.len),
        false => Knowledge::NONE,
    };
    let d = decide(
        policy,
        backend.as_deref(),
        state.crossover,
        profile.as_deref(),
        &known,
        &work,
    );
    let mut d = match d {
        Ok(d) => d,
        Err(e) => {
            // A refused call still leaves its record, so that `last_run` never
            // describes an earlier op.
            let r = RunRecord::new(&work, policy, Side::Gpu, Reason::Refused);
            finish(state, r, &Err::<(), _>(e.clone()), start, None);
            return Err(e);
        }
    };
    if learning {
        if let Some(side) = known.explore(d.side, |s| d.predicted(s)) {
            (d.side, d.reason) = (side, Reason::Exploring);
        }
    }
    let one_offs = backend.as_ref().map_or(0, |g| g.one_off_setups());
    // A kernel Auto is still learning runs synchronously: its wall time is
    // what it learns from (a deferred call's says nothing about its kernel).
    let settled = known.of(d.side).runs >= learn::SETTLED && d.reason != Reason::Exploring;
    let make_entry = make_entry.filter(|_| !learning || settled);
    // Where the device times batches, a deferred call learns its GPU time later.
    let gpu_time = backend
        .as_ref()
        .filter(|g| g.timings.enabled() && make_entry.is_some())
        .map(|_| Arc::new(GpuTime::default()));
    let ran = execute(
        state,
        policy,
        &work,
        &d,
        backend.as_ref(),
        (cpu, gpu, split),
        make_entry.map(|m| (m, gpu_time.as_ref().map(|t| t.timer()))),
    );
    let deferred = ran.committed.is_some();
    let gpu_time = gpu_time.filter(|_| deferred);
    let mut r = RunRecord::new(&work, policy, ran.side, d.reason);
    let secs = |s: Option<f64>| s.map(Duration::from_secs_f64);
    r.predicted_cpu = secs(d.predicted_cpu);
    r.predicted_gpu = secs(d.predicted_gpu);
    r.predicted_split = secs(d.predicted_split);
    r.gpu_share = ran.gpu_share;
    r.fallback = ran.fallback;
    r.deferred = deferred;
    // Learn only from a clean run: no fallback, and no shader compile or
    // staging buffer made (a one-off cost that says nothing about the next run).
    let clean =
        r.fallback.is_none() && backend.as_ref().map_or(0, |g| g.one_off_setups()) == one_offs;
    let learner = match learning && clean && ran.result.is_ok() {
        true => learner(state, &work, &d, &known, ran.side, profile.as_deref()),
        false => None,
    };
    match (learner, &gpu_time) {
        (Some(learn), _) if !deferred => learn(start.elapsed().as_secs_f64()),
        // A deferred run teaches what it would have cost synchronously: the
        // time to record it, its passes' GPU time, and the profile's fixed
        // cost of one submission and wait.
        (Some(learn), Some(t)) => {
            // Up to the commit, which may submit a full batch and wait for another.
            let recorded = ran.committed.map_or(start.elapsed(), |c| c - start);
            let recorded = recorded.as_secs_f64();
            let fixed = profile.as_ref().map_or(0.0, |p| p.gpu_fixed_s);
            t.then_learn(Box::new(move |gpu: Duration| {
                learn(recorded + gpu.as_secs_f64() + fixed)
            }));
        }
        _ => {}
    }
    finish(state, r, &ran.result, start, gpu_time);
    ran.result
}

/// What running a decision gave.
struct Ran<R> {
    result: Result<R>,
    /// The side that produced the result.
    side: Side,
    gpu_share: Option<f64>,
    /// The GPU's error, where the CPU re-ran the call after it.
    fallback: Option<String>,
    /// Set when the GPU part joined the open batch instead of running before
    /// the call returned: when its recording was done, before the commit.
    committed: Option<Instant>,
}

/// Runs `d` on its side; under Auto or Split a GPU device failure re-runs the
/// call on the CPU. With `deferral` (the entry maker and the timer of its GPU
/// time), a GPU run is deferred.
fn execute<R, C, G, S>(
    state: &Dispatcher,
    policy: Policy,
    work: &Work,
    d: &Decision,
    backend: Option<&Arc<GpuBackend>>,
    (cpu, gpu, split): (C, G, Option<S>),
    deferral: Option<(MakeEntry<'_, R>, Option<Timer>)>,
) -> Ran<R>
where
    C: FnOnce() -> Result<R>,
    G: FnMut(&Arc<GpuBackend>) -> Result<R>,
    S: FnOnce(&Arc<GpuBackend>, usize) -> Result<R>,
{
    let op = work.op.name();
    let (g, mut gpu_share) = match (d.side, backend) {
        (Side::Cpu, _) | (_, None) => (None, None),
        (side, Some(g)) => (Some(g), (side == Side::Split).then_some(d.gpu_share)),
    };
    let Some(g) = g else {
        return Ran {
            result: cpu(),
            side: Side::Cpu,
            gpu_share: None,
            fallback: None,
            committed: None,
        };
    };
    let mut committed = None;
    let (make_entry, timer) = match deferral {
        Some((m, t)) => (Some(m), t),
        None => (None, None),
    };
    let r = match (d.side, split) {
        (Side::Split, Some(split)) => {
            let cut = split::cut_at(work.len, d.gpu_share);
            gpu_share = Some(cut as f64 / work.len as f64);
            match state.faults.take(op, g) {
                Some(e) => Err(e),
                None => g.in_gate(|| split(g, cut)).map_err(|e| g.lost_or(e)),
            }
        }
        _ => {
            let scope = Deferring::begin(g, make_entry.is_some());
            // A simulated timeout of a deferred call surfaces where a real one
            // would: at the sync point that waits for its batch.
            let fault = make_entry
                .as_ref()
                .and_then(|_| state.faults.take_deferrable(op, g));
            let mut gpu = gpu;
            let r = fallback::attempt_gpu(&state.faults, g, op, |g| {
                let r = gpu(g);
                if r.is_err() {
                    scope.take(); // never submitted: it did not run
                }
                r
            });
            let commands = scope.take();
            match (r, make_entry) {
                (Ok(out), Some(make)) if scope.is_outer() && !commands.is_empty() => {
                    let replay = matches!(policy, Policy::Auto | Policy::Split);
                    let e = defer::entry(op, make(&out, replay), fault, scope.epoch(), timer);
                    committed = Some(Instant::now());
                    g.commit(commands, e);
                    Ok(out)
                }
                // It ran before returning (it read a result on the way): the
                // simulated fault applies to it now.
                (Ok(out), _) => match fault {
                    Some(e) => Err(e),
                    None => Ok(out),
                },
                (Err(e), _) => Err(e),
            }
        }
    };
    match r {
        Err(e) if matches!(policy, Policy::Auto | Policy::Split) && e.is_device_failure() => {
            tracing::warn!(target: "tandem::dispatch", op, "GPU failed, re-running on the CPU: {e}");
            Ran {
                result: cpu(),
                side: Side::Cpu,
                gpu_share: None,
                fallback: Some(e.to_string()),
                committed: None,
            }
        }
        result => Ran {
            result,
            side: d.side,
            gpu_share,
            fallback: None,
            committed,
        },
    }
}

/// What adds a clean run of a user kernel on `side`, given its seconds, to
/// the kernel's history (None: nothing was predicted for that side).
fn learner(
    state: &Dispatcher,
    work: &Work,
    d: &Decision,
    known: &Knowledge,
    side: Side,
    profile: Option<&Profile>,
) -> Option<impl FnOnce(f64) + Send + 'static> {
    let estimate = d.predicted(side)?;
    // The history keeps ratios to the profile's own prediction.
    let base = estimate / known.of(side).ratio;
    // The GPU's prediction counts reading its result back, which the run left
    // to the caller: add the model's time for it, or the GPU would look that
    // much faster than it is end to end.
    let result_back = match (side, profile) {
        (Side::Gpu, Some(p)) => cost::result_back_seconds(p, work),
        _ => 0.0,
    };
    let (histories, kernel, len) = (state.histories.clone(), work.kernel, work.len);
    Some(move |seconds: f64| histories.record(kernel, len, side, seconds + result_back, base))
}

/// Completes `r` with the call's error and wall time, and logs it (with
/// where a deferred call's GPU time arrives).
fn finish<R>(
    state: &Dispatcher,
    mut r: RunRecord,
    result: &Result<R>,
    start: Instant,
    gpu_time: Option<Arc<GpuTime>>,
) {
    r.error = result.as_ref().err().map(|e| e.to_string());
    r.elapsed = start.elapsed();
    state.log.push_timed(r, gpu_time);
}
