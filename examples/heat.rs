//! 2-D heat diffusion: an explicit 5-point stencil on an N x N grid, as a
//! hand-written WGSL kernel and its Rust twin, over many steps.
//!
//! `u'[x, y] = u + alpha * (u[x-1] + u[x+1] + u[y-1] + u[y+1] - 4u)`, with the
//! edge cells held at their values (Dirichlet boundary). `alpha = 0.2` (below
//! the stability limit 0.25). Two buffers ping-pong: each step reads one and
//! writes the other, so on a GPU the grid never leaves the device between steps.
//!
//! Checks: the final grid against a sequential run of the same stencil, and the
//! maximum principle (no value leaves the initial range).
//!
//! Run: `cargo run --release --example heat [N]`

use std::error::Error;
use std::time::Instant;

use rayon::prelude::*;
use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::Context;

/// Grid side of the default run: a few seconds on two cores.
const DEFAULT_N: usize = 512;
const ALPHA: f32 = 0.2;

const HEAT_WGSL: &str = r#"
struct P { nx: u32, ny: u32, alpha: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lid;
    if (i >= p.nx * p.ny) {
        return;
    }
    let x = i % p.nx;
    let y = i / p.nx;
    let c = u[i];
    if (x == 0u || y == 0u || x == p.nx - 1u || y == p.ny - 1u) {
        v[i] = c;
        return;
    }
    let lap = (u[i - 1u] + u[i + 1u]) + (u[i - p.nx] + u[i + p.nx]) - 4.0 * c;
    v[i] = c + p.alpha * lap;
}
"#;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    nx: u32,
    ny: u32,
    alpha: f32,
    pad: u32,
}

/// One row `y` of a step, as the kernel computes it.
fn step_row(u: &[f32], out: &mut [f32], y: usize, nx: usize, ny: usize, alpha: f32) {
    let row = y * nx;
    if y == 0 || y == ny - 1 {
        out.copy_from_slice(&u[row..row + nx]);
        return;
    }
    out[0] = u[row];
    out[nx - 1] = u[row + nx - 1];
    for (x, o) in out.iter_mut().enumerate().take(nx - 1).skip(1) {
        let i = row + x;
        let c = u[i];
        let lap = (u[i - 1] + u[i + 1]) + (u[i - nx] + u[i + nx]) - 4.0 * c;
        *o = c + alpha * lap;
    }
}

/// The Rust twin of `step`: rows on rayon.
fn step_cpu(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let p = args.uniform::<Params>(0)?;
    let u = args.read::<f32>(1)?;
    let (nx, ny) = (p.nx as usize, p.ny as usize);
    args.write::<f32>(2)?
        .par_chunks_mut(nx)
        .enumerate()
        .for_each(|(y, out)| step_row(&u, out, y, nx, ny, p.alpha));
    Ok(())
}

/// A hot disc in the middle, a warm top edge, cold elsewhere.
fn initial(n: usize) -> Vec<f32> {
    let mut g = vec![0.0f32; n * n];
    let (c, r) = (n as f64 / 2.0, n as f64 / 6.0);
    for y in 0..n {
        for x in 0..n {
            let (dx, dy) = (x as f64 + 0.5 - c, y as f64 + 0.5 - c);
            if dx * dx + dy * dy < r * r {
                g[y * n + x] = 1.0;
            }
        }
    }
    g[..n].fill(0.5);
    g
}

/// `|x| <= tol`, false for NaN (so a NaN result fails its check).
fn within(x: f64, tol: f64) -> bool {
    x.abs() <= tol
}

/// Diffuses heat on an `n` x `n` grid for `2 n` steps on the context's chosen
/// side and checks the result against a sequential run.
///
/// # Errors
/// A tandem error, or a message when a check fails.
pub fn run_on(ctx: &Context, n: usize) -> Result<String, Box<dyn Error>> {
    if n < 3 {
        return Err(format!("heat needs a grid of at least 3 x 3, not {n} x {n}").into());
    }
    if n.checked_mul(n).is_none_or(|c| c > u32::MAX as usize) {
        return Err(format!("heat: a {n} x {n} grid does not fit 32-bit indices").into());
    }
    let steps = 2 * n;
    let kernel = WgslKernel::new("heat", HEAT_WGSL, "step")?.expect_bindings(&[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ])?;
    let params = Params {
        nx: n as u32,
        ny: n as u32,
        alpha: ALPHA,
        pad: 0,
    };
    let grid0 = initial(n);

    ctx.clear_runs();
    let start = Instant::now();
    let mut u = ctx.upload(&grid0)?;
    let mut v = ctx.zeros::<f32>(n * n)?;
    let stats = ctx.stream_stats();
    for _ in 0..steps {
        ctx.run_wgsl(
            &kernel,
            n * n,
            &mut [Arg::uniform(&params), Arg::read(&u), Arg::write(&mut v)],
            step_cpu,
        )?;
        std::mem::swap(&mut u, &mut v);
    }
    let got = u.to_vec()?;
    let elapsed = start.elapsed();
    let stats = format!("\n  {}", ctx.stream_stats().since(&stats).per_step(steps));

    // The reference: the same stencil, one cell after another.
    let ref_start = Instant::now();
    let mut a = grid0.clone();
    let mut b = vec![0.0f32; n * n];
    for _ in 0..steps {
        for y in 0..n {
            step_row(&a, &mut b[y * n..(y + 1) * n], y, n, n, ALPHA);
        }
        std::mem::swap(&mut a, &mut b);
    }
    let ref_elapsed = ref_start.elapsed();

    // A GPU may fuse `c + alpha * lap` into one rounding: allow a little.
    let max_diff = got
        .iter()
        .zip(&a)
        .map(|(g, w)| (g - w).abs())
        // Not f32::max, which would skip a NaN.
        .fold(0.0f32, |m, d| if d > m || d.is_nan() { d } else { m });
    if !within(max_diff as f64, 1e-5) {
        return Err(format!("heat: max |u - u_ref| = {max_diff:e} after {steps} steps").into());
    }
    if let Some(bad) = got.iter().find(|x| !(-1e-6..=1.0 + 1e-6).contains(*x)) {
        return Err(format!("heat: {bad} breaks the maximum principle (range [0, 1])").into());
    }
    let heat0: f64 = grid0.iter().map(|&x| x as f64).sum();
    let heat1: f64 = got.iter().map(|&x| x as f64).sum();
    let centre = got[(n / 2) * n + n / 2];

    Ok(format!(
        "heat: {n} x {n} grid, {steps} steps in {elapsed:.2?} \
         (sequential reference: {ref_elapsed:.2?})\n  \
         max |u - u_ref| = {max_diff:.2e}, centre {centre:.4}, total heat {heat0:.1} -> {heat1:.1}{stats}{}",
        ctx.run_summary()
    ))
}

/// [`run_on`] with a `Context::new()` (Policy::Auto, or `TANDEM_BACKEND`).
///
/// # Errors
/// As [`run_on`], or when no context can be built.
pub fn run(n: usize) -> Result<String, Box<dyn Error>> {
    let ctx = Context::new()?;
    let gpu = ctx.gpu_info().map_or_else(
        || "no GPU".to_string(),
        |g| format!("GPU: {} ({})", g.name, g.backend),
    );
    Ok(format!("[{gpu}] {}", run_on(&ctx, n)?))
}

fn main() {
    let size = match std::env::args().nth(1).map(|s| s.parse::<usize>()) {
        None => DEFAULT_N,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: heat [N]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("heat failed: {e}");
            std::process::exit(1);
        }
    }
}
