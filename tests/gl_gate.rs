//! Threads sharing one GL device while one of them runs a long kernel.
//!
//! wgpu-hal's GL backend panics ("Could not lock adapter context") in any
//! thread that waits more than 6 s for the device's GL context, and on llvmpipe
//! a submit holds that context for as long as its dispatches run. Here one
//! thread runs a kernel of several seconds while others keep starting small
//! GPU ops, whose buffer creation would wait behind that submit. tandem's gate
//! (`src/gpu/gate.rs`) makes them wait in tandem instead, with no limit. On
//! other backends the gate does nothing and the kernel is kept short.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tandem::kernel::{Arg, WgslKernel};
use tandem::Policy;

const OTHERS: usize = 3;
const STEPS: u32 = 60_000; // under llvmpipe's 65,535-iteration loop cap

/// The thread's result, or its panic message.
fn join<R>(h: std::thread::ScopedJoinHandle<'_, R>) -> Result<R, String> {
    h.join().map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the thread panicked: {msg}")
    })
}

#[test]
fn small_ops_beside_a_long_gl_kernel_wait_instead_of_panicking() {
    let Some(gpu) = common::gpu() else { return };
    let _g = common::gpu_serial();
    let gl = gpu.gpu_info().is_some_and(|i| i.backend == "Gl");
    let ctx = gpu.with_policy(Policy::Gpu);
    let src = format!(
        r#"
@group(0) @binding(0) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {{
    let i = (wg.y * nwg.x + wg.x) * 256u + lid;
    var v = i;
    for (var j = 0u; j < {STEPS}u; j = j + 1u) {{
        v = v * 1664525u + 1013904223u;
    }}
    if (i < arrayLength(&y)) {{
        y[i] = v;
    }}
}}"#
    );
    let k = WgslKernel::new("gl_gate_busy", &src, "main").unwrap();
    // On llvmpipe GL 2^18 invocations run for well over 6 s on 2 cores.
    let n = if gl { 1usize << 18 } else { 1 << 12 };
    let want: Vec<u32> = (0..256u32)
        .map(|i| {
            (0..STEPS).fold(i, |v, _| {
                v.wrapping_mul(1_664_525).wrapping_add(1_013_904_223)
            })
        })
        .collect();
    let long_done = AtomicBool::new(false);
    let (long, others) = std::thread::scope(|s| {
        let (ctx, k, long_done) = (&ctx, &k, &long_done);
        let long = s.spawn(move || {
            let r = (|| {
                let mut y = ctx.upload(&[0u32; 256])?;
                ctx.run_wgsl(k, n, &mut [Arg::write(&mut y)], |_| Ok(()))?;
                y.to_vec()
            })();
            long_done.store(true, Ordering::Release);
            r
        });
        let others: Vec<_> = (0..OTHERS)
            .map(|t| {
                s.spawn(move || -> Result<usize, String> {
                    std::thread::sleep(Duration::from_millis(300));
                    let mut ops = 0;
                    while !long_done.load(Ordering::Acquire) || ops == 0 {
                        let v: Vec<u32> = (0..1000).map(|i| i + t as u32).collect();
                        let x = ctx.upload(&v).map_err(|e| e.to_string())?;
                        let got = ctx.sum(&x).map_err(|e| e.to_string())?;
                        let want = v.iter().fold(0u32, |a, &b| a.wrapping_add(b));
                        if got != want {
                            return Err(format!("sum {got}, want {want}"));
                        }
                        ops += 1;
                    }
                    Ok(ops)
                })
            })
            .collect();
        let others: Vec<Result<Result<usize, String>, String>> =
            others.into_iter().map(join).collect();
        (join(long), others)
    });
    let long = long.expect("the long kernel's thread");
    assert_eq!(long.map_err(|e| e.to_string()).as_deref(), Ok(&want[..]));
    for (t, r) in others.into_iter().enumerate() {
        let ops = r.unwrap_or_else(|e| panic!("thread {t}: {e}"));
        let ops = ops.unwrap_or_else(|e| panic!("thread {t}: {e}"));
        assert!(ops > 0, "thread {t}");
    }
}
