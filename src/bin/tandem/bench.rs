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
//! already on the GPU and leaves a buffer result there (waiting until its kernel
//! finished: ops defer their GPU work). Peers start from slices and
//! end with their result in host memory.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tandem::{Context, Policy, Side};

use crate::cases::{self, Case};
use crate::measure::{measure, timed, Timed};
use crate::report::{table, write_reports};

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
    /// Auto's choice regret: the time of the side Auto chose (most of its calls)
    /// over the better side's, paired where both ran in trials; 1.0 where they agree.
    pub regret: f64,
    /// Auto's own cost per call: Auto's time minus the forced policy of the side
    /// it chose, the median of their paired differences, in seconds.
    pub overhead: Option<f64>,
    /// The CPU side's time over the peer's.
    pub cpu_peer: f64,
    /// The GPU's time (end to end) over the CPU's.
    pub gpu_cpu: Option<f64>,
}

/// The side most of Auto's calls ran on.
fn main_side(runs: &[tandem::RunRecord]) -> Option<Side> {
    let auto = runs.iter().filter(|r| r.policy == Policy::Auto);
    let count = |s: Side| auto.clone().filter(|r| r.side == s).count();
    [Side::Cpu, Side::Gpu, Side::Split]
        .into_iter()
        .filter(|&s| count(s) > 0)
        .max_by_key(|&s| count(s))
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
    let with_chain = opts.ops.is_empty() || opts.ops.iter().any(|o| o == "chain");
    if cases.is_empty() && !with_chain {
        return Err(format!(
            "no op matches {:?}; ops: {}",
            opts.ops,
            cases::all()
                .iter()
                .map(|c| c.op)
                .chain(["chain"])
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
                // Waited for: a deferred op's call returns before its kernel runs.
                columns.push(timed(
                    || Ok(()),
                    |_| {
                        case.run_resident(g, r)?;
                        g.synchronize()
                    },
                ));
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
            let runs = auto.runs();
            let auto_side = side_summary(&runs);
            let chosen = main_side(&runs);
            // The chosen side's column: cpu 0, gpu 3, split last.
            let chosen_col = match chosen {
                Some(Side::Gpu) if t_gpu.is_some() => Some(3),
                Some(Side::Split) if t_split.is_some() => Some(t.len() - 1),
                Some(Side::Cpu) => Some(0),
                _ => None,
            };
            let regret = match chosen_col {
                Some(c) if c == best => 1.0,
                Some(c) => m.ratio(c, best),
                None => f64::NAN,
            };
            // Measured on its own: Auto against the chosen side's forced policy.
            let forced = match chosen {
                Some(Side::Gpu) => gpu.as_ref(),
                Some(Side::Split) => split.as_ref(),
                _ => Some(&cpu),
            };
            let overhead = match forced {
                Some(f) => {
                    let mut pair: Vec<Timed> = vec![
                        timed(|| fresh(&auto), |r| case.run(&auto, r)),
                        timed(|| fresh(f), |r| case.run(f, r)),
                    ];
                    measure(opts.min_time, 2, 2, None, &mut pair)
                        .map_err(e)?
                        .paired_difference(0, 1)
                }
                None => None,
            };
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
                regret,
                overhead,
                cpu_peer: m.ratio(0, 2),
                gpu_cpu: t_gpu.map(|_| m.ratio(3, 0)),
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let mut table = table(&points, &cases);
    if let (Some(g), true) = (&gpu, with_chain) {
        let sizes: Vec<usize> = opts.sizes.iter().map(|&l| 1usize << l).collect();
        let chain =
            crate::chain::run(g, &cpu, &sizes, opts.min_time).map_err(|e| format!("chain: {e}"))?;
        table.push('\n');
        table.push_str(&crate::chain::table(&chain));
    }
    println!("{table}");
    write_reports(opts, &device, &points, &cases, &table)
}
