//! The CPU floors of issue 18, measured as a user's program sees them: every
//! row runs tandem under `Policy::Cpu` beside its peer, in one process with the
//! system allocator as it comes, and prints tandem's time, the peer's, the ratio
//! (peer time / tandem time: above 1 means tandem is faster), the floor, and
//! whether it is met. Each figure is the median of `--runs` trials (default 9)
//! after `--warmups` (default 2); within a trial the sides run in turn, in an
//! order that rotates, so that both see the same machine.
//!
//! ```sh
//! cargo run --release --example cpu_roof                 # every row
//! cargo run --release --example cpu_roof -- --only sort  # rows whose op contains "sort"
//! ```
//!
//! tandem's calls are a user's loop: each output is a new buffer, dropped before
//! the next call. The peers write into buffers allocated once (copy, zip-add) or
//! sort in place a copy refilled before each trial, outside the timed region.

mod peers;

use std::hint::black_box;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Buffer, Context, Policy};

/// A side of a row: runs once and says how long the measured part took.
type Side<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// One op measured beside its peers, with the floors it must meet.
struct Row<'a> {
    op: String,
    elems: usize,
    tandem: Side<'a>,
    peers: Vec<(&'static str, Side<'a>)>,
    /// (floor, indices of the peers whose best it is measured against).
    floors: Vec<(f64, Vec<usize>)>,
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut t: Vec<Duration>) -> Duration {
    t.sort();
    t[t.len() / 2]
}

fn random_u32(n: usize, seed: u64) -> Vec<u32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.random()).collect()
}

/// Uniform in [0, 1).
fn random_unit(n: usize, seed: u64) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| r.random::<f32>()).collect()
}

/// Finite f32 of every sign and magnitude (random bits, NaN and infinities
/// replaced), which both crates order as tandem does.
fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    random_u32(n, seed)
        .into_iter()
        .map(|b| {
            let f = f32::from_bits(b);
            if f.is_finite() {
                f
            } else {
                f32::from_bits(b & 0xbf00_0000)
            }
        })
        .collect()
}

/// A peer that sorts `input` in place with `sort`, refilling its copy first (untimed).
fn in_place<'a, T: Copy + 'a>(input: &'a [T], sort: impl Fn(&mut [T]) + 'a) -> Side<'a> {
    let mut v = input.to_vec();
    Box::new(move || {
        v.copy_from_slice(input);
        timed(|| sort(&mut v))
    })
}

fn rows<'a>(ctx: &'a Context, data: &'a Data) -> tandem::Result<Vec<Row<'a>>> {
    let mut rows = Vec::new();
    let n26 = data.u26.len();
    {
        let x = ctx.from_vec(data.u26.clone())?;
        let mut out = vec![0u32; n26];
        let src = &data.u26;
        rows.push(Row {
            op: "inclusive_scan 2^26 u32, new output".into(),
            elems: n26,
            tandem: Box::new(move || {
                timed(|| drop(black_box(ctx.inclusive_scan(&x).expect("scan"))))
            }),
            peers: vec![(
                "rayon copy into a preallocated buffer",
                Box::new(move || timed(|| peers::copy_into(src, black_box(&mut out)))),
            )],
            floors: vec![(0.8, vec![0])],
        });
    }
    {
        let (a, b) = (
            ctx.from_vec(data.fa.clone())?,
            ctx.from_vec(data.fb.clone())?,
        );
        let mut out = vec![0f32; data.fa.len()];
        let (ha, hb) = (&data.fa, &data.fb);
        rows.push(Row {
            op: "add 2^26 f32, new output".into(),
            elems: ha.len(),
            tandem: Box::new(move || timed(|| drop(black_box(ctx.add(&a, &b).expect("add"))))),
            peers: vec![(
                "rayon zip-add into a preallocated buffer",
                Box::new(move || timed(|| peers::zip_add_into(ha, hb, black_box(&mut out)))),
            )],
            floors: vec![(0.8, vec![0])],
        });
    }
    for (label, keys) in [("2^24", &data.u24), ("2^27", &data.u27)] {
        let x = ctx.upload(keys)?;
        rows.push(Row {
            op: format!("sort {label} random u32"),
            elems: keys.len(),
            tandem: Box::new(move || timed(|| drop(black_box(ctx.sort(&x).expect("sort"))))),
            peers: vec![
                ("voracious_mt_sort", in_place(keys, peers::voracious_mt)),
                ("rdst", in_place(keys, peers::rdst_sort)),
                (
                    "par_sort_unstable",
                    in_place(keys, |v: &mut [u32]| {
                        rayon::slice::ParallelSliceMut::par_sort_unstable(v)
                    }),
                ),
            ],
            floors: vec![(1.0, vec![0, 1])],
        });
    }
    {
        let keys = &data.f24;
        let x = ctx.upload(keys)?;
        rows.push(Row {
            op: "sort 2^24 random f32".into(),
            elems: keys.len(),
            tandem: Box::new(move || timed(|| drop(black_box(ctx.sort(&x).expect("sort"))))),
            peers: vec![
                ("voracious_mt_sort", in_place(keys, peers::voracious_mt)),
                ("rdst", in_place(keys, peers::rdst_sort)),
                (
                    "par_sort_unstable_by(total_cmp)",
                    in_place(keys, |v: &mut [f32]| {
                        rayon::slice::ParallelSliceMut::par_sort_unstable_by(v, f32::total_cmp)
                    }),
                ),
            ],
            floors: vec![(1.0, vec![0, 1])],
        });
    }
    {
        let (k, v) = (ctx.upload(&data.u24)?, ctx.upload(&data.v24)?);
        let pairs: Vec<peers::KeyValue> = data
            .u24
            .iter()
            .zip(&data.v24)
            .map(|(&key, &value)| peers::KeyValue { key, value })
            .collect();
        let pairs: &'a [peers::KeyValue] = Box::leak(pairs.into_boxed_slice());
        rows.push(Row {
            op: "sort_by_key 2^24 u32 -> u32".into(),
            elems: k.len(),
            tandem: Box::new(move || {
                timed(|| drop(black_box(ctx.sort_by_key(&k, &v).expect("sort_by_key"))))
            }),
            peers: vec![
                (
                    "voracious_mt_sort (pairs)",
                    in_place(pairs, peers::voracious_mt),
                ),
                ("rdst (pairs)", in_place(pairs, peers::rdst_sort)),
            ],
            floors: vec![(1.0, vec![0, 1])],
        });
    }
    for bins in [256usize, 65_536] {
        let x: Buffer<f32> = ctx.upload(&data.unit24)?;
        let host = &data.unit24;
        rows.push(Row {
            op: format!("histogram 2^24 f32, {bins} bins"),
            elems: host.len(),
            tandem: Box::new(move || {
                timed(|| {
                    drop(black_box(
                        ctx.histogram(&x, bins, 0.0, 1.0).expect("histogram"),
                    ))
                })
            }),
            peers: vec![
                (
                    "rayon fold of private histograms",
                    Box::new(move || timed(|| drop(black_box(peers::histogram_fold(host, bins))))),
                ),
                (
                    "sequential loop",
                    Box::new(move || timed(|| drop(black_box(peers::histogram_seq(host, bins))))),
                ),
            ],
            floors: vec![(0.9, vec![0]), (1.6, vec![1])],
        });
    }
    Ok(rows)
}

/// The inputs, made once.
struct Data {
    u26: Vec<u32>,
    fa: Vec<f32>,
    fb: Vec<f32>,
    u24: Vec<u32>,
    v24: Vec<u32>,
    u27: Vec<u32>,
    f24: Vec<f32>,
    unit24: Vec<f32>,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = arg(&args, "--runs").map_or(Ok(9), |s| s.parse())?;
    let warmups: usize = arg(&args, "--warmups").map_or(Ok(2), |s| s.parse())?;
    let only = arg(&args, "--only");
    let ctx = Context::builder().policy(Policy::Cpu).build()?;
    let wants = |op: &str| only.as_deref().is_none_or(|o| op.contains(o));

    let u24 = random_u32(1 << 24, 1);
    let data = Data {
        u26: random_u32(1 << 26, 2).into_iter().map(|v| v >> 8).collect(),
        fa: random_unit(1 << 26, 3),
        fb: random_unit(1 << 26, 4),
        v24: (0..1u32 << 24).collect(),
        u27: if wants("sort 2^27") {
            random_u32(1 << 27, 5)
        } else {
            Vec::new()
        },
        f24: random_f32(1 << 24, 6),
        unit24: random_unit(1 << 24, 7),
        u24,
    };
    println!(
        "tandem CPU floors: {} rayon threads, median of {runs} after {warmups} warm-ups, one process",
        rayon::current_num_threads()
    );
    println!();
    println!("| op | tandem `Policy::Cpu` | peer | peer time | ratio | floor | met |");
    println!("|---|---|---|---|---|---|---|");
    let mut all_met = true;
    for mut row in rows(&ctx, &data)? {
        if !wants(&row.op) {
            continue;
        }
        let sides = 1 + row.peers.len();
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); sides];
        for trial in 0..warmups + runs {
            for k in 0..sides {
                let s = (trial + k) % sides;
                let t = if s == 0 {
                    (row.tandem)()
                } else {
                    (row.peers[s - 1].1)()
                };
                if trial >= warmups {
                    times[s].push(t);
                }
            }
        }
        let med: Vec<Duration> = times.into_iter().map(median).collect();
        let rate = |d: Duration| row.elems as f64 / d.as_secs_f64() / 1e6;
        let tandem = format!("{} ({:.0} M el/s)", fmt_ms(med[0]), rate(med[0]));
        // Peers shown on a floor's line alone need no line of their own.
        let mut shown = vec![false; row.peers.len()];
        for (floor, against) in &row.floors {
            let best = against
                .iter()
                .map(|&i| med[i + 1])
                .min()
                .unwrap_or_default();
            let names: Vec<&str> = against.iter().map(|&i| row.peers[i].0).collect();
            let ratio = best.as_secs_f64() / med[0].as_secs_f64();
            let met = ratio >= *floor;
            all_met &= met;
            if let [i] = against[..] {
                shown[i] = true;
            }
            let peer = if names.len() > 1 {
                format!("best of {}", names.join(", "))
            } else {
                names.join("")
            };
            println!(
                "| {} | {tandem} | {peer} | {} ({:.0} M el/s) | {ratio:.2}x | {floor:.1}x | {} |",
                row.op,
                fmt_ms(best),
                rate(best),
                if met { "yes" } else { "NO" }
            );
        }
        for (i, (name, _)) in row.peers.iter().enumerate() {
            if shown[i] {
                continue;
            }
            let ratio = med[i + 1].as_secs_f64() / med[0].as_secs_f64();
            println!(
                "| {} | {tandem} | {name} | {} ({:.0} M el/s) | {ratio:.2}x | - | - |",
                row.op,
                fmt_ms(med[i + 1]),
                rate(med[i + 1]),
            );
        }
    }
    let s = ctx.host_pool_stats();
    println!();
    println!(
        "host pool: {} outputs reused a block, {} allocated fresh; {} MiB idle in {} blocks (bound {} MiB)",
        s.reused,
        s.allocated,
        s.held_bytes >> 20,
        s.held_blocks,
        s.limit_bytes >> 20
    );
    println!(
        "{}",
        if all_met {
            "every floor met"
        } else {
            "some floors NOT met"
        }
    );
    Ok(())
}
