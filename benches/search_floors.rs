//! The CPU floors of issue 15 for merging and searching: tandem's rayon twins
//! against the plain sequential loops a user would write, at 2^24, in one run.
//! `cargo bench --bench search_floors` prints the best of several runs of each,
//! taken alternately, and the ratios. Nothing process-wide is changed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tandem::{Context, Policy};

const RUNS: usize = 7;

/// The best time of `f` over [`RUNS`] runs.
fn best(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn xorshift(n: usize, mut s: u32) -> Vec<u32> {
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s
        })
        .collect()
}

/// A plain sequential merge, as a user writes it.
fn merge_seq(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn report(what: &str, twin: Duration, seq: Duration, floor: Option<f64>) {
    let ratio = seq.as_secs_f64() / twin.as_secs_f64();
    let verdict = match floor {
        Some(f) if ratio >= f => format!("floor {f}x: met"),
        Some(f) => format!("floor {f}x: NOT met"),
        None => "no floor".to_string(),
    };
    println!(
        "{what:<44} twin {:>8.2} ms  sequential {:>8.2} ms  {ratio:>5.2}x  ({verdict})",
        twin.as_secs_f64() * 1e3,
        seq.as_secs_f64() * 1e3
    );
}

fn main() -> Result<(), tandem::Error> {
    let ctx = Context::builder().policy(Policy::Cpu).build()?;
    println!(
        "CPU floors at 2^24, {} rayon threads, best of {RUNS}",
        rayon::current_num_threads()
    );
    let n = 1usize << 24;

    let mut a = xorshift(n / 2, 0x9E37_79B9);
    let mut b = xorshift(n / 2, 0x85EB_CA6B);
    a.sort_unstable();
    b.sort_unstable();
    let (da, db) = (ctx.upload(&a)?, ctx.upload(&b)?);
    let twin = best(|| {
        black_box(ctx.merge(&da, &db).and_then(|m| m.into_vec()).ok());
    });
    let seq = best(|| {
        black_box(merge_seq(&a, &b));
    });
    report("merge (2 x 2^23 random sorted u32)", twin, seq, Some(1.6));

    let mut sorted = xorshift(n, 0x1234_5678);
    sorted.sort_unstable();
    let queries = xorshift(1 << 22, 0x0BAD_CAFE);
    let (ds, dq) = (ctx.upload(&sorted)?, ctx.upload(&queries)?);
    let twin = best(|| {
        black_box(ctx.lower_bound(&ds, &dq).and_then(|m| m.into_vec()).ok());
    });
    let seq = best(|| {
        let v: Vec<u32> = queries
            .iter()
            .map(|&q| sorted.partition_point(|&s| s < q) as u32)
            .collect();
        black_box(v);
    });
    report(
        "lower_bound (2^22 queries into 2^24 u32)",
        twin,
        seq,
        Some(1.8),
    );

    let twin = best(|| {
        black_box(
            ctx.sequence::<f32>(n, 0.5, 0.25)
                .and_then(|m| m.into_vec())
                .ok(),
        );
    });
    let seq = best(|| {
        let v: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 * 0.25).collect();
        black_box(v);
    });
    report("sequence (f32)", twin, seq, None);

    let x = xorshift(n, 0x5151_5151);
    let dx = ctx.upload(&x)?;
    let twin = best(|| {
        black_box(ctx.adjacent_difference(&dx).and_then(|m| m.into_vec()).ok());
    });
    let seq = best(|| {
        let mut v = Vec::with_capacity(n);
        v.push(x[0]);
        for i in 1..n {
            v.push(x[i].wrapping_sub(x[i - 1]));
        }
        black_box(v);
    });
    report("adjacent_difference (u32)", twin, seq, None);
    Ok(())
}
