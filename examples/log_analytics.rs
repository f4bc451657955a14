//! Log analytics on a synthetic access log kept as columns: status code (u32),
//! latency in ms (f32), endpoint id (u32), request id (u32).
//!
//! - A latency `histogram` (10 ms bins up to 1 s) and the count past 1 s (`count_if`).
//! - Server errors (status >= 500): `count_if`; per endpoint, an expression
//!   kernel makes a 0/1 error mask, `compact` keeps the failing requests'
//!   endpoints, and a `histogram` over endpoint ids counts them.
//! - Slow requests (> 500 ms): `compact_if` keeps their latencies; `sum` gives their mean.
//! - The top-k slowest requests and the p50/p99 latencies: `sort_by_key` of
//!   the latencies carrying the request ids (stable, so equal latencies keep
//!   request order).
//! - Requests per user with the top ten users: `sort_by_key` of the user ids
//!   carrying the latencies, `reduce_by_key` (requests, and total latency per
//!   user), then `sort_by_key` of the counts carrying the users.
//! - Latency p50/p99 per status code: the latencies sorted, then stably sorted
//!   by status (so each status is one run, its latencies ascending);
//!   `run_length_encode` gives each status's count, `exclusive_scan` its start,
//!   `gather` reads the percentiles, and `segmented_reduce` the maximum.
//!
//! Checks: every number against plain Rust over the same columns.
//!
//! Run: `cargo run --release --example log_analytics [requests]`

use std::error::Error;
use std::time::Instant;

use tandem::ops::compact::Compare;
use tandem::{map_kernel, Context, ReduceOp};

/// Requests in the default run.
const DEFAULT_REQUESTS: usize = 1 << 22;
const ENDPOINTS: usize = 16;
const BINS: usize = 100;
const MAX_MS: f32 = 1000.0;
const SLOW_MS: f32 = 500.0;
const TOP_K: usize = 10;
const USERS: usize = 20_000;

/// A small deterministic generator (SplitMix64), so the example needs no crate.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The log's columns.
struct Log {
    status: Vec<u32>,
    latency: Vec<f32>,
    endpoint: Vec<u32>,
    user: Vec<u32>,
}

/// Endpoints used unevenly; endpoint 7 fails often; endpoint 3 is slow;
/// latencies log-normal, rounded to 0.1 ms (so many are equal).
fn synthetic_log(n: usize) -> Log {
    let mut rng = Rng(0x10_6A11);
    let mut log = Log {
        status: Vec::with_capacity(n),
        latency: Vec::with_capacity(n),
        endpoint: Vec::with_capacity(n),
        user: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let u = rng.next_f64();
        let e = ((u * u) * ENDPOINTS as f64) as u32;
        let r = rng.next_f64();
        let fail = if e == 7 { 0.10 } else { 0.01 };
        let status = if r < fail {
            [500, 502, 503][(r * 300.0) as usize % 3]
        } else if r < fail + 0.03 {
            404
        } else {
            200
        };
        // A cheap normal: the sum of four uniforms, centred and scaled.
        let z = ((0..4).map(|_| rng.next_f64()).sum::<f64>() - 2.0) * 3f64.sqrt();
        let mu = if e == 3 { 5.0 } else { 3.5 };
        let ms = ((mu + 0.7 * z).exp() * 10.0).round() / 10.0;
        log.status.push(status);
        log.latency.push(ms as f32);
        log.endpoint.push(e);
        // A few heavy users: the square of a uniform, scaled.
        let w = rng.next_f64();
        log.user.push((w * w * w * USERS as f64) as u32);
    }
    log
}

/// `|x| <= tol`, false for NaN (so a NaN result fails its check).
fn within(x: f64, tol: f64) -> bool {
    x.abs() <= tol
}

fn mismatch(what: &str, got: impl std::fmt::Debug, want: impl std::fmt::Debug) -> Box<dyn Error> {
    format!("log_analytics: {what}: got {got:?}, plain Rust says {want:?}").into()
}

/// Analyses a synthetic log of `requests` rows on the context's chosen sides
/// and checks every answer against plain Rust.
///
/// # Errors
/// A tandem error, or a message when a check fails.
pub fn run_on(ctx: &Context, requests: usize) -> Result<String, Box<dyn Error>> {
    if !(TOP_K..=u32::MAX as usize).contains(&requests) {
        return Err(format!("log_analytics: {requests} requests is outside {TOP_K}..2^32").into());
    }
    let n = requests;
    let log = synthetic_log(n);
    let ids: Vec<u32> = (0..n as u32).collect();
    // 1 for status >= 500, else 0. (`select(0, 1, s >= 500)` would read better, but
    // naga types the literal arms as i32, which a u32 kernel rejects.)
    let error_mask = map_kernel!(u32, |s| min(s / 500, 1))?;

    ctx.clear_runs();
    let start = Instant::now();
    let status = ctx.upload(&log.status)?;
    let latency = ctx.upload(&log.latency)?;
    let endpoint = ctx.upload(&log.endpoint)?;
    let id = ctx.upload(&ids)?;

    let hist = ctx.histogram(&latency, BINS, 0.0, MAX_MS)?.to_vec()?;
    let over = ctx.count_if(&latency, Compare::Ge, MAX_MS)?;
    let errors = ctx.count_if(&status, Compare::Ge, 500)?;
    let mask = ctx.map(&error_mask, [&status], [])?;
    let failing = ctx.compact(&endpoint, &mask)?;
    let per_endpoint = ctx
        .histogram(&failing, ENDPOINTS, 0, ENDPOINTS as u32)?
        .to_vec()?;
    let slow = ctx.compact_if(&latency, Compare::Gt, SLOW_MS)?;
    let slow_mean = if slow.is_empty() {
        0.0
    } else {
        ctx.sum(&slow)? as f64 / slow.len() as f64
    };
    let (sorted, order) = ctx.sort_by_key(&latency, &id)?;
    let (sorted, order) = (sorted.to_vec()?, order.to_vec()?);
    let top: Vec<(u32, f32)> = (0..TOP_K)
        .map(|j| (order[n - 1 - j], sorted[n - 1 - j]))
        .collect();
    let p50 = sorted[(n - 1) / 2];
    let p99 = sorted[(n - 1) * 99 / 100];

    // Requests per user, and the top ten users by requests.
    let user = ctx.upload(&log.user)?;
    let (by_user, lat_by_user) = ctx.sort_by_key(&user, &latency)?;
    let ones = ctx.from_vec(vec![1u32; n])?;
    let (users, requests) = ctx.reduce_by_key(&by_user, &ones, ReduceOp::Sum)?;
    let (users_too, user_ms) = ctx.reduce_by_key(&by_user, &lat_by_user, ReduceOp::Sum)?;
    let (by_count, top_users) = ctx.sort_by_key(&requests, &users)?;
    let (by_count, top_users) = (by_count.to_vec()?, top_users.to_vec()?);
    let k = by_count.len();
    let top_ten: Vec<(u32, u32)> = (0..TOP_K.min(k))
        .map(|j| (top_users[k - 1 - j], by_count[k - 1 - j]))
        .collect();

    // Latency p50 / p99 (and the maximum) per status code.
    let (lat_sorted, status_by_lat) = ctx.sort_by_key(&latency, &status)?;
    let (by_status, lat_by_status) = ctx.sort_by_key(&status_by_lat, &lat_sorted)?;
    let (codes, per_code) = ctx.run_length_encode(&by_status)?;
    let starts = ctx.exclusive_scan(&per_code)?;
    let (codes, per_code, starts) = (codes.to_vec()?, per_code.to_vec()?, starts.to_vec()?);
    let picks: Vec<u32> = starts
        .iter()
        .zip(&per_code)
        .flat_map(|(&s, &c)| [s + (c - 1) / 2, s + (c - 1) * 99 / 100])
        .collect();
    let pct = ctx.gather(&lat_by_status, &ctx.upload(&picks)?)?.to_vec()?;
    let mut offsets = starts.clone();
    offsets.push(n as u32);
    let worst_ms = ctx
        .segmented_reduce(&lat_by_status, &ctx.upload(&offsets)?, ReduceOp::Max)?
        .to_vec()?;
    let per_status: Vec<(u32, u32, f32, f32, f32)> = (0..codes.len())
        .map(|j| {
            (
                codes[j],
                per_code[j],
                pct[2 * j],
                pct[2 * j + 1],
                worst_ms[j],
            )
        })
        .collect();
    let elapsed = start.elapsed();

    // Plain Rust over the same columns.
    let ref_start = Instant::now();
    let mut want_hist = vec![0u32; BINS];
    for &ms in &log.latency {
        if (0.0..MAX_MS).contains(&ms) {
            // Bin edges are multiples of 10 ms, exact in f32 and f64.
            want_hist[(ms as f64 / (MAX_MS as f64 / BINS as f64)) as usize] += 1;
        }
    }
    let want_over = log.latency.iter().filter(|&&ms| ms >= MAX_MS).count();
    let want_errors = log.status.iter().filter(|&&s| s >= 500).count();
    let mut want_per_endpoint = vec![0u32; ENDPOINTS];
    for (&s, &e) in log.status.iter().zip(&log.endpoint) {
        if s >= 500 {
            want_per_endpoint[e as usize] += 1;
        }
    }
    let want_slow: Vec<f32> = log
        .latency
        .iter()
        .copied()
        .filter(|&ms| ms > SLOW_MS)
        .collect();
    let want_slow_mean =
        want_slow.iter().map(|&x| x as f64).sum::<f64>() / want_slow.len().max(1) as f64;
    let mut want_order = ids.clone();
    want_order.sort_by(|&a, &b| log.latency[a as usize].total_cmp(&log.latency[b as usize]));
    let want_top: Vec<(u32, f32)> = want_order[n - TOP_K..]
        .iter()
        .rev()
        .map(|&i| (i, log.latency[i as usize]))
        .collect();
    let mut want_requests = vec![0u32; USERS + 1];
    let mut want_user_ms = vec![0f64; USERS + 1];
    for (&u, &ms) in log.user.iter().zip(&log.latency) {
        want_requests[u as usize] += 1;
        want_user_ms[u as usize] += ms as f64;
    }
    let mut want_users: Vec<u32> = (0..=USERS as u32)
        .filter(|&u| want_requests[u as usize] > 0)
        .collect();
    // The stable sort by count, read from the end: most requests first, and
    // among equal counts the larger user id first.
    want_users.sort_by_key(|&u| (want_requests[u as usize], u));
    let want_top_ten: Vec<(u32, u32)> = want_users
        .iter()
        .rev()
        .take(TOP_K)
        .map(|&u| (u, want_requests[u as usize]))
        .collect();
    let mut lat_of: std::collections::BTreeMap<u32, Vec<f32>> = Default::default();
    for (&s, &ms) in log.status.iter().zip(&log.latency) {
        lat_of.entry(s).or_default().push(ms);
    }
    let want_per_status: Vec<(u32, u32, f32, f32, f32)> = lat_of
        .into_iter()
        .map(|(s, mut v)| {
            v.sort_by(f32::total_cmp);
            let c = v.len();
            (s, c as u32, v[(c - 1) / 2], v[(c - 1) * 99 / 100], v[c - 1])
        })
        .collect();
    let ref_elapsed = ref_start.elapsed();

    let users = users.to_vec()?;
    let requests = requests.to_vec()?;
    let want_listed: Vec<u32> = (0..=USERS as u32)
        .filter(|&u| want_requests[u as usize] > 0)
        .collect();
    let want_counts: Vec<u32> = want_listed
        .iter()
        .map(|&u| want_requests[u as usize])
        .collect();
    if users != want_listed || requests != want_counts || users_too.to_vec()? != users {
        return Err(mismatch(
            "requests per user",
            users.len(),
            want_listed.len(),
        ));
    }
    let user_ms = user_ms.to_vec()?;
    for (j, &u) in users.iter().enumerate() {
        let want = want_user_ms[u as usize];
        // f32 sums of up to ~10^5 latencies, in different orders: 1e-3 of the
        // total bounds their rounding with room to spare.
        if !within(user_ms[j] as f64 - want, 1e-3 * want.max(1.0)) {
            return Err(mismatch("latency per user", (u, user_ms[j]), want));
        }
    }
    if top_ten != want_top_ten {
        return Err(mismatch("top ten users", &top_ten, &want_top_ten));
    }
    if per_status != want_per_status {
        return Err(mismatch(
            "latency percentiles per status",
            &per_status,
            &want_per_status,
        ));
    }

    if hist != want_hist {
        return Err(mismatch("latency histogram", &hist, &want_hist));
    }
    if over != want_over {
        return Err(mismatch("requests of 1 s or more", over, want_over));
    }
    if errors != want_errors || failing.len() != want_errors {
        return Err(mismatch(
            "server errors",
            (errors, failing.len()),
            want_errors,
        ));
    }
    if per_endpoint != want_per_endpoint {
        return Err(mismatch(
            "errors per endpoint",
            &per_endpoint,
            &want_per_endpoint,
        ));
    }
    if slow.to_vec()? != want_slow {
        return Err(mismatch("slow requests", slow.len(), want_slow.len()));
    }
    if !within(slow_mean - want_slow_mean, 1e-4 * want_slow_mean) {
        return Err(mismatch("mean slow latency", slow_mean, want_slow_mean));
    }
    if top != want_top {
        return Err(mismatch("top requests", &top, &want_top));
    }
    let want_sorted: Vec<f32> = want_order
        .iter()
        .map(|&i| log.latency[i as usize])
        .collect();
    if sorted != want_sorted || order != want_order {
        return Err(mismatch(
            "sorted latencies",
            "differ",
            "the order of a stable sort",
        ));
    }

    let worst = (0..ENDPOINTS).max_by_key(|&e| per_endpoint[e]).unwrap_or(0);
    let mode = (0..BINS).max_by_key(|&b| hist[b]).unwrap_or(0);
    let bin_ms = MAX_MS / BINS as f32;
    let top3: Vec<String> = top
        .iter()
        .take(3)
        .map(|(i, ms)| format!("#{i} {ms} ms"))
        .collect();
    Ok(format!(
        "log_analytics: {n} requests in {elapsed:.2?} (plain Rust: {ref_elapsed:.2?})\n  \
         latency p50 {p50} ms, p99 {p99} ms, busiest bin [{}, {}) ms, {over} of 1 s or more; \
         {} slow (> {SLOW_MS} ms, mean {slow_mean:.1} ms)\n  \
         {errors} server errors ({:.2}%), most on endpoint {worst} ({}); slowest: {}\n  \
         {} users, the busiest: {}\n  \
         per status (p50 / p99 / max ms): {}{}",
        mode as f32 * bin_ms,
        (mode + 1) as f32 * bin_ms,
        slow.len(),
        100.0 * errors as f64 / n as f64,
        per_endpoint[worst],
        top3.join(", "),
        users.len(),
        top_ten
            .iter()
            .take(3)
            .map(|(u, c)| format!("user {u} ({c} requests)"))
            .collect::<Vec<_>>()
            .join(", "),
        per_status
            .iter()
            .map(|(s, c, a, b, m)| format!("{s}: {a} / {b} / {m} ({c})"))
            .collect::<Vec<_>>()
            .join(", "),
        ctx.run_summary()
    ))
}

/// [`run_on`] with a `Context::new()` (Policy::Auto, or `TANDEM_BACKEND`).
///
/// # Errors
/// As [`run_on`], or when no context can be built.
pub fn run(requests: usize) -> Result<String, Box<dyn Error>> {
    let ctx = Context::new()?;
    let gpu = ctx.gpu_info().map_or_else(
        || "no GPU".to_string(),
        |g| format!("GPU: {} ({})", g.name, g.backend),
    );
    Ok(format!("[{gpu}] {}", run_on(&ctx, requests)?))
}

fn main() {
    let size = match std::env::args().nth(1).map(|s| s.parse::<usize>()) {
        None => DEFAULT_REQUESTS,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: log_analytics [requests]: {e}");
            std::process::exit(2);
        }
    };
    match run(size) {
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("log_analytics failed: {e}");
            std::process::exit(1);
        }
    }
}
