//! How `tandem bench` times its columns: side by side, in rounds and paired
//! trials, so that the ratios between columns are between runs made under the
//! same conditions.

use std::time::{Duration, Instant};

/// The samples a fast column gets at least, time allowing (see [`measure`]).
const MIN_SAMPLES: usize = 20;
/// The trials the paired columns get at least, time allowing (see [`measure`]).
const MIN_TRIALS: usize = 16;
/// How many times a point's budget its rounds may take to reach [`MIN_TRIALS`].
const TRIALS_BUDGET: u32 = 8;

/// One column's measurement: `timed(batch)` makes `batch` fresh inputs outside
/// the timed region, runs the column's call on each, drops them after (freeing
/// large inputs inside it would time the allocator returning pages to the
/// system), and returns the time per run.
pub type Timed<'a> = Box<dyn FnMut(u32) -> tandem::Result<Duration> + 'a>;

pub fn timed<'a, S: 'a>(
    mut setup: impl FnMut() -> tandem::Result<S> + 'a,
    mut run: impl FnMut(&S) -> tandem::Result<()> + 'a,
) -> Timed<'a> {
    Box::new(move |batch| {
        let inputs = (0..batch)
            .map(|_| setup())
            .collect::<tandem::Result<Vec<S>>>()?;
        let t = Instant::now();
        for input in &inputs {
            run(input)?;
        }
        let per_run = t.elapsed() / batch;
        drop(inputs);
        Ok(per_run)
    })
}

/// Each column's median time, the columns measured side by side: rounds take
/// every column in turn (in a new random order each round), so that drift in
/// the machine's speed, the allocator's state, or one side's threads still
/// winding down (a software GPU's, rayon's) fall on every column alike. After a
/// warm-up run, columns faster than 20 us run in batches, so that the clock's own
/// cost does not show in the ratios. At least 3 rounds, then more while the
/// total stays under `min_time` per column (at most 500); a column much faster
/// than the slowest takes up to 8 samples a round.
///
/// The first `alike` columns share one batch size (from the fastest of them):
/// a batch's first run pays for waking rayon's threads and the rest do not, so
/// columns compared with each other must run in batches of the same size.
///
/// The first `alike` columns, and those of the next up to `pair_max` whose
/// warm-up took under [`PAIR_WITHIN`] times the first column's, run as one unit:
/// one sample of each, back to back (a trial), in a balanced order (see
/// [`balanced_orders`]), after an untimed run of column `settle` when another
/// unit ran just before. Their ratios come from the ratios within trials (see
/// [`Measured::ratio`]): on a small machine a slow spell (another process, a
/// software GPU's threads) lasts longer than one sample, so two columns running
/// the same code differed by up to 30% in their medians, far less within trials.
pub fn measure(
    min_time: Duration,
    alike: usize,
    pair_max: usize,
    settle: Option<usize>,
    columns: &mut [Timed],
) -> tandem::Result<Measured> {
    let batch_for = |t: Duration| (20_000 / t.as_nanos().max(1)).clamp(1, 256) as u32;
    let mut first = Vec::with_capacity(columns.len());
    for c in columns.iter_mut() {
        first.push(c(1)?);
    }
    let mut batches: Vec<u32> = first.iter().map(|&t| batch_for(t)).collect();
    let shared = batches.iter().take(alike).copied().max().unwrap_or(1);
    for b in batches.iter_mut().take(alike) {
        *b = shared;
    }
    let unit = alike
        + first[alike.min(first.len())..pair_max.min(first.len())]
            .iter()
            .take_while(|&&t| t.as_secs_f64() < PAIR_WITHIN * first[0].as_secs_f64())
            .count();
    // Units: the paired columns as one, then each other column alone.
    let units: Vec<Vec<usize>> = std::iter::once((0..unit).collect())
        .chain((unit..columns.len()).map(|i| vec![i]))
        .collect();
    let sample = |i: usize| first[i].as_secs_f64() * batches[i] as f64;
    let unit_time: Vec<f64> = units
        .iter()
        .map(|u| u.iter().map(|&i| sample(i)).sum())
        .collect();
    // Units much faster than the slowest take several samples a round (up to
    // 8), so that their medians do not rest on three samples when a slow GPU
    // column limits the rounds; but where the trials are the slow part, the
    // other units take no more a round than reach MIN_SAMPLES over the rounds
    // the trials need, so that their repeats do not cut the trials.
    let slowest = unit_time.iter().copied().fold(0.0, f64::max);
    let reps_for = |t: f64| (slowest / t.max(1e-9)).round().clamp(1.0, 8.0) as usize;
    let trials_per_round = reps_for(unit_time[0]);
    let design = balanced_orders(unit);
    let cycle = design.map_or(1, <[_]>::len);
    let wanted_trials = MIN_TRIALS.next_multiple_of(cycle);
    let cap = MIN_SAMPLES.div_ceil(wanted_trials.div_ceil(trials_per_round).max(3));
    let mut order: Vec<usize> = Vec::new();
    let mut round_time = 0.0;
    for (u, &t) in unit_time.iter().enumerate() {
        let reps = if u == 0 {
            trials_per_round
        } else {
            reps_for(t).min(cap)
        };
        order.extend(std::iter::repeat_n(u, reps));
        round_time += reps as f64 * t;
    }
    let budget = min_time * columns.len() as u32;
    let mut times = vec![Vec::new(); columns.len()];
    let mut trials: Vec<Vec<Duration>> = Vec::new();
    let start = Instant::now();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut shuffle = |v: &mut [usize]| {
        // Fisher-Yates on xorshift.
        for k in (1..v.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            v.swap(k, (rng % (k as u64 + 1)) as usize);
        }
    };
    // Past the budget, rounds go on (up to 3x it) until every column whose
    // samples are short enough has MIN_SAMPLES, and (up to TRIALS_BUDGET times
    // it) until the paired columns have MIN_TRIALS trials, or as many as fit:
    // a median of a handful of runs of a large input, next to a slow GPU
    // column, is noise, and Auto's first calls at a size include its learning.
    let fit = (TRIALS_BUDGET as f64 * budget.as_secs_f64() / round_time.max(1e-9)) as usize
        * trials_per_round;
    let min_trials = wanted_trials.min(fit);
    let enough = |times: &[Vec<Duration>], trials: usize| {
        trials >= min_trials
            && times.iter().enumerate().all(|(i, t)| {
                t.len() >= MIN_SAMPLES || sample(i) * MIN_SAMPLES as f64 > budget.as_secs_f64()
            })
    };
    let mut round = 0;
    let mut prev = None;
    while round < 3
        || ((start.elapsed() < budget || !enough(&times, trials.len()))
            && start.elapsed()
                < budget
                    * if trials.len() < min_trials {
                        TRIALS_BUDGET
                    } else {
                        3
                    }
            && round < 500)
    {
        // A fresh order each round, so that no column always follows the same one.
        shuffle(&mut order);
        for &u in &order {
            let mut members = units[u].clone();
            if u == 0 {
                match design {
                    Some(rows) => members = rows[trials.len() % rows.len()].to_vec(),
                    None => shuffle(&mut members),
                }
            }
            // A trial right after another unit (a GPU column, say) starts with
            // an untimed run of the `settle` column, so that its first member
            // does not pay for the other unit's threads winding down.
            if u == 0 && prev.is_some_and(|p| p != 0) {
                if let Some(c) = settle {
                    columns[c](batches[c])?;
                }
            }
            prev = Some(u);
            let mut trial = vec![Duration::ZERO; members.len()];
            for i in members {
                let t = columns[i](batches[i])?;
                times[i].push(t);
                if u == 0 {
                    trial[i] = t;
                }
            }
            if u == 0 {
                trials.push(trial);
            }
        }
        round += 1;
    }
    Ok(Measured {
        medians: times.iter_mut().map(|t| median(t)).collect(),
        trials,
        unit,
    })
}

/// The orders of trials of `n` paired columns, where a design is at hand: trial
/// `k` takes row `k` (cyclically) of a balanced Latin square (Williams), so that
/// over a cycle of trials each column runs in each place and right after each
/// other column equally often. The run right after a GPU column pays for its
/// threads winding down: in random orders, 16 trials could give that to one
/// column twice as often as to another, and a ratio of two columns running the
/// same code read 1.1x.
fn balanced_orders(n: usize) -> Option<&'static [&'static [usize]]> {
    const FOUR: &[&[usize]] = &[&[0, 1, 3, 2], &[1, 2, 0, 3], &[2, 3, 1, 0], &[3, 0, 2, 1]];
    const THREE: &[&[usize]] = &[
        &[0, 1, 2],
        &[1, 2, 0],
        &[2, 0, 1],
        &[2, 1, 0],
        &[0, 2, 1],
        &[1, 0, 2],
    ];
    match n {
        4 => Some(FOUR),
        3 => Some(THREE),
        _ => None,
    }
}

/// Columns whose warm-up run took under this many times the first column's are
/// measured in trials with it (see [`measure`]); a much slower column would
/// only cut the trials of the fast ones.
const PAIR_WITHIN: f64 = 8.0;

/// The times [`measure`] took.
pub struct Measured {
    /// Each column's median time per run.
    pub medians: Vec<Duration>,
    /// Each trial's time per run of columns `..unit`.
    trials: Vec<Vec<Duration>>,
    /// How many leading columns ran in trials.
    unit: usize,
}

impl Measured {
    /// Column `a`'s time over column `b`'s: where both ran in trials, the
    /// geometric mean of the middle half of their ratios within trials (a
    /// run slowed by a busy core makes a ratio 2x or 0.5x, and a median of a
    /// few such ratios jumps between them); else the ratio of their medians.
    pub fn ratio(&self, a: usize, b: usize) -> f64 {
        if a < self.unit && b < self.unit && !self.trials.is_empty() {
            let mut r: Vec<f64> = self
                .trials
                .iter()
                .map(|t| (t[a].as_secs_f64().max(1e-12) / t[b].as_secs_f64().max(1e-12)).ln())
                .collect();
            r.sort_by(f64::total_cmp);
            let (lo, hi) = (r.len() / 4, r.len() - r.len() / 4);
            let mid = &r[lo..hi];
            (mid.iter().sum::<f64>() / mid.len() as f64).exp()
        } else {
            self.medians[a].as_secs_f64() / self.medians[b].as_secs_f64().max(1e-12)
        }
    }
}

impl Measured {
    /// The median over trials of column `a`'s time per run minus column `b`'s,
    /// in seconds (None unless both ran in trials).
    pub fn paired_difference(&self, a: usize, b: usize) -> Option<f64> {
        if a >= self.unit || b >= self.unit || self.trials.is_empty() {
            return None;
        }
        let mut d: Vec<f64> = self
            .trials
            .iter()
            .map(|t| t[a].as_secs_f64() - t[b].as_secs_f64())
            .collect();
        d.sort_by(f64::total_cmp);
        Some(d[d.len() / 2])
    }
}

fn median(t: &mut [Duration]) -> Duration {
    t.sort();
    t[t.len() / 2]
}
