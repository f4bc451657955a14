//! The Mandelbrot set: escape iterations per pixel as a hand-written WGSL
//! kernel and its Rust twin, written out as a PNG.
//!
//! Pixel `(px, py)` is the point `c = (x0 + (px + 0.5) step, y0 + (py + 0.5) step)`;
//! its count is the number of steps of `z = z^2 + c` from 0 before `|z| > 2`,
//! at most `MAX_ITER`. The image is `size` x `2 size / 3` over [-2.2, 0.8] x
//! [-1, 1].
//!
//! Checks: the counts against a sequential Rust run of the same f32 iteration:
//! a GPU that fuses multiply-adds can differ near the set's boundary, where
//! iterations are chaotic, so a tiny fraction of pixels may differ; and a pixel
//! deep inside the set (count = `MAX_ITER`) and a corner pixel far outside
//! (count 1).
//!
//! Run: `cargo run --release --example mandelbrot [width]`; the image goes to
//! `target/mandelbrot.png` (or `$CARGO_TARGET_DIR/mandelbrot.png`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::Context;

/// Image width of the default run.
const DEFAULT_WIDTH: usize = 1200;
const MAX_ITER: u32 = 256;
/// The fraction of pixels whose counts may differ from the reference (float
/// differences near the boundary), plus half a row (small images are mostly boundary).
const MAX_DIFFERING: f64 = 0.005;

const MANDELBROT_WGSL: &str = r#"
struct P { w: u32, h: u32, max_iter: u32, pad: u32, x0: f32, y0: f32, step: f32, pad2: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lid;
    if (i >= p.w * p.h) {
        return;
    }
    let cx = p.x0 + (f32(i % p.w) + 0.5) * p.step;
    let cy = p.y0 + (f32(i / p.w) + 0.5) * p.step;
    var zx = 0.0;
    var zy = 0.0;
    var k = 0u;
    loop {
        if (k >= p.max_iter) { break; }
        let x2 = zx * zx;
        let y2 = zy * zy;
        if (x2 + y2 > 4.0) { break; }
        zy = 2.0 * zx * zy + cy;
        zx = x2 - y2 + cx;
        k = k + 1u;
    }
    counts[i] = k;
}
"#;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    w: u32,
    h: u32,
    max_iter: u32,
    pad: u32,
    x0: f32,
    y0: f32,
    step: f32,
    pad2: f32,
}

/// The count of pixel `(px, py)`, exactly as the kernel computes it.
fn count(p: &Params, px: usize, py: usize) -> u32 {
    let cx = p.x0 + (px as f32 + 0.5) * p.step;
    let cy = p.y0 + (py as f32 + 0.5) * p.step;
    let (mut zx, mut zy, mut k) = (0.0f32, 0.0f32, 0u32);
    while k < p.max_iter {
        let (x2, y2) = (zx * zx, zy * zy);
        if x2 + y2 > 4.0 {
            break;
        }
        zy = 2.0 * zx * zy + cy;
        zx = x2 - y2 + cx;
        k += 1;
    }
    k
}

/// The Rust twin of `main`: rows on rayon.
fn render_cpu(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let p = args.uniform::<Params>(0)?;
    let w = p.w as usize;
    args.write::<u32>(1)?
        .par_chunks_mut(w)
        .enumerate()
        .for_each(|(py, row)| {
            for (px, c) in row.iter_mut().enumerate() {
                *c = count(&p, px, py);
            }
        });
    Ok(())
}

/// Counts to colours: black inside, a blue-to-gold ramp outside.
fn colour(k: u32) -> [u8; 3] {
    if k >= MAX_ITER {
        return [0, 0, 0];
    }
    let t = (k as f64 + 1.0).ln() / (MAX_ITER as f64).ln();
    let ramp = |a: f64, b: f64| (255.0 * (a + (b - a) * t)).clamp(0.0, 255.0) as u8;
    [ramp(0.0, 1.0), ramp(0.05, 0.85), ramp(0.3, 0.2)]
}

fn write_png(path: &Path, w: usize, h: usize, counts: &[u32]) -> Result<(), Box<dyn Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = png::Encoder::new(file, w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    let rgb: Vec<u8> = counts.iter().flat_map(|&k| colour(k)).collect();
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(())
}

/// Renders a `width` x `2 width / 3` image on the context's chosen side,
/// checks it against a sequential run, and writes it to `png` when given.
///
/// # Errors
/// A tandem error, an I/O or PNG error, or a message when a check fails.
pub fn run_on(ctx: &Context, width: usize, png: Option<&Path>) -> Result<String, Box<dyn Error>> {
    let (w, h) = (width, width * 2 / 3);
    // Below 30 pixels the known pixels below fall elsewhere.
    if !(30..=1 << 15).contains(&w) {
        return Err(format!("mandelbrot: width {w} is outside 30..=32768").into());
    }
    let kernel = WgslKernel::new("mandelbrot", MANDELBROT_WGSL, "main")?
        .expect_bindings(&[Binding::Uniform, Binding::ReadWrite])?;
    let step = 3.0 / w as f32;
    let params = Params {
        w: w as u32,
        h: h as u32,
        max_iter: MAX_ITER,
        pad: 0,
        x0: -2.2,
        y0: -(h as f32) * step / 2.0,
        step,
        pad2: 0.0,
    };

    ctx.clear_runs();
    let start = Instant::now();
    let mut counts = ctx.zeros::<u32>(w * h)?;
    ctx.run_wgsl(
        &kernel,
        w * h,
        &mut [Arg::uniform(&params), Arg::write(&mut counts)],
        render_cpu,
    )?;
    let got = counts.to_vec()?;
    let elapsed = start.elapsed();

    let ref_start = Instant::now();
    let want: Vec<u32> = (0..w * h).map(|i| count(&params, i % w, i / w)).collect();
    let ref_elapsed = ref_start.elapsed();

    let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
    let frac = differing as f64 / (w * h) as f64;
    if differing as f64 > MAX_DIFFERING * (w * h) as f64 + (w / 2) as f64 {
        return Err(format!(
            "mandelbrot: {differing} of {} pixels ({:.3}%) differ from the reference",
            w * h,
            100.0 * frac
        )
        .into());
    }
    // c = (-0.2, 0) lies deep inside the main cardioid; the corner c ~ (-2.2, -1) escapes at once.
    let inside_px = ((-0.2 - params.x0) / step) as usize;
    let inside = got[(h / 2) * w + inside_px];
    if inside != MAX_ITER || got[0] != 1 {
        return Err(format!(
            "mandelbrot: known pixels wrong: inside count {inside} (want {MAX_ITER}), corner {} (want 1)",
            got[0]
        )
        .into());
    }
    let in_set = got.iter().filter(|&&k| k == MAX_ITER).count();
    let area = in_set as f64 * (step as f64).powi(2);
    let written = match png {
        Some(path) => {
            write_png(path, w, h, &got)?;
            format!(", written to {}", path.display())
        }
        None => String::new(),
    };
    Ok(format!(
        "mandelbrot: {w} x {h} pixels, up to {MAX_ITER} iterations, in {elapsed:.2?} \
         (sequential reference: {ref_elapsed:.2?}){written}\n  \
         {differing} pixels differ from the reference; area estimate {area:.4} (1.5066 in the limit){}",
        ctx.run_summary()
    ))
}

/// Where the image goes: `$CARGO_TARGET_DIR` or this crate's `target/`.
pub fn output_path() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("mandelbrot.png")
}

/// [`run_on`] with a `Context::new()` (Policy::Auto, or `TANDEM_BACKEND`),
/// writing the image to [`output_path`].
///
/// # Errors
/// As [`run_on`], or when no context can be built.
pub fn run(width: usize) -> Result<String, Box<dyn Error>> {
    let ctx = Context::new()?;
    let gpu = ctx.gpu_info().map_or_else(
        || "no GPU".to_string(),
        |g| format!("GPU: {} ({})", g.name, g.backend),
    );
    Ok(format!(
        "[{gpu}] {}",
        run_on(&ctx, width, Some(&output_path()))?
    ))
}

fn main() {
    let size = match std::env::args().nth(1).map(|s| s.parse::<usize>()) {
        None => DEFAULT_WIDTH,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: mandelbrot [width]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("mandelbrot failed: {e}");
            std::process::exit(1);
        }
    }
}
