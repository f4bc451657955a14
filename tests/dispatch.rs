//! The dispatcher that measures: calibration and its profile, the cost model's
//! predictions, Split, and the fallbacks that lose nothing.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use tandem::dispatch::profile::{Curve, OpCurves, ProfileKey, Transfer, FORMAT};
use tandem::{
    map_kernel, Context, ErrorKind, Op, Policy, Profile, Reason, Residency, Side, SimulatedFault,
};

/// A fresh folder for one test's profiles.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tandem-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A profile where every op costs `cpu_ns` per element on the CPU and `gpu_ns`
/// on the GPU, with a GPU fixed cost of `fixed_us` and 10 GB/s transfers.
fn synthetic(cpu_ns: f64, gpu_ns: f64, fixed_us: f64) -> Profile {
    let curve = |ns: f64, fixed: f64| Curve {
        points: [1e3, 1e6]
            .iter()
            .map(|&w| [w, fixed + w * ns * 1e-9])
            .collect(),
    };
    let ops: BTreeMap<String, OpCurves> = Op::calibrated()
        .map(|op| {
            (
                op.name().to_string(),
                OpCurves {
                    cpu: curve(cpu_ns, 0.0),
                    gpu: curve(gpu_ns, fixed_us * 1e-6),
                },
            )
        })
        .collect();
    Profile {
        format: FORMAT,
        key: ProfileKey {
            adapter: "synthetic".into(),
            backend: "none".into(),
            driver: "none".into(),
            cpu_threads: 1,
            tandem_version: "0".into(),
        },
        created_unix_s: 0,
        gpu_fixed_s: fixed_us * 1e-6,
        upload: Transfer {
            fixed_s: 10e-6,
            bytes_per_s: 10e9,
        },
        readback: Transfer {
            fixed_s: 10e-6,
            bytes_per_s: 10e9,
        },
        ops,
        split_factor: 1.0,
    }
}

/// An Auto context that uses profile `p`.
fn auto_with(p: Profile) -> Context {
    Context::builder()
        .policy(Policy::Auto)
        .profile(p)
        .build()
        .unwrap()
}

/// An Auto context that looks for its profile in `dir`.
fn auto_in(dir: &std::path::Path) -> Context {
    Context::builder()
        .policy(Policy::Auto)
        .profile_dir(dir)
        .build()
        .unwrap()
}

/// A private Auto context that tries the GPU first for every call.
fn gpu_first_auto() -> Context {
    Context::builder()
        .policy(Policy::Auto)
        .gpu_crossover(0)
        .without_profile()
        .build()
        .unwrap()
}

#[test]
fn calibration_writes_a_profile_that_new_contexts_load() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    let dir = temp_dir("calibrate");
    let ctx = auto_in(&dir);
    assert!(ctx.profile().is_none());
    assert!(
        ctx.profile_status().contains("no profile"),
        "{}",
        ctx.profile_status()
    );
    let p = ctx.calibrate().unwrap();
    p.validate().unwrap();
    for op in Op::calibrated() {
        let c = &p.ops[op.name()];
        assert!(
            c.cpu.points.len() >= 2 && !c.gpu.points.is_empty(),
            "{op}: {c:?}"
        );
    }
    assert!(p.gpu_fixed_s > 0.0 && p.upload.bytes_per_s > 0.0);
    assert!(p.split_factor.is_finite() && p.split_factor > 0.0);
    // Every GPU point timed the op's kernels, not just their recording: a run
    // submits and waits at least once, which is the fixed cost (halved for noise).
    // Ops that defer their submission once timed at a few microseconds here,
    // and Auto then sent sorts and matmuls of millions of elements to the GPU.
    for op in Op::calibrated() {
        for &[n, t] in &p.ops[op.name()].gpu.points {
            assert!(
                t >= 0.5 * p.gpu_fixed_s,
                "{op} at {n}: {t} s on the GPU, under the fixed cost {} s",
                p.gpu_fixed_s
            );
        }
    }
    // The fast path's bound is where the CPU's curve crosses the fixed cost.
    let below = p.cpu_only_below_for("sum");
    assert!(below > 0.0, "{p:?}");
    let at = p.ops["sum"].cpu.predict(below, 0.0).unwrap();
    assert!(
        (at - p.gpu_fixed_s).abs() <= 1e-3 * p.gpu_fixed_s,
        "{at} {p:?}"
    );
    assert_eq!(p.cpu_only_below_for("no such op"), 0.0);
    assert_eq!(
        ctx.profile().as_ref(),
        Some(&p),
        "the calibrating context uses it"
    );
    let path = dir.join(p.key.file_name());
    assert!(path.exists(), "{path:?}");

    // A new context on this machine loads it, and Auto's records carry both predictions.
    let again = auto_in(&dir);
    assert_eq!(again.profile().as_ref(), Some(&p));
    assert!(again.profile_status().contains("measured profile"));
    // Past the size where the CPU beats the GPU's fixed cost alone, which Auto
    // answers without predicting.
    let n = (p.cpu_only_below_for("sum") as usize + 1).max(100_000);
    let x = again.upload(&vec![1.0f32; n]).unwrap();
    assert_eq!(again.sum(&x).unwrap(), n as f32);
    let r = again.last_run().unwrap();
    assert!(
        matches!(
            r.reason,
            Reason::PredictedCpu | Reason::PredictedGpu | Reason::PredictedSplit
        ),
        "{r:?}"
    );
    assert!(
        r.predicted_cpu.is_some() && r.predicted_gpu.is_some(),
        "{r:?}"
    );

    // A corrupt file is ignored, with the reason, never trusted.
    std::fs::write(&path, "{ not json").unwrap();
    let corrupt = auto_in(&dir);
    assert!(corrupt.profile().is_none());
    assert!(
        corrupt.profile_status().contains("corrupt"),
        "{}",
        corrupt.profile_status()
    );

    // So is one whose numbers make no sense.
    let mut bad = p.clone();
    bad.gpu_fixed_s = -1.0;
    bad.save(&path).unwrap();
    let c = auto_in(&dir);
    assert!(c.profile().is_none() && c.profile_status().contains("corrupt"));

    // And a stale one: measured for another driver or release.
    let mut stale = p.clone();
    stale.key.driver.push_str(" (older)");
    stale.save(&path).unwrap();
    let c = auto_in(&dir);
    assert!(c.profile().is_none());
    assert!(
        c.profile_status().contains("stale"),
        "{}",
        c.profile_status()
    );

    // And one from an older tandem, written before the split factor existed.
    let mut old = serde_json::to_value(&p).unwrap();
    old["format"] = 1.into();
    old.as_object_mut().unwrap().remove("split_factor");
    std::fs::write(&path, old.to_string()).unwrap();
    let c = auto_in(&dir);
    assert!(c.profile().is_none());
    let status = c.profile_status();
    assert!(
        status.contains("stale") && status.contains("format 1"),
        "{status}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cost_model_counts_only_the_transfers_a_side_needs() {
    if common::gpu().is_none() {
        return;
    }
    // The GPU computes 10x faster per element but pays 100 us per call.
    let ctx = auto_with(synthetic(1.0, 0.1, 100.0));
    // 1,000 elements take 1 us on the CPU, far below the GPU's fixed cost: the
    // fast path answers without predicting.
    let small = ctx.upload(&vec![1u32; 1000]).unwrap();
    ctx.sum(&small).unwrap();
    let r = ctx.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu, "{r:?}");
    assert_eq!(r.reason, Reason::CpuBeforeGpuFixedCost, "{r:?}");
    // 200,000 take 200 us on the CPU and 120 us on the GPU plus 80 us of upload:
    // close, and predicted both ways.
    let mid = ctx.upload(&vec![1u32; 200_000]).unwrap();
    ctx.sum(&mid).unwrap();
    let r = ctx.last_run().unwrap();
    let (c, g) = (r.predicted_cpu.unwrap(), r.predicted_gpu.unwrap());
    assert!((c.as_secs_f64() - 200e-6).abs() < 1e-6, "{r:?}");
    assert!((g.as_secs_f64() - 210e-6).abs() < 1e-6, "{r:?}");

    // 4 M elements from the host: the GPU's upload (16 MB at 10 GB/s) is counted.
    let n = 1 << 22;
    let big = ctx.upload(&vec![1u32; n]).unwrap();
    assert_eq!(ctx.sum(&big).unwrap(), n as u32);
    let from_host = ctx.last_run().unwrap();
    // The GPU alone, or split with the CPU: either way not the CPU alone.
    assert_ne!(from_host.side, Side::Cpu, "{from_host:?}");
    // Now the data is on the GPU as well: no upload, a smaller GPU prediction.
    ctx.prefetch(&big).unwrap();
    ctx.sum(&big).unwrap();
    let resident = ctx.last_run().unwrap();
    let upload = from_host.predicted_gpu.unwrap() - resident.predicted_gpu.unwrap();
    assert!(
        (upload.as_secs_f64() - (10e-6 + 4.0 * n as f64 / 10e9)).abs() < 1e-6,
        "{from_host:?} {resident:?}"
    );
    assert_eq!(from_host.predicted_cpu, resident.predicted_cpu);

    // Data only on the GPU: the CPU side would have to read it back first.
    let y = ctx.with_policy(Policy::Gpu).add(&big, &big).unwrap();
    assert_eq!(y.residency(), Residency::Device);
    ctx.sum(&y).unwrap();
    let r = ctx.last_run().unwrap();
    assert_eq!(r.side, Side::Gpu);
    assert!(
        r.predicted_cpu.unwrap() > resident.predicted_cpu.unwrap(),
        "{r:?}"
    );
}

#[test]
fn auto_splits_when_both_sides_are_equally_fast() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    let ctx = auto_with(synthetic(2.0, 2.0, 20.0));
    let xs: Vec<i32> = (0..1 << 18).map(|i| i % 1000 - 500).collect();
    let x = ctx.upload(&xs).unwrap();
    assert_eq!(ctx.sum(&x).unwrap(), xs.iter().sum::<i32>());
    let r = ctx.last_run().unwrap();
    assert_eq!(r.side, Side::Split, "{r:?}");
    let share = r.gpu_share.unwrap();
    assert!(share > 0.3 && share < 0.7, "{r:?}");
    // Not for ops that cannot be split: those pick a side.
    ctx.inclusive_scan(&x).unwrap();
    assert_ne!(ctx.last_run().unwrap().side, Side::Split);
    // Where calibration measured the two sides slowing each other (a split taking
    // 3x the time predicted for independent sides), Auto does not split.
    let shared = auto_with(Profile {
        split_factor: 3.0,
        ..synthetic(2.0, 2.0, 20.0)
    });
    let x = shared.upload(&xs).unwrap();
    assert_eq!(shared.sum(&x).unwrap(), xs.iter().sum::<i32>());
    let r = shared.last_run().unwrap();
    assert_ne!(r.side, Side::Split, "{r:?}");
    assert_eq!(r.policy, Policy::Auto);
    let best = r.predicted_cpu.unwrap().min(r.predicted_gpu.unwrap());
    assert!(r.predicted_split.unwrap() > best, "{r:?}");
}

#[test]
fn the_fast_path_is_per_op() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    // Sum costs 0.01 ns an element on the CPU, sort 100 ns; the GPU's fixed cost
    // is 50 us. So 65,536 elements of sum finish on the CPU before the GPU could
    // start (no prediction needed), while sort there must be predicted.
    let mut p = synthetic(0.01, 1.0, 50.0);
    let slow = synthetic(100.0, 1.0, 50.0);
    p.ops.insert("sort".into(), slow.ops["sort"].clone());
    let ctx = auto_with(p);
    let xs: Vec<u32> = (0..1 << 16).rev().collect();
    let x = ctx.upload(&xs).unwrap();
    assert_eq!(ctx.sum(&x).unwrap(), xs.iter().sum::<u32>());
    let r = ctx.last_run().unwrap();
    assert_eq!(r.reason, Reason::CpuBeforeGpuFixedCost, "{r:?}");
    assert_eq!(r.predicted_cpu, None);
    let sorted = ctx.sort(&x).unwrap().to_vec().unwrap();
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    let r = ctx.last_run().unwrap();
    assert!(
        r.predicted_cpu.is_some() && r.predicted_gpu.is_some(),
        "{r:?}"
    );
    // Data already on the GPU is never sent back without a prediction.
    ctx.prefetch(&x).unwrap();
    x.drop_host_copy().unwrap();
    assert_eq!(ctx.sum(&x).unwrap(), xs.iter().sum::<u32>());
    let r = ctx.last_run().unwrap();
    assert!(r.predicted_gpu.is_some(), "{r:?}");
}

#[test]
fn split_matches_the_cpu_on_every_splittable_op() {
    let Some(gpu) = common::gpu() else { return };
    let _serial = common::gpu_serial();
    let split = gpu.with_policy(Policy::Split);
    let cpu = gpu.with_policy(Policy::Cpu);
    let kernel = map_kernel!(i32, |x, y; a| a * x - y).unwrap();
    let kernel_f = map_kernel!(f32, |x, y| sqrt(abs(x)) + y).unwrap();
    for n in [2usize, 3, 1025, 4097, 65_537, 300_007] {
        // Ties on both sides of any cut, so that first-index rules are tested.
        let xs: Vec<i32> = (0..n as i32).map(|i| (i * 7919) % 1001 - 500).collect();
        let ys: Vec<i32> = (0..n as i32).map(|i| i % 13 - 6).collect();
        let (x, y) = (split.upload(&xs).unwrap(), split.upload(&ys).unwrap());
        let (cx, cy) = (cpu.upload(&xs).unwrap(), cpu.upload(&ys).unwrap());
        // The split result is checked against the record before the CPU twin runs
        // (the views share one run log).
        let same_vec = |a: tandem::Buffer<i32>, b: &dyn Fn() -> tandem::Buffer<i32>, what: &str| {
            let r = split.last_run().unwrap();
            assert_eq!(r.side, Side::Split, "{what} n={n}: {r:?}");
            assert!(r.gpu_share.is_some_and(|s| s > 0.0 && s < 1.0), "{r:?}");
            assert_eq!(a.to_vec().unwrap(), b().to_vec().unwrap(), "{what} n={n}");
        };
        same_vec(
            split.add(&x, &y).unwrap(),
            &|| cpu.add(&cx, &cy).unwrap(),
            "add",
        );
        same_vec(
            split.sub(&x, &y).unwrap(),
            &|| cpu.sub(&cx, &cy).unwrap(),
            "sub",
        );
        same_vec(
            split.mul(&x, &y).unwrap(),
            &|| cpu.mul(&cx, &cy).unwrap(),
            "mul",
        );
        same_vec(
            split.axpy(3, &x, &y).unwrap(),
            &|| cpu.axpy(3, &cx, &cy).unwrap(),
            "axpy",
        );
        same_vec(
            split.scale(&x, -2).unwrap(),
            &|| cpu.scale(&cx, -2).unwrap(),
            "scale",
        );
        same_vec(
            split.map(&kernel, [&x, &y], [5]).unwrap(),
            &|| cpu.map(&kernel, [&cx, &cy], [5]).unwrap(),
            "map",
        );
        assert_eq!(split.sum(&x).unwrap(), cpu.sum(&cx).unwrap(), "sum n={n}");
        assert_eq!(
            split.dot(&x, &y).unwrap(),
            cpu.dot(&cx, &cy).unwrap(),
            "dot n={n}"
        );
        assert_eq!(split.min(&x).unwrap(), cpu.min(&cx).unwrap(), "min n={n}");
        assert_eq!(split.max(&x).unwrap(), cpu.max(&cx).unwrap(), "max n={n}");
        assert_eq!(
            split.argmin(&x).unwrap(),
            cpu.argmin(&cx).unwrap(),
            "argmin n={n}"
        );
        assert_eq!(
            split.argmax(&x).unwrap(),
            cpu.argmax(&cx).unwrap(),
            "argmax n={n}"
        );
        assert_eq!(
            split.map_reduce(&kernel, [&x, &y], [5]).unwrap(),
            cpu.map_reduce(&kernel, [&cx, &cy], [5]).unwrap(),
            "map_reduce n={n}"
        );
        // Floats: the same values, up to association order for the sums.
        let fx: Vec<f32> = xs.iter().map(|&v| v as f32 * 0.25).collect();
        let fy: Vec<f32> = ys.iter().map(|&v| v as f32).collect();
        let (a, b) = (split.upload(&fx).unwrap(), split.upload(&fy).unwrap());
        let got = split
            .map(&kernel_f, [&a, &b], [])
            .unwrap()
            .to_vec()
            .unwrap();
        let want: Vec<f32> = fx
            .iter()
            .zip(&fy)
            .map(|(x, y)| x.abs().sqrt() + y)
            .collect();
        assert!(
            got.iter()
                .zip(&want)
                .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0)),
            "map f32 n={n}"
        );
        let s = split.sum(&a).unwrap() as f64;
        let exact: f64 = fx.iter().map(|&v| v as f64).sum();
        assert!((s - exact).abs() <= 1e-4 * fx.iter().map(|v| v.abs() as f64).sum::<f64>() + 1e-3);
        // NaN is ignored by min and max, on both parts.
        let mut nans = fx.clone();
        nans[0] = f32::NAN;
        nans[n - 1] = f32::NAN;
        let nb = split.upload(&nans).unwrap();
        let cb = cpu.upload(&nans).unwrap();
        assert_eq!(
            split.argmax(&nb).unwrap(),
            cpu.argmax(&cb).unwrap(),
            "NaN argmax n={n}"
        );
        assert_eq!(
            split.min(&nb).unwrap().map(f32::to_bits),
            cpu.min(&cb).unwrap().map(f32::to_bits),
            "NaN min n={n}"
        );
        // The inputs are intact and still on the host.
        assert_eq!(x.to_vec().unwrap(), xs);
    }
}

#[test]
fn an_out_of_memory_is_retried_after_freeing_caches_then_falls_back() {
    if common::gpu().is_none() {
        return;
    }
    let auto = gpu_first_auto();
    let xs: Vec<u32> = (0..100_000).collect();
    let want = xs.iter().fold(0u32, |a, &v| a.wrapping_add(v));
    let x = auto.upload(&xs).unwrap();
    // Once: the retry after freeing the staging pool succeeds on the GPU.
    auto.simulate_gpu_fault(SimulatedFault::OutOfMemory, 1);
    assert_eq!(auto.sum(&x).unwrap(), want);
    let r = auto.last_run().unwrap();
    assert_eq!((r.side, r.fallback.as_deref()), (Side::Gpu, None), "{r:?}");
    // Persisting: the CPU answers, and the record says why.
    auto.simulate_gpu_fault(SimulatedFault::OutOfMemory, 2);
    assert_eq!(auto.sum(&x).unwrap(), want);
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu, "{r:?}");
    assert!(
        r.fallback
            .as_deref()
            .is_some_and(|f| f.contains("out of memory")),
        "{r:?}"
    );
    // Under Gpu it is a typed error, and the data is intact.
    let gpu = auto.with_policy(Policy::Gpu);
    gpu.simulate_gpu_fault(SimulatedFault::OutOfMemory, 2);
    assert_eq!(gpu.sum(&x).unwrap_err().kind(), ErrorKind::OutOfMemory);
    assert_eq!(x.to_vec().unwrap(), xs);
    // Under Split too, the CPU re-runs the whole op.
    let split = auto.with_policy(Policy::Split);
    split.simulate_gpu_fault(SimulatedFault::OutOfMemory, 1);
    let y = split.add(&x, &x).unwrap();
    assert_eq!(split.last_run().unwrap().side, Side::Cpu);
    assert_eq!(y.to_vec().unwrap()[99_999], 199_998);
}

#[test]
fn a_timeout_reruns_on_the_cpu_under_auto_and_is_typed_under_gpu() {
    if common::gpu().is_none() {
        return;
    }
    let auto = gpu_first_auto();
    let xs: Vec<f32> = (0..50_000).map(|i| (i % 17) as f32).collect();
    let x = auto.upload(&xs).unwrap();
    // An op that returns a value waits for its own submission: it re-runs at once.
    auto.simulate_gpu_fault(SimulatedFault::Timeout, 1);
    assert_eq!(auto.sum(&x).unwrap(), xs.iter().sum::<f32>());
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu);
    assert!(
        r.fallback
            .as_deref()
            .is_some_and(|f| f.contains("did not finish")),
        "{r:?}"
    );
    // A deferred op: the timeout surfaces when its batch is submitted (here by
    // the read), and the batch re-runs on the CPU.
    auto.simulate_gpu_fault(SimulatedFault::Timeout, 1);
    let y = auto.scale(&x, 2.0).unwrap();
    assert!(auto.last_run().unwrap().deferred);
    assert_eq!(y.to_vec().unwrap()[16], 32.0);
    let gpu = auto.with_policy(Policy::Gpu);
    gpu.simulate_gpu_fault(SimulatedFault::Timeout, 1);
    assert_eq!(gpu.sum(&x).unwrap_err().kind(), ErrorKind::Timeout);
    // The fault was used up: the next call runs on the GPU again.
    assert_eq!(gpu.sum(&x).unwrap(), xs.iter().sum::<f32>());
}

#[test]
fn after_a_device_loss_the_gpu_comes_back_on_a_later_call() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    let auto = Context::builder()
        .policy(Policy::Auto)
        .gpu_crossover(0)
        .gpu_rebuild_after(Duration::from_millis(200))
        .without_profile()
        .build()
        .unwrap();
    let xs: Vec<i32> = (0..200_000).map(|i| i % 100).collect();
    let want: i32 = xs.iter().sum();
    let x = auto.upload(&xs).unwrap();
    auto.prefetch(&x).unwrap();
    let gpu_only = auto.with_policy(Policy::Gpu).add(&x, &x).unwrap();
    let first = auto.gpu_info().unwrap();

    auto.simulate_device_loss();
    // Within the wait: the CPU answers under Auto, and Gpu is a typed error.
    assert_eq!(auto.sum(&x).unwrap(), want);
    assert_eq!(auto.last_run().unwrap().side, Side::Cpu);
    let e = auto.with_policy(Policy::Gpu).sum(&x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");

    std::thread::sleep(Duration::from_millis(250));
    // A later call opens the device again and runs there, re-uploading from the host copy.
    assert_eq!(auto.sum(&x).unwrap(), want);
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Gpu, "{r:?}");
    assert!(auto.has_gpu());
    assert_eq!(auto.gpu_info().unwrap().name, first.name);
    assert_eq!(auto.with_policy(Policy::Gpu).sum(&x).unwrap(), want);
    // What lived only on the lost device is reported gone, never invented.
    assert_eq!(gpu_only.to_vec().unwrap_err().kind(), ErrorKind::DeviceLost);
    assert_eq!(x.to_vec().unwrap(), xs, "the user's data is intact");
}

#[test]
fn dropping_the_host_copy_is_the_users_choice() {
    let Some(gpu) = common::gpu() else { return };
    let x = gpu.upload(&[1.0f32, 2.0, 3.0]).unwrap();
    assert!(
        !x.drop_host_copy().unwrap(),
        "no device copy yet: the host copy stays"
    );
    gpu.prefetch(&x).unwrap();
    assert!(x.drop_host_copy().unwrap());
    assert_eq!(x.residency(), Residency::Device);
    assert_eq!(gpu.sum(&x).unwrap(), 6.0);
    assert_eq!(x.to_vec().unwrap(), [1.0, 2.0, 3.0]);
}

#[test]
fn split_without_a_gpu_or_on_other_ops_still_answers() {
    let ctx = common::context().with_policy(Policy::Split);
    let xs: Vec<u32> = (0..10_000).rev().collect();
    let x = ctx.upload(&xs).unwrap();
    let sorted = ctx.sort(&x).unwrap().to_vec().unwrap();
    assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    assert_ne!(ctx.last_run().unwrap().side, Side::Split);
    assert_eq!("split".parse::<Policy>().unwrap(), Policy::Split);
}

#[test]
fn auto_learns_a_heavy_kernels_cost_from_its_own_runs() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    // The profile thinks user kernels cost 0.01 ns per element on the CPU: far
    // less than any real run of this kernel over 1 M elements takes.
    let ctx = auto_with(synthetic(0.01, 1.0, 50.0));
    let heavy = map_kernel!(f32, |x, y| sin(cos(x * y + 1.0) + x) * exp(-abs(y))).unwrap();
    let xs: Vec<f32> = (0..1 << 20).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let x = ctx.upload(&xs).unwrap();
    let first = ctx.map(&heavy, [&x, &x], []).unwrap();
    let r1 = ctx.last_run().unwrap();
    assert_eq!(r1.side, Side::Cpu, "{r1:?}");
    // One run alone at a size counts only where below the profile's guess (it
    // may have paid for fresh allocations); the second run confirms it.
    let second = ctx.map(&heavy, [&x, &x], []).unwrap();
    ctx.map(&heavy, [&x, &x], []).unwrap();
    let r3 = ctx.last_run().unwrap();
    // The CPU prediction now reflects the measured runs, not the profile's guess.
    let (p1, p3) = (r1.predicted_cpu.unwrap(), r3.predicted_cpu.unwrap());
    assert!(p3 > p1 * 2, "{r1:?} {r3:?}");
    // Sides may differ in the last bits of sin/cos/exp.
    let (a, b) = (first.to_vec().unwrap(), second.to_vec().unwrap());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "the two runs differ by {worst}");
    // Built-in ops keep the profile's numbers: 1 M elements at 0.01 ns each stay
    // below the GPU's 50 us fixed cost, so Auto answers on the CPU without predicting.
    ctx.sum(&x).unwrap();
    let s = ctx.last_run().unwrap();
    assert_eq!(s.side, Side::Cpu, "{s:?}");
    assert_eq!(s.reason, Reason::CpuBeforeGpuFixedCost, "{s:?}");
}

#[test]
fn a_deferred_run_of_a_settled_kernel_teaches_auto_its_gpu_time() {
    if common::gpu().is_none() {
        return;
    }
    let _serial = common::gpu_serial();
    let k = map_kernel!(f32, |x, y| x * y + 1.0).unwrap();
    let xs: Vec<f32> = (0..1 << 16).map(|i| (i % 1000) as f32 * 1e-3).collect();
    for on in [false, true] {
        // The profile makes the GPU far faster than the CPU: Auto runs the kernel there.
        let ctx = Context::builder()
            .policy(Policy::Auto)
            .profile(synthetic(1000.0, 0.001, 50.0))
            .gpu_timestamps(on)
            .build()
            .unwrap();
        let timed = on && ctx.gpu_info().unwrap().timestamps;
        let x = ctx.upload(&xs).unwrap();
        ctx.prefetch(&x).unwrap();
        ctx.synchronize().unwrap();
        // While Auto learns the kernel, its runs wait and teach their wall time.
        let settled = (0..12).any(|_| {
            ctx.map(&k, [&x, &x], []).unwrap();
            ctx.last_run().unwrap().deferred
        });
        assert!(settled, "{:?}", ctx.runs());
        // Deferred runs before any wait: none has run, so none has taught anything.
        let first = ctx.last_run().unwrap().predicted_gpu;
        for _ in 0..6 {
            ctx.map(&k, [&x, &x], []).unwrap();
            let r = ctx.last_run().unwrap();
            assert!(r.deferred && r.side == Side::Gpu, "{r:?}");
            assert_eq!(r.predicted_gpu, first, "{r:?}");
        }
        // Once they ran, those with a GPU time have taught it (as what a
        // synchronous run would have cost); without one, nothing.
        ctx.synchronize().unwrap();
        ctx.map(&k, [&x, &x], []).unwrap();
        let after = ctx.last_run().unwrap();
        match timed {
            true => assert_ne!(after.predicted_gpu, first, "{after:?}"),
            false => assert_eq!(after.predicted_gpu, first, "{after:?}"),
        }
    }
}
