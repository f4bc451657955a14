//! The `tandem` command line: `info` lists adapters and limits; `check` runs
//! ops on each side against a sequential reference; `calibrate` measures this
//! machine for Auto; `bench` compares the sides and the peers and writes a report.

mod bench;
mod cases;
mod chain;
mod chart;
mod measure;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tandem::{Context, Policy};

/// tandem: data-parallel ops on the GPU (wgpu) or the CPU (rayon).
///
/// TANDEM_BACKEND=auto|cpu|gpu|split sets the policy; TANDEM_LOG=debug prints
/// every op's decision; TANDEM_CACHE_DIR moves the calibration profile; WGPU_BACKEND=vulkan|gl|metal|dx12
/// restricts the adapters.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The adapters found, the one chosen, its limits and features, the CPU threads.
    Info,
    /// Runs ops on the CPU, the GPU and split between them, against a sequential reference.
    Check,
    /// Measures the GPU's fixed cost, transfers and every op on both sides, and
    /// stores the profile Auto uses in the cache folder (TANDEM_CACHE_DIR overrides).
    Calibrate,
    /// Times every op at a range of sizes: CPU, GPU end to end, GPU with resident
    /// data, Auto, and the best peer; prints a table and writes report.md,
    /// report.json and an SVG chart per op.
    Bench {
        /// Ops to run, comma-separated (default: all): sum, argmax, axpy, inclusive_scan, sort, reduce_by_key, unique, run_length_encode, partition, histogram, matmul, kernel.
        #[arg(long, value_delimiter = ',')]
        ops: Vec<String>,
        /// Sizes as powers of two, comma-separated (matmul: elements of one square matrix, capped at 2^20).
        #[arg(long, value_delimiter = ',', default_values_t = [10u32, 14, 18, 22])]
        sizes: Vec<u32>,
        /// The least time spent on each measured point, in milliseconds.
        #[arg(long, default_value_t = 150)]
        min_time_ms: u64,
        /// Where the report goes.
        #[arg(long, default_value = "target/tandem-report")]
        out: PathBuf,
        /// Do not calibrate first when this machine has no profile.
        #[arg(long)]
        no_calibrate: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Info) {
        Command::Info => info(),
        Command::Check => check(),
        Command::Calibrate => calibrate(),
        Command::Bench {
            ops,
            sizes,
            min_time_ms,
            out,
            no_calibrate,
        } => {
            if sizes.iter().any(|&s| s > 30) {
                Err("sizes are powers of two up to 30".to_string())
            } else {
                bench::run(&bench::Options {
                    ops,
                    sizes,
                    min_time: Duration::from_millis(min_time_ms),
                    out,
                    calibrate: !no_calibrate,
                })
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn info() -> Result<(), String> {
    println!("tandem {}", env!("CARGO_PKG_VERSION"));
    println!("CPU threads (rayon): {}", tandem::cpu::threads());
    let adapters = tandem::list_adapters();
    println!("adapters found: {}", adapters.len());
    for a in &adapters {
        println!(
            "  - {} [{} / {}] driver: {}",
            a.name, a.backend, a.device_type, a.driver
        );
    }
    let ctx = Context::new().map_err(|e| e.to_string())?;
    println!("policy: {}", ctx.policy());
    match ctx.gpu_info() {
        Some(g) => {
            println!("chosen GPU: {} [{} / {}]", g.name, g.backend, g.device_type);
            println!("  driver: {}", g.driver);
            println!("  software adapter: {}", g.is_software);
            println!("  max storage binding: {} bytes", g.max_storage_binding);
            println!("  max buffer size: {} bytes", g.max_buffer_size);
            println!(
                "  max workgroups per dimension: {}",
                g.max_workgroups_per_dimension
            );
            println!(
                "  max invocations per workgroup: {}",
                g.max_invocations_per_workgroup
            );
            println!("  workgroup storage: {} bytes", g.max_workgroup_storage);
            println!(
                "  features: subgroups={} f64={} timestamps={}",
                g.subgroups, g.f64, g.timestamps
            );
        }
        None => println!(
            "chosen GPU: none ({}); every op runs on the CPU",
            ctx.gpu_unavailable_reason()
                .unwrap_or_else(|| "Policy::Cpu".into())
        ),
    }
    println!("Auto's profile: {}", ctx.profile_status());
    Ok(())
}

fn calibrate() -> Result<(), String> {
    let ctx = Context::builder()
        .policy(Policy::Auto)
        .without_profile()
        .build()
        .map_err(|e| e.to_string())?;
    let Some(g) = ctx.gpu_info() else {
        return Err(format!(
            "no GPU to calibrate ({}); Auto runs everything on the CPU",
            ctx.gpu_unavailable_reason().unwrap_or_default()
        ));
    };
    println!(
        "calibrating {} [{}] with {} CPU threads",
        g.name,
        g.backend,
        tandem::cpu::threads()
    );
    let t = std::time::Instant::now();
    let (p, path) = ctx
        .calibrate_with(&mut |step| println!("  measuring {step}"))
        .map_err(|e| e.to_string())?;
    println!("done in {:.1} s", t.elapsed().as_secs_f64());
    println!(
        "GPU fixed cost {:.1} us; upload {:.2} GB/s (+{:.1} us); readback {:.2} GB/s (+{:.1} us)",
        p.gpu_fixed_s * 1e6,
        p.upload.bytes_per_s / 1e9,
        p.upload.fixed_s * 1e6,
        p.readback.bytes_per_s / 1e9,
        p.readback.fixed_s * 1e6
    );
    println!(
        "split factor {:.2}: a split's measured time over the time predicted for two independent sides{}",
        p.split_factor,
        if p.split_factor > 1.5 {
            " (they share the machine: Auto will rarely split)"
        } else {
            ""
        }
    );
    println!(
        "{:<15} {:>12} {:>14} {:>14}",
        "op", "work", "cpu", "gpu resident"
    );
    for (op, c) in &p.ops {
        for (cp, gp) in c.cpu.points.iter().zip(&c.gpu.points) {
            println!(
                "{op:<15} {:>12} {:>11.1} us {:>11.1} us",
                cp[0],
                cp[1] * 1e6,
                gp[1] * 1e6
            );
        }
    }
    match path {
        Some(p) => println!("profile saved to {}", p.display()),
        None => println!("no cache folder: the profile was not saved; set TANDEM_CACHE_DIR"),
    }
    Ok(())
}

fn check() -> Result<(), String> {
    let ctx = Context::new().map_err(|e| e.to_string())?;
    let mut sides = vec![("cpu", ctx.with_policy(Policy::Cpu))];
    if ctx.has_gpu() {
        sides.push(("gpu", ctx.with_policy(Policy::Gpu)));
        sides.push(("split", ctx.with_policy(Policy::Split)));
    } else {
        println!("no GPU: checking the CPU side only");
    }
    let n = 1_000_003usize;
    let data: Vec<i32> = (0..n as i64)
        .map(|i| ((i * 7919) % 2001 - 1000) as i32)
        .collect();
    let reference_sum = data.iter().fold(0i32, |a, &b| a.wrapping_add(b));
    let reference_min = *data.iter().min().ok_or("empty")?;
    let reference_argmax = data
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > data[best] { i } else { best });
    let mut failures = 0;
    for (name, c) in &sides {
        let x = c.upload(&data).map_err(|e| e.to_string())?;
        let doubled = c
            .add(&x, &x)
            .and_then(|y| y.to_vec())
            .map_err(|e| e.to_string())?;
        let checks = [
            (
                "sum",
                c.sum(&x).map_err(|e| e.to_string())? == reference_sum,
            ),
            (
                "min",
                c.min(&x).map_err(|e| e.to_string())? == Some(reference_min),
            ),
            (
                "argmax",
                c.argmax(&x).map_err(|e| e.to_string())? == Some(reference_argmax),
            ),
            (
                "add",
                doubled
                    .iter()
                    .zip(&data)
                    .all(|(d, v)| *d == v.wrapping_mul(2)),
            ),
        ];
        for (op, ok) in checks {
            println!("{name:>4} {op:<8} {}", if ok { "ok" } else { "MISMATCH" });
            failures += usize::from(!ok);
        }
    }
    if failures > 0 {
        return Err(format!("{failures} checks failed"));
    }
    Ok(())
}
