//! Learning: what a user kernel's own runs showed, and when Auto re-measures.
//!
//! The profile knows one light calibration kernel; a user's kernel may cost far
//! more, and not alike on both sides. So for each user kernel, size class (the
//! power of two of its length) and option (CPU, GPU, split), Auto keeps the last
//! [`HISTORY`] runs, each as *measured over predicted* seconds (a ratio, so that
//! lengths within one class compare). The whole rule:
//!
//! 1. **Estimate** = the profile's prediction x the median ratio of that
//!    history. An option with no run at this class borrows the median of the
//!    nearest class where it ran; with none anywhere, the ratio is 1.
//! 2. **Choice** = the option with the least estimate (a split must still beat
//!    the better side by the cost model's `SPLIT_GAIN`).
//! 3. **Exploration**: instead of the choice, Auto runs another option whose
//!    estimate, lowered by its own spread, is below the choice's (it may be the
//!    faster one), if it has fewer than [`SETTLED`] runs here or none in the
//!    last [`REFRESH`] calls here. The least such estimate goes first.
//!
//! | constant | value | what it guarantees |
//! |---|---|---|
//! | [`HISTORY`] | 8 runs | the median moves past a value only when 4 of the last 8 runs lie beyond it: a slow spell must cover half the recent runs to change a choice, and a lasting change shows after 4 runs of the side that runs |
//! | [`SETTLED`] | 3 runs | the median of 3 ignores any one run (a first run paying for fresh allocations or another side's threads) |
//! | [`UNSETTLED_SPREAD`] | 0.5 | before 3 runs an option is re-run only while estimated within 2x of the choice: each such run costs at most 2x a call, and at most 3 of them per class and option |
//! | spread | (upper - lower quartile) / median, at most 0.5 | an option measured slower by more than its own noise is never re-run; any re-run costs at most 2x a call |
//! | [`REFRESH`] | 32 calls | settled close options are re-measured on at most 1 call in 32: at most 1/32 x 2 ≈ 6% added time, and a side that became faster is found within 32 calls |
//! | [`LEARN_MIN_S`] | 20 us | the timer's and the scheduler's few microseconds stay a small share of what is learned |
//! | [`LEARN_KERNELS`] | 1,024 kernels | memory stays bounded when kernels are made in a loop |
//!
//! Runs that compiled a shader or made a staging buffer, that fell back, or
//! that failed teach nothing (the dispatcher does not report them). Built-in
//! ops are not learned: their own curves are in the profile.
//! The anchors: StarPU's history-based performance models (per kernel and
//! input footprint, per architecture, calibrated from a few runs), and
//! CubeCL's autotune cache (measure each candidate, keep the fastest).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::Side;

/// Runs kept per kernel, size class and option.
pub(crate) const HISTORY: usize = 8;
/// Runs an option needs at a class before its spread is its own.
pub(crate) const SETTLED: usize = 3;
/// The spread assumed before [`SETTLED`] runs, and the most any spread counts.
pub(crate) const UNSETTLED_SPREAD: f64 = 0.5;
/// Calls at a class after which a close, settled option is re-measured.
pub(crate) const REFRESH: u64 = 32;
/// Runs shorter than this teach nothing.
pub(crate) const LEARN_MIN_S: f64 = 20e-6;
/// User kernels a context keeps histories for; a new one past this replaces another.
pub(crate) const LEARN_KERNELS: usize = 1024;

const OPTIONS: [Side; 3] = [Side::Cpu, Side::Gpu, Side::Split];

fn slot(side: Side) -> usize {
    match side {
        Side::Cpu => 0,
        Side::Gpu => 1,
        Side::Split => 2,
    }
}

/// The size class of a length: its power of two.
fn size_class(len: usize) -> u32 {
    len.max(1).ilog2()
}

/// One option's last runs at one class: a ring of ratios.
#[derive(Default, Clone, Copy)]
struct History {
    ratios: [f64; HISTORY],
    /// Runs recorded, at most [`HISTORY`] of them kept.
    runs: usize,
    /// The class's call count at the latest run.
    last_call: u64,
}

impl History {
    fn kept(&self) -> Vec<f64> {
        let mut v = self.ratios[..self.runs.min(HISTORY)].to_vec();
        v.sort_by(f64::total_cmp);
        v
    }

    fn median(&self) -> Option<f64> {
        let v = self.kept();
        (!v.is_empty()).then(|| v[v.len() / 2])
    }

    fn spread(&self) -> f64 {
        let v = self.kept();
        if v.len() < SETTLED {
            return UNSETTLED_SPREAD;
        }
        let q = v.len() / 4;
        ((v[v.len() - 1 - q] - v[q]) / v[v.len() / 2]).clamp(0.0, UNSETTLED_SPREAD)
    }

    fn push(&mut self, ratio: f64, call: u64) {
        self.ratios[self.runs % HISTORY] = ratio;
        self.runs += 1;
        self.last_call = call;
    }
}

/// One kernel at one size class.
#[derive(Default, Clone, Copy)]
struct Class {
    /// Auto's calls here so far.
    calls: u64,
    options: [History; 3],
}

/// What one option's runs showed, as a call sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    /// Measured over predicted: what the profile's prediction is multiplied by.
    pub ratio: f64,
    /// The relative spread of its runs here ([`UNSETTLED_SPREAD`] before [`SETTLED`]).
    pub spread: f64,
    /// Runs kept here.
    pub runs: usize,
    /// Calls here since its latest run (`u64::MAX`: never ran here).
    pub since: u64,
}

/// What a kernel's runs showed at one class, per option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Knowledge {
    options: [Stats; 3],
}

impl Knowledge {
    /// Nothing learned (built-in ops, or a kernel's first call): the profile as it is.
    pub const NONE: Knowledge = Knowledge {
        options: [Stats {
            ratio: 1.0,
            spread: UNSETTLED_SPREAD,
            runs: 0,
            since: u64::MAX,
        }; 3],
    };

    /// One option's stats.
    pub fn of(&self, side: Side) -> Stats {
        self.options[slot(side)]
    }

    /// The option to run instead of `choice` (rule 3), given each option's
    /// estimate (None: not an option for this call).
    pub fn explore(&self, choice: Side, estimate: impl Fn(Side) -> Option<f64>) -> Option<Side> {
        let best = estimate(choice)?;
        OPTIONS
            .into_iter()
            .filter(|&s| s != choice)
            .filter_map(|s| Some((s, estimate(s)?, self.of(s))))
            .filter(|&(_, t, st)| t * (1.0 - st.spread) < best)
            .filter(|&(_, _, st)| st.runs < SETTLED || st.since >= REFRESH)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(s, ..)| s)
    }
}

/// Every user kernel's histories, per size class and option.
#[derive(Default)]
pub(crate) struct RunHistories {
    kernels: Mutex<HashMap<u64, BTreeMap<u32, Class>>>,
}

impl RunHistories {
    /// Counts one of Auto's calls of `kernel` over `len` elements, and returns
    /// what its runs showed at that size class.
    pub fn begin(&self, kernel: u64, len: usize) -> Knowledge {
        let mut m = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        let classes = entry(&mut m, kernel);
        let here = size_class(len);
        let calls = {
            let c = classes.entry(here).or_default();
            c.calls += 1;
            c.calls
        };
        let stats = |i: usize| {
            let own = &classes[&here].options[i];
            // Rule 1: no run here borrows the nearest class's median.
            let ratio = own.median().or_else(|| {
                classes
                    .iter()
                    .filter_map(|(&c, h)| Some((c.abs_diff(here), h.options[i].median()?)))
                    .min_by_key(|&(d, _)| d)
                    .map(|(_, r)| r)
            });
            Stats {
                ratio: ratio.unwrap_or(1.0),
                spread: own.spread(),
                runs: own.runs.min(HISTORY),
                since: match own.runs {
                    0 => u64::MAX,
                    _ => calls - own.last_call,
                },
            }
        };
        Knowledge {
            options: [stats(0), stats(1), stats(2)],
        }
    }

    /// Records a run of `kernel` over `len` elements on `side` that took
    /// `measured` seconds where the profile predicted `predicted`.
    pub fn record(&self, kernel: u64, len: usize, side: Side, measured: f64, predicted: f64) {
        if measured < LEARN_MIN_S || predicted <= 0.0 || !measured.is_finite() {
            return;
        }
        let ratio = (measured / predicted).clamp(1e-3, 1e4);
        let mut m = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        let c = entry(&mut m, kernel).entry(size_class(len)).or_default();
        let call = c.calls;
        c.options[slot(side)].push(ratio, call);
    }

    /// How many kernels have histories (for the bound's test).
    #[cfg(test)]
    fn kernels(&self) -> usize {
        self.kernels.lock().map_or(0, |m| m.len())
    }
}

/// `kernel`'s classes, made if new; a new kernel past [`LEARN_KERNELS`] replaces another.
fn entry(m: &mut HashMap<u64, BTreeMap<u32, Class>>, kernel: u64) -> &mut BTreeMap<u32, Class> {
    if m.len() >= LEARN_KERNELS && !m.contains_key(&kernel) {
        if let Some(&old) = m.keys().next() {
            m.remove(&old);
        }
    }
    m.entry(kernel).or_default()
}

#[cfg(test)]
mod tests;
