//! N-body gravity: all pairs, with softening, as a hand-written WGSL kernel and
//! its Rust twin.
//!
//! Each body is a `vec4` (x, y, z, mass) in an `f32` buffer of `4 * n` values;
//! velocities are `vec4`s too (w unused). One step is a symplectic Euler step
//! (kick, then drift): `v += a(x) dt; x += v dt`, with
//! `a_i = sum_j m_j (x_j - x_i) / (|x_j - x_i|^2 + eps^2)^(3/2)` (G = 1). The GPU
//! kernel stages the bodies through workgroup memory 64 at a time; the twin is
//! the same loop on rayon. Positions ping-pong between two buffers, because
//! every body reads every other body's old position.
//!
//! Checks: the positions and velocities after a few steps against a
//! sequential f64 run of the same scheme from the same start, and the drift of
//! the total energy.
//!
//! Run: `cargo run --release --example nbody [bodies]`

use std::error::Error;
use std::time::Instant;

use rayon::prelude::*;
use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::Context;

/// Bodies in the default run: a few seconds on two cores.
const DEFAULT_BODIES: usize = 4096;
const STEPS: usize = 10;
const DT: f32 = 1e-3;
const EPS: f32 = 0.05;

const NBODY_WGSL: &str = r#"
struct P { n: u32, dt: f32, eps2: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> pos_in: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> vel: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> pos_out: array<vec4<f32>>;

const TILE: u32 = 64u;
var<workgroup> tile: array<vec4<f32>, 64>;

@compute @workgroup_size(64)
fn step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * TILE + lid;
    // Every invocation takes part in the barriers, also past the last body.
    let me = pos_in[min(i, p.n - 1u)];
    var acc = vec3<f32>(0.0);
    for (var base = 0u; base < p.n; base = base + TILE) {
        let j = base + lid;
        // Padding bodies have mass 0, so they pull nothing.
        tile[lid] = select(vec4<f32>(0.0), pos_in[min(j, p.n - 1u)], j < p.n);
        workgroupBarrier();
        for (var k = 0u; k < TILE; k = k + 1u) {
            let q = tile[k];
            let d = q.xyz - me.xyz;
            let r2 = dot(d, d) + p.eps2;
            let inv = 1.0 / sqrt(r2);
            acc = acc + d * (q.w * inv * inv * inv);
        }
        workgroupBarrier();
    }
    if (i < p.n) {
        let v = vel[i].xyz + acc * p.dt;
        vel[i] = vec4<f32>(v, 0.0);
        pos_out[i] = vec4<f32>(me.xyz + v * p.dt, me.w);
    }
}
"#;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    dt: f32,
    eps2: f32,
    pad: u32,
}

/// The twin's acceleration on body `i`, in the kernel's order of terms.
fn accel_f32(pos: &[f32], i: usize, eps2: f32) -> [f32; 3] {
    let me = &pos[4 * i..4 * i + 3];
    let mut acc = [0.0f32; 3];
    for q in pos.chunks_exact(4) {
        let d = [q[0] - me[0], q[1] - me[1], q[2] - me[2]];
        let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + eps2;
        let inv = 1.0 / r2.sqrt();
        let s = q[3] * inv * inv * inv;
        for c in 0..3 {
            acc[c] += d[c] * s;
        }
    }
    acc
}

/// The Rust twin of `step`: velocities in place, then the new positions.
fn step_cpu(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let p = args.uniform::<Params>(0)?;
    let pos = args.read::<f32>(1)?;
    let vel = args.write::<f32>(2)?;
    vel.par_chunks_mut(4).enumerate().for_each(|(i, v)| {
        let a = accel_f32(&pos, i, p.eps2);
        for c in 0..3 {
            v[c] += a[c] * p.dt;
        }
        v[3] = 0.0;
    });
    let vel = vel.to_vec();
    let out = args.write::<f32>(3)?;
    out.par_chunks_mut(4)
        .zip(pos.par_chunks(4).zip(vel.par_chunks(4)))
        .for_each(|(o, (x, v))| {
            for c in 0..3 {
                o[c] = x[c] + v[c] * p.dt;
            }
            o[3] = x[3];
        });
    Ok(())
}

/// One step of the same scheme in f64, sequentially: the reference.
fn step_f64(pos: &mut [[f64; 4]], vel: &mut [[f64; 3]], dt: f64, eps2: f64) {
    let acc: Vec<[f64; 3]> = pos
        .iter()
        .map(|me| {
            let mut a = [0.0; 3];
            for q in pos.iter() {
                let d = [q[0] - me[0], q[1] - me[1], q[2] - me[2]];
                let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + eps2;
                let s = q[3] / (r2 * r2.sqrt());
                for c in 0..3 {
                    a[c] += d[c] * s;
                }
            }
            a
        })
        .collect();
    for ((x, v), a) in pos.iter_mut().zip(vel.iter_mut()).zip(&acc) {
        for c in 0..3 {
            v[c] += a[c] * dt;
            x[c] += v[c] * dt;
        }
    }
}

/// Kinetic plus (softened) potential energy, in f64.
fn energy(pos: &[[f64; 4]], vel: &[[f64; 3]], eps2: f64) -> f64 {
    let mut e = 0.0;
    for (i, (x, v)) in pos.iter().zip(vel).enumerate() {
        e += 0.5 * x[3] * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for y in &pos[i + 1..] {
            let d = [y[0] - x[0], y[1] - x[1], y[2] - x[2]];
            let r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2] + eps2;
            e -= x[3] * y[3] / r2.sqrt();
        }
    }
    e
}

/// A small deterministic generator (SplitMix64), so the example needs no crate.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A point uniformly inside the ball of radius `r`.
    fn in_ball(&mut self, r: f64) -> [f64; 3] {
        loop {
            let p = [
                2.0 * self.next_f64() - 1.0,
                2.0 * self.next_f64() - 1.0,
                2.0 * self.next_f64() - 1.0,
            ];
            if p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= 1.0 {
                return p.map(|c| c * r);
            }
        }
    }
}

/// Bodies uniform in the unit ball, total mass 1, small random velocities with
/// no net momentum: `(positions, velocities)` as vec4 arrays.
fn initial(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(0x5EED_0001);
    let m = 1.0 / n as f64;
    let mut pos = Vec::with_capacity(4 * n);
    let mut vel = Vec::with_capacity(4 * n);
    let mut mean = [0.0; 3];
    for _ in 0..n {
        let x = rng.in_ball(1.0);
        let v = rng.in_ball(0.3);
        pos.extend([x[0] as f32, x[1] as f32, x[2] as f32, m as f32]);
        vel.extend([v[0], v[1], v[2], 0.0]);
        for c in 0..3 {
            mean[c] += v[c] / n as f64;
        }
    }
    let vel = vel
        .chunks_exact(4)
        .flat_map(|v| [v[0] - mean[0], v[1] - mean[1], v[2] - mean[2], 0.0].map(|c| c as f32))
        .collect();
    (pos, vel)
}

fn to_f64(pos: &[f32], vel: &[f32]) -> (Vec<[f64; 4]>, Vec<[f64; 3]>) {
    (
        pos.chunks_exact(4)
            .map(|p| [p[0] as f64, p[1] as f64, p[2] as f64, p[3] as f64])
            .collect(),
        vel.chunks_exact(4)
            .map(|v| [v[0] as f64, v[1] as f64, v[2] as f64])
            .collect(),
    )
}

/// `|x| <= tol`, false for NaN (so a NaN result fails its check).
fn within(x: f64, tol: f64) -> bool {
    x.abs() <= tol
}

/// Simulates `bodies` bodies for a few steps on the context's chosen side and
/// checks the result against a sequential f64 run and the energy's drift.
///
/// # Errors
/// A tandem error, or a message when a check fails.
pub fn run_on(ctx: &Context, bodies: usize) -> Result<String, Box<dyn Error>> {
    if bodies < 2 {
        return Err(format!("n-body needs at least 2 bodies, not {bodies}").into());
    }
    let n = bodies;
    let kernel = WgslKernel::new("nbody", NBODY_WGSL, "step")?.expect_bindings(&[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ])?;
    let (pos0, vel0) = initial(n);
    let params = Params {
        n: n as u32,
        dt: DT,
        eps2: EPS * EPS,
        pad: 0,
    };

    ctx.clear_runs();
    let start = Instant::now();
    let mut pos = ctx.upload(&pos0)?;
    let mut next = ctx.zeros::<f32>(4 * n)?;
    let mut vel = ctx.upload(&vel0)?;
    let stats = ctx.stream_stats();
    for _ in 0..STEPS {
        ctx.run_wgsl(
            &kernel,
            n,
            &mut [
                Arg::uniform(&params),
                Arg::read(&pos),
                Arg::write(&mut vel),
                Arg::write(&mut next),
            ],
            step_cpu,
        )?;
        std::mem::swap(&mut pos, &mut next);
    }
    let (pos_got, vel_got) = (pos.to_vec()?, vel.to_vec()?);
    let elapsed = start.elapsed();
    let stats = format!("\n  {}", ctx.stream_stats().since(&stats).per_step(STEPS));

    // The reference: the same scheme in f64 from the same (f32) start.
    let ref_start = Instant::now();
    let eps2 = (EPS as f64) * (EPS as f64);
    let (mut pos_ref, mut vel_ref) = to_f64(&pos0, &vel0);
    let e0 = energy(&pos_ref, &vel_ref, eps2);
    for _ in 0..STEPS {
        step_f64(&mut pos_ref, &mut vel_ref, DT as f64, eps2);
    }
    let ref_elapsed = ref_start.elapsed();

    if let Some(bad) = pos_got.iter().chain(&vel_got).find(|x| !x.is_finite()) {
        return Err(format!("n-body: the state holds {bad}").into());
    }
    let (pos_f, vel_f) = to_f64(&pos_got, &vel_got);
    let mut dx: f64 = 0.0;
    let mut dv: f64 = 0.0;
    for i in 0..n {
        for c in 0..3 {
            dx = dx.max((pos_f[i][c] - pos_ref[i][c]).abs());
            dv = dv.max((vel_f[i][c] - vel_ref[i][c]).abs());
        }
    }
    if !(within(dx, 1e-4) && within(dv, 1e-3)) {
        return Err(format!(
            "n-body: the result differs from the f64 reference: max |dx| = {dx:e}, max |dv| = {dv:e}"
        )
        .into());
    }
    let e1 = energy(&pos_f, &vel_f, eps2);
    let drift = ((e1 - e0) / e0).abs();
    if !within(drift, 1e-3) {
        return Err(format!("n-body: energy drifted by {drift:e} (from {e0} to {e1})").into());
    }

    Ok(format!(
        "n-body: {n} bodies, {STEPS} steps of dt = {DT} in {elapsed:.2?} \
         (sequential f64 reference: {ref_elapsed:.2?})\n  \
         max |x - x_ref| = {dx:.2e}, max |v - v_ref| = {dv:.2e}, energy {e0:.6} -> {e1:.6} \
         (relative drift {drift:.2e}){stats}{}",
        ctx.run_summary()
    ))
}

/// [`run_on`] with a `Context::new()` (Policy::Auto, or `TANDEM_BACKEND`).
///
/// # Errors
/// As [`run_on`], or when no context can be built.
pub fn run(bodies: usize) -> Result<String, Box<dyn Error>> {
    let ctx = Context::new()?;
    let gpu = ctx.gpu_info().map_or_else(
        || "no GPU".to_string(),
        |g| format!("GPU: {} ({})", g.name, g.backend),
    );
    Ok(format!("[{gpu}] {}", run_on(&ctx, bodies)?))
}

fn main() {
    let size = match std::env::args().nth(1).map(|s| s.parse::<usize>()) {
        None => DEFAULT_BODIES,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: nbody [bodies]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("nbody failed: {e}");
            std::process::exit(1);
        }
    }
}
