//! Log analytics over MPI ranks (cargo feature `mpi`).
//!
//! ```text
//! cargo build --release --features mpi --example dist_analytics
//! mpirun -np 4 target/release/examples/dist_analytics
//! ```
//!
//! Every rank makes its own part of a request log (user id, latency in ms),
//! as it would load its shard of files; then, over all ranks together: a
//! global sort of the latencies (for exact percentiles), a latency histogram,
//! and request counts per user. Rank 0 prints the report; every rank holds the
//! same results.

use tandem::dist::{DistBuffer, World};
use tandem::Context;

const USERS: usize = 1000;
const PER_RANK: usize = 1 << 20;

/// This rank's part of the log: a fixed pseudo-random stream per rank.
fn make_log(rank: usize) -> (Vec<u32>, Vec<f32>) {
    let mut s = 0x2545_F491_4F6C_DD1Du64 ^ (rank as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    // Uneven parts, as real shards are.
    let n = PER_RANK + rank * PER_RANK / 4;
    let mut users = Vec::with_capacity(n);
    let mut latency = Vec::with_capacity(n);
    for _ in 0..n {
        let r = next();
        // A few heavy users: user ids skewed towards 0.
        let u = ((r % USERS as u64) * (r >> 40 & 0xFF) / 255) as u32;
        users.push(u);
        // Mostly fast, with a slow tail.
        let base = (r >> 20 & 0x3FF) as f32 / 10.0;
        latency.push(if r % 97 == 0 { base * 20.0 } else { base });
    }
    (users, latency)
}

/// Element `i` of the globally sorted `d`, on every rank: its owner sends it
/// and everyone else sends 0, and one sum gives it to all.
fn element(world: &World, d: &DistBuffer<f32>, i: usize) -> Result<f32, tandem::Error> {
    let start = d.part_offsets()[world.rank()];
    let mine = if (start..start + d.local_len()).contains(&i) {
        d.parts()[0].to_vec()?[i - start]
    } else {
        0.0
    };
    world.sum(&world.from_local(&[mine])?)
}

fn main() -> Result<(), tandem::Error> {
    let world = World::mpi(Context::new()?)?;
    let rank = world.rank();
    let (users, latency) = make_log(rank);
    let users = world.from_local(&users)?;
    let latency = world.from_local(&latency)?;
    let n = latency.len();

    let sorted = world.sort(&latency)?;
    let sort_rec = world.last_record();
    let p50 = element(&world, &sorted, n / 2)?;
    let p99 = element(&world, &sorted, n * 99 / 100)?;
    let max = world.max(&latency)?.unwrap_or(0.0);
    let hist = world.histogram(&latency, 10, 0.0, 200.0)?;
    let per_user = world.histogram(&users, USERS, 0, USERS as u32)?;
    let mean = world.sum(&latency)? / n as f32;
    let mut top: Vec<(usize, u32)> = per_user.iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

    if rank == 0 {
        println!(
            "{} requests over {} ranks (parts {:?})",
            n,
            world.size(),
            latency.part_lens()
        );
        println!("latency ms: mean {mean:.2}, p50 {p50:.1}, p99 {p99:.1}, max {max:.1}");
        println!("histogram (20 ms bins from 0 to 200):");
        for (b, c) in hist.iter().enumerate() {
            let bar = "#".repeat((60 * *c as usize / n.max(1)).max(usize::from(*c > 0)));
            println!("  {:>3}-{:<3} {c:>9} {bar}", b * 20, b * 20 + 20);
        }
        println!("top users by requests:");
        for (u, c) in top.iter().take(5) {
            println!("  user {u:>4}: {c}");
        }
        if let Some(r) = sort_rec {
            println!(
                "global sort: {:.1?} on rank 0, {:.0}% of it in collectives, {} bytes sent",
                r.elapsed,
                100.0 * r.communication_share(),
                r.members.iter().map(|m| m.bytes_sent).sum::<u64>()
            );
        }
    }
    Ok(())
}
