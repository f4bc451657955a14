//! Monte Carlo pi: random points in the unit square, the fraction inside the
//! quarter circle times 4.
//!
//! 1. A hand-written WGSL kernel (and its Rust twin) draws point `i` from a
//!    PCG hash of `i` and a seed: no random state to share, so every
//!    invocation is independent and both sides draw the same points. The
//!    coordinates are 24-bit fractions, exact in f32 on both sides.
//! 2. An expression kernel (`map_kernel!`) maps each point to `x^2 + y^2`.
//! 3. `count_if(r2 < 1)` counts the points inside; `sum(r2) / n` estimates
//!    E[x^2 + y^2] = 2/3 on the side.
//!
//! Checks: the count against a sequential Rust loop over the same points (a GPU
//! that fuses `x * x + y * y` may move a point lying within one rounding of the
//! circle, so a handful may differ), and |pi_est - pi| within 5 standard errors.
//!
//! Run: `cargo run --release --example monte_carlo_pi [points]`

use std::error::Error;
use std::time::Instant;

use rayon::prelude::*;
use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::ops::compact::Compare;
use tandem::{map_kernel, Context};

/// Points in the default run.
const DEFAULT_POINTS: usize = 1 << 24;
const SEED: u32 = 0x1234_5678;

const POINTS_WGSL: &str = r#"
struct P { n: u32, seed: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> ys: array<f32>;

// PCG-RXS-M-XS, as a hash (Jarzynski and Olano, JCGT 2020).
fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let h1 = pcg(i ^ p.seed);
    let h2 = pcg(h1);
    // 24-bit fractions in [0, 1): exact in f32.
    xs[i] = f32(h1 >> 8u) * 5.9604644775390625e-8;
    ys[i] = f32(h2 >> 8u) * 5.9604644775390625e-8;
}
"#;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    seed: u32,
    pad0: u32,
    pad1: u32,
}

/// The kernel's hash, with its wrapping arithmetic spelled out.
fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// Point `i` as the kernel draws it.
fn point(i: u32, seed: u32) -> (f32, f32) {
    let h1 = pcg(i ^ seed);
    let h2 = pcg(h1);
    let unit = 1.0 / (1u32 << 24) as f32;
    ((h1 >> 8) as f32 * unit, (h2 >> 8) as f32 * unit)
}

/// The Rust twin of `main`.
fn points_cpu(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let p = args.uniform::<Params>(0)?;
    let ys: Vec<f32> = args
        .write::<f32>(1)?
        .par_iter_mut()
        .enumerate()
        .map(|(i, x)| {
            let (px, py) = point(i as u32, p.seed);
            *x = px;
            py
        })
        .collect();
    // The y coordinates were drawn with the x ones; store them.
    args.write::<f32>(2)?.copy_from_slice(&ys);
    Ok(())
}

/// `|x| <= tol`, false for NaN (so a NaN result fails its check).
fn within(x: f64, tol: f64) -> bool {
    x.abs() <= tol
}

/// Estimates pi from `points` points on the context's chosen side and checks
/// the count and the estimate.
///
/// # Errors
/// A tandem error, or a message when a check fails.
pub fn run_on(ctx: &Context, points: usize) -> Result<String, Box<dyn Error>> {
    if !(1000..=u32::MAX as usize).contains(&points) {
        return Err(format!("monte_carlo_pi: {points} points is outside 1000..2^32").into());
    }
    let n = points;
    let kernel = WgslKernel::new("pcg points", POINTS_WGSL, "main")?.expect_bindings(&[
        Binding::Uniform,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ])?;
    let r2_kernel = map_kernel!(f32, |x, y| x * x + y * y)?;
    let params = Params {
        n: n as u32,
        seed: SEED,
        pad0: 0,
        pad1: 0,
    };

    ctx.clear_runs();
    let start = Instant::now();
    let (mut xs, mut ys) = (ctx.zeros::<f32>(n)?, ctx.zeros::<f32>(n)?);
    ctx.run_wgsl(
        &kernel,
        n,
        &mut [
            Arg::uniform(&params),
            Arg::write(&mut xs),
            Arg::write(&mut ys),
        ],
        points_cpu,
    )?;
    let r2 = ctx.map(&r2_kernel, [&xs, &ys], [])?;
    let inside = ctx.count_if(&r2, Compare::Lt, 1.0)?;
    let mean_r2 = ctx.sum(&r2)? as f64 / n as f64;
    let elapsed = start.elapsed();

    // The reference: the same points, one after another.
    let ref_start = Instant::now();
    let want = (0..n as u32)
        .filter(|&i| {
            let (x, y) = point(i, SEED);
            x * x + y * y < 1.0
        })
        .count();
    let ref_elapsed = ref_start.elapsed();

    if inside.abs_diff(want) > 2 + n / 1_000_000 {
        return Err(
            format!("monte_carlo_pi: counted {inside} inside, the reference {want}").into(),
        );
    }
    let p = inside as f64 / n as f64;
    let pi = 4.0 * p;
    let sigma = 4.0 * (p * (1.0 - p) / n as f64).sqrt();
    let err = (pi - std::f64::consts::PI).abs();
    if !within(err, 5.0 * sigma) {
        return Err(format!(
            "monte_carlo_pi: estimate {pi} is {:.1} standard errors from pi",
            err / sigma
        )
        .into());
    }
    // E[x^2 + y^2] = 2/3, with standard error sqrt(Var / n), Var = 4/45.
    let mean_sigma = (4.0 / 45.0 / n as f64).sqrt();
    if !within(mean_r2 - 2.0 / 3.0, 5.0 * mean_sigma + 1e-5) {
        return Err(
            format!("monte_carlo_pi: mean of x^2 + y^2 is {mean_r2}, not about 2/3").into(),
        );
    }

    Ok(format!(
        "monte_carlo_pi: {n} points in {elapsed:.2?} (sequential reference: {ref_elapsed:.2?})\n  \
         pi ~ {pi:.6} (error {err:.2e}, {:.2} standard errors), {inside} inside \
         (reference {want}), mean x^2 + y^2 = {mean_r2:.5}{}",
        err / sigma,
        ctx.run_summary()
    ))
}

/// [`run_on`] with a `Context::new()` (Policy::Auto, or `TANDEM_BACKEND`).
///
/// # Errors
/// As [`run_on`], or when no context can be built.
pub fn run(points: usize) -> Result<String, Box<dyn Error>> {
    let ctx = Context::new()?;
    let gpu = ctx.gpu_info().map_or_else(
        || "no GPU".to_string(),
        |g| format!("GPU: {} ({})", g.name, g.backend),
    );
    Ok(format!("[{gpu}] {}", run_on(&ctx, points)?))
}

fn main() {
    let size = match std::env::args().nth(1).map(|s| s.parse::<usize>()) {
        None => DEFAULT_POINTS,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: monte_carlo_pi [points]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("monte_carlo_pi failed: {e}");
            std::process::exit(1);
        }
    }
}
