//! Strong scaling under mpirun: each op on a world of every rank against one
//! rank alone (a world of one member, on rank 0, while the others wait) on the
//! same whole array. Prints one line per op and size on rank 0.
//!
//! Nothing process-wide is set here: give `RAYON_NUM_THREADS` (and
//! `TANDEM_BACKEND`) on the command line.

use std::time::{Duration, Instant};

use tandem::dist::{DistBuffer, World};
use tandem::{Context, Element};

fn err(e: tandem::Error) -> String {
    e.to_string()
}

fn hash(i: usize) -> u32 {
    let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 32) as u32
}

/// Runs `op` once on `d`, returning the time and the communication share.
fn timed<T: Element>(
    world: &World,
    d: &DistBuffer<T>,
    op: &str,
) -> Result<(Duration, f64), String> {
    world.barrier().map_err(err)?;
    let t = Instant::now();
    match op {
        "sum" => drop(world.sum(d).map_err(err)?),
        "scan" => drop(world.inclusive_scan(d).map_err(err)?),
        "sort" => drop(world.sort(d).map_err(err)?),
        "histogram" => drop(
            world
                .histogram(d, 256, T::from_f64(0.0), T::from_f64(4_294_967_295.0))
                .map_err(err)?,
        ),
        other => {
            return Err(format!(
                "unknown op `{other}`: sum, scan, sort or histogram"
            ))
        }
    }
    let share = world.last_record().map_or(0.0, |r| r.communication_share());
    world.barrier().map_err(err)?;
    Ok((t.elapsed(), share))
}

fn best<T: Element>(
    world: &World,
    d: &DistBuffer<T>,
    op: &str,
    reps: usize,
) -> Result<(Duration, f64), String> {
    timed(world, d, op)?; // warm-up: first-touch pages, thread start
    let mut best = (Duration::MAX, 0.0);
    for _ in 0..reps.max(1) {
        let r = timed(world, d, op)?;
        if r.0 < best.0 {
            best = r;
        }
    }
    Ok(best)
}

fn case<T: Element>(
    world: &World,
    alone: Option<&World>,
    op: &str,
    n: usize,
    reps: usize,
    make: impl Fn(usize) -> T,
) -> Result<(), String> {
    let (rank, p) = (world.rank(), world.size());
    // One rank alone on the whole array.
    let t1 = match alone {
        Some(a) => {
            let whole: Vec<T> = (0..n).map(&make).collect();
            let d = a.from_local(&whole).map_err(err)?;
            best(a, &d, op, reps)?.0.as_secs_f64()
        }
        None => 0.0,
    };
    world.barrier().map_err(err)?;
    // Every rank on its even part.
    let (start, len) = (n * rank / p, n * (rank + 1) / p - n * rank / p);
    let part: Vec<T> = (start..start + len).map(&make).collect();
    let d = world.from_local(&part).map_err(err)?;
    let (tp, share) = best(world, &d, op, reps)?;
    let share = world
        .from_local(&[share])
        .and_then(|s| world.max(&s))
        .map_err(err)?
        .unwrap_or(0.0);
    let tp = tp.as_secs_f64();
    if rank == 0 {
        let eff = t1 / (p as f64 * tp);
        println!(
            "{op:<10} 2^{:<3} {p:>5} {:>11.2} {:>11.2} {:>10.2} {:>10.0}%",
            n.trailing_zeros(),
            t1 * 1e3,
            tp * 1e3,
            eff,
            share * 100.0
        );
    }
    Ok(())
}

pub fn run(sizes: &[u32], reps: usize, ops: &[String]) -> Result<(), String> {
    let world = World::mpi(Context::new().map_err(err)?).map_err(err)?;
    let rank = world.rank();
    let alone = if rank == 0 {
        Some(World::local(vec![world.contexts()[0].clone()]).map_err(err)?)
    } else {
        None
    };
    if rank == 0 {
        let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
        println!(
            "# tandem-mpi bench: {} ranks, RAYON_NUM_THREADS={threads}, best of {reps}",
            world.size()
        );
        println!("# efficiency = t(1 rank) / (ranks x t(ranks)); comm = the largest rank's share of time in collectives");
        println!(
            "{:<10} {:<5} {:>5} {:>11} {:>11} {:>10} {:>11}",
            "op", "n", "ranks", "1 rank ms", "world ms", "efficiency", "comm"
        );
    }
    for &s in sizes {
        let n = 1usize << s;
        for op in ops {
            match op.as_str() {
                "sum" | "scan" => case(&world, alone.as_ref(), op, n, reps, |i| {
                    (hash(i) % 1000) as f32 * 0.5
                })?,
                _ => case(&world, alone.as_ref(), op, n, reps, hash)?,
            }
        }
    }
    Ok(())
}
