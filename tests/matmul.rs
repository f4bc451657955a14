//! `matmul` and `transpose` on every side: against plain sequential references
//! (an f64 triple loop for matmul), over shapes at and around the GPU tiles
//! (128 x 128 blocks, k-tiles of 8; 32 x 32 transpose tiles), primes, degenerate
//! and zero dimensions, past the 65,535-workgroup limit and past the storage
//! binding limit; plus a typed error per bad shape.

mod common;

use common::{data, side_runs, sides, Pattern, TestElement};
use tandem::{Context, ErrorKind, Policy, Side};

/// (m, k, n) shapes: tiny, degenerate, primes, around the tiles, non-square.
fn shapes() -> Vec<(usize, usize, usize)> {
    vec![
        (1, 1, 1),
        (1, 100, 1),
        (1, 1000, 1),
        (50, 1, 40),
        (2, 3, 4),
        (7, 13, 5),
        (61, 67, 71),
        (63, 63, 63),
        (64, 64, 64),
        (65, 65, 65),
        (127, 127, 127),
        (128, 128, 128),
        (129, 129, 129),
        (127, 128, 129),
        (129, 7, 127),
        (1, 9, 300),
        (300, 9, 1),
        (300, 257, 190),
    ]
}

/// The f64 product and, per entry, `sum_p |a_ip| |b_pj|` (for the tolerance).
fn reference(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut c = vec![0.0f64; m * n];
    let mut mag = vec![0.0f64; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p] as f64;
            for j in 0..n {
                let y = b[p * n + j] as f64;
                c[i * n + j] += x * y;
                mag[i * n + j] += (x * y).abs();
            }
        }
    }
    (c, mag)
}

/// The documented bound: `|c - exact| <= k * eps * sum |a||b|`.
fn check_close(what: &str, got: &[f32], want: &[f64], mag: &[f64], k: usize) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(mag).enumerate() {
        let tol = k as f64 * f32::EPSILON as f64 * s + 1e-30;
        let err = (g as f64 - w).abs();
        assert!(
            err <= tol,
            "{what}: C[{i}] = {g}, want {w} (error {err:e} > tolerance {tol:e})"
        );
    }
}

fn check_exact(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g as f64, w, "{what}: C[{i}]");
    }
}

#[test]
fn matmul_matches_the_f64_reference() {
    for (side, ctx) in sides() {
        for (m, k, n) in shapes() {
            for pattern in [Pattern::Random, Pattern::SmallInts] {
                let av = data::<f32>(pattern, m * k, 1);
                let bv = data::<f32>(pattern, k * n, 2);
                let (want, mag) = reference(&av, &bv, m, k, n);
                let what = format!("{side} {m}x{k}x{n} {pattern:?}");
                let a = ctx.upload(&av).unwrap();
                let b = ctx.upload(&bv).unwrap();
                let c = ctx.matmul(&a, &b, m, k, n).unwrap();
                assert_eq!(c.len(), m * n, "{what}");
                let got = c.to_vec().unwrap();
                if pattern == Pattern::SmallInts {
                    // |entries| <= 8, k <= 1000: every partial sum is an integer below 2^24.
                    check_exact(&what, &got, &want);
                } else {
                    check_close(&what, &got, &want, &mag, k);
                }
            }
        }
    }
}

#[test]
fn matmul_sides_agree_exactly_on_small_integers() {
    let sides = sides();
    let (m, k, n) = (200, 301, 170);
    let av = data::<f32>(Pattern::SmallInts, m * k, 3);
    let bv = data::<f32>(Pattern::SmallInts, k * n, 4);
    let results: Vec<Vec<f32>> = sides
        .iter()
        .map(|(_, ctx)| {
            let (a, b) = (ctx.upload(&av).unwrap(), ctx.upload(&bv).unwrap());
            ctx.matmul(&a, &b, m, k, n).unwrap().to_vec().unwrap()
        })
        .collect();
    for r in &results[1..] {
        assert!(r.iter().zip(&results[0]).all(|(x, y)| x.same(*y)));
    }
}

#[test]
fn matmul_propagates_nan_and_infinity() {
    for (side, ctx) in sides() {
        let (m, k, n) = (3, 4, 5);
        let mut av = vec![1.0f32; m * k];
        av[0] = f32::NAN; // row 0 of C is NaN
        av[k + 1] = f32::INFINITY; // row 1 of C is +inf (B is all ones)
        let bv = vec![1.0f32; k * n];
        let (a, b) = (ctx.upload(&av).unwrap(), ctx.upload(&bv).unwrap());
        let c = ctx.matmul(&a, &b, m, k, n).unwrap().to_vec().unwrap();
        assert!(c[..n].iter().all(|v| v.is_nan()), "{side}: {c:?}");
        assert!(c[n..2 * n].iter().all(|&v| v == f32::INFINITY), "{side}");
        assert!(c[2 * n..].iter().all(|&v| v == 4.0), "{side}");
    }
}

#[test]
fn matmul_with_a_zero_dimension_is_answered_on_the_host() {
    for (side, ctx) in sides() {
        // k == 0: C is m x n zeros.
        let (a, b) = (
            ctx.upload::<f32>(&[]).unwrap(),
            ctx.upload::<f32>(&[]).unwrap(),
        );
        let c = ctx.matmul(&a, &b, 3, 0, 4).unwrap();
        assert_eq!(c.to_vec().unwrap(), vec![0.0; 12], "{side}");
        assert_eq!(ctx.last_run().unwrap().side, Side::Cpu, "{side}");
        // m == 0 or n == 0: C is empty.
        let b = ctx.upload(&[1.0f32; 6]).unwrap();
        let c = ctx.matmul(&a, &b, 0, 2, 3).unwrap();
        assert!(c.is_empty(), "{side}");
        let a2 = ctx.upload(&[1.0f32; 6]).unwrap();
        let c = ctx.matmul(&a2, &a, 3, 2, 0).unwrap();
        assert!(c.is_empty(), "{side}");
        assert_eq!(ctx.last_run().unwrap().side, Side::Cpu, "{side}");
    }
}

#[test]
fn matmul_bad_shapes_are_typed_errors() {
    for (side, ctx) in sides() {
        let a = ctx.upload(&[1.0f32; 6]).unwrap();
        let b = ctx.upload(&[1.0f32; 12]).unwrap();
        assert!(ctx.matmul(&a, &b, 2, 3, 4).is_ok(), "{side}");
        let e = ctx.matmul(&a, &b, 3, 3, 4).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        let e = ctx.matmul(&a, &b, 2, 3, 5).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        let e = ctx.matmul(&a, &b, usize::MAX, 2, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        let e = ctx.matmul(&a, &b, 1, usize::MAX / 2, 4).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        // The inputs are intact.
        assert_eq!(a.to_vec().unwrap(), vec![1.0; 6]);
    }
}

/// A context whose GPU binds at most 64 KiB at once, under `policy`.
fn small_binding(policy: Policy) -> Option<Context> {
    common::gpu()?;
    Some(
        Context::builder()
            .policy(policy)
            .storage_binding_limit(64 << 10)
            .build()
            .unwrap(),
    )
}

#[test]
fn matmul_past_the_binding_limit_bands_a_and_c() {
    let Some(ctx) = small_binding(Policy::Gpu) else {
        return;
    };
    let cpu = ctx.with_policy(Policy::Cpu);
    // A is 411 x 100 (164 KB) and C 411 x 60 (99 KB), both past 64 KiB; B fits.
    for (m, k, n) in [(411, 100, 60), (1000, 3, 129)] {
        let av = data::<f32>(Pattern::SmallInts, m * k, 5);
        let bv = data::<f32>(Pattern::SmallInts, k * n, 6);
        let (a, b) = (ctx.upload(&av).unwrap(), ctx.upload(&bv).unwrap());
        let g = ctx.matmul(&a, &b, m, k, n).unwrap().to_vec().unwrap();
        assert_eq!(ctx.last_run().unwrap().side, Side::Gpu);
        let c = cpu.matmul(&a, &b, m, k, n).unwrap().to_vec().unwrap();
        assert_eq!(g, c, "{m}x{k}x{n}");
    }
}

#[test]
fn matmul_with_b_past_the_binding_limit_is_limit_exceeded_on_the_gpu() {
    let Some(ctx) = small_binding(Policy::Gpu) else {
        return;
    };
    let (m, k, n) = (4, 200, 100); // B: 80 KB > 64 KiB
    let av = data::<f32>(Pattern::SmallInts, m * k, 7);
    let bv = data::<f32>(Pattern::SmallInts, k * n, 8);
    let (a, b) = (ctx.upload(&av).unwrap(), ctx.upload(&bv).unwrap());
    let e = ctx.matmul(&a, &b, m, k, n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    // Auto (forced to try the GPU) falls back to the CPU, with the right answer.
    let auto = Context::builder()
        .policy(Policy::Auto)
        .storage_binding_limit(64 << 10)
        .gpu_crossover(0)
        .build()
        .unwrap();
    let (a, b) = (auto.upload(&av).unwrap(), auto.upload(&bv).unwrap());
    let c = auto.matmul(&a, &b, m, k, n).unwrap().to_vec().unwrap();
    let run = auto.last_run().unwrap();
    assert_eq!(run.side, Side::Cpu);
    assert!(run.fallback.is_some(), "{run:?}");
    let (want, _) = reference(&av, &bv, m, k, n);
    check_exact("auto fallback", &c, &want);
}

/// Plain sequential transpose.
fn transpose_ref<T: Copy>(a: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len());
    for j in 0..cols {
        for i in 0..rows {
            out.push(a[i * cols + j]);
        }
    }
    out
}

fn transpose_shapes() -> Vec<(usize, usize)> {
    vec![
        (1, 1),
        (1, 2),
        (2, 1),
        (1, 1000),
        (1000, 1),
        (3, 100),
        (100, 3),
        (31, 33),
        (32, 32),
        (33, 31),
        (63, 64),
        (65, 129),
        (257, 300),
        // CPU parallel paths: many bands, and few columns with many rows.
        (700, 600),
        (20_000, 3),
        (3, 20_000),
    ]
}

fn transposes<T: TestElement>() {
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for (rows, cols) in transpose_shapes() {
            let pattern = if T::IS_FLOAT {
                Pattern::Special
            } else {
                Pattern::Random
            };
            let av = data::<T>(pattern, rows * cols, 9);
            let a = ctx.upload(&av).unwrap();
            let got = ctx.transpose(&a, rows, cols).unwrap().to_vec().unwrap();
            let want = transpose_ref(&av, rows, cols);
            let what = format!("{side} {} {rows}x{cols}", std::any::type_name::<T>());
            assert_eq!(got.len(), want.len(), "{what}");
            assert!(
                got.iter().zip(&want).all(|(g, w)| g.same(*w)),
                "{what}: differs"
            );
            // Transposing back gives the input.
            let back = ctx.transpose(&ctx.upload(&got).unwrap(), cols, rows);
            let back = back.unwrap().to_vec().unwrap();
            assert!(
                back.iter().zip(&av).all(|(g, w)| g.same(*w)),
                "{what}: back"
            );
        }
    }
}

#[test]
fn transpose_f32() {
    transposes::<f32>();
}

#[test]
fn transpose_i32() {
    transposes::<i32>();
}

#[test]
fn transpose_u32() {
    transposes::<u32>();
}

#[test]
fn transpose_f64() {
    transposes::<f64>();
}

#[test]
fn transpose_of_empty_and_bad_shapes() {
    for (side, ctx) in sides() {
        let e = ctx.upload::<u32>(&[]).unwrap();
        assert!(ctx.transpose(&e, 0, 5).unwrap().is_empty(), "{side}");
        assert!(ctx.transpose(&e, 5, 0).unwrap().is_empty(), "{side}");
        let a = ctx.upload(&[1u32, 2, 3, 4, 5, 6]).unwrap();
        assert_eq!(
            ctx.transpose(&a, 2, 3).unwrap().to_vec().unwrap(),
            vec![1, 4, 2, 5, 3, 6],
            "{side}"
        );
        let err = ctx.transpose(&a, 2, 4).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LengthMismatch, "{side}: {err}");
        let err = ctx.transpose(&a, usize::MAX, 2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{side}: {err}");
        assert_eq!(a.to_vec().unwrap(), vec![1, 2, 3, 4, 5, 6]);
    }
}

#[test]
fn transpose_past_the_dispatch_limit() {
    let Some(gpu) = common::gpu() else { return };
    if gpu.gpu_info().is_some_and(|g| g.backend == "Gl") {
        // llvmpipe's GL spends about 0.4 ms per workgroup of this kernel (the
        // Vulkan lavapipe far less): 130,000 workgroups would take a minute and
        // hold the GL context past wgpu's 6 s lock timeout for other threads. The
        // grid folding is the same WGSL and host code on every backend.
        eprintln!("transpose past 65,535 workgroups: skipped on GL (runs on Vulkan)");
        return;
    }
    // 2,100,000 / 32 = 65,625 tiles in one row of tiles: past 65,535 workgroups.
    let n = 2_100_000;
    let av = data::<u32>(Pattern::Random, n, 10);
    let a = gpu.upload(&av).unwrap();
    for (rows, cols) in [(1, n), (n, 1)] {
        let got = gpu.transpose(&a, rows, cols).unwrap().to_vec().unwrap();
        assert_eq!(got, av, "{rows}x{cols}");
    }
    // And a 2-D one: 2 x 1,050,000 (65,625 tiles).
    let got = gpu.transpose(&a, 2, n / 2).unwrap().to_vec().unwrap();
    assert_eq!(got, transpose_ref(&av, 2, n / 2));
}

#[test]
fn transpose_past_the_binding_limit() {
    let Some(ctx) = small_binding(Policy::Gpu) else {
        return;
    };
    // 300 x 257 u32 is 308 KB: about 5 x 5 bands of a 64 KiB binding.
    for (rows, cols) in [(300, 257), (5000, 7), (7, 5000)] {
        let av = data::<u32>(Pattern::Random, rows * cols, 11);
        let a = ctx.upload(&av).unwrap();
        let got = ctx.transpose(&a, rows, cols).unwrap().to_vec().unwrap();
        assert_eq!(got, transpose_ref(&av, rows, cols), "{rows}x{cols}");
    }
    if ctx.gpu_info().is_some_and(|g| g.f64) {
        let av = data::<f64>(Pattern::Special, 100 * 90, 12);
        let a = ctx.upload(&av).unwrap();
        let got = ctx.transpose(&a, 100, 90).unwrap().to_vec().unwrap();
        let want = transpose_ref(&av, 100, 90);
        assert!(got.iter().zip(&want).all(|(g, w)| g.same(*w)));
    }
    // One row longer than a binding cannot be windowed.
    let n = (64 << 10) / 4 + 100;
    let a = ctx.upload(&vec![1u32; n]).unwrap();
    let e = ctx.transpose(&a, 1, n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
}
