//! Fault and concurrency soak (issue 17): threads share one context and run
//! mixed ops under mixed policies while another thread loses the device and
//! injects out-of-memory and timeout faults at random moments.
//!
//! Passes when there is no wrong answer, every error is of a kind the policy
//! allows, nothing panics, every thread finishes (a watchdog bounds the whole
//! run), and the context works on the GPU again afterwards. Length:
//! `TANDEM_SOAK_SECS` (default 20). Prints the figures RELIABILITY.md quotes.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{map_kernel, Context, ErrorKind, MapKernel, Policy, SimulatedFault};

const THREADS: usize = 6;

#[derive(Default)]
struct Figures {
    ops: AtomicUsize,
    ok: AtomicUsize,
    errors: Mutex<BTreeMap<String, usize>>,
    wrong: Mutex<Vec<String>>,
    panics: AtomicUsize,
    losses: AtomicUsize,
    ooms: AtomicUsize,
    timeouts: AtomicUsize,
}

/// What a policy may answer under these faults besides the right result.
fn allowed(policy: Policy, kind: ErrorKind) -> bool {
    match policy {
        // The CPU never sees the GPU's faults.
        Policy::Cpu => false,
        // Auto and Split re-run on the CPU; only data that lived on the GPU
        // alone (an op's device result, read back after a loss) is lost.
        Policy::Auto | Policy::Split => kind == ErrorKind::DeviceLost,
        _ => matches!(
            kind,
            ErrorKind::DeviceLost | ErrorKind::Timeout | ErrorKind::OutOfMemory
        ),
    }
}

/// One random op on `ctx`; Ok(Err(msg)) is a wrong answer.
fn one_op<F>(
    ctx: &Context,
    rng: &mut ChaCha8Rng,
    kernel: &MapKernel<f32, 2, 1, F>,
) -> tandem::Result<Result<(), String>>
where
    F: Fn([f32; 2], [f32; 1]) -> f32 + Sync + Send + 'static,
{
    let n = match rng.random_range(0..4) {
        0 => rng.random_range(0..64),
        1 => rng.random_range(2040..2060),
        _ => rng.random_range(0..40_000),
    };
    let xs: Vec<f32> = (0..n).map(|_| rng.random_range(-8i32..8) as f32).collect();
    let us: Vec<u32> = (0..n).map(|_| rng.random_range(0..1000u32)).collect();
    let check = |ok: bool, what: &str| {
        Ok(if ok {
            Ok(())
        } else {
            Err(format!("{what} of {n}"))
        })
    };
    match rng.random_range(0..8) {
        0 => {
            // Small integers: the f32 sum is exact in any order.
            let s = ctx.sum(&ctx.upload(&xs)?)?;
            check(s == xs.iter().sum::<f32>(), "sum")
        }
        1 => {
            let x = ctx.upload(&xs)?;
            let y = ctx.add(&x, &x)?.to_vec()?;
            check(y.iter().zip(&xs).all(|(y, x)| *y == 2.0 * x), "add")
        }
        2 => {
            let y = ctx.inclusive_scan(&ctx.upload(&us)?)?.to_vec()?;
            let mut acc = 0u32;
            check(
                y.iter().zip(&us).all(|(y, u)| {
                    acc = acc.wrapping_add(*u);
                    *y == acc
                }),
                "scan",
            )
        }
        3 => {
            let y = ctx.sort(&ctx.upload(&us)?)?.to_vec()?;
            let mut want = us.clone();
            want.sort_unstable();
            check(y == want, "sort")
        }
        4 => {
            let h = ctx.histogram(&ctx.upload(&us)?, 10, 0, 1000)?.to_vec()?;
            let mut want = vec![0u32; 10];
            us.iter().for_each(|u| want[(*u / 100) as usize] += 1);
            check(h == want, "histogram")
        }
        5 => {
            let k = 1 + n % 300;
            let a: Vec<f32> = xs.iter().copied().cycle().take(2 * k).collect();
            let a = if a.len() == 2 * k {
                a
            } else {
                vec![1.0; 2 * k]
            };
            let c = ctx
                .matmul(&ctx.upload(&a)?, &ctx.upload(&a)?, 2, k, 2)?
                .to_vec()?;
            let want00: f32 = (0..k).map(|q| a[q] * a[q * 2]).sum();
            check(c[0] == want00, "matmul")
        }
        6 => {
            let x = ctx.upload(&xs)?;
            let y = ctx.map(kernel, [&x, &x], [3.0])?.to_vec()?;
            check(y.iter().zip(&xs).all(|(y, x)| *y == 4.0 * x), "map")
        }
        _ => {
            let m = ctx.max(&ctx.upload(&us)?)?;
            check(m == us.iter().copied().max(), "max")
        }
    }
}

#[test]
fn threads_share_a_context_through_device_loss_and_injected_faults() {
    if common::gpu().is_none() {
        return;
    }
    // On GL too: tandem's gate (src/gpu/gate.rs) serialises the threads' GPU
    // work, so wgpu-hal's GL context lock never makes one wait long enough to
    // panic ("Could not lock adapter context"), as it did before the gate.
    let _g = common::gpu_serial();
    let secs: u64 = std::env::var("TANDEM_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let ctx = Context::builder()
        .policy(Policy::Auto)
        .without_profile()
        .gpu_crossover(1)
        .gpu_rebuild_after(Duration::from_millis(100))
        .build()
        .unwrap();
    let kernel = map_kernel!(f32, |x, y; a| a * x + y).unwrap();
    let figures = Figures::default();
    let stop = AtomicBool::new(false);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let policies = [Policy::Auto, Policy::Gpu, Policy::Split, Policy::Cpu];
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ctx, figures, stop, done) = (&ctx, &figures, &stop, done_tx.clone());
            let kernel = &kernel;
            s.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(17 + t as u64);
                while !stop.load(Ordering::Relaxed) {
                    let policy = policies[rng.random_range(0..policies.len())];
                    let view = ctx.with_policy(policy);
                    figures.ops.fetch_add(1, Ordering::Relaxed);
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        one_op(&view, &mut rng, kernel)
                    }));
                    match r {
                        Err(_) => {
                            figures.panics.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Ok(Ok(()))) => {
                            figures.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Ok(Err(what))) => figures
                            .wrong
                            .lock()
                            .unwrap()
                            .push(format!("{policy}: {what}")),
                        Ok(Err(e)) if allowed(policy, e.kind()) => {
                            *figures
                                .errors
                                .lock()
                                .unwrap()
                                .entry(format!("{:?}", e.kind()))
                                .or_default() += 1;
                        }
                        Ok(Err(e)) => figures
                            .wrong
                            .lock()
                            .unwrap()
                            .push(format!("{policy}: disallowed {:?}: {e}", e.kind())),
                    }
                }
                let _ = done.send(());
            });
        }
        drop(done_tx);
        // The injector: a fault every 50-400 ms.
        let mut rng = ChaCha8Rng::seed_from_u64(1717);
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
            match rng.random_range(0..4) {
                0 | 1 => {
                    ctx.simulate_device_loss();
                    figures.losses.fetch_add(1, Ordering::Relaxed);
                }
                2 => {
                    ctx.simulate_gpu_fault(SimulatedFault::OutOfMemory, rng.random_range(1..4));
                    figures.ooms.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    ctx.simulate_gpu_fault(SimulatedFault::Timeout, rng.random_range(1..3));
                    figures.timeouts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // The watchdog: every thread must finish its op and stop.
        let deadline = Instant::now() + Duration::from_secs(120);
        for _ in 0..THREADS {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                eprintln!("soak: HANG: a thread did not finish within 120 s of the stop");
                std::process::abort();
            }
        }
    });
    ctx.simulate_gpu_fault(SimulatedFault::Timeout, 0);
    // Usable afterwards: the GPU comes back (within a bounded number of tries).
    let gpu = ctx.with_policy(Policy::Gpu);
    let x = gpu.upload(&[1.0f32, 2.0, 3.0]).unwrap();
    let mut back = None;
    for _ in 0..100 {
        match gpu.sum(&x) {
            Ok(v) => {
                back = Some(v);
                break;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(back, Some(6.0), "the GPU is usable again after the soak");
    assert!(ctx.has_gpu() && ctx.gpu_unavailable_reason().is_none());
    let wrong = figures.wrong.lock().unwrap();
    eprintln!(
        "soak: {THREADS} threads x {} ops in {secs} s: {} right, clean errors {:?}, wrong answers {}, panics {}, hangs 0; faults injected: {} device losses, {} out-of-memory, {} timeouts",
        figures.ops.load(Ordering::Relaxed),
        figures.ok.load(Ordering::Relaxed),
        figures.errors.lock().unwrap(),
        wrong.len(),
        figures.panics.load(Ordering::Relaxed),
        figures.losses.load(Ordering::Relaxed),
        figures.ooms.load(Ordering::Relaxed),
        figures.timeouts.load(Ordering::Relaxed),
    );
    assert!(
        wrong.is_empty(),
        "wrong answers or disallowed errors: {:?}",
        &wrong[..wrong.len().min(20)]
    );
    assert_eq!(figures.panics.load(Ordering::Relaxed), 0);
}
