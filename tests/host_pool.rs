//! The host output pool: dropped outputs' memory is reused by later outputs of a
//! similar size and the same layout, results stay right whatever the block held
//! before, the bound and a release on request free memory, the last context's
//! drop empties it, and threads sharing a context get right answers.
//!
//! The pool is one per process, so these tests run one at a time (a lock) and
//! look at the changes of its counters; each builds and drops its own context.

use std::sync::{Mutex, MutexGuard};

use tandem::{host_pool, Context, HostPoolStats, Policy};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn cpu() -> Context {
    Context::builder()
        .policy(Policy::Cpu)
        .host_pool_bytes(host_pool::DEFAULT_LIMIT_BYTES)
        .build()
        .expect("a CPU context builds")
}

fn scan_ref(x: &[u32]) -> Vec<u32> {
    let mut acc = 0u32;
    x.iter()
        .map(|&v| {
            acc = acc.wrapping_add(v);
            acc
        })
        .collect()
}

fn data(n: usize, seed: u32) -> Vec<u32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        })
        .collect()
}

fn reused_since(before: &HostPoolStats) -> u64 {
    host_pool::stats().reused - before.reused
}

/// 2^20 u32: 4 MiB outputs, far above the pooled minimum.
const N: usize = 1 << 20;

#[test]
fn a_dropped_output_is_reused_by_the_next_one_and_results_stay_right() {
    let _g = serial();
    let ctx = cpu();
    let x = ctx.upload(&data(N, 1)).unwrap();
    let want = scan_ref(&x.to_vec().unwrap());
    let first = ctx.inclusive_scan(&x).unwrap();
    assert_eq!(first.to_vec().unwrap(), want);
    drop(first);
    assert!(host_pool::stats().held_bytes >= N * 4);
    let before = host_pool::stats();
    for round in 0..3 {
        let y = ctx.inclusive_scan(&x).unwrap();
        assert_eq!(y.to_vec().unwrap(), want, "round {round}");
    }
    assert_eq!(
        reused_since(&before),
        3,
        "each output took the last one's block"
    );
    // A reused block's old contents never show: a sort, an add, an upload and an
    // exclusive scan in blocks that held scans.
    let sorted = ctx.sort(&x).unwrap().to_vec().unwrap();
    let mut s = x.to_vec().unwrap();
    s.sort_unstable();
    assert_eq!(sorted, s);
    let z = ctx.zeros::<u32>(N).unwrap();
    assert_eq!(
        ctx.add(&x, &z).unwrap().to_vec().unwrap(),
        x.to_vec().unwrap()
    );
    let small = data(N - 7, 9);
    assert_eq!(ctx.upload(&small).unwrap().into_vec().unwrap(), small);
    let ex = ctx.exclusive_scan(&x).unwrap().to_vec().unwrap();
    assert_eq!(ex[0], 0);
    assert_eq!(ex[1..], want[..N - 1]);
}

#[test]
fn only_blocks_from_the_size_up_to_twice_it_are_taken() {
    let _g = serial();
    let ctx = cpu();
    ctx.release_host_memory();
    let x = ctx.upload(&data(N, 2)).unwrap();
    drop(ctx.inclusive_scan(&x).unwrap());
    // Held now: the N-element block (the upload's own stays in use by `x`).
    let bigger = ctx.upload(&data(3 * N, 3)).unwrap();
    let before = host_pool::stats();
    let y = ctx.inclusive_scan(&bigger).unwrap();
    assert_eq!(y.to_vec().unwrap(), scan_ref(&bigger.to_vec().unwrap()));
    assert_eq!(reused_since(&before), 0, "a block too small is not taken");
    drop(y);
    // Inputs first: an upload takes pooled blocks too.
    let quarter = ctx.upload(&data(N / 4, 4)).unwrap();
    let near = ctx.upload(&data(N - 1000, 5)).unwrap();
    ctx.release_host_memory();
    drop(ctx.inclusive_scan(&x).unwrap());
    let before = host_pool::stats();
    let q = ctx.inclusive_scan(&quarter).unwrap();
    assert_eq!(q.to_vec().unwrap(), scan_ref(&quarter.to_vec().unwrap()));
    assert_eq!(
        reused_since(&before),
        0,
        "a block over twice the size is not taken"
    );
    let before = host_pool::stats();
    let y = ctx.inclusive_scan(&near).unwrap();
    assert_eq!(y.to_vec().unwrap(), scan_ref(&near.to_vec().unwrap()));
    assert_eq!(reused_since(&before), 1, "a block a little larger is taken");
    assert_eq!(y.len(), N - 1000);
    assert_eq!(y.into_vec().unwrap().len(), N - 1000);
}

#[test]
fn f64_never_takes_a_block_of_32_bit_elements_and_u32_takes_f32s() {
    let _g = serial();
    let ctx = cpu();
    ctx.release_host_memory();
    // 2N f32 is N f64 in bytes, but its alignment differs: not shared.
    let xf: Vec<f32> = (0..2 * N).map(|i| (i % 100) as f32).collect();
    let a = ctx.upload(&xf).unwrap();
    let xd: Vec<f64> = (0..N).map(|i| (i % 77) as f64 - 3.5).collect();
    let d = ctx.upload(&xd).unwrap();
    let xu = ctx.upload(&data(2 * N, 6)).unwrap();
    drop(ctx.add(&a, &a).unwrap());
    let before = host_pool::stats();
    let got = ctx.add(&d, &d).unwrap().to_vec().unwrap();
    assert!(got.iter().zip(&xd).all(|(g, x)| *g == x + x));
    assert_eq!(reused_since(&before), 0, "f64 must not take an f32 block");
    // u32 shares f32's layout: it takes the f32 block.
    let before = host_pool::stats();
    let want = scan_ref(&xu.to_vec().unwrap());
    assert_eq!(ctx.inclusive_scan(&xu).unwrap().to_vec().unwrap(), want);
    assert_eq!(reused_since(&before), 1, "u32 takes an f32 block");
}

#[test]
fn release_on_request_the_bound_and_the_last_context_free_the_memory() {
    let _g = serial();
    let ctx = cpu();
    let x = ctx.upload(&data(N, 7)).unwrap();
    for _ in 0..3 {
        drop(ctx.inclusive_scan(&x).unwrap());
    }
    assert!(ctx.host_pool_stats().held_bytes > 0);
    let freed = ctx.release_host_memory();
    assert!(freed >= N * 4);
    assert_eq!(ctx.host_pool_stats().held_bytes, 0);
    assert_eq!(ctx.host_pool_stats().held_blocks, 0);

    // A bound of 6 MiB keeps one 4 MiB block of two.
    let tight = Context::builder()
        .policy(Policy::Cpu)
        .host_pool_bytes(6 << 20)
        .build()
        .unwrap();
    let (y1, y2) = (
        tight.inclusive_scan(&x).unwrap(),
        tight.inclusive_scan(&x).unwrap(),
    );
    drop((y1, y2));
    let s = tight.host_pool_stats();
    assert_eq!((s.held_blocks, s.limit_bytes), (1, 6 << 20));
    assert!(s.held_bytes <= 6 << 20);
    // 0 turns the pool off.
    let off = Context::builder()
        .policy(Policy::Cpu)
        .host_pool_bytes(0)
        .build()
        .unwrap();
    assert_eq!(off.host_pool_stats().held_bytes, 0);
    drop(off.inclusive_scan(&x).unwrap());
    assert_eq!(off.host_pool_stats().held_bytes, 0);
    drop((tight, off));

    // Restore the default bound, fill the pool, and drop every context.
    let ctx2 = cpu();
    drop(ctx2.inclusive_scan(&x).unwrap());
    assert!(host_pool::stats().held_bytes > 0);
    let kept = ctx.inclusive_scan(&x).unwrap();
    drop((ctx, ctx2));
    assert_eq!(
        host_pool::stats().held_bytes,
        0,
        "the last context empties the pool"
    );
    // A buffer outliving every context frees its memory instead of pooling it.
    drop(kept);
    drop(x);
    assert_eq!(host_pool::stats().held_bytes, 0);
}

#[test]
fn threads_sharing_a_context_get_right_answers_from_pooled_blocks() {
    let _g = serial();
    let ctx = cpu();
    let before = host_pool::stats();
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let ctx = &ctx;
            s.spawn(move || {
                for round in 0..12u32 {
                    // Sizes that differ per thread and round, some sharing blocks.
                    let n = (1 << 16) + ((t * 7 + round * 3) % 5) as usize * 40_000;
                    let x = data(n, t * 100 + round + 1);
                    let bx = ctx.upload(&x).unwrap();
                    assert_eq!(
                        ctx.inclusive_scan(&bx).unwrap().to_vec().unwrap(),
                        scan_ref(&x)
                    );
                    let mut sorted = x.clone();
                    sorted.sort_unstable();
                    assert_eq!(ctx.sort(&bx).unwrap().into_vec().unwrap(), sorted);
                    let sum: Vec<u32> = x.iter().map(|v| v.wrapping_add(*v)).collect();
                    assert_eq!(ctx.add(&bx, &bx).unwrap().to_vec().unwrap(), sum);
                }
            });
        }
    });
    assert!(reused_since(&before) > 0);
}
