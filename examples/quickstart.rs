//! Quick start: one program, either side.
//!
//! Builds a context (Auto: the GPU when it pays, the CPU otherwise; set
//! `TANDEM_BACKEND=cpu|gpu` to force a side), runs a few ops, checks the results
//! against plain Rust, and prints which side ran each op and why.
//!
//! Run: `cargo run --release --example quickstart`

use std::time::Instant;

fn main() -> Result<(), tandem::Error> {
    let ctx = tandem::Context::new()?;
    match ctx.gpu_info() {
        Some(g) => println!("GPU: {} ({}, {})", g.name, g.backend, g.device_type),
        None => println!("no GPU: every op runs on the CPU"),
    }

    let n = 1 << 22;
    let xs: Vec<f32> = (0..n).map(|i| (i % 100) as f32 * 0.5).collect();
    let ys: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let x = ctx.upload(&xs)?;
    let y = ctx.upload(&ys)?;

    let start = Instant::now();
    let z = ctx.axpy(2.0, &x, &y)?; // z = 2x + y
    let total = ctx.sum(&z)?;
    let top = ctx.argmax(&z)?;
    let elapsed = start.elapsed();

    // Check against plain Rust (float sums differ by association order only).
    let want: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(&a, &b)| 2.0 * a as f64 + b as f64)
        .sum();
    assert!(
        ((total as f64) - want).abs() <= 1e-4 * want,
        "sum {total} vs {want}"
    );
    let zs = z.to_vec()?;
    let want_top = (0..n).fold(0, |best, i| if zs[i] > zs[best] { i } else { best });
    assert_eq!(top, Some(want_top));

    println!("sum(2x + y) = {total} (f64 reference {want}), argmax = {top:?}, {elapsed:.2?}");
    for r in ctx.runs() {
        println!("  {:<7} n={:<8} on {:?}: {}", r.op, r.len, r.side, r.reason);
    }
    Ok(())
}
