//! `tandem bench`'s outputs: the table, `report.md`, `report.json` and a chart per op.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use crate::bench::{Options, Point};
use crate::cases::Case;
use crate::chart;

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

pub fn table(points: &[Point], cases: &[Case]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| op | n | cpu | gpu | gpu resident | auto (side) | split | peer | cpu/peer | gpu/cpu | auto/best | regret | overhead | split/best |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} ({}) | {} | {} | {:.2} | {} | {:.2} | {:.2} | {} | {} |",
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
            p.regret,
            p.overhead
                .map_or("-".into(), |o| format!("{:.1} us", o * 1e6)),
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
    if let Some(worst) = points.iter().max_by(|a, b| a.regret.total_cmp(&b.regret)) {
        let _ = writeln!(
            s,
            "- Auto's worst choice regret: {:.2} ({} at n = {})",
            worst.regret, worst.op, worst.n
        );
    }
    let over: Vec<f64> = points.iter().filter_map(|p| p.overhead).collect();
    if !over.is_empty() {
        let mut o = over.clone();
        o.sort_by(f64::total_cmp);
        let _ = writeln!(
            s,
            "- Auto's overhead per call: median {:.1} us over the points, largest {:.1} us",
            o[o.len() / 2] * 1e6,
            o[o.len() - 1] * 1e6
        );
    }
    let _ = writeln!(s, "\nratios: cpu/peer < 1 means tandem's CPU side beats the peer; gpu/cpu < 1 means the GPU wins; auto/best is Auto over the better side (goal <= 1.10); regret is the time of the side Auto chose over the better side's (1.00 where they agree; goal <= 1.10); overhead is Auto's time per call minus the chosen side's forced policy, paired (goal <= 2 us; at large sizes it is within timing noise); split/best is Policy::Split over the better side (< 1 means the split wins).");
    s
}

pub fn write_reports(
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
                "choice_regret": p.regret,
                "auto_overhead_s": p.overhead,
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
