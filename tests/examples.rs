//! The science and analytics examples at small sizes: each through its `run`
//! (Policy::Auto, as `cargo run --example` does), and through `run_on` on every
//! side this machine has (the CPU, and the GPU under Policy::Gpu, so the WGSL
//! kernels run even where Auto picks the CPU). Each example checks its own
//! result against plain Rust and returns an error when a check fails.

mod common;

#[path = "../examples/heat.rs"]
#[allow(dead_code)]
mod heat;
#[path = "../examples/kmeans.rs"]
#[allow(dead_code)]
mod kmeans;
#[path = "../examples/log_analytics.rs"]
#[allow(dead_code)]
mod log_analytics;
#[path = "../examples/mandelbrot.rs"]
#[allow(dead_code)]
mod mandelbrot;
#[path = "../examples/monte_carlo_pi.rs"]
#[allow(dead_code)]
mod monte_carlo_pi;
#[path = "../examples/nbody.rs"]
#[allow(dead_code)]
mod nbody;

use std::error::Error;

use tandem::{Context, Policy};

type Summary = Result<String, Box<dyn Error>>;

/// Runs `run` once, then `run_on` on every side; fails with the example's message.
fn check(name: &str, run: impl Fn() -> Summary, run_on: impl Fn(&Context) -> Summary) {
    match run() {
        Ok(s) => eprintln!("{name} (Auto): {s}"),
        Err(e) => panic!("{name} (Auto) failed: {e}"),
    }
    for (side, ctx) in common::sides() {
        match run_on(&ctx) {
            Ok(s) => eprintln!("{name} ({side}): {s}"),
            Err(e) => panic!("{name} ({side}) failed: {e}"),
        }
    }
}

#[test]
fn nbody_matches_f64_reference() {
    check("nbody", || nbody::run(300), |c| nbody::run_on(c, 300));
}

#[test]
fn heat_matches_sequential_stencil() {
    check("heat", || heat::run(70), |c| heat::run_on(c, 70));
}

#[test]
fn mandelbrot_matches_sequential_counts() {
    let png =
        std::env::temp_dir().join(format!("tandem-mandelbrot-test-{}.png", std::process::id()));
    check(
        "mandelbrot",
        || mandelbrot::run(120),
        |c| mandelbrot::run_on(c, 150, Some(&png)),
    );
    let written = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&png);
    assert!(written > 0, "the PNG was not written");
}

#[test]
fn monte_carlo_pi_is_near_pi() {
    check(
        "monte_carlo_pi",
        || monte_carlo_pi::run(200_000),
        |c| monte_carlo_pi::run_on(c, 200_000),
    );
}

#[test]
fn kmeans_finds_the_blobs() {
    check(
        "kmeans",
        || kmeans::run(20_000),
        |c| kmeans::run_on(c, 20_000),
    );
}

#[test]
fn log_analytics_matches_plain_rust() {
    check(
        "log_analytics",
        || log_analytics::run(100_000),
        |c| log_analytics::run_on(c, 100_000),
    );
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let ctx = Context::builder()
        .policy(Policy::Cpu)
        .build()
        .expect("a CPU context always builds");
    assert!(nbody::run_on(&ctx, 1).is_err());
    assert!(heat::run_on(&ctx, 2).is_err());
    assert!(mandelbrot::run_on(&ctx, 10, None).is_err());
    assert!(monte_carlo_pi::run_on(&ctx, 0).is_err());
    assert!(kmeans::run_on(&ctx, 3).is_err());
    assert!(log_analytics::run_on(&ctx, 0).is_err());
}
