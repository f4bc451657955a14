//! K-means clustering of 2-D points drawn from a few Gaussian blobs.
//!
//! - Assignment: a hand-written WGSL kernel (and its Rust twin) labels each
//!   point with its nearest centroid (the first on ties).
//! - Update: `histogram` of the labels gives the cluster sizes, and an
//!   expression kernel `select(0, v, label == c)` summed with `map_reduce`
//!   gives each cluster's coordinate sums. The labels are stored as f32 (small
//!   integers, exact) because an expression kernel's inputs share one type.
//! - Convergence: `map_reduce` of `select(0, 1, old != new)` counts the points
//!   that changed cluster; the loop stops when none did.
//!
//! Checks: every true blob centre has a found centroid near it; the found
//! centroids are the means of their clusters (recomputed in f64); and the final
//! labels are the nearest centroids (recomputed sequentially).
//!
//! Run: `cargo run --release --example kmeans [points]`

use std::error::Error;
use std::time::Instant;

use rayon::prelude::*;
use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::{map_kernel, Context};

/// Points in the default run.
const DEFAULT_POINTS: usize = 1 << 20;
const MAX_ITERATIONS: usize = 100;
/// The true blob centres and the blobs' standard deviation.
const CENTRES: [[f32; 2]; 5] = [
    [-6.0, -5.0],
    [5.0, -4.0],
    [0.5, 6.0],
    [-7.0, 4.0],
    [7.0, 5.0],
];
const SIGMA: f64 = 1.0;
const K: usize = CENTRES.len();

const ASSIGN_WGSL: &str = r#"
struct P { n: u32, k: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> centroids: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> labels: array<f32>;

@compute @workgroup_size(256)
fn assign(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let q = vec2<f32>(xs[i], ys[i]);
    var best = 0u;
    var best_d = 3.0e38;
    for (var c = 0u; c < p.k; c = c + 1u) {
        let d = q - centroids[c];
        let d2 = d.x * d.x + d.y * d.y;
        if (d2 < best_d) {
            best_d = d2;
            best = c;
        }
    }
    labels[i] = f32(best);
}
"#;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    k: u32,
    pad0: u32,
    pad1: u32,
}

/// The nearest centroid of `(x, y)`, as the kernel finds it.
fn nearest(x: f32, y: f32, centroids: &[f32]) -> usize {
    let mut best = (0, f32::MAX);
    for (c, m) in centroids.chunks_exact(2).enumerate() {
        let (dx, dy) = (x - m[0], y - m[1]);
        let d2 = dx * dx + dy * dy;
        if d2 < best.1 {
            best = (c, d2);
        }
    }
    best.0
}

/// The Rust twin of `assign`.
fn assign_cpu(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let (xs, ys, cs) = (
        args.read::<f32>(1)?,
        args.read::<f32>(2)?,
        args.read::<f32>(3)?,
    );
    args.write::<f32>(4)?
        .par_iter_mut()
        .enumerate()
        .for_each(|(i, l)| *l = nearest(xs[i], ys[i], &cs) as f32);
    Ok(())
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
    /// Two independent standard normals (Box-Muller).
    fn normal2(&mut self) -> (f64, f64) {
        let u = 1.0 - self.next_f64(); // in (0, 1]
        let v = self.next_f64();
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        (r * t.cos(), r * t.sin())
    }
}

/// `n` points, point `i` from blob `i % K`.
fn blobs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng(0xB10B);
    (0..n)
        .map(|i| {
            let (a, b) = rng.normal2();
            let c = CENTRES[i % K];
            (
                (c[0] as f64 + SIGMA * a) as f32,
                (c[1] as f64 + SIGMA * b) as f32,
            )
        })
        .unzip()
}

/// Farthest-point seeding over the first points: well-spread initial centroids.
fn seed_centroids(xs: &[f32], ys: &[f32]) -> Vec<f32> {
    let m = xs.len().min(1000);
    let mut chosen = vec![0usize];
    while chosen.len() < K {
        let far = (0..m)
            .max_by(|&a, &b| {
                let d = |i: usize| {
                    chosen
                        .iter()
                        .map(|&c| (xs[i] - xs[c]).powi(2) + (ys[i] - ys[c]).powi(2))
                        .fold(f32::MAX, f32::min)
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap_or(0);
        chosen.push(far);
    }
    chosen.iter().flat_map(|&i| [xs[i], ys[i]]).collect()
}

/// `|x| <= tol`, false for NaN (so a NaN result fails its check).
fn within(x: f64, tol: f64) -> bool {
    x.abs() <= tol
}

/// Clusters `points` points from `K` blobs on the context's chosen side and
/// checks the centroids and labels.
///
/// # Errors
/// A tandem error, or a message when a check fails.
pub fn run_on(ctx: &Context, points: usize) -> Result<String, Box<dyn Error>> {
    if !(100 * K..=1 << 28).contains(&points) {
        return Err(format!("kmeans: {points} points is outside {}..=2^28", 100 * K).into());
    }
    let n = points;
    let kernel = WgslKernel::new("kmeans assign", ASSIGN_WGSL, "assign")?.expect_bindings(&[
        Binding::Uniform,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadOnly,
        Binding::ReadWrite,
    ])?;
    let masked = map_kernel!(f32, |v, label; c| select(0.0, v, label == c))?;
    let changed = map_kernel!(f32, |a, b| select(0.0, 1.0, a != b))?;
    let params = Params {
        n: n as u32,
        k: K as u32,
        pad0: 0,
        pad1: 0,
    };
    let (xs_host, ys_host) = blobs(n);
    let mut centroids = seed_centroids(&xs_host, &ys_host);

    ctx.clear_runs();
    let start = Instant::now();
    let (xs, ys) = (ctx.upload(&xs_host)?, ctx.upload(&ys_host)?);
    // -1 is no cluster: every point counts as changed in the first round.
    let mut labels = ctx.upload(&vec![-1.0f32; n])?;
    let mut iterations = 0;
    let stats = ctx.stream_stats();
    loop {
        iterations += 1;
        let cs = ctx.upload(&centroids)?;
        let mut next = ctx.zeros::<f32>(n)?;
        ctx.run_wgsl(
            &kernel,
            n,
            &mut [
                Arg::uniform(&params),
                Arg::read(&xs),
                Arg::read(&ys),
                Arg::read(&cs),
                Arg::write(&mut next),
            ],
            assign_cpu,
        )?;
        let moved = ctx.map_reduce(&changed, [&labels, &next], [])?;
        labels = next;
        if moved == 0.0 || iterations == MAX_ITERATIONS {
            break;
        }
        let counts = ctx.histogram(&labels, K, 0.0, K as f32)?.to_vec()?;
        for (c, &count) in counts.iter().enumerate() {
            // An empty cluster keeps its centroid.
            if count > 0 {
                let sx = ctx.map_reduce(&masked, [&xs, &labels], [c as f32])?;
                let sy = ctx.map_reduce(&masked, [&ys, &labels], [c as f32])?;
                centroids[2 * c] = sx / count as f32;
                centroids[2 * c + 1] = sy / count as f32;
            }
        }
    }
    let labels = labels.to_vec()?;
    let elapsed = start.elapsed();
    let stats = format!(
        "\n  {}",
        ctx.stream_stats().since(&stats).per_step(iterations)
    );
    if iterations == MAX_ITERATIONS {
        return Err(format!("kmeans: no convergence in {MAX_ITERATIONS} iterations").into());
    }

    // Check 1: the centroids are the f64 means of their clusters.
    let mut sums = [[0.0f64; 3]; K];
    for i in 0..n {
        let c = labels[i] as usize;
        if c >= K || labels[i] != c as f32 {
            return Err(format!("kmeans: point {i} has label {}", labels[i]).into());
        }
        sums[c][0] += xs_host[i] as f64;
        sums[c][1] += ys_host[i] as f64;
        sums[c][2] += 1.0;
    }
    for (c, s) in sums.iter().enumerate() {
        if s[2] > 0.0 {
            let (mx, my) = (s[0] / s[2], s[1] / s[2]);
            let err = (centroids[2 * c] as f64 - mx).hypot(centroids[2 * c + 1] as f64 - my);
            if !within(err, 1e-3) {
                return Err(format!(
                    "kmeans: centroid {c} is ({}, {}), its cluster's mean ({mx}, {my})",
                    centroids[2 * c],
                    centroids[2 * c + 1]
                )
                .into());
            }
        }
    }
    // Check 2: the labels are the nearest centroids (ties and float rounding aside).
    let ref_start = Instant::now();
    let wrong = (0..n)
        .filter(|&i| nearest(xs_host[i], ys_host[i], &centroids) as f32 != labels[i])
        .count();
    let ref_elapsed = ref_start.elapsed();
    if wrong > n / 10_000 {
        return Err(
            format!("kmeans: {wrong} points are not labelled with their nearest centroid").into(),
        );
    }
    // Check 3: every true centre has a centroid near it (the standard error of a
    // blob's mean is SIGMA / sqrt(n / K)).
    let tol = 6.0 * SIGMA / ((n / K) as f64).sqrt() + 0.02;
    let mut worst: f64 = 0.0;
    for t in CENTRES {
        let d = centroids
            .chunks_exact(2)
            .map(|m| ((m[0] - t[0]) as f64).hypot((m[1] - t[1]) as f64))
            .fold(f64::MAX, f64::min);
        if !within(d, tol) {
            return Err(format!(
                "kmeans: no centroid within {tol:.3} of the blob at {t:?} (nearest {d:.3})"
            )
            .into());
        }
        worst = worst.max(d);
    }

    let found: Vec<String> = centroids
        .chunks_exact(2)
        .map(|m| format!("({:.2}, {:.2})", m[0], m[1]))
        .collect();
    Ok(format!(
        "kmeans: {n} points, k = {K}, converged in {iterations} iterations, {elapsed:.2?} \
         (sequential label check: {ref_elapsed:.2?})\n  \
         centroids {}; farthest from its blob centre: {worst:.4}{stats}{}",
        found.join(" "),
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
            eprintln!("usage: kmeans [points]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("kmeans failed: {e}");
            std::process::exit(1);
        }
    }
}
