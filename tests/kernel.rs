//! User expression kernels: parity on every side through `tandem::testing`,
//! past the GPU limits, and typed errors for bad kernels and bad inputs.

mod common;

use tandem::testing::{check_map, check_map_reduce, check_map_with, Tolerance};
use tandem::{map_kernel, Context, ErrorKind, Policy};

fn ctx() -> Context {
    // Makes the GPU side required under TANDEM_REQUIRE_GPU=1, or prints the skip line.
    common::sides();
    common::context().clone()
}

#[test]
fn float_kernels_match_on_every_side() {
    let ctx = ctx();
    let axpy = map_kernel!(f32, |x, y; a| a * x + y).unwrap();
    eprintln!(
        "{}",
        check_map(&ctx, &axpy, [2.5], Tolerance::float(1e-6)).unwrap()
    );
    let norm = map_kernel!(f32, |x, y, z| sqrt(x * x + y * y + z * z)).unwrap();
    check_map(&ctx, &norm, [], Tolerance::float(1e-6)).unwrap();
    let leaky = map_kernel!(f32, |x; leak| select(leak * x, x, x > 0.0)).unwrap();
    check_map(&ctx, &leaky, [0.125], Tolerance::EXACT).unwrap();
    let four = map_kernel!(f32, |a, b, c, d; s, t| clamp(a * s - b, -t, t) + fma(c, d, 1.0) + abs(min(a, b) - max(c, d))).unwrap();
    check_map(&ctx, &four, [1.5, 2.0], Tolerance::float(1e-6)).unwrap();
    let wave = map_kernel!(f32, |x| sin(x) * cos(x) + exp(x * 0.25) - log(abs(x) + 1.0)
        + pow(abs(x), 1.5))
    .unwrap();
    check_map(
        &ctx,
        &wave,
        [],
        Tolerance {
            abs: 1e-5,
            rel: 1e-5,
        },
    )
    .unwrap();
}

#[test]
fn integer_kernels_match_exactly() {
    let ctx = ctx();
    let k = map_kernel!(i32, |x, y; m| clamp(x * m - y, -500, 500) + abs(y) * select(1, -1, x < y))
        .unwrap();
    check_map(&ctx, &k, [7], Tolerance::EXACT).unwrap();
    let u = map_kernel!(u32, |x, y| (x * 2654435761 + y) % 1000 + max(x, y) / 3).unwrap();
    // Small data keeps the CPU side's multiplication from overflowing in debug builds.
    check_map_with(
        &ctx,
        &u,
        [],
        Tolerance::EXACT,
        tandem::testing::AWKWARD_SIZES,
        |j, i| ((i * 31 + j) % 1000) as u32,
    )
    .unwrap();
}

#[test]
fn f64_kernels_run_where_the_adapter_has_f64() {
    let ctx = ctx();
    let k = map_kernel!(f64, |x, y; a| a * x * x + y).unwrap();
    let report = check_map(&ctx, &k, [0.5], Tolerance::float(1e-14)).unwrap();
    let has_f64 = ctx.gpu_info().is_some_and(|g| g.f64);
    assert_eq!(report.sides.contains(&"gpu"), has_f64);
}

/// f64 generated kernels must take the plain variant (no subgroup arithmetic
/// on f64) even on an adapter with subgroups, as built-in kernels do.
#[test]
fn f64_map_reduce_runs_where_the_adapter_has_f64() {
    let ctx = ctx();
    let k = map_kernel!(f64, |x, y; a| a * x * y + x).unwrap();
    let report = check_map_reduce(&ctx, &k, [0.75], Tolerance::float(1e-12)).unwrap();
    let has_f64 = ctx.gpu_info().is_some_and(|g| g.f64);
    assert_eq!(report.sides.contains(&"gpu"), has_f64, "{report}");
    for (side, c) in common::sides() {
        if !common::side_runs::<f64>(side, &c) {
            continue;
        }
        let xs: Vec<f64> = (0..70_001).map(|i| (i % 97) as f64 * 0.5 - 20.0).collect();
        let x = c.upload(&xs).unwrap();
        let ident = map_kernel!(f64, |x| x).unwrap();
        let want: f64 = xs.iter().sum();
        let got = c.map_reduce(&ident, [&x], []).unwrap();
        // Halves of integers below 2^20: every partial sum is exact.
        assert_eq!(got, want, "{side}");
    }
}

#[test]
fn map_reduce_sums_the_mapped_values() {
    let ctx = ctx();
    let squares = map_kernel!(f32, |x| x * x).unwrap();
    check_map_reduce(&ctx, &squares, [], Tolerance::float(1e-5)).unwrap();
    let twisted_dot = map_kernel!(f32, |x, y; c| x * y - c * abs(x - y)).unwrap();
    check_map_reduce(&ctx, &twisted_dot, [0.25], Tolerance::float(1e-5)).unwrap();
    let count_positive = map_kernel!(i32, |x| select(0, 1, x > 0)).unwrap();
    check_map_reduce(&ctx, &count_positive, [], Tolerance::EXACT).unwrap();
    // Against the built-in reductions, on every side.
    for (side, c) in common::sides() {
        let xs: Vec<i32> = (0..100_000).map(|i| i % 201 - 100).collect();
        let x = c.upload(&xs).unwrap();
        let ident = map_kernel!(i32, |x| x).unwrap();
        assert_eq!(
            c.map_reduce(&ident, [&x], []).unwrap(),
            c.sum(&x).unwrap(),
            "{side}"
        );
        let e = c.upload::<i32>(&[]).unwrap();
        assert_eq!(c.map_reduce(&ident, [&e], []).unwrap(), 0, "{side}");
        assert!(c.map(&ident, [&e], []).unwrap().is_empty(), "{side}");
    }
}

#[test]
fn kernels_run_past_the_dispatch_and_binding_limits() {
    let Some(gpu) = common::gpu() else { return };
    let k = map_kernel!(u32, |x, y; a| x * a + y).unwrap();
    let n = 65_535 * 256 + 1;
    let sizes = [n];
    check_map_with(&gpu, &k, [3], Tolerance::EXACT, &sizes, |j, i| {
        (i as u32) ^ (j as u32 * 7)
    })
    .unwrap();
    let small = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    check_map_with(
        &small,
        &k,
        [3],
        Tolerance::EXACT,
        &[16_383, 16_384, 16_385, 100_003],
        |j, i| (i * (j + 1)) as u32,
    )
    .unwrap();
    let sq = map_kernel!(u32, |x| x * x).unwrap();
    let xs: Vec<u32> = (0..100_003).collect();
    let x = small.upload(&xs).unwrap();
    let want = xs
        .iter()
        .fold(0u32, |a, &v| a.wrapping_add(v.wrapping_mul(v)));
    assert_eq!(small.map_reduce(&sq, [&x], []).unwrap(), want);
}

#[test]
fn an_expression_that_is_not_wgsl_is_a_shader_error_with_the_expression() {
    // Valid Rust, not valid WGSL: a method call.
    let e = map_kernel!(f32, |x| x.sqrt()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShaderCompile, "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("x.sqrt()"),
        "the message quotes the expression: {msg}"
    );
    // A Rust literal suffix is not WGSL either.
    let e = map_kernel!(f32, |x| x * 2.0f32).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShaderCompile, "{e}");
    // A comparison is not a value.
    let e = tandem::MapKernel::<f32, 1, 0, _>::new("x > 1.0", ["x"], [], |[x], []| x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShaderCompile, "{e}");
    // Five inputs are refused.
    let e =
        tandem::MapKernel::<f32, 5, 0, _>::new("a", ["a", "b", "c", "d", "e"], [], |[a, ..], []| a)
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn mismatched_inputs_are_a_typed_error_on_every_side() {
    let k = map_kernel!(f32, |x, y| x + y).unwrap();
    for (side, c) in common::sides() {
        let a = c.upload(&[1.0f32, 2.0]).unwrap();
        let b = c.upload(&[1.0f32]).unwrap();
        assert_eq!(
            c.map(&k, [&a, &b], []).unwrap_err().kind(),
            ErrorKind::LengthMismatch,
            "{side}"
        );
        assert_eq!(
            c.map_reduce(&k, [&a, &b], []).unwrap_err().kind(),
            ErrorKind::LengthMismatch,
            "{side}"
        );
        assert_eq!(a.to_vec().unwrap(), [1.0, 2.0]);
    }
}

const SAXPY: &str = r#"
struct P { n: u32, a: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.y * nwg.x + wg.x) * 64u + lid;
    if (i < p.n) {
        y[i] = p.a * x[i] + y[i];
    }
}
"#;

fn saxpy_twin(args: &mut tandem::kernel::CpuArgs) -> tandem::Result<()> {
    let [n, a] = args.uniform::<[u32; 2]>(0)?;
    let x = args.read::<f32>(1)?;
    let y = args.write::<f32>(2)?;
    for i in 0..n as usize {
        y[i] += f32::from_bits(a) * x[i];
    }
    Ok(())
}

use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};

#[test]
fn wgsl_kernels_run_on_every_side_past_the_dispatch_limit() {
    let k = WgslKernel::new("saxpy", SAXPY, "main")
        .unwrap()
        .expect_bindings(&[Binding::Uniform, Binding::ReadOnly, Binding::ReadWrite])
        .unwrap();
    assert_eq!(k.workgroup_size(), 64);
    // 65,535 * 64 + 1 invocations need 65,536 workgroups: a folded grid.
    for n in [1usize, 63, 64, 65, 100_003, 65_535 * 64 + 1] {
        let xs: Vec<f32> = (0..n).map(|i| (i % 97) as f32).collect();
        let ys: Vec<f32> = (0..n).map(|i| (i % 13) as f32).collect();
        let want: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| 1.5 * x + y).collect();
        for (side, c) in common::sides() {
            let x = c.upload(&xs).unwrap();
            let mut y = c.upload(&ys).unwrap();
            let params = [n as u32, 1.5f32.to_bits()];
            c.run_wgsl(
                &k,
                n,
                &mut [Arg::uniform(&params), Arg::read(&x), Arg::write(&mut y)],
                saxpy_twin,
            )
            .unwrap();
            assert_eq!(y.to_vec().unwrap(), want, "{side} n={n}");
            assert_eq!(
                x.to_vec().unwrap(),
                xs,
                "{side}: a read buffer is unchanged"
            );
        }
    }
}

#[test]
fn bad_wgsl_kernels_and_arguments_are_typed_errors() {
    // Does not compile: naga's message with the line.
    let e = WgslKernel::new(
        "broken.wgsl",
        "@compute @workgroup_size(1)\nfn main() {\n  let x: u32 = 1.5;\n}",
        "main",
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShaderCompile, "{e}");
    assert!(e.to_string().contains("broken.wgsl:3"), "{e}");
    // No such entry point.
    let e = WgslKernel::new("saxpy", SAXPY, "nope").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // Declared bindings that differ from the WGSL.
    let e = WgslKernel::new("saxpy", SAXPY, "main")
        .unwrap()
        .expect_bindings(&[Binding::Uniform, Binding::ReadWrite])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = WgslKernel::from_file("/no/such/kernel.wgsl", "main").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");

    let k = WgslKernel::new("saxpy", SAXPY, "main").unwrap();
    for (side, c) in common::sides() {
        let x = c.upload(&[1.0f32; 4]).unwrap();
        let mut y = c.upload(&[2.0f32; 4]).unwrap();
        let params = [4u32, 1.0f32.to_bits()];
        // Too few arguments.
        let e = c
            .run_wgsl(
                &k,
                4,
                &mut [Arg::uniform(&params), Arg::read(&x)],
                saxpy_twin,
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        // A read buffer where the kernel writes.
        let y2 = c.upload(&[2.0f32; 4]).unwrap();
        let e = c
            .run_wgsl(
                &k,
                4,
                &mut [Arg::uniform(&params), Arg::read(&x), Arg::read(&y2)],
                saxpy_twin,
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        assert_eq!(y.to_vec().unwrap(), [2.0; 4], "{side}: nothing was written");
        // A twin that reads the wrong type (only the CPU side runs the twin).
        if side == "cpu" {
            let e = c
                .run_wgsl(
                    &k,
                    4,
                    &mut [Arg::uniform(&params), Arg::read(&x), Arg::write(&mut y)],
                    |a| a.read::<u32>(1).map(|_| ()),
                )
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        }
    }
}

#[test]
fn a_wgsl_kernel_buffer_past_the_binding_limit_runs_the_twin_under_auto() {
    if common::gpu().is_none() {
        return;
    }
    let k = WgslKernel::new("saxpy", SAXPY, "main").unwrap();
    let gpu = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    let n = 20_000; // 80,000 bytes > 64 KiB
    let x = gpu.upload(&vec![1.0f32; n]).unwrap();
    let mut y = gpu.upload(&vec![1.0f32; n]).unwrap();
    let params = [n as u32, 2.0f32.to_bits()];
    let e = gpu
        .run_wgsl(
            &k,
            n,
            &mut [Arg::uniform(&params), Arg::read(&x), Arg::write(&mut y)],
            saxpy_twin,
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert_eq!(y.to_vec().unwrap(), vec![1.0; n], "nothing was written");
    let auto = gpu.with_policy(Policy::Auto);
    auto.run_wgsl(
        &k,
        n,
        &mut [Arg::uniform(&params), Arg::read(&x), Arg::write(&mut y)],
        saxpy_twin,
    )
    .unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![3.0; n]);
}

#[test]
fn integer_literals_take_the_kernel_type() {
    let ctx = ctx();
    let k = map_kernel!(u32, |s| select(0, 1, s >= 500) + min(s, 7)).unwrap();
    check_map(&ctx, &k, [], Tolerance::EXACT).unwrap();
    let k = map_kernel!(i32, |s; t| select(-1, 1, s >= t) * abs(s)).unwrap();
    check_map(&ctx, &k, [3], Tolerance::EXACT).unwrap();
}
