//! `sequence`, `adjacent_difference` and `slice` on every side against plain
//! sequential references: the awkward sizes, float rounding past 2^24 (two
//! roundings, no FMA, identical bits), integer wrapping, NaN and infinities,
//! past 65,535 workgroups and past the binding limit, slices made where the
//! data lives, and bad ranges.

mod common;

use common::{data, patterns, side_runs, sides, sizes, Pattern, TestElement};
use tandem::{Context, ErrorKind, Policy, Residency, Side};

fn same<T: TestElement>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(*y))
}

fn seq_f32(n: usize, start: f32, step: f32) -> Vec<f32> {
    (0..n).map(|i| start + (i as f32) * step).collect()
}

fn diff_ref<T: TestElement>(x: &[T]) -> Vec<T> {
    (0..x.len())
        .map(|i| if i == 0 { x[0] } else { x[i].sub(x[i - 1]) })
        .collect()
}

#[test]
fn sequence_matches_the_formula() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        for n in sizes() {
            let got = ctx.sequence::<f32>(n, 0.5, 0.1).unwrap().to_vec().unwrap();
            assert!(same(&got, &seq_f32(n, 0.5, 0.1)), "{side} f32 n={n}");
            let got = ctx
                .sequence::<u32>(n, u32::MAX - 3, 7)
                .unwrap()
                .to_vec()
                .unwrap();
            let want: Vec<u32> = (0..n as u32)
                .map(|i| (u32::MAX - 3).wrapping_add(i.wrapping_mul(7)))
                .collect();
            assert_eq!(got, want, "{side} u32 n={n}");
            let got = ctx
                .sequence::<i32>(n, -5, i32::MAX)
                .unwrap()
                .to_vec()
                .unwrap();
            let want: Vec<i32> = (0..n as u32)
                .map(|i| (-5i32).wrapping_add((i as i32).wrapping_mul(i32::MAX)))
                .collect();
            assert_eq!(got, want, "{side} i32 n={n}");
        }
        // Steps that overflow to infinity and NaN, negative steps.
        for (start, step) in [
            (1.0f32, -0.25),
            (0.0, f32::MAX),
            (f32::INFINITY, -1.0),
            (1.0, f32::NAN),
        ] {
            let got = ctx
                .sequence::<f32>(5000, start, step)
                .unwrap()
                .to_vec()
                .unwrap();
            assert!(
                same(&got, &seq_f32(5000, start, step)),
                "{side} {start} {step}"
            );
        }
    }
}

#[test]
fn sequence_past_2_24_and_the_dispatch_limit() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        // Past 2^24 the index itself rounds: i as f32 must round to nearest even on both sides.
        let n = 65_535 * 256 + 1;
        let got = ctx
            .sequence::<f32>(n, -3.0, 1.0 / 3.0)
            .unwrap()
            .to_vec()
            .unwrap();
        assert!(same(&got, &seq_f32(n, -3.0, 1.0 / 3.0)), "{side}");
        let got = ctx.sequence::<f32>(n, 0.0, 1.0).unwrap().to_vec().unwrap();
        assert!(
            got.iter().enumerate().all(|(i, &v)| v == i as f32),
            "{side}"
        );
    }
}

#[test]
fn f64_runs_on_the_cpu_and_is_refused_by_the_gpu() {
    let cpu = common::context().with_policy(Policy::Cpu);
    for ctx in [&cpu, common::context()] {
        let got = ctx
            .sequence::<f64>(100_003, 0.5, 0.1)
            .unwrap()
            .to_vec()
            .unwrap();
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &v)| v == 0.5 + i as f64 * 0.1));
        let x = data::<f64>(Pattern::Special, 100_003, 1);
        let d = ctx.adjacent_difference(&ctx.upload(&x).unwrap()).unwrap();
        assert!(same(&d.to_vec().unwrap(), &diff_ref(&x)));
    }
    if let Some(gpu) = common::gpu() {
        let e = gpu.sequence::<f64>(10, 0.0, 1.0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let x = gpu.upload(&[1.0f64, 2.0]).unwrap();
        let e = gpu.adjacent_difference(&x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }
}

fn diff_parity<T: TestElement>() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        if !side_runs::<T>(side, &ctx) {
            continue;
        }
        for n in sizes() {
            for pattern in patterns::<T>() {
                // The largest sizes once each: they only add time.
                if n > 300_000 && pattern != Pattern::Random {
                    continue;
                }
                let x = data::<T>(pattern, n, 1);
                let got = ctx.adjacent_difference(&ctx.upload(&x).unwrap()).unwrap();
                let what = format!("{side} {} n={n} {pattern:?}", std::any::type_name::<T>());
                assert!(same(&got.to_vec().unwrap(), &diff_ref(&x)), "{what}");
            }
        }
    }
}

#[test]
fn adjacent_difference_f32() {
    diff_parity::<f32>();
}

#[test]
fn adjacent_difference_i32() {
    diff_parity::<i32>();
}

#[test]
fn adjacent_difference_u32() {
    diff_parity::<u32>();
}

#[test]
fn adjacent_difference_past_the_dispatch_limit() {
    let _serial = common::gpu_serial();
    let Some(gpu) = common::gpu() else { return };
    for n in common::dispatch_limit_sizes() {
        let x = data::<u32>(Pattern::Random, n, 2);
        let got = gpu.adjacent_difference(&gpu.upload(&x).unwrap()).unwrap();
        assert_eq!(got.to_vec().unwrap(), diff_ref(&x), "n={n}");
    }
}

#[test]
fn past_the_binding_limit() {
    let _serial = common::gpu_serial();
    if common::gpu().is_none() {
        return;
    }
    let gpu = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    for n in [16_383, 16_384, 16_385, 3 * 16_384 + 7, 100_003] {
        let got = gpu.sequence::<f32>(n, 2.0, -0.3).unwrap().to_vec().unwrap();
        assert!(same(&got, &seq_f32(n, 2.0, -0.3)), "sequence n={n}");
        let x = data::<f32>(Pattern::Special, n, 3);
        let d = gpu.adjacent_difference(&gpu.upload(&x).unwrap()).unwrap();
        assert!(
            same(&d.to_vec().unwrap(), &diff_ref(&x)),
            "adjacent_difference n={n}"
        );
        let i = data::<i32>(Pattern::Random, n, 4);
        let d = gpu.adjacent_difference(&gpu.upload(&i).unwrap()).unwrap();
        assert_eq!(
            d.to_vec().unwrap(),
            diff_ref(&i),
            "adjacent_difference i32 n={n}"
        );
        // A slice of the far end of a buffer past one binding.
        let xs = gpu.sequence::<u32>(n, 0, 1).unwrap();
        let s = gpu.slice(&xs, n - 5000..n - 1).unwrap();
        assert_eq!(s.residency(), Residency::Device);
        assert_eq!(
            s.to_vec().unwrap(),
            ((n - 5000) as u32..(n - 1) as u32).collect::<Vec<_>>()
        );
    }
}

#[test]
fn slices_are_made_where_the_data_lives() {
    let _serial = common::gpu_serial();
    for (side, ctx) in sides() {
        for n in [1usize, 2, 3, 257, 100_003] {
            let x = data::<f32>(Pattern::Special, n, 5);
            let host = ctx.upload(&x).unwrap();
            for (a, b) in [(0, n), (0, 0), (n, n), (1.min(n), n), (n / 3, n / 2 + 1)] {
                let s = ctx.slice(&host, a..b).unwrap();
                assert!(
                    same(&s.to_vec().unwrap(), &x[a..b]),
                    "{side} n={n} {a}..{b}"
                );
            }
            assert!(same(&ctx.slice(&host, ..).unwrap().to_vec().unwrap(), &x));
            assert!(same(
                &ctx.slice(&host, n / 2..).unwrap().to_vec().unwrap(),
                &x[n / 2..]
            ));
            assert!(same(
                &ctx.slice(&host, ..=n - 1).unwrap().to_vec().unwrap(),
                &x
            ));
            // Host data is sliced on the host.
            assert_eq!(ctx.last_run().unwrap().side, Side::Cpu, "{side}");
        }
        // Data on the GPU is sliced there; Policy::Cpu reads back only the range.
        if side == "gpu" {
            let d = ctx.sequence::<i32>(10_000, 0, 3).unwrap();
            assert_eq!(d.residency(), Residency::Device);
            let s = ctx.slice(&d, 17..9000).unwrap();
            assert_eq!(ctx.last_run().unwrap().side, Side::Gpu);
            assert_eq!(s.residency(), Residency::Device);
            let want: Vec<i32> = (17..9000).map(|i| i * 3).collect();
            assert_eq!(s.to_vec().unwrap(), want);
            let cpu = ctx.with_policy(Policy::Cpu);
            let s = cpu.slice(&d, 17..9000).unwrap();
            assert_eq!(s.residency(), Residency::Host);
            assert_eq!(s.to_vec().unwrap(), want);
            assert_eq!(
                d.residency(),
                Residency::Device,
                "the source was not read back whole"
            );
            let f = ctx.upload(&[1.0f64, 2.0, 3.0]).unwrap();
            assert_eq!(ctx.slice(&f, 1..3).unwrap().to_vec().unwrap(), [2.0, 3.0]);
        }
    }
}

#[test]
fn bad_ranges_are_invalid_arguments() {
    for (side, ctx) in sides() {
        let x = ctx.upload(&[1u32, 2, 3, 4]).unwrap();
        #[allow(clippy::reversed_empty_ranges)]
        for r in [3..2, 0..5, 5..5, 2..usize::MAX] {
            let e = ctx.slice(&x, r.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side} {r:?}: {e}");
        }
        let e = ctx.slice(&x, ..=4).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        let e = ctx.slice(&x, ..=usize::MAX).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{side}: {e}");
        assert_eq!(x.to_vec().unwrap(), [1, 2, 3, 4]);
        // Empty inputs give empty outputs.
        assert!(ctx.sequence::<u32>(0, 1, 1).unwrap().is_empty());
        let none = ctx.upload::<f32>(&[]).unwrap();
        assert!(ctx.adjacent_difference(&none).unwrap().is_empty());
        assert!(ctx.slice(&none, ..).unwrap().is_empty());
    }
}
