//! Custom kernels, written once, run on either side.
//!
//! 1. An expression kernel: `map_kernel!` turns one expression into a rayon
//!    closure and a WGSL kernel; `ctx.map` and `ctx.map_reduce` run it where the
//!    dispatcher says.
//! 2. A hand-written WGSL kernel with a Rust twin, through `ctx.run_wgsl`.
//! 3. `tandem::testing::check_map`: the kernel on every side over the awkward sizes.
//!
//! Run: `cargo run --release --example custom_kernel`

use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::testing::{check_map, Tolerance};
use tandem::{map_kernel, Context};

const CLAMP_WGSL: &str = r#"
struct P { n: u32, lo: f32, hi: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 128u + lid;
    if (i < p.n) {
        x[i] = clamp(x[i], p.lo, p.hi);
    }
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = Context::new()?;
    println!("GPU: {}", ctx.gpu_info().map_or("none".into(), |g| g.name));

    // 1. Expression kernels: a soft-thresholded distance and its sum.
    let dist = map_kernel!(f32, |x, y; t| max(sqrt(x * x + y * y) - t, 0.0))?;
    let n = 1 << 20;
    let xs: Vec<f32> = (0..n).map(|i| ((i % 200) as f32 - 100.0) * 0.01).collect();
    let ys: Vec<f32> = (0..n).map(|i| ((i % 77) as f32 - 38.0) * 0.02).collect();
    let (x, y) = (ctx.upload(&xs)?, ctx.upload(&ys)?);
    let d = ctx.map(&dist, [&x, &y], [0.5])?;
    let total = ctx.map_reduce(&dist, [&x, &y], [0.5])?;
    let want: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(&a, &b)| ((a * a + b * b).sqrt() - 0.5).max(0.0) as f64)
        .sum();
    assert!((total as f64 - want).abs() <= 1e-4 * want.abs().max(1.0));
    println!(
        "map: {} elements on the {:?}; map_reduce = {total} (reference {want:.1})",
        d.len(),
        ctx.last_run().map(|r| r.side)
    );

    // 2. Hand-written WGSL with a Rust twin.
    let clamp = WgslKernel::new("clamp", CLAMP_WGSL, "main")?
        .expect_bindings(&[Binding::Uniform, Binding::ReadWrite])?;
    let mut v = ctx.upload(&xs)?;
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct P {
        n: u32,
        lo: f32,
        hi: f32,
    }
    let p = P {
        n: n as u32,
        lo: -0.25,
        hi: 0.25,
    };
    ctx.run_wgsl(
        &clamp,
        n,
        &mut [Arg::uniform(&p), Arg::write(&mut v)],
        |args| {
            let p = args.uniform::<P>(0)?;
            for x in args.write::<f32>(1)? {
                *x = x.clamp(p.lo, p.hi);
            }
            Ok(())
        },
    )?;
    assert!(v.to_vec()?.iter().all(|x| (-0.25..=0.25).contains(x)));
    println!(
        "run_wgsl: clamped on the {:?}",
        ctx.last_run().map(|r| r.side)
    );

    // 3. Check the expression kernel on every side over the awkward sizes.
    println!("{}", check_map(&ctx, &dist, [0.5], Tolerance::float(1e-6))?);
    Ok(())
}
