//! The CPU floors of the by-key family: each CPU twin (through `Policy::Cpu`,
//! host data in, host buffers out) against the plain sequential loop a user
//! would write, at 2^24 elements, in one run. Prints the median of several
//! runs of each and the ratio (sequential / twin); the floors asked for on a
//! 2-core machine are 1.6x for reduce_by_key, unique, run_length_encode and
//! partition. Timings are printed, never asserted.
//!
//! Data: u32 keys in runs of random length 1..=16 (mean 8.5), sorted as after a
//! `sort`; f32 values; the partition splits random u32 at the median.
//!
//! Run: `cargo run --release --example by_key_floors [log2 size] [repeats]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use tandem::{Compare, Context, Policy, ReduceOp};

/// A small deterministic generator (xorshift), so the example needs no crate.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

/// The median time of `repeats` runs of `f`, after one warm-up run.
fn median(repeats: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut t: Vec<Duration> = (0..repeats)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[t.len() / 2]
}

fn row(name: &str, twin: Duration, seq: Duration, floor: Option<f64>) {
    let ratio = seq.as_secs_f64() / twin.as_secs_f64();
    let floor = floor.map_or(String::new(), |f| {
        format!(
            "  (floor {f}x: {})",
            if ratio >= f { "met" } else { "NOT met" }
        )
    });
    println!(
        "{name:<24} twin {:>8.2} ms   sequential {:>8.2} ms   {ratio:>5.2}x{floor}",
        twin.as_secs_f64() * 1e3,
        seq.as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), tandem::Error> {
    let mut args = std::env::args().skip(1);
    let log2: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(24);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let n = 1usize << log2.min(28);
    let ctx = Context::builder()
        .policy(Policy::Cpu)
        .without_profile()
        .build()?;
    let mut rng = Rng(0x9E37_79B9);
    let mut keys = Vec::with_capacity(n);
    let mut k = 0u32;
    while keys.len() < n {
        let len = (rng.next() % 16 + 1) as usize;
        keys.extend(std::iter::repeat_n(k, len.min(n - keys.len())));
        k += 1 + rng.next() % 3;
    }
    let vals: Vec<f32> = (0..n).map(|_| (rng.next() % 1000) as f32 * 0.5).collect();
    let rand: Vec<u32> = (0..n).map(|_| rng.next()).collect();
    let (kb, vb, rb) = (ctx.upload(&keys)?, ctx.upload(&vals)?, ctx.upload(&rand)?);
    println!(
        "n = 2^{log2} = {n}, {} rayon threads, {repeats} runs each (median)",
        rayon::current_num_threads()
    );

    let twin = median(repeats, || {
        black_box(ctx.reduce_by_key(&kb, &vb, ReduceOp::Sum).unwrap());
    });
    let seq = median(repeats, || {
        let (mut ok, mut ov) = (Vec::new(), Vec::new());
        for (&key, &v) in keys.iter().zip(&vals) {
            if ok.last() == Some(&key) {
                *ov.last_mut().unwrap() += v;
            } else {
                ok.push(key);
                ov.push(v);
            }
        }
        black_box((ok, ov));
    });
    row("reduce_by_key (sum)", twin, seq, Some(1.6));

    let twin = median(repeats, || {
        black_box(ctx.unique(&kb).unwrap());
    });
    let seq = median(repeats, || {
        let mut v = keys.clone();
        v.dedup();
        black_box(v);
    });
    row("unique", twin, seq, Some(1.6));

    let twin = median(repeats, || {
        black_box(ctx.run_length_encode(&kb).unwrap());
    });
    let seq = median(repeats, || {
        let (mut vs, mut cs): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for &key in &keys {
            if vs.last() == Some(&key) {
                *cs.last_mut().unwrap() += 1;
            } else {
                vs.push(key);
                cs.push(1);
            }
        }
        black_box((vs, cs));
    });
    row("run_length_encode", twin, seq, Some(1.6));

    let t = 1u32 << 31;
    let twin = median(repeats, || {
        black_box(ctx.partition(&rb, Compare::Lt, t).unwrap());
    });
    let seq = median(repeats, || {
        let (mut a, b): (Vec<u32>, Vec<u32>) = rand.iter().partition(|&&v| v < t);
        let n_true = a.len();
        a.extend(b);
        black_box((a, n_true));
    });
    row("partition", twin, seq, Some(1.6));

    let twin = median(repeats, || {
        black_box(ctx.inclusive_scan_by_key(&kb, &vb).unwrap());
    });
    let seq = median(repeats, || {
        let mut out = Vec::with_capacity(n);
        let mut acc = 0.0f32;
        for (i, (&key, &v)) in keys.iter().zip(&vals).enumerate() {
            acc = if i > 0 && keys[i - 1] == key {
                acc + v
            } else {
                v
            };
            out.push(acc);
        }
        black_box(out);
    });
    row("inclusive_scan_by_key", twin, seq, None);

    let mut offsets = vec![0u32];
    for i in 1..n {
        if keys[i] != keys[i - 1] {
            offsets.push(i as u32);
        }
    }
    offsets.push(n as u32);
    let ob = ctx.upload(&offsets)?;
    let twin = median(repeats, || {
        black_box(ctx.segmented_reduce(&vb, &ob, ReduceOp::Max).unwrap());
    });
    let seq = median(repeats, || {
        let out: Vec<f32> = offsets
            .windows(2)
            .map(|w| {
                vals[w[0] as usize..w[1] as usize]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max)
            })
            .collect();
        black_box(out);
    });
    row("segmented_reduce (max)", twin, seq, None);
    Ok(())
}
