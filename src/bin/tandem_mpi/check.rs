//! The checks the MPI tests launch: each rank compares the world's results with
//! one context on the whole array (every rank can make the whole array).

use tandem::dist::{Balance, World};
use tandem::{map_kernel, Context, Error, ErrorKind, Policy};

type Check = Result<(), String>;

fn fail(what: impl std::fmt::Display) -> String {
    what.to_string()
}

fn err(e: Error) -> String {
    format!("unexpected error: {e}")
}

/// Element `i` of the test arrays: a fixed hash, so every rank makes the same.
fn hash(i: usize, seed: u64) -> u64 {
    let mut x = (i as u64)
        .wrapping_add(seed)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 31;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (x >> 29)
}

/// Uneven part lengths: member `r` in proportion to `r + 1`, member 1 empty
/// when there are three or more.
fn part_lens(n: usize, p: usize) -> Vec<usize> {
    let w: Vec<usize> = (0..p)
        .map(|r| if p >= 3 && r == 1 { 0 } else { r + 1 })
        .collect();
    let sum: usize = w.iter().sum();
    let mut lens: Vec<usize> = w.iter().map(|&x| n * x / sum).collect();
    let short = n - lens.iter().sum::<usize>();
    lens[p - 1] += short;
    lens
}

fn mine<T: Clone>(whole: &[T], lens: &[usize], rank: usize) -> Vec<T> {
    let start: usize = lens[..rank].iter().sum();
    whole[start..start + lens[rank]].to_vec()
}

pub fn run(case: &str) -> Result<(), String> {
    match case {
        "ops" => ops(),
        "errors" => errors(),
        "panic" => panic_on_last_rank(),
        other => Err(format!("unknown check `{other}`: ops, errors or panic")),
    }
}

fn ops() -> Check {
    let world = World::mpi(Context::new().map_err(err)?).map_err(err)?;
    let (rank, p) = (world.rank(), world.size());
    let one = Context::builder()
        .policy(Policy::Cpu)
        .build()
        .map_err(err)?;
    for n in [0usize, 1, 2, 3, 7, 1000, 65_537, 300_001] {
        let lens = part_lens(n, p);
        // u32: random keys; i32: small values (many ties); f32: small integers with NaN and -0.
        let xu: Vec<u32> = (0..n).map(|i| hash(i, 1) as u32).collect();
        let xi: Vec<i32> = (0..n).map(|i| (hash(i, 2) % 201) as i32 - 100).collect();
        let xf: Vec<f32> = (0..n)
            .map(|i| match hash(i, 3) % 50 {
                0 => f32::NAN,
                1 => -0.0,
                2 => 0.0,
                h => h as f32 - 25.0,
            })
            .collect();
        let what = |op: &str| format!("rank {rank} of {p}, n={n}: {op}");
        let du = world.from_local(&mine(&xu, &lens, rank)).map_err(err)?;
        let di = world.from_local(&mine(&xi, &lens, rank)).map_err(err)?;
        let df = world.from_local(&mine(&xf, &lens, rank)).map_err(err)?;
        if du.part_lens() != lens.as_slice() || du.len() != n {
            return Err(fail(what("part lengths")));
        }
        let (bu, bi, bf) = (
            one.upload(&xu).map_err(err)?,
            one.upload(&xi).map_err(err)?,
            one.upload(&xf).map_err(err)?,
        );
        macro_rules! same {
            ($op:expr, $got:expr, $want:expr) => {
                let (g, w) = ($got, $want);
                if g != w {
                    return Err(fail(format!("{}: {:?} != {:?}", what($op), g, w)));
                }
            };
        }
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        same!("to_vec", du.to_vec().map_err(err)?, xu.clone());
        same!(
            "sum u32",
            world.sum(&du).map_err(err)?,
            one.sum(&bu).map_err(err)?
        );
        same!(
            "sum i32",
            world.sum(&di).map_err(err)?,
            one.sum(&bi).map_err(err)?
        );
        same!(
            "dot i32",
            world.dot(&di, &di).map_err(err)?,
            one.dot(&bi, &bi).map_err(err)?
        );
        same!(
            "min f32",
            world.min(&df).map_err(err)?.map(f32::to_bits),
            one.min(&bf).map_err(err)?.map(f32::to_bits)
        );
        same!(
            "max f32",
            world.max(&df).map_err(err)?.map(f32::to_bits),
            one.max(&bf).map_err(err)?.map(f32::to_bits)
        );
        same!(
            "argmin f32",
            world.argmin(&df).map_err(err)?,
            one.argmin(&bf).map_err(err)?
        );
        same!(
            "argmax i32",
            world.argmax(&di).map_err(err)?,
            one.argmax(&bi).map_err(err)?
        );
        same!(
            "inclusive_scan i32",
            world
                .inclusive_scan(&di)
                .and_then(|d| d.to_vec())
                .map_err(err)?,
            one.inclusive_scan(&bi)
                .and_then(|b| b.to_vec())
                .map_err(err)?
        );
        same!(
            "exclusive_scan u32",
            world
                .exclusive_scan(&du)
                .and_then(|d| d.to_vec())
                .map_err(err)?,
            one.exclusive_scan(&bu)
                .and_then(|b| b.to_vec())
                .map_err(err)?
        );
        same!(
            "sort u32",
            world.sort(&du).and_then(|d| d.to_vec()).map_err(err)?,
            one.sort(&bu).and_then(|b| b.to_vec()).map_err(err)?
        );
        same!(
            "sort f32",
            bits(world.sort(&df).and_then(|d| d.to_vec()).map_err(err)?),
            bits(one.sort(&bf).and_then(|b| b.to_vec()).map_err(err)?)
        );
        let (k, v) = world.sort_by_key(&di, &du).map_err(err)?;
        let (wk, wv) = one.sort_by_key(&bi, &bu).map_err(err)?;
        same!(
            "sort_by_key keys",
            k.to_vec().map_err(err)?,
            wk.to_vec().map_err(err)?
        );
        same!(
            "sort_by_key values",
            v.to_vec().map_err(err)?,
            wv.to_vec().map_err(err)?
        );
        same!(
            "histogram f32",
            world.histogram(&df, 13, -20.0, 20.0).map_err(err)?,
            one.histogram(&bf, 13, -20.0, 20.0)
                .and_then(|b| b.to_vec())
                .map_err(err)?
        );
        // Scatter from rank 0 (the others pass nothing), then move it back.
        let from0: &[u32] = if rank == 0 { &xu } else { &[] };
        let s = world
            .scatter(
                from0,
                Balance::Weights((0..p).map(|r| (p - r) as f64).collect()),
            )
            .map_err(err)?;
        same!("scatter", s.to_vec().map_err(err)?, xu.clone());
        let r = world
            .rebalance(&s, Balance::Lens(lens.clone()))
            .map_err(err)?;
        same!("rebalance", r.to_vec().map_err(err)?, xu.clone());
        same!(
            "rebalance sum",
            world.sum(&r).map_err(err)?,
            one.sum(&bu).map_err(err)?
        );
        let kern = map_kernel!(i32, |x; a| a * x + 1).map_err(err)?;
        same!(
            "map",
            world
                .map(&kern, [&di], [3])
                .and_then(|d| d.to_vec())
                .map_err(err)?,
            one.map(&kern, [&bi], [3])
                .and_then(|b| b.to_vec())
                .map_err(err)?
        );
        same!(
            "map_reduce",
            world.map_reduce(&kern, [&di], [3]).map_err(err)?,
            one.map_reduce(&kern, [&bi], [3]).map_err(err)?
        );
    }
    // matmul by rows: small integers, exact.
    let (m, k, n) = (23, 7, 5);
    let a: Vec<f32> = (0..m * k).map(|i| (hash(i, 4) % 9) as f32 - 4.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (hash(i, 5) % 9) as f32 - 4.0).collect();
    let rows = part_lens(m, p);
    let lens: Vec<usize> = rows.iter().map(|r| r * k).collect();
    let da = world.from_local(&mine(&a, &lens, rank)).map_err(err)?;
    let bb = one.upload(&b).map_err(err)?;
    let c = world
        .matmul(&da, &bb, m, k, n)
        .and_then(|c| c.to_vec())
        .map_err(err)?;
    let want = one
        .matmul(&one.upload(&a).map_err(err)?, &bb, m, k, n)
        .and_then(|c| c.to_vec())
        .map_err(err)?;
    if c != want {
        return Err(fail(format!("rank {rank}: matmul differs")));
    }
    println!("ok rank {rank} of {p}: every op equals one context");
    Ok(())
}

fn errors() -> Check {
    // Rank 1 runs under Policy::Gpu where there is an adapter, to fail there.
    // Its rank is read before MPI starts from the launcher's environment
    // (Open MPI's OMPI_COMM_WORLD_RANK, or PMI_RANK).
    let env_rank = ["OMPI_COMM_WORLD_RANK", "PMI_RANK"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse::<usize>().ok());
    let policy = if env_rank == Some(1) {
        let probe = Context::builder()
            .policy(Policy::Auto)
            .without_profile()
            .build()
            .map_err(err)?;
        if probe.has_gpu() {
            Policy::Gpu
        } else {
            Policy::Cpu
        }
    } else {
        Policy::Cpu
    };
    let world_ctx = Context::builder()
        .policy(policy)
        .without_profile()
        .build()
        .map_err(err)?;
    let world = World::mpi(world_ctx).map_err(err)?;
    let (rank, p) = (world.rank(), world.size());
    let expect_member = |e: Error, member: usize, kind: ErrorKind, what: &str| -> Check {
        match e {
            Error::Member {
                member: m, kind: k, ..
            } if m == member && k == kind => Ok(()),
            other => Err(fail(format!(
                "rank {rank}: {what}: expected member {member} {kind:?}, got {other}"
            ))),
        }
    };
    // 1. A bad argument only the last rank passes: every rank gets it, naming that rank.
    if p > 1 {
        let data: Vec<u32> = if rank == p - 1 {
            vec![1, 2, 3]
        } else {
            Vec::new()
        };
        match world.scatter(&data, Balance::Even) {
            Ok(_) => {
                return Err(fail(format!(
                    "rank {rank}: scatter from rank {} passed",
                    p - 1
                )))
            }
            Err(e) => expect_member(e, p - 1, ErrorKind::InvalidArgument, "scatter")?,
        }
    }
    // 2. A bad argument every rank sees: the same plain typed error everywhere.
    let d = world
        .from_local(&vec![rank as u32; 10 * (rank + 1)])
        .map_err(err)?;
    match world.histogram(&d, 0, 0, 10) {
        Err(e) if e.kind() == ErrorKind::InvalidArgument && !matches!(e, Error::Member { .. }) => {}
        other => {
            return Err(fail(format!(
                "rank {rank}: histogram with 0 bins gave {other:?}"
            )))
        }
    }
    // 2b. A bad argument only the last rank passes to a checked op (0 bins there):
    // every rank gets it, naming that rank, and nobody is left in a collective.
    if p > 1 {
        let bins = if rank == p - 1 { 0 } else { 4 };
        match world.histogram(&d, bins, 0, 10) {
            Ok(_) => {
                return Err(fail(format!(
                    "rank {rank}: 0 bins on rank {} passed",
                    p - 1
                )))
            }
            Err(e) => expect_member(e, p - 1, ErrorKind::InvalidArgument, "histogram bins")?,
        }
    }
    // 3. A GPU failure on rank 1 under Policy::Gpu: every rank gets it, naming rank 1.
    let gpu_on_1 = world
        .from_local(&[u32::from(policy == Policy::Gpu)])
        .map_err(err)?;
    let gpu_on_1 = world.max(&gpu_on_1).map_err(err)? == Some(1);
    if gpu_on_1 {
        if rank == 1 {
            world.contexts()[0].simulate_gpu_fault(tandem::SimulatedFault::Timeout, 1);
        }
        match world.sort(&d) {
            Ok(_) => {
                return Err(fail(format!(
                    "rank {rank}: sort passed despite rank 1's GPU timeout"
                )))
            }
            Err(e) => expect_member(e, 1, ErrorKind::Timeout, "GPU timeout on rank 1")?,
        }
    }
    // 4. The world still works after the errors.
    let total = world.sum(&d).map_err(err)?;
    let want: u32 = (0..p as u32).map(|r| r * 10 * (r + 1)).sum();
    if total != want {
        return Err(fail(format!(
            "rank {rank}: sum after errors {total} != {want}"
        )));
    }
    println!("ok rank {rank} of {p}: errors agreed (GPU fault case run: {gpu_on_1})");
    Ok(())
}

fn panic_on_last_rank() -> Check {
    let world = World::mpi(
        Context::builder()
            .policy(Policy::Cpu)
            .build()
            .map_err(err)?,
    )
    .map_err(err)?;
    let (rank, p) = (world.rank(), world.size());
    let d = world.from_local(&[rank as u32]).map_err(err)?;
    if rank == p - 1 {
        panic!("deliberate panic on rank {rank} for the abort test");
    }
    // The others block here until the panicking rank's hook aborts the job.
    let _ = world.sum(&d);
    std::thread::sleep(std::time::Duration::from_secs(600));
    Ok(())
}
