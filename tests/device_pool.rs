//! The device output pool (issue 14): a dropped output's buffer is handed to
//! the next output of its size, and never while anything still uses it; and
//! the uniform buffers that submissions reuse.

mod common;

use tandem::gpu::shader::Binding;
use tandem::kernel::{Arg, WgslKernel};
use tandem::{Buffer, Context, Policy};

/// A `Policy::Gpu` context of its own (its own device and pool), or None
/// without a GPU (same skip rule as the other suites).
fn gpu_context(pool_bytes: Option<u64>) -> Option<Context> {
    common::gpu()?;
    let mut b = Context::builder().policy(Policy::Gpu).without_profile();
    if let Some(bytes) = pool_bytes {
        b = b.device_pool_bytes(bytes);
    }
    Some(b.build().expect("a context builds"))
}

const N: usize = 3_001;

/// Panics with the first difference (the vectors are long).
fn same(got: &[u32], want: &[u32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!("{what}: element {i} is {}, want {}", got[i], want[i]);
    }
}

fn ramp(k: u32) -> Vec<u32> {
    (0..N as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) ^ k)
        .collect()
}

/// A loop that drops each output reuses its buffer and gives the right values.
#[test]
fn a_loop_over_device_data_reuses_outputs_and_stays_right() {
    let Some(ctx) = gpu_context(None) else { return };
    let (a, b) = (ramp(1), ramp(2));
    let (da, db) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
    let before = ctx.device_pool_stats();
    let mut y = ctx.add(&da, &db).unwrap();
    let mut want: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y)).collect();
    for i in 0..40u32 {
        y = match i % 4 {
            0 => ctx.add(&y, &da).unwrap(),
            1 => ctx.mul(&y, &db).unwrap(),
            2 => ctx.inclusive_scan(&y).unwrap(),
            _ => ctx.scale(&y, 3).unwrap(),
        };
        want = match i % 4 {
            0 => want
                .iter()
                .zip(&a)
                .map(|(x, y)| x.wrapping_add(*y))
                .collect(),
            1 => want
                .iter()
                .zip(&b)
                .map(|(x, y)| x.wrapping_mul(*y))
                .collect(),
            2 => want
                .iter()
                .scan(0u32, |s, &x| {
                    *s = s.wrapping_add(x);
                    Some(*s)
                })
                .collect(),
            _ => want.iter().map(|x| x.wrapping_mul(3)).collect(),
        };
        if i % 9 == 0 {
            same(&y.to_vec().unwrap(), &want, &format!("step {i}"));
        }
    }
    same(&y.to_vec().unwrap(), &want, "the chain's end");
    let s = ctx.device_pool_stats();
    // Each step frees the previous output: after the first, steps reuse it.
    assert!(
        s.reused - before.reused >= 35,
        "reused {} of 41 outputs: {s:?}",
        s.reused - before.reused
    );
    assert!(s.held_bytes <= s.limit_bytes);
    drop(y);
    assert!(ctx.device_pool_stats().held_buffers >= 1);
    assert!(ctx.release_device_memory() > 0);
    assert_eq!(ctx.device_pool_stats().held_bytes, 0);
}

/// An op that writes a pooled output in place (`fill`, `scatter`, `run_wgsl`)
/// keeps its buffer: a later output of the same size must not take it.
#[test]
fn an_output_written_in_place_is_not_handed_out_again() {
    let Some(ctx) = gpu_context(None) else { return };
    let (a, b) = (ramp(3), ramp(4));
    let (da, db) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
    let sum: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y)).collect();

    let mut filled = ctx.add(&da, &db).unwrap();
    ctx.fill(&mut filled, 7).unwrap();

    let mut scattered = ctx.add(&da, &db).unwrap();
    let idx = ctx.upload(&[0u32, 5]).unwrap();
    let src = ctx.upload(&[11u32, 12]).unwrap();
    ctx.scatter(&src, &idx, &mut scattered).unwrap();
    let mut want_scattered = sum.clone();
    want_scattered[0] = 11;
    want_scattered[5] = 12;

    let k = WgslKernel::new(
        "plus_one",
        "@group(0) @binding(0) var<storage, read_write> y: array<u32>;
         @compute @workgroup_size(64)
         fn main(@builtin(global_invocation_id) id: vec3<u32>) {
             if (id.x < arrayLength(&y)) { y[id.x] = y[id.x] + 1u; }
         }",
        "main",
    )
    .unwrap()
    .expect_bindings(&[Binding::ReadWrite])
    .unwrap();
    let mut bumped = ctx.add(&da, &db).unwrap();
    ctx.run_wgsl(&k, N, &mut [Arg::write(&mut bumped)], |args| {
        for y in args.write::<u32>(0)?.iter_mut() {
            *y = y.wrapping_add(1);
        }
        Ok(())
    })
    .unwrap();
    let want_bumped: Vec<u32> = sum.iter().map(|x| x.wrapping_add(1)).collect();

    // Outputs of the same size, made and dropped: each would take a buffer
    // given back too early, and overwrite it.
    let others: Vec<Buffer<u32>> = (0..6).map(|_| ctx.sub(&da, &db).unwrap()).collect();
    drop(others);
    let more: Vec<Buffer<u32>> = (0..6).map(|_| ctx.mul(&da, &db).unwrap()).collect();
    same(&filled.to_vec().unwrap(), &[7u32; N], "fill");
    same(&scattered.to_vec().unwrap(), &want_scattered, "scatter");
    same(&bumped.to_vec().unwrap(), &want_bumped, "run_wgsl");
    let prod: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x.wrapping_mul(*y)).collect();
    for m in &more {
        same(&m.to_vec().unwrap(), &prod, "a later output");
    }
}

/// Outputs that count into zeroed memory never get a pooled buffer: a pool
/// full of buffers of the counts' size, holding other values, changes nothing.
#[test]
fn counting_outputs_start_from_zero_with_a_full_pool() {
    let Some(ctx) = gpu_context(None) else { return };
    let bins = 256usize;
    let junk = ctx.upload(&vec![0xdead_beefu32; bins]).unwrap();
    let pooled: Vec<Buffer<u32>> = (0..8).map(|_| ctx.add(&junk, &junk).unwrap()).collect();
    drop(pooled);
    assert!(ctx.device_pool_stats().held_buffers >= 8);
    let x: Vec<f32> = (0..10_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
    let dx = ctx.upload(&x).unwrap();
    let h = ctx
        .histogram(&dx, bins, 0.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        h,
        tandem::ops::histogram::cpu::histogram(&x, bins, 0.0, 1.0).unwrap()
    );
    let mask: Vec<u32> = (0..bins as u32).map(|i| i % 3).collect();
    let kept = ctx.compact(&junk, &ctx.upload(&mask).unwrap()).unwrap();
    assert_eq!(
        kept.to_vec().unwrap().len(),
        mask.iter().filter(|&&m| m != 0).count()
    );
}

/// A bound of 0 turns the pool off: nothing is reused or held.
#[test]
fn a_zero_bound_turns_the_pool_off() {
    let Some(ctx) = gpu_context(Some(0)) else {
        return;
    };
    let a = ctx.upload(&ramp(5)).unwrap();
    let mut y = ctx.add(&a, &a).unwrap();
    for _ in 0..5 {
        y = ctx.add(&y, &a).unwrap();
    }
    let want: Vec<u32> = ramp(5).iter().map(|x| x.wrapping_mul(7)).collect();
    same(&y.to_vec().unwrap(), &want, "pool off");
    let s = ctx.device_pool_stats();
    assert_eq!((s.reused, s.held_bytes, s.held_buffers), (0, 0, 0), "{s:?}");
    assert!(s.created >= 6);
}

/// Idle buffers past the bound are freed, oldest first.
#[test]
fn the_pool_keeps_no_more_than_its_bound() {
    let bound = 64 << 10;
    let Some(ctx) = gpu_context(Some(bound)) else {
        return;
    };
    let a = ctx.upload(&vec![1u32; 4_096]).unwrap(); // 16 KiB per output
    let outs: Vec<Buffer<u32>> = (0..10).map(|_| ctx.add(&a, &a).unwrap()).collect();
    drop(outs);
    let s = ctx.device_pool_stats();
    assert!(s.held_bytes <= bound, "{s:?}");
    assert_eq!(s.held_buffers, 4, "{s:?}");
    assert!(s.freed >= 6, "{s:?}");
}

/// A buffer moved to a second device while it lived on a first: the first
/// copy is dropped under `&Buffer`, where another thread's op on the first
/// device may still be recording with it, so its buffer is freed, never
/// handed out again.
#[test]
fn a_copy_replaced_by_another_devices_upload_is_not_reused() {
    let (Some(one), Some(two)) = (gpu_context(None), gpu_context(None)) else {
        return;
    };
    let (a, b) = (ramp(6), ramp(7));
    let sum: Vec<u32> = a.iter().zip(&b).map(|(x, y)| x.wrapping_add(*y)).collect();
    let x = one
        .add(&one.upload(&a).unwrap(), &one.upload(&b).unwrap())
        .unwrap();
    let returned = one.device_pool_stats().returned;
    // `x` lives on device one only; `two` reads it back and uploads it.
    let doubled = two.add(&x, &x).unwrap();
    assert_eq!(
        one.device_pool_stats().returned,
        returned,
        "device one's copy went back to its pool while `x` was shared"
    );
    let want: Vec<u32> = sum.iter().map(|v| v.wrapping_mul(2)).collect();
    same(&doubled.to_vec().unwrap(), &want, "on device two");
    same(&x.to_vec().unwrap(), &sum, "x");
}

/// Uniform buffers go back for reuse once their submission is in the queue:
/// threads that each submit ops with their own parameters, many times, read
/// their own parameters every time (a buffer handed back before its
/// submission would carry another thread's blocks into it).
#[test]
fn reused_uniform_buffers_carry_each_submissions_own_parameters() {
    let Some(ctx) = gpu_context(None) else { return };
    let xs = ramp(0);
    let x = ctx.upload(&xs).unwrap();
    ctx.prefetch(&x).unwrap();
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let (ctx, x, xs) = (&ctx, &x, &xs);
            s.spawn(move || {
                for i in 0..40u32 {
                    let factor = 1 + t * 1000 + i;
                    // One submission and one wait per call: every call encodes.
                    let y = ctx.scale(x, factor).unwrap();
                    let got = y.to_vec().unwrap();
                    let want: Vec<u32> = xs.iter().map(|v| v.wrapping_mul(factor)).collect();
                    same(&got, &want, &format!("thread {t}, call {i}"));
                }
            });
        }
    });
}
