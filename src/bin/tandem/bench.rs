//! `tandem bench`: every op at a range of sizes on each side, timed end to end
//! from host data to a host result, beside the peer a user would reach for; the
//! table, `report.md`, `report.json` and an SVG chart per op.
//!
//! Timing: each point measures all its columns side by side, in rounds, until
//! each has had about `--min-time` (at least 3 rounds and at most 500), and keeps
//! each column's median; cpu, auto, the peer and (unless far slower) the GPU run
//! back to back in trials, and the ratios between them come from the ratios
//! within trials (see `measure`). "cpu", "gpu" and "auto" start from buffers
//! holding host data (made outside the timed region; the GPU pays its upload inside
//! it) and end with the result in host memory; "gpu resident" starts from inputs
//! already on the GPU and leaves a buffer result there. Peers start from slices and
//! end with their result in host memory.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tandem::{Context, Policy};

use crate::cases::{self, Case};
use crate::chart;

/// Options of `tandem bench`.
pub struct Options {
    /// Ops to run (all when empty).
    pub ops: Vec<String>,
    /// log2 of the sizes.
    pub sizes: Vec<u32>,
    /// The least time per measured point.
    pub min_time: Duration,
    /// Where the report goes.
    pub out: PathBuf,
    /// Calibrate first when this machine has no profile yet.
    pub calibrate: bool,
}

/// One measured point.
pub struct Point {
    pub op: &'static str,
    pub n: usize,
    pub cpu: Duration,
    pub gpu: Option<Duration>,
    pub gpu_resident: Option<Duration>,
    pub auto: Duration,
    pub auto_side: String,
    pub split: Option<Duration>,
    pub peer: Duration,
    /// Auto's time over the better of CPU and GPU (end to end): 1.0 is ideal.
    pub auto_best: f64,
    /// The CPU side's time over the peer's.
    pub cpu_peer: f64,
    /// The GPU's time (end to end) over the CPU's.
    pub gpu_cpu: Option<f64>,
}

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
type Timed<'a> = Box<dyn FnMut(u32) -> tandem::Result<Duration> + 'a>;

fn timed<'a, S: 'a>(
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
fn measure(
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
struct Measured {
    /// Each column's median time per run.
    medians: Vec<Duration>,
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
    fn ratio(&self, a: usize, b: usize) -> f64 {
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

fn median(t: &mut [Duration]) -> Duration {
    t.sort();
    t[t.len() / 2]
}

/// The sides Auto's calls ran on: one name, or each side's share of the calls.
fn side_summary(runs: &[tandem::RunRecord]) -> String {
    let auto: Vec<_> = runs.iter().filter(|r| r.policy == Policy::Auto).collect();
    let name = |s: tandem::Side| format!("{s:?}").to_lowercase();
    let mut sides: Vec<(tandem::Side, usize)> = Vec::new();
    for r in &auto {
        match sides.iter_mut().find(|(s, _)| *s == r.side) {
            Some((_, n)) => *n += 1,
            None => sides.push((r.side, 1)),
        }
    }
    match sides.as_slice() {
        [] => "?".into(),
        [(s, _)] => name(*s),
        _ => sides
            .iter()
            .map(|(s, n)| format!("{} {}%", name(*s), n * 100 / auto.len()))
            .collect::<Vec<_>>()
            .join(" / "),
    }
}

fn sizes_for(case: &Case, opts: &Options) -> Vec<usize> {
    let mut v: Vec<usize> = opts
        .sizes
        .iter()
        // matmul: the size is the element count of a square matrix, capped so that
        // one product stays under a second on a small machine.
        .map(|&l| {
            if case.square {
                1usize << l.min(20)
            } else {
                1usize << l
            }
        })
        .collect();
    v.dedup();
    v
}

/// Runs the comparison and writes the report.
pub fn run(opts: &Options) -> Result<(), String> {
    let auto = Context::new()
        .map_err(|e| e.to_string())?
        .with_policy(Policy::Auto);
    let cpu = auto.with_policy(Policy::Cpu);
    let gpu = auto.has_gpu().then(|| auto.with_policy(Policy::Gpu));
    let device = match auto.gpu_info() {
        Some(g) => format!("{} ({}, {})", g.name, g.backend, g.device_type),
        None => "none: GPU columns are empty".to_string(),
    };
    println!("GPU: {device}");
    println!("CPU threads: {}", tandem::cpu::threads());
    if auto.has_gpu() {
        if auto.profile().is_none() && opts.calibrate {
            println!("{}", auto.profile_status());
            println!("calibrating first (`tandem calibrate` does this alone; --no-calibrate skips it)...");
            let t = Instant::now();
            let (_, path) = auto
                .calibrate_with(&mut |_| {})
                .map_err(|e| format!("calibration failed: {e}"))?;
            println!(
                "calibrated in {:.1} s{}",
                t.elapsed().as_secs_f64(),
                path.map(|p| format!("; profile saved to {}", p.display()))
                    .unwrap_or_default()
            );
        }
        println!("Auto's profile: {}", auto.profile_status());
    }
    let split = auto.has_gpu().then(|| auto.with_policy(Policy::Split));
    let cases: Vec<Case> = cases::all()
        .into_iter()
        .filter(|c| opts.ops.is_empty() || opts.ops.iter().any(|o| o == c.op))
        .collect();
    if cases.is_empty() {
        return Err(format!(
            "no op matches {:?}; ops: {}",
            opts.ops,
            cases::all()
                .iter()
                .map(|c| c.op)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(g) = &gpu {
        g.warm_up().map_err(|e| e.to_string())?;
    }
    let total: usize = cases.iter().map(|c| sizes_for(c, opts).len()).sum();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut points = Vec::new();
    for case in &cases {
        for n in sizes_for(case, opts) {
            bar.set_message(format!("{} n={n}", case.op));
            let data = case.make(n);
            let e = |e: tandem::Error| format!("{} n={n}: {e}", case.op);
            // Fresh host-resident buffers for each run, made outside the timed region:
            // the GPU columns then pay the real upload, the CPU column nothing extra.
            let fresh = |c: &Context| cases::upload(c, &data);
            let resident = match &gpu {
                Some(g) => {
                    let r = fresh(g).map_err(e)?;
                    cases::prefetch(g, &r).map_err(e)?;
                    Some(r)
                }
                None => None,
            };
            // Every column side by side (see `median_times`), so that each ratio is
            // between runs made under the same conditions.
            let mut columns: Vec<Timed> = vec![
                timed(|| fresh(&cpu), |r| case.run(&cpu, r)),
                timed(|| fresh(&auto), |r| case.run(&auto, r)),
                // The peer gets fresh inputs too, so that both pay the same allocator costs.
                timed(
                    || Ok(data.clone()),
                    |d| {
                        case.peer(d);
                        Ok(())
                    },
                ),
            ];
            if let (Some(g), Some(r)) = (&gpu, &resident) {
                columns.push(timed(|| fresh(g), |x| case.run(g, x)));
                columns.push(timed(|| Ok(()), |_| case.run_resident(g, r)));
            }
            if let (Some(s), true) = (&split, case.splittable) {
                columns.push(timed(|| fresh(s), |x| case.run(s, x)));
            }
            auto.clear_runs();
            // cpu, auto and the peer: compared with each other, so batched alike;
            // the GPU (end to end) joins their trials unless far slower.
            // The peer (not tandem, so Auto learns nothing from it) settles trials.
            let m = measure(opts.min_time, 3, 4, Some(2), &mut columns).map_err(e)?;
            drop(columns);
            let t = &m.medians;
            let (t_cpu, t_auto, t_peer) = (t[0], t[1], t[2]);
            let (t_gpu, t_res) = match gpu {
                Some(_) => (t.get(3).copied(), t.get(4).copied()),
                None => (None, None),
            };
            let t_split = (split.is_some() && case.splittable).then(|| t[t.len() - 1]);
            let best = match t_gpu {
                Some(g) if g < t_cpu => 3,
                _ => 0,
            };
            let auto_side = side_summary(&auto.runs());
            points.push(Point {
                op: case.op,
                n,
                cpu: t_cpu,
                gpu: t_gpu,
                gpu_resident: t_res,
                auto: t_auto,
                auto_side,
                split: t_split,
                peer: t_peer,
                auto_best: m.ratio(1, best),
                cpu_peer: m.ratio(0, 2),
                gpu_cpu: t_gpu.map(|_| m.ratio(3, 0)),
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let table = table(&points, &cases);
    println!("{table}");
    write_reports(opts, &device, &points, &cases, &table)
}

fn fmt_time(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} us")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn opt_time(d: Option<Duration>) -> String {
    d.map_or("-".into(), fmt_time)
}

/// The better of CPU and GPU (end to end).
fn best_side(p: &Point) -> Duration {
    p.gpu.map_or(p.cpu, |g| g.min(p.cpu))
}

/// The smallest size from which the GPU (end to end) beats the CPU at every larger size.
fn crossover(points: &[&Point]) -> Option<usize> {
    let mut from = None;
    for p in points.iter().rev() {
        match p.gpu {
            Some(g) if g < p.cpu => from = Some(p.n),
            _ => break,
        }
    }
    from
}

fn table(points: &[Point], cases: &[Case]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| op | n | cpu | gpu | gpu resident | auto (side) | split | peer | cpu/peer | gpu/cpu | auto/best | split/best |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} ({}) | {} | {} | {:.2} | {} | {:.2} | {} |",
            p.op,
            p.n,
            fmt_time(p.cpu),
            opt_time(p.gpu),
            opt_time(p.gpu_resident),
            fmt_time(p.auto),
            p.auto_side,
            opt_time(p.split),
            fmt_time(p.peer),
            p.cpu_peer,
            p.gpu_cpu.map_or("-".into(), |r| format!("{r:.2}")),
            p.auto_best,
            p.split.map_or("-".into(), |t| format!(
                "{:.2}",
                t.as_secs_f64() / best_side(p).as_secs_f64().max(1e-12)
            )),
        );
    }
    let _ = writeln!(s);
    for c in cases {
        let ps: Vec<&Point> = points.iter().filter(|p| p.op == c.op).collect();
        let _ = writeln!(
            s,
            "- {}: peer = {}; GPU wins end to end from {}",
            c.op,
            c.peer,
            crossover(&ps).map_or("no size measured".into(), |n| format!("n = {n}"))
        );
    }
    if let Some(worst) = points
        .iter()
        .max_by(|a, b| a.auto_best.total_cmp(&b.auto_best))
    {
        let _ = writeln!(
            s,
            "- Auto's worst point: {:.2}x the better side ({} at n = {})",
            worst.auto_best, worst.op, worst.n
        );
    }
    let _ = writeln!(s, "\nratios: cpu/peer < 1 means tandem's CPU side beats the peer; gpu/cpu < 1 means the GPU wins; auto/best is Auto over the better side (goal <= 1.10); split/best is Policy::Split over the better side (< 1 means the split wins).");
    s
}

fn write_reports(
    opts: &Options,
    device: &str,
    points: &[Point],
    cases: &[Case],
    table: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let write = |name: &str, text: &str| {
        let path = opts.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let md = format!(
        "# tandem bench\n\nGPU: {device}  \nCPU threads: {}  \ncommand: `tandem bench`\n\n{table}",
        tandem::cpu::threads()
    );
    write("report.md", &md)?;
    let rows: Vec<_> = points
        .iter()
        .map(|p| {
            json!({
                "op": p.op, "n": p.n,
                "cpu_s": p.cpu.as_secs_f64(),
                "gpu_s": p.gpu.map(|d| d.as_secs_f64()),
                "gpu_resident_s": p.gpu_resident.map(|d| d.as_secs_f64()),
                "auto_s": p.auto.as_secs_f64(), "auto_side": p.auto_side,
                "split_s": p.split.map(|d| d.as_secs_f64()),
                "peer_s": p.peer.as_secs_f64(),
                "auto_over_best": p.auto_best,
                "cpu_over_peer": p.cpu_peer,
                "gpu_over_cpu": p.gpu_cpu,
            })
        })
        .collect();
    let report = json!({ "gpu": device, "cpu_threads": tandem::cpu::threads(), "points": rows });
    write(
        "report.json",
        &serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
    )?;
    for c in cases {
        let ps: Vec<&Point> = points.iter().filter(|p| p.op == c.op).collect();
        let mut series = vec![
            ("cpu", ps.iter().map(|p| (p.n, p.cpu)).collect::<Vec<_>>()),
            ("auto", ps.iter().map(|p| (p.n, p.auto)).collect()),
            ("peer", ps.iter().map(|p| (p.n, p.peer)).collect()),
        ];
        if ps.iter().all(|p| p.gpu.is_some()) {
            series.insert(
                1,
                (
                    "gpu",
                    ps.iter().filter_map(|p| p.gpu.map(|g| (p.n, g))).collect(),
                ),
            );
            series.insert(
                2,
                (
                    "gpu resident",
                    ps.iter()
                        .filter_map(|p| p.gpu_resident.map(|g| (p.n, g)))
                        .collect(),
                ),
            );
        }
        write(
            &format!("{}.svg", c.op),
            &chart::svg(&format!("{} — time against size", c.op), &series),
        )?;
    }
    println!(
        "report: {}/report.md, report.json and one SVG chart per op",
        opts.out.display()
    );
    Ok(())
}
