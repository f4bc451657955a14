//! Bad input and failing devices: each gets the typed error, no panic, and no
//! lost user data.

mod common;

use tandem::{Context, ErrorKind, Policy, Reason, Residency, Side};

#[test]
fn length_mismatch_is_a_typed_error_on_every_side() {
    for (side, ctx) in common::sides() {
        let a = ctx.upload(&[1.0f32, 2.0, 3.0]).unwrap();
        let b = ctx.upload(&[1.0f32, 2.0]).unwrap();
        for (op, r) in [
            ("add", ctx.add(&a, &b).map(|_| ())),
            ("sub", ctx.sub(&a, &b).map(|_| ())),
            ("mul", ctx.mul(&a, &b).map(|_| ())),
            ("axpy", ctx.axpy(2.0, &a, &b).map(|_| ())),
            ("dot", ctx.dot(&a, &b).map(|_| ())),
        ] {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side} {op}: {e}");
            assert!(e.to_string().contains(op), "{e}");
        }
        assert_eq!(a.to_vec().unwrap(), [1.0, 2.0, 3.0]);
        assert_eq!(b.to_vec().unwrap(), [1.0, 2.0]);
    }
}

#[test]
fn a_bad_backend_name_is_a_typed_error() {
    let e = "fast".parse::<Policy>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("auto, cpu, gpu or split"), "{e}");
    assert_eq!("GPU".parse::<Policy>().unwrap(), Policy::Gpu);
}

#[test]
fn a_buffer_that_can_never_fit_is_too_large_under_gpu_and_runs_on_cpu_under_auto() {
    if common::gpu().is_none() {
        return;
    }
    let limit = 1 << 20;
    let gpu = Context::builder()
        .policy(Policy::Gpu)
        .buffer_size_limit(limit)
        .build()
        .unwrap();
    let xs: Vec<f32> = (0..(limit as usize / 4 + 1))
        .map(|i| (i % 7) as f32)
        .collect();
    let x = gpu.upload(&xs).unwrap();
    let e = gpu.sum(&x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    let e = gpu.add(&x, &x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    // Under Auto the same call is answered on the CPU.
    let auto = gpu.with_policy(Policy::Auto);
    let builder_auto = Context::builder()
        .policy(Policy::Auto)
        .buffer_size_limit(limit)
        .gpu_crossover(0)
        .build()
        .unwrap();
    for ctx in [auto, builder_auto.clone()] {
        let s = ctx.sum(&x).unwrap();
        assert_eq!(s, xs.iter().sum::<f32>());
        assert_eq!(ctx.last_run().unwrap().side, Side::Cpu);
    }
    // With a crossover of 0, Auto tried the GPU first, and the record says why it fell back.
    let r = builder_auto.last_run().unwrap();
    assert!(
        r.fallback
            .as_deref()
            .is_some_and(|f| f.contains("never fit")),
        "{r:?}"
    );
    assert_eq!(x.to_vec().unwrap(), xs, "the host data is intact");
}

#[test]
fn a_lost_device_falls_back_under_auto_and_errors_under_gpu() {
    if common::gpu().is_none() {
        return;
    }
    // A private context: losing its device must not disturb other tests.
    let auto = Context::builder()
        .policy(Policy::Auto)
        .gpu_crossover(0)
        .gpu_rebuild_after(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let gpu = auto.with_policy(Policy::Gpu);
    let xs: Vec<i32> = (0..300_000).map(|i| i % 1000 - 500).collect();
    let want: i32 = xs.iter().sum();
    let x = auto.upload(&xs).unwrap();
    auto.prefetch(&x).unwrap();
    assert_eq!(x.residency(), Residency::Both);
    let on_gpu_only = gpu.add(&x, &x).unwrap();
    assert_eq!(auto.sum(&x).unwrap(), want);
    assert_eq!(auto.last_run().unwrap().side, Side::Gpu);

    auto.simulate_device_loss();
    assert!(!auto.has_gpu());

    // Gpu: a typed error, no panic.
    let e = gpu.sum(&x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");
    let e = gpu.add(&x, &x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");
    // Auto: the right answer, from the CPU.
    assert_eq!(auto.sum(&x).unwrap(), want);
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu, "{r:?}");
    assert_eq!(auto.argmax(&x).unwrap(), Some(999));
    assert_eq!(auto.add(&x, &x).unwrap().to_vec().unwrap()[3], 2 * xs[3]);
    // The user's data is intact.
    assert_eq!(x.to_vec().unwrap(), xs);
    // Data that lived only on the lost device is reported gone, not invented.
    let e = on_gpu_only.to_vec().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");
    // fill overwrites, so it works even on a buffer whose only copy was lost.
    let mut y = on_gpu_only;
    auto.fill(&mut y, 7).unwrap();
    assert_eq!(y.to_vec().unwrap()[0], 7);
}

#[test]
fn a_device_lost_during_a_gpu_attempt_reruns_on_the_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let auto = Context::builder()
        .policy(Policy::Auto)
        .gpu_crossover(0)
        .gpu_rebuild_after(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let xs: Vec<u32> = (0..70_000).collect();
    let x = auto.upload(&xs).unwrap();
    auto.simulate_device_loss();
    // Auto notices the loss, runs on the CPU and records why.
    assert_eq!(
        auto.sum(&x).unwrap(),
        xs.iter().fold(0u32, |a, &v| a.wrapping_add(v))
    );
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu);
    assert!(
        matches!(r.reason, Reason::GpuLost | Reason::SplitGpuLost) || r.fallback.is_some(),
        "{r:?}"
    );
}

#[test]
fn a_timeout_is_typed_and_auto_reruns_on_the_cpu() {
    if common::gpu().is_none() {
        return;
    }
    // A zero timeout makes every wait expire (or finish at once): either way, no hang, no panic.
    let auto = Context::builder()
        .policy(Policy::Auto)
        .gpu_crossover(0)
        .gpu_timeout(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let xs: Vec<f32> = (0..1 << 20).map(|i| (i % 5) as f32).collect();
    let x = auto.upload(&xs).unwrap();
    assert_eq!(auto.sum(&x).unwrap(), xs.iter().sum::<f32>());
    let gpu = auto.with_policy(Policy::Gpu);
    match gpu.sum(&x) {
        Ok(s) => assert_eq!(s, xs.iter().sum::<f32>()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Timeout, "{e}"),
    }
}

#[test]
fn gpu_policy_on_a_cpu_only_context_is_a_clear_error_or_works() {
    let cpu = Context::builder().policy(Policy::Cpu).build().unwrap();
    let x = cpu.upload(&[1u32, 2, 3]).unwrap();
    assert_eq!(cpu.sum(&x).unwrap(), 6);
    assert_eq!(cpu.last_run().unwrap().side, Side::Cpu);
    match cpu.with_policy(Policy::Gpu).sum(&x) {
        Ok(s) => assert_eq!(s, 6),
        Err(e) => assert_eq!(e.kind(), ErrorKind::NoAdapter, "{e}"),
    }
}
