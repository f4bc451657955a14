//! Deferred GPU execution (issue 14): chains of ops record into the device's
//! open batch and submit once; reads wait once; faults in the middle of a
//! chain lose nothing; many threads share one context.

mod common;

use std::sync::Arc;

use tandem::{Buffer, Context, ErrorKind, Policy, SimulatedFault};

/// A fresh context of its own (fault tests break their device), or None
/// without a GPU (same skip rule as the other suites).
fn own_context(policy: Policy) -> Option<Context> {
    common::gpu()?;
    let ctx = Context::builder()
        .policy(policy)
        .without_profile()
        // Under Auto: every op of 1 element or more on the GPU.
        .gpu_crossover(1)
        .build()
        .expect("a context builds");
    Some(ctx)
}

const N: usize = 5_000;

fn input() -> Vec<i32> {
    (0..N as i32).map(|i| (i * 7919) % 1013 - 500).collect()
}

/// Step `i` of a chain: on tandem, and on plain vectors.
fn step(ctx: &Context, i: usize, y: &Buffer<i32>, x: &Buffer<i32>) -> tandem::Result<Buffer<i32>> {
    match i % 8 {
        0 => ctx.add(y, x),
        1 => ctx.mul(y, x),
        2 => ctx.sub(y, x),
        3 => ctx.scale(y, 3),
        4 => ctx.axpy(2, y, x),
        5 => ctx.inclusive_scan(y),
        6 => ctx.adjacent_difference(y),
        _ => ctx.sort(y),
    }
}

fn step_ref(i: usize, y: &[i32], x: &[i32]) -> Vec<i32> {
    let zip = |f: fn(i32, i32) -> i32| y.iter().zip(x).map(|(&a, &b)| f(a, b)).collect();
    match i % 8 {
        0 => zip(i32::wrapping_add),
        1 => zip(i32::wrapping_mul),
        2 => zip(i32::wrapping_sub),
        3 => y.iter().map(|a| a.wrapping_mul(3)).collect(),
        4 => zip(|a, b| a.wrapping_mul(2).wrapping_add(b)),
        5 => y
            .iter()
            .scan(0i32, |s, &a| {
                *s = s.wrapping_add(a);
                Some(*s)
            })
            .collect(),
        6 => (0..y.len())
            .map(|j| match j {
                0 => y[0],
                _ => y[j].wrapping_sub(y[j - 1]),
            })
            .collect(),
        _ => {
            let mut v = y.to_vec();
            v.sort();
            v
        }
    }
}

/// Every intermediate of a chain of `len` steps from `x`, by reference.
fn chain_ref(xs: &[i32], len: usize) -> Vec<Vec<i32>> {
    let mut out = vec![xs.to_vec()];
    for i in 0..len {
        let next = step_ref(i, out.last().unwrap(), xs);
        out.push(next);
    }
    out.remove(0);
    out
}

fn resident(ctx: &Context, xs: &[i32]) -> Buffer<i32> {
    let x = ctx.upload(xs).unwrap();
    ctx.prefetch(&x).unwrap();
    ctx.synchronize().unwrap();
    x
}

/// A fresh context with `policy`, the chain's input, and that input resident
/// on its GPU (None without a GPU).
fn resident_chain_input(policy: Policy) -> Option<(Context, Vec<i32>, Buffer<i32>)> {
    let ctx = own_context(policy)?;
    let xs = input();
    let x = resident(&ctx, &xs);
    Some((ctx, xs, x))
}

#[test]
fn a_chain_of_sixteen_resident_ops_is_one_submission() {
    let Some((ctx, xs, x)) = resident_chain_input(Policy::Gpu) else {
        return;
    };
    let before = ctx.stream_stats();
    let mut y = ctx.add(&x, &x).unwrap();
    for i in 1..16 {
        y = step(&ctx, i, &y, &x).unwrap();
        assert!(
            ctx.last_run().unwrap().deferred,
            "step {i} was not deferred"
        );
    }
    let recorded = ctx.stream_stats().since(&before);
    assert_eq!((recorded.submits, recorded.waits), (0, 0), "{recorded:?}");
    assert_eq!(recorded.deferred, 16, "{recorded:?}");
    let total = ctx.sum(&y).unwrap();
    let chain = ctx.stream_stats().since(&before);
    assert_eq!((chain.submits, chain.waits), (1, 1), "{chain:?}");
    let mut want = xs.iter().map(|a| a.wrapping_add(*a)).collect::<Vec<_>>();
    for i in 1..16 {
        want = step_ref(i, &want, &xs);
    }
    assert_eq!(total, want.iter().fold(0i32, |s, a| s.wrapping_add(*a)));
    assert_eq!(y.to_vec().unwrap(), want);
}

#[test]
fn every_op_that_returns_a_value_submits_and_waits_once() {
    let Some(ctx) = own_context(Policy::Gpu) else {
        return;
    };
    let xs: Vec<f32> = (0..70_000)
        .map(|i| ((i * 37) % 101) as f32 - 50.0)
        .collect();
    let x = ctx.upload(&xs).unwrap();
    ctx.prefetch(&x).unwrap();
    let k = tandem::map_kernel!(f32, |a, b| a * b).unwrap();
    type Call<'a> = Box<dyn Fn() -> f64 + 'a>;
    let calls: Vec<(&str, Call)> = vec![
        ("sum", Box::new(|| ctx.sum(&x).unwrap() as f64)),
        ("dot", Box::new(|| ctx.dot(&x, &x).unwrap() as f64)),
        ("min", Box::new(|| ctx.min(&x).unwrap().unwrap() as f64)),
        ("max", Box::new(|| ctx.max(&x).unwrap().unwrap() as f64)),
        (
            "argmin",
            Box::new(|| ctx.argmin(&x).unwrap().unwrap() as f64),
        ),
        (
            "argmax",
            Box::new(|| ctx.argmax(&x).unwrap().unwrap() as f64),
        ),
        (
            "map_reduce",
            Box::new(|| ctx.map_reduce(&k, [&x, &x], []).unwrap() as f64),
        ),
    ];
    for (name, call) in calls {
        // Each call once to compile its shaders, then counted.
        call();
        ctx.synchronize().unwrap();
        let before = ctx.stream_stats();
        call();
        let d = ctx.stream_stats().since(&before);
        assert_eq!((d.submits, d.waits), (1, 1), "{name}: {d:?}");
    }
}

/// `compact`, `compact_if` and `count_if` on an input in one binding window:
/// one submission and one wait each (the output is sized for every element and
/// scattered into in the submission that reads the count back), right answers,
/// including nothing kept and everything kept.
#[test]
fn the_compact_family_submits_and_waits_once() {
    let Some(ctx) = own_context(Policy::Gpu) else {
        return;
    };
    let xs: Vec<i32> = (0..70_000).map(|i| (i * 7919) % 1013 - 500).collect();
    let mask: Vec<u32> = (0..70_000u32).map(|i| (i % 3 == 0) as u32).collect();
    let (x, m) = (ctx.upload(&xs).unwrap(), ctx.upload(&mask).unwrap());
    ctx.prefetch(&x).unwrap();
    ctx.prefetch(&m).unwrap();
    let kept_by_mask: Vec<i32> = xs
        .iter()
        .zip(&mask)
        .filter(|(_, &k)| k != 0)
        .map(|(&v, _)| v)
        .collect();
    for value in [-1_000, 0, 1_000] {
        let kept: Vec<i32> = xs.iter().copied().filter(|&v| v > value).collect();
        for round in 0..2 {
            // The first round compiles the shaders; the second is counted.
            ctx.synchronize().unwrap();
            let before = ctx.stream_stats();
            let got = ctx.compact_if(&x, tandem::Compare::Gt, value).unwrap();
            let d = ctx.stream_stats().since(&before);
            assert_eq!(got.len(), kept.len(), "compact_if > {value}");
            if round == 1 {
                assert_eq!((d.submits, d.waits), (1, 1), "compact_if > {value}: {d:?}");
            }
            assert_eq!(got.to_vec().unwrap(), kept, "compact_if > {value}");
            let before = ctx.stream_stats();
            let count = ctx.count_if(&x, tandem::Compare::Gt, value).unwrap();
            let d = ctx.stream_stats().since(&before);
            assert_eq!(count, kept.len(), "count_if > {value}");
            if round == 1 {
                assert_eq!((d.submits, d.waits), (1, 1), "count_if > {value}: {d:?}");
            }
        }
    }
    ctx.synchronize().unwrap();
    let before = ctx.stream_stats();
    let got = ctx.compact(&x, &m).unwrap();
    let d = ctx.stream_stats().since(&before);
    assert_eq!((d.submits, d.waits), (1, 1), "compact: {d:?}");
    assert_eq!(got.to_vec().unwrap(), kept_by_mask);
}

#[test]
fn flush_submits_without_waiting_and_synchronize_waits() {
    let Some((ctx, xs, x)) = resident_chain_input(Policy::Gpu) else {
        return;
    };
    let before = ctx.stream_stats();
    let y = ctx.add(&x, &x).unwrap();
    let z = ctx.mul(&y, &x).unwrap();
    ctx.flush().unwrap();
    let d = ctx.stream_stats().since(&before);
    assert_eq!((d.submits, d.waits, d.deferred), (1, 0, 2), "{d:?}");
    ctx.synchronize().unwrap();
    let d = ctx.stream_stats().since(&before);
    assert_eq!((d.submits, d.waits), (1, 1), "{d:?}");
    let want = chain_ref(&xs, 2);
    assert_eq!(z.to_vec().unwrap(), want[1]);
    assert_eq!(y.to_vec().unwrap(), want[0]);
}

#[test]
fn a_loop_that_never_reads_keeps_at_most_two_full_batches_in_flight() {
    let Some((ctx, xs, x)) = resident_chain_input(Policy::Gpu) else {
        return;
    };
    let before = ctx.stream_stats();
    // Five full batches of one-dispatch ops, each output dropped at once.
    let mut y = ctx.add(&x, &x).unwrap();
    for _ in 0..5 * 256 {
        y = ctx.add(&y, &x).unwrap();
    }
    let d = ctx.stream_stats().since(&before);
    // A full batch is submitted at once; from the second on, the one before
    // it is waited for (so the GPU's backlog, and the memory it holds, stays
    // bounded however long the loop runs).
    assert_eq!(d.submits, 5, "{d:?}");
    assert_eq!(d.waits, 4, "{d:?}");
    let want: Vec<i32> = xs.iter().map(|&v| v.wrapping_mul(5 * 256 + 2)).collect();
    assert_eq!(y.to_vec().unwrap(), want);
}

/// Runs a chain of `len` steps, calling `fault` before step `at`; returns
/// every intermediate buffer.
fn chain_with(
    ctx: &Context,
    x: &Buffer<i32>,
    len: usize,
    at: usize,
    fault: impl Fn(&Context),
) -> Vec<Buffer<i32>> {
    let mut out: Vec<Buffer<i32>> = Vec::new();
    for i in 0..len {
        if i == at {
            fault(ctx);
        }
        let y = match out.last() {
            Some(prev) => step(ctx, i, prev, x).unwrap(),
            None => step(ctx, i, x, x).unwrap(),
        };
        out.push(y);
    }
    out
}

#[test]
fn a_timeout_in_the_middle_of_a_chain_reruns_the_batch_on_the_cpu_under_auto() {
    let Some((ctx, xs, x)) = resident_chain_input(Policy::Auto) else {
        return;
    };
    let outs = chain_with(&ctx, &x, 12, 5, |c| {
        c.simulate_gpu_fault(SimulatedFault::Timeout, 1)
    });
    // The fault waits in the batch: the calls returned, deferred, without error.
    assert!(ctx.runs().iter().rev().take(12).all(|r| r.deferred));
    let want = chain_ref(&xs, 12);
    // The first read submits the batch, which fails and re-runs on the CPU.
    assert_eq!(outs[11].to_vec().unwrap(), want[11]);
    for (i, (got, want)) in outs.iter().zip(&want).enumerate() {
        assert_eq!(&got.to_vec().unwrap(), want, "step {i}");
    }
    // The device still works.
    assert_eq!(
        ctx.add(&x, &x).unwrap().to_vec().unwrap(),
        chain_ref(&xs, 1)[0]
    );
}

#[test]
fn a_timeout_in_the_middle_of_a_chain_is_an_error_naming_the_op_under_policy_gpu() {
    let Some((ctx, xs, x)) = resident_chain_input(Policy::Gpu) else {
        return;
    };
    let outs = chain_with(&ctx, &x, 10, 4, |c| {
        c.simulate_gpu_fault(SimulatedFault::Timeout, 1)
    });
    let e = ctx.synchronize().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // Step 4 is `axpy`.
    assert!(e.to_string().contains("axpy"), "{e}");
    // No output of the failed batch reads as data: each gives the error.
    for (i, y) in outs.iter().enumerate() {
        let e = y.to_vec().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout, "step {i}: {e}");
    }
    // Nothing is left over: the next chain runs.
    let outs = chain_with(&ctx, &x, 3, usize::MAX, |_| {});
    assert_eq!(outs[2].to_vec().unwrap(), chain_ref(&xs, 3)[2]);
}

#[test]
fn a_device_loss_in_the_middle_of_a_chain_loses_nothing_under_auto() {
    let Some(ctx) = own_context(Policy::Auto) else {
        return;
    };
    let xs = input();
    let x = ctx.upload(&xs).unwrap();
    let outs = chain_with(&ctx, &x, 12, 6, |c| c.simulate_device_loss());
    let want = chain_ref(&xs, 12);
    for (i, (got, want)) in outs.iter().zip(&want).enumerate() {
        assert_eq!(&got.to_vec().unwrap(), want, "step {i}");
    }
}

#[test]
fn a_device_loss_under_policy_gpu_is_an_error_at_the_read() {
    let Some(ctx) = own_context(Policy::Gpu) else {
        return;
    };
    let xs = input();
    let x = ctx.upload(&xs).unwrap();
    let y = ctx.add(&x, &x).unwrap();
    let z = ctx.mul(&y, &x).unwrap();
    ctx.simulate_device_loss();
    let e = z.to_vec().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceLost, "{e}");
    assert_eq!(y.to_vec().unwrap_err().kind(), ErrorKind::DeviceLost);
    // What the user gave is still there.
    assert_eq!(x.to_vec().unwrap(), xs);
}

#[test]
fn an_in_place_op_after_a_deferred_read_of_its_target_keeps_program_order() {
    let Some(ctx) = own_context(Policy::Gpu) else {
        return;
    };
    let xs = input();
    let mut x = resident(&ctx, &xs);
    let y = ctx.add(&x, &x).unwrap();
    ctx.fill(&mut x, 1).unwrap();
    let z = ctx.add(&x, &x).unwrap();
    assert_eq!(y.to_vec().unwrap(), chain_ref(&xs, 1)[0]);
    assert_eq!(z.to_vec().unwrap(), vec![2; N]);
}

#[test]
fn many_threads_chain_ops_on_one_context() {
    let Some(ctx) = own_context(Policy::Auto) else {
        return;
    };
    let _serial = common::gpu_serial();
    let xs = input();
    let shared = Arc::new(resident(&ctx, &xs));
    let want = chain_ref(&xs, 20);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (ctx, shared, want, xs) = (&ctx, shared.clone(), &want, &xs);
            s.spawn(move || {
                // A private input beside the shared one.
                let private = ctx.upload(xs).unwrap();
                let x: &Buffer<i32> = if t % 2 == 0 { &shared } else { &private };
                for round in 0..3 {
                    let outs = chain_with(ctx, x, 20, usize::MAX, |_| {});
                    let last = outs.last().unwrap().to_vec().unwrap();
                    assert_eq!(&last, &want[19], "thread {t}, round {round}");
                }
            });
        }
    });
    // A buffer written in one thread reads right in another once the call returned.
    let (tx, rx) = std::sync::mpsc::channel();
    let (ctx, shared, want) = (&ctx, &shared, &want);
    std::thread::scope(|s| {
        s.spawn(move || {
            let y = ctx.add(shared, shared).unwrap();
            tx.send(y).unwrap();
        });
        s.spawn(move || {
            let y = rx.recv().unwrap();
            assert_eq!(y.to_vec().unwrap(), want[0]);
        });
    });
}

#[test]
fn deferred_ops_get_their_gpu_time_once_their_batch_finished() {
    if common::gpu().is_none() {
        return;
    }
    // Off, and on for every adapter with the feature (software ones too: the
    // default times hardware GPUs only).
    for on in [false, true] {
        let b = Context::builder().policy(Policy::Gpu).without_profile();
        let ctx = b.gpu_timestamps(on).build().unwrap();
        let timed = on && ctx.gpu_info().unwrap().timestamps;
        let xs = input();
        let x = resident(&ctx, &xs);
        ctx.clear_runs();
        let before = ctx.stream_stats();
        let started = std::time::Instant::now();
        let mut y = ctx.add(&x, &x).unwrap();
        for i in 1..16 {
            y = step(&ctx, i, &y, &x).unwrap();
        }
        // Nothing has run yet: no time is known.
        let recorded = ctx.runs();
        assert_eq!(recorded.len(), 16);
        assert!(recorded.iter().all(|r| r.deferred && r.gpu_time.is_none()));
        ctx.synchronize().unwrap();
        let wall = started.elapsed();
        let times: Vec<_> = ctx.runs().iter().map(|r| r.gpu_time).collect();
        let stats = ctx.stream_stats().since(&before);
        if timed {
            let zero = std::time::Duration::ZERO;
            assert!(
                times.iter().all(|t| t.is_some_and(|t| t > zero)),
                "{times:?}"
            );
            // The passes ran between the first call and the end of the wait.
            let total: std::time::Duration = times.iter().flatten().sum();
            assert!(
                total <= wall,
                "GPU time {total:?} over the wall time {wall:?}"
            );
            assert_eq!(stats.gpu_timed, 16, "{stats:?}");
        } else {
            assert!(times.iter().all(|t| t.is_none()), "{times:?}");
            assert_eq!(stats.gpu_timed, 0, "{stats:?}");
        }
        // A call that ran before returning has no GPU time of its own.
        ctx.sum(&y).unwrap();
        assert_eq!(ctx.last_run().unwrap().gpu_time, None);
        assert_eq!(y.to_vec().unwrap(), chain_ref(&xs, 16)[15]);
    }
}
