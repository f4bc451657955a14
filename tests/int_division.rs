//! Integer `/` and `%` in expression kernels: GPU == CPU twin == a sequential
//! reference for i32 and u32 over every sign combination, the extremes, zero
//! divisors and `i32::MIN / -1`, on whichever backend runs the tests (CI runs
//! them on Vulkan and on GL, where naga's GLSL `%` once gave `-7 % 2 == 1`).

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{map_kernel, Context, ErrorKind, Policy};

/// The CPU, and with a GPU: the GPU, Split, and Auto sending everything to the GPU.
fn sides() -> Vec<(&'static str, Context)> {
    let mut v = common::sides_with_split();
    if v.len() > 1 {
        let auto = Context::builder()
            .policy(Policy::Auto)
            .without_profile()
            .gpu_crossover(1)
            .build()
            .unwrap();
        v.push(("auto-gpu", auto));
    }
    v
}

const I32S: [i32; 16] = [
    0,
    1,
    -1,
    2,
    -2,
    3,
    -3,
    7,
    -7,
    12_345,
    -12_345,
    i32::MAX,
    i32::MAX - 1,
    i32::MIN,
    i32::MIN + 1,
    1 << 30,
];

const U32S: [u32; 10] = [
    0,
    1,
    2,
    3,
    7,
    12_345,
    1 << 31,
    (1 << 31) + 1,
    u32::MAX - 1,
    u32::MAX,
];

/// Every pair of `values`, then `random` seeded pairs (sizes past one
/// workgroup, so several are dispatched).
fn pairs<T: Copy>(
    values: &[T],
    random: usize,
    draw: impl Fn(&mut ChaCha8Rng) -> T,
) -> (Vec<T>, Vec<T>) {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for &x in values {
        for &y in values {
            a.push(x);
            b.push(y);
        }
    }
    for _ in 0..random {
        a.push(draw(&mut rng));
        b.push(draw(&mut rng));
    }
    (a, b)
}

/// Small magnitudes often (so quotients and remainders are not all 0 or x),
/// any bits sometimes.
fn draw_i32(rng: &mut ChaCha8Rng) -> i32 {
    match rng.random_range(0..4) {
        0 => rng.random(),
        1 => rng.random_range(-1000..1000),
        _ => rng.random_range(-20..20),
    }
}

fn draw_u32(rng: &mut ChaCha8Rng) -> u32 {
    match rng.random_range(0..3) {
        0 => rng.random(),
        _ => rng.random_range(0..40),
    }
}

/// Runs kernel `k` over `a`, `b` on `ctx` and checks each element against `want`.
macro_rules! check {
    ($side:expr, $what:expr, $ctx:expr, $k:expr, $a:expr, $b:expr, $want:expr) => {{
        let (a, b, want) = (&$a, &$b, &$want);
        let (x, y) = ($ctx.upload(a).unwrap(), $ctx.upload(b).unwrap());
        let got = $ctx
            .map($k, [&x, &y], [])
            .and_then(|v| v.to_vec())
            .unwrap_or_else(|e| panic!("{}: {}: {e}", $side, $what));
        for i in 0..want.len() {
            assert_eq!(
                got[i], want[i],
                "{}: {} at {i}: a = {:?}, b = {:?}",
                $side, $what, a[i], b[i]
            );
        }
    }};
}

/// The CPU side's error where Rust's operator panics, or WGSL's values `want`.
macro_rules! check_undefined {
    ($side:expr, $what:expr, $ctx:expr, $k:expr, $x:expr, $y:expr, $want:expr) => {{
        match $ctx.map($k, [$x, $y], []) {
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    ErrorKind::InvalidArgument,
                    "{}: {}: {e}",
                    $side,
                    $what
                );
                assert_ne!($side, "gpu", "{}: the GPU side has no such error", $what);
            }
            Ok(v) => {
                assert_ne!($side, "cpu", "{}", $what);
                assert_eq!(v.to_vec().unwrap(), $want, "{}: {}", $side, $what);
            }
        }
    }};
}

#[test]
fn i32_division_and_remainder_agree_with_rust_on_every_side() {
    let (a, b) = pairs(&I32S, 3000, draw_i32);
    // Where Rust's operators are defined (no zero divisor, not i32::MIN / -1).
    let ok: Vec<bool> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| x.checked_div(y).is_some())
        .collect();
    let (a_ok, b_ok): (Vec<i32>, Vec<i32>) = a
        .iter()
        .zip(&b)
        .zip(&ok)
        .filter(|(_, &ok)| ok)
        .map(|((&x, &y), _)| (x, y))
        .unzip();
    let quot = map_kernel!(i32, |x, y| x / y).unwrap();
    let rem = map_kernel!(i32, |x, y| x % y).unwrap();
    // Both operators, with literals of either sign and Rust's precedence.
    let mixed = map_kernel!(i32, |x, y| x / y * 3 + x % y - x / -3 + x % 2 * (x % -5)).unwrap();
    let want_q: Vec<i32> = a_ok.iter().zip(&b_ok).map(|(&x, &y)| x / y).collect();
    let want_r: Vec<i32> = a_ok.iter().zip(&b_ok).map(|(&x, &y)| x % y).collect();
    let want_m: Vec<i32> = a_ok
        .iter()
        .zip(&b_ok)
        .map(|(&x, &y)| {
            (x / y)
                .wrapping_mul(3)
                .wrapping_add(x % y)
                .wrapping_sub(x / -3)
                .wrapping_add((x % 2).wrapping_mul(x % -5))
        })
        .collect();
    assert_eq!(-7 % 2, -1, "the case GL once got wrong");
    assert!(a_ok.iter().zip(&b_ok).any(|(&x, &y)| x == -7 && y == 2));
    // `div` / `rem`: WGSL's values where Rust's operators panic, Rust's elsewhere.
    let defined = map_kernel!(i32, |x, y| div(x, y) * 7 + rem(x, y)).unwrap();
    let want_d: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            let (q, r) = match x.checked_div(y) {
                Some(q) => (q, x % y),
                None if y == 0 => (x, 0),
                None => (i32::MIN, 0), // i32::MIN / -1
            };
            q.wrapping_mul(7).wrapping_add(r)
        })
        .collect();
    for (side, ctx) in sides() {
        check!(side, "x / y", ctx, &quot, a_ok, b_ok, want_q);
        check!(side, "x % y", ctx, &rem, a_ok, b_ok, want_r);
        check!(side, "mixed", ctx, &mixed, a_ok, b_ok, want_m);
        check!(side, "div/rem", ctx, &defined, a, b, want_d);
        let (x, y) = (ctx.upload(&a_ok).unwrap(), ctx.upload(&b_ok).unwrap());
        let sum = want_m.iter().fold(0i32, |s, &v| s.wrapping_add(v));
        assert_eq!(
            ctx.map_reduce(&mixed, [&x, &y], []).unwrap(),
            sum,
            "{side}: map_reduce"
        );
    }
}

#[test]
fn i32_division_by_zero_and_min_by_minus_one_never_give_an_undefined_value() {
    let a = [5, -5, 0, i32::MIN, i32::MIN, i32::MAX, -7];
    let b = [0, 0, 0, 0, -1, 0, 2];
    // WGSL's values (the GPU side's, documented): x / 0 = x, x % 0 = 0,
    // i32::MIN / -1 = i32::MIN, i32::MIN % -1 = 0.
    let want_q = [5, -5, 0, i32::MIN, i32::MIN, i32::MAX, -3];
    let want_r = [0, 0, 0, 0, 0, 0, -1];
    let quot = map_kernel!(i32, |x, y| x / y).unwrap();
    let rem = map_kernel!(i32, |x, y| x % y).unwrap();
    for (side, ctx) in sides() {
        let (x, y) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
        check_undefined!(side, "/", ctx, &quot, &x, &y, want_q);
        check_undefined!(side, "%", ctx, &rem, &x, &y, want_r);
    }
}

#[test]
fn u32_division_and_remainder_agree_with_rust_on_every_side() {
    let (a, b) = pairs(&U32S, 3000, draw_u32);
    let (a_ok, b_ok): (Vec<u32>, Vec<u32>) = a
        .iter()
        .zip(&b)
        .filter(|(_, &y)| y != 0)
        .map(|(&x, &y)| (x, y))
        .unzip();
    let mixed = map_kernel!(u32, |x, y| x / y * 3 + x % y + x / 3 + x % 7).unwrap();
    let want_m: Vec<u32> = a_ok
        .iter()
        .zip(&b_ok)
        .map(|(&x, &y)| {
            (x / y)
                .wrapping_mul(3)
                .wrapping_add(x % y)
                .wrapping_add(x / 3)
                .wrapping_add(x % 7)
        })
        .collect();
    let quot = map_kernel!(u32, |x, y| x / y).unwrap();
    let rem = map_kernel!(u32, |x, y| x % y).unwrap();
    let want_q: Vec<u32> = a_ok.iter().zip(&b_ok).map(|(&x, &y)| x / y).collect();
    let want_r: Vec<u32> = a_ok.iter().zip(&b_ok).map(|(&x, &y)| x % y).collect();
    let defined = map_kernel!(u32, |x, y| div(x, y) * 7 + rem(x, y)).unwrap();
    let want_d: Vec<u32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            let (q, r) = (x.checked_div(y).unwrap_or(x), x.checked_rem(y).unwrap_or(0));
            q.wrapping_mul(7).wrapping_add(r)
        })
        .collect();
    for (side, ctx) in sides() {
        check!(side, "x / y", ctx, &quot, a_ok, b_ok, want_q);
        check!(side, "x % y", ctx, &rem, a_ok, b_ok, want_r);
        check!(side, "mixed", ctx, &mixed, a_ok, b_ok, want_m);
        check!(side, "div/rem", ctx, &defined, a, b, want_d);
        // By zero: the CPU side's error, or WGSL's values (x / 0 = x, x % 0 = 0).
        let (x, y) = (
            ctx.upload(&[9u32, 0]).unwrap(),
            ctx.upload(&[0u32, 0]).unwrap(),
        );
        check_undefined!(side, "/", ctx, &quot, &x, &y, [9u32, 0]);
        check_undefined!(side, "%", ctx, &rem, &x, &y, [0u32, 0]);
    }
}
