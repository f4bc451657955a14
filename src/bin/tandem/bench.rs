//! `tandem bench`: every op at a range of sizes on each side, timed end to end
//! from host data to a host result, beside the peer a user would reach for; the
//! table, `report.md`, `report.json` and an SVG chart per op.
//!
//! Timing: each point runs until it has taken `--min-time` (at least 3 runs and
//! at most 500) and keeps the median. "cpu", "gpu" and "auto" start from buffers
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
}

/// The median time of `run(&setup())`: only `run` is timed; the input is made
/// before and dropped after the timed region (freeing large inputs inside it
/// would time the allocator returning pages to the system). Runs shorter than
/// 20 us are timed in batches of fresh inputs, so that the clock's own cost and
/// resolution do not show in the ratios.
fn median_time<S>(
    min_time: Duration,
    mut setup: impl FnMut() -> tandem::Result<S>,
    mut run: impl FnMut(&S) -> tandem::Result<()>,
) -> tandem::Result<Duration> {
    let first = {
        let input = setup()?;
        let t = Instant::now();
        run(&input)?;
        t.elapsed()
    };
    let batch = (20_000 / first.as_nanos().max(1)).clamp(1, 256) as u32;
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < min_time && times.len() < 500) {
        let inputs = (0..batch)
            .map(|_| setup())
            .collect::<tandem::Result<Vec<S>>>()?;
        let t = Instant::now();
        for input in &inputs {
            run(input)?;
        }
        times.push(t.elapsed() / batch);
        drop(inputs);
    }
    times.sort();
    Ok(times[times.len() / 2])
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
            let half = opts.min_time / 2;
            let t_cpu = median_time(half, || fresh(&cpu), |r| case.run(&cpu, r)).map_err(e)?;
            let (t_gpu, t_res) = match &gpu {
                Some(g) => {
                    let t =
                        median_time(opts.min_time, || fresh(g), |r| case.run(g, r)).map_err(e)?;
                    let resident = fresh(g).map_err(e)?;
                    cases::prefetch(g, &resident).map_err(e)?;
                    let r = median_time(
                        opts.min_time,
                        || Ok(()),
                        |_| case.run_resident(g, &resident),
                    )
                    .map_err(e)?;
                    (Some(t), Some(r))
                }
                None => (None, None),
            };
            auto.clear_runs();
            // CPU and Auto alternate, each keeping its lower median, so that drift in
            // the machine's speed does not show up as a dispatcher error.
            let mut t_auto =
                median_time(half, || fresh(&auto), |r| case.run(&auto, r)).map_err(e)?;
            let t_cpu =
                t_cpu.min(median_time(half, || fresh(&cpu), |r| case.run(&cpu, r)).map_err(e)?);
            t_auto =
                t_auto.min(median_time(half, || fresh(&auto), |r| case.run(&auto, r)).map_err(e)?);
            let auto_side = auto
                .runs()
                .first()
                .map_or("?".into(), |r| format!("{:?}", r.side).to_lowercase());
            let t_split = match &split {
                Some(s) if case.splittable => {
                    Some(median_time(opts.min_time, || fresh(s), |r| case.run(s, r)).map_err(e)?)
                }
                _ => None,
            };
            // The peer gets fresh inputs too, so that both pay the same allocator costs.
            let t_peer = median_time(
                opts.min_time,
                || Ok(data.clone()),
                |d| {
                    case.peer(d);
                    Ok(())
                },
            )
            .map_err(e)?;
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

/// Auto's time over the better of CPU and GPU (end to end): 1.0 is ideal.
fn auto_ratio(p: &Point) -> f64 {
    p.auto.as_secs_f64() / best_side(p).as_secs_f64().max(1e-12)
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
            p.cpu.as_secs_f64() / p.peer.as_secs_f64().max(1e-12),
            p.gpu.map_or("-".into(), |g| format!(
                "{:.2}",
                g.as_secs_f64() / p.cpu.as_secs_f64().max(1e-12)
            )),
            auto_ratio(p),
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
        .max_by(|a, b| auto_ratio(a).total_cmp(&auto_ratio(b)))
    {
        let _ = writeln!(
            s,
            "- Auto's worst point: {:.2}x the better side ({} at n = {})",
            auto_ratio(worst),
            worst.op,
            worst.n
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
                "auto_over_best": auto_ratio(p),
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
