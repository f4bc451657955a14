//! The `tandem` command line: `info` lists adapters and limits; `check` runs
//! every op on each side against a sequential reference.

use std::process::ExitCode;

use tandem::{Context, Policy};

const USAGE: &str = "usage: tandem <command>

commands:
  info     the adapters found, the one chosen, its limits and features, the CPU threads
  check    runs every op on the CPU and on the GPU and compares them with a sequential reference
  help     this text

TANDEM_BACKEND=auto|cpu|gpu sets the policy; WGPU_BACKEND=vulkan|gl|metal|dx12 restricts the adapters.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("info") => info(),
        Some("check") => check(),
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{USAGE}")),
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
    Ok(())
}

fn check() -> Result<(), String> {
    let ctx = Context::new().map_err(|e| e.to_string())?;
    let mut sides = vec![("cpu", ctx.with_policy(Policy::Cpu))];
    if ctx.has_gpu() {
        sides.push(("gpu", ctx.with_policy(Policy::Gpu)));
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
