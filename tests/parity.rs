//! The parity suite: every op, on every side this machine has, against a plain
//! sequential reference, over the awkward sizes and the data patterns named in
//! the README's "Tests and CI".
//! Written once; `common::sides()` supplies the CPU and, when present, the GPU.

mod common;

use common::{
    data, patterns, reference, side_runs, sides, sides_with_split, sizes, Pattern, TestElement,
};
use tandem::{Context, Policy, Residency, Side};

/// Checks a float or integer sum against the reference: integers and
/// small-integer floats exactly, other floats within the documented bound.
fn check_sum<T: TestElement>(
    what: &str,
    got: T,
    exact: T,
    (approx, magnitude): (f64, f64),
    pattern: Pattern,
    n: usize,
) {
    if !T::IS_FLOAT
        || pattern == Pattern::SmallInts
        || pattern == Pattern::Constant && n < (1 << 20)
    {
        assert!(got.same(exact), "{what}: got {got:?}, want {exact:?}");
        return;
    }
    if approx.is_nan() {
        assert!(got.to_f64().is_nan(), "{what}: got {got:?}, want NaN");
        return;
    }
    if approx.is_infinite() {
        assert_eq!(got.to_f64(), approx, "{what}");
        return;
    }
    let eps = if std::mem::size_of::<T>() == 4 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    let tol = 4200.0 * eps * magnitude + 1e-30;
    let err = (got.to_f64() - approx).abs();
    assert!(
        err <= tol,
        "{what}: got {got:?}, want {approx} (error {err:e} > tolerance {tol:e})"
    );
}

fn reductions<T: TestElement>() {
    for (side, ctx) in sides_with_split() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in sizes() {
            for pattern in patterns::<T>() {
                let xs = data::<T>(pattern, n, 1);
                let ys = data::<T>(Pattern::SmallInts, n, 2);
                let what = format!("{side} {} n={n} {pattern:?}", std::any::type_name::<T>());
                let x = ctx.upload(&xs).unwrap();
                let y = ctx.upload(&ys).unwrap();

                let s = ctx.sum(&x).unwrap();
                check_sum(
                    &format!("sum {what}"),
                    s,
                    reference::sum(&xs),
                    reference::sum_f64(&xs),
                    pattern,
                    n,
                );

                let prod: Vec<T> = xs.iter().zip(&ys).map(|(&a, &b)| a.mul(b)).collect();
                let d = ctx.dot(&x, &y).unwrap();
                check_sum(
                    &format!("dot {what}"),
                    d,
                    reference::sum(&prod),
                    reference::sum_f64(&prod),
                    pattern,
                    n,
                );

                let amin = reference::argmin(&xs);
                let amax = reference::argmax(&xs);
                if side == "gpu" && std::mem::size_of::<T>() == 8 && n > 0 {
                    // Order reductions use 32-bit keys on the GPU; f64 is refused there, typed.
                    let e = ctx.argmin(&x).unwrap_err();
                    assert_eq!(e.kind(), tandem::ErrorKind::Unsupported, "{what}: {e}");
                    continue;
                }
                assert_eq!(ctx.argmin(&x).unwrap(), amin, "argmin {what}");
                assert_eq!(ctx.argmax(&x).unwrap(), amax, "argmax {what}");
                let min = ctx.min(&x).unwrap();
                let max = ctx.max(&x).unwrap();
                match amin {
                    None => assert!(min.is_none() && max.is_none(), "min/max of empty {what}"),
                    Some(i) => {
                        assert!(
                            min.unwrap().same(xs[i]),
                            "min {what}: got {min:?}, want {:?}",
                            xs[i]
                        );
                        let j = amax.unwrap();
                        assert!(
                            max.unwrap().same(xs[j]),
                            "max {what}: got {max:?}, want {:?}",
                            xs[j]
                        );
                    }
                }
                // The inputs are untouched.
                assert!(
                    x.to_vec().unwrap().iter().zip(&xs).all(|(a, b)| a.same(*b)),
                    "input changed {what}"
                );
            }
        }
    }
}

/// A reference element-wise function.
type ElementFn<T> = Box<dyn Fn(T, T) -> T>;

fn elementwise<T: TestElement>(sizes: &[usize]) {
    for (side, ctx) in sides_with_split() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for &n in sizes {
            for pattern in patterns::<T>() {
                let xs = data::<T>(pattern, n, 3);
                let ys = data::<T>(Pattern::Random, n, 4);
                let what = format!("{side} {} n={n} {pattern:?}", std::any::type_name::<T>());
                let x = ctx.upload(&xs).unwrap();
                let y = ctx.upload(&ys).unwrap();
                let alpha = T::from_i64(3);
                let exact: [(&str, tandem::Buffer<T>, ElementFn<T>); 4] = [
                    (
                        "add",
                        ctx.add(&x, &y).unwrap(),
                        Box::new(|a: T, b: T| a.add(b)),
                    ),
                    (
                        "sub",
                        ctx.sub(&x, &y).unwrap(),
                        Box::new(|a: T, b: T| a.sub(b)),
                    ),
                    (
                        "mul",
                        ctx.mul(&x, &y).unwrap(),
                        Box::new(|a: T, b: T| a.mul(b)),
                    ),
                    (
                        "scale",
                        ctx.scale(&x, alpha).unwrap(),
                        Box::new(move |a: T, _| alpha.mul(a)),
                    ),
                ];
                for (op, out, f) in exact {
                    assert_eq!(out.len(), n);
                    let got = out.to_vec().unwrap();
                    for i in 0..n {
                        let want = f(xs[i], ys[i]);
                        assert!(
                            got[i].same(want),
                            "{op} {what} at {i}: got {:?}, want {want:?}",
                            got[i]
                        );
                    }
                }
                let got = ctx.axpy(alpha, &x, &y).unwrap().to_vec().unwrap();
                for i in 0..n {
                    let want = alpha.mul(xs[i]).add(ys[i]);
                    if T::IS_FLOAT {
                        // A GPU may fuse the multiply-add: allow the rounding of one step.
                        let bound = 4.0
                            * f32::EPSILON as f64
                            * (3.0 * xs[i].to_f64().abs() + ys[i].to_f64().abs());
                        let (g, w) = (got[i].to_f64(), want.to_f64());
                        let ok = got[i].same(want)
                            || (g - w).abs() <= bound
                            || (g.is_nan() && w.is_nan());
                        assert!(ok, "axpy {what} at {i}: got {g}, want {w}");
                    } else {
                        assert!(got[i].same(want), "axpy {what} at {i}");
                    }
                }
                let mut z = ctx.upload(&xs).unwrap();
                ctx.fill(&mut z, alpha).unwrap();
                assert!(
                    z.to_vec().unwrap().iter().all(|v| v.same(alpha)),
                    "fill {what}"
                );
            }
        }
    }
}

#[test]
fn reductions_f32() {
    reductions::<f32>();
}

#[test]
fn reductions_i32() {
    reductions::<i32>();
}

#[test]
fn reductions_u32() {
    reductions::<u32>();
}

#[test]
fn reductions_f64() {
    reductions::<f64>();
}

#[test]
fn elementwise_f32() {
    elementwise::<f32>(&sizes());
}

#[test]
fn elementwise_i32() {
    elementwise::<i32>(&sizes());
}

#[test]
fn elementwise_u32() {
    elementwise::<u32>(&sizes());
}

#[test]
fn elementwise_f64() {
    elementwise::<f64>(&sizes());
}

#[test]
fn integer_arithmetic_wraps_identically() {
    for (side, ctx) in sides_with_split() {
        let a = ctx.upload(&[i32::MAX, i32::MIN, -1, 7]).unwrap();
        let b = ctx.upload(&[1, -1, i32::MIN, i32::MAX]).unwrap();
        assert_eq!(
            ctx.add(&a, &b).unwrap().to_vec().unwrap(),
            [i32::MIN, i32::MAX, i32::MAX, i32::MIN + 6],
            "{side}"
        );
        assert_eq!(
            ctx.mul(&a, &b).unwrap().to_vec().unwrap(),
            [i32::MAX, i32::MIN, i32::MIN, 7i32.wrapping_mul(i32::MAX)],
            "{side}"
        );
        let u = ctx.upload(&[u32::MAX; 1000]).unwrap();
        assert_eq!(ctx.sum(&u).unwrap(), u32::MAX.wrapping_mul(1000), "{side}");
    }
}

#[test]
fn min_max_order_nan_and_signed_zero_identically() {
    for (side, ctx) in sides_with_split() {
        let x = ctx
            .upload(&[f32::NAN, 0.0, -0.0, 1.0, -0.0, f32::NAN])
            .unwrap();
        assert_eq!(
            ctx.min(&x).unwrap().map(f32::to_bits),
            Some((-0.0f32).to_bits()),
            "{side}"
        );
        assert_eq!(ctx.argmin(&x).unwrap(), Some(2), "{side}");
        assert_eq!(ctx.max(&x).unwrap(), Some(1.0), "{side}");
        let nan = ctx.upload(&[f32::NAN; 5]).unwrap();
        assert!(ctx.min(&nan).unwrap().unwrap().is_nan(), "{side}");
        assert_eq!(ctx.argmax(&nan).unwrap(), Some(0), "{side}");
        let ties = ctx.upload(&[5u32, 9, 1, 9, 1]).unwrap();
        assert_eq!(
            (ctx.argmin(&ties).unwrap(), ctx.argmax(&ties).unwrap()),
            (Some(2), Some(1)),
            "{side}"
        );
    }
}

#[test]
fn empty_inputs_are_answered_on_every_side() {
    for (side, ctx) in sides_with_split() {
        let e = ctx.upload::<f32>(&[]).unwrap();
        assert!(e.is_empty());
        assert_eq!(ctx.sum(&e).unwrap(), 0.0, "{side}");
        assert_eq!(ctx.dot(&e, &e).unwrap(), 0.0, "{side}");
        assert_eq!(ctx.min(&e).unwrap(), None, "{side}");
        assert_eq!(ctx.max(&e).unwrap(), None, "{side}");
        assert_eq!(ctx.argmin(&e).unwrap(), None, "{side}");
        assert_eq!(ctx.argmax(&e).unwrap(), None, "{side}");
        assert!(
            ctx.add(&e, &e).unwrap().to_vec().unwrap().is_empty(),
            "{side}"
        );
        assert!(ctx.scale(&e, 2.0).unwrap().is_empty(), "{side}");
        let mut f = ctx.zeros::<f32>(0).unwrap();
        ctx.fill(&mut f, 1.0).unwrap();
        assert!(f.is_empty());
    }
}

#[test]
fn outputs_stay_where_they_were_produced_and_chain() {
    let Some(gpu) = common::gpu() else { return };
    let xs: Vec<u32> = (0..100_000).collect();
    let x = gpu.upload(&xs).unwrap();
    let y = gpu.add(&x, &x).unwrap();
    assert_eq!(
        x.residency(),
        Residency::Both,
        "an upload keeps its host copy"
    );
    assert_eq!(
        y.residency(),
        Residency::Device,
        "a GPU output stays on the GPU"
    );
    // Auto keeps device-only data on the GPU instead of reading it back.
    let auto = gpu.with_policy(Policy::Auto);
    let s = auto.sum(&y).unwrap();
    assert_eq!(auto.last_run().unwrap().side, Side::Gpu);
    assert_eq!(s, xs.iter().fold(0u32, |a, &v| a.wrapping_add(2 * v)));
    assert_eq!(y.to_vec().unwrap()[99_999], 199_998);
    assert_eq!(y.residency(), Residency::Both, "a readback is cached");
    // The CPU side reads a GPU output back transparently.
    let cpu = gpu.with_policy(Policy::Cpu);
    let z = cpu.add(&y, &x).unwrap();
    assert_eq!(z.to_vec().unwrap()[10], 30);
}

#[test]
fn every_op_records_its_side_and_reason() {
    for (side, ctx) in sides() {
        ctx.clear_runs();
        let x = ctx.upload(&[1.0f32, 2.0, 3.0]).unwrap();
        ctx.sum(&x).unwrap();
        let r = ctx.last_run().unwrap();
        assert_eq!(r.op, "sum");
        assert_eq!(r.len, 3);
        assert_eq!(r.side, if side == "gpu" { Side::Gpu } else { Side::Cpu });
        assert!(!r.reason.to_string().is_empty());
    }
    // Auto with host data on a software adapter prefers the CPU, and says why.
    let auto = common::context();
    let x = auto.upload(&vec![1u32; 1 << 20]).unwrap();
    auto.sum(&x).unwrap();
    let r = auto.last_run().unwrap();
    if auto.gpu_info().is_some_and(|g| g.is_software) {
        assert_eq!(r.side, Side::Cpu, "{r:?}");
        assert_eq!(
            r.reason,
            tandem::dispatch::Reason::NoProfileSoftwareGpu,
            "{r:?}"
        );
    }
}

#[test]
fn a_context_is_shared_across_threads() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<Context>();
    for (side, ctx) in sides() {
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let ctx = ctx.clone();
                s.spawn(move || {
                    let xs: Vec<u32> = (0..50_000).map(|i| i * (t + 1)).collect();
                    let x = ctx.upload(&xs).unwrap();
                    for _ in 0..5 {
                        assert_eq!(
                            ctx.sum(&x).unwrap(),
                            xs.iter().fold(0u32, |a, &v| a.wrapping_add(v)),
                            "{side}"
                        );
                        assert_eq!(ctx.argmax(&x).unwrap(), Some(49_999), "{side}");
                    }
                });
            }
        });
    }
}
