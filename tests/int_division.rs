//! Integer `/` and `%` in expression kernels: GPU == CPU twin == a sequential
//! reference for i32 and u32 over every sign combination, the extremes, zero
//! divisors and `i32::MIN / -1`, on whichever backend runs the tests (CI runs
//! them on Vulkan and on GL, where naga's GLSL `%` once gave `-7 % 2 == 1`).

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{map_kernel, Context, Policy};

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

/// WGSL's `x / y` for i32: Rust's quotient where it has one, `x` for a zero
/// divisor, `i32::MIN` for `i32::MIN / -1`.
fn wgsl_div_i32(x: i32, y: i32) -> i32 {
    x.checked_div(y)
        .unwrap_or(if y == 0 { x } else { i32::MIN })
}

/// WGSL's `x % y` for i32: Rust's remainder where it has one, else 0.
fn wgsl_rem_i32(x: i32, y: i32) -> i32 {
    x.checked_rem(y).unwrap_or(0)
}

#[test]
fn i32_division_and_remainder_follow_wgsl_on_every_side_for_every_input() {
    let (a, b) = pairs(&I32S, 3000, draw_i32);
    assert!(b.contains(&0) && a.iter().zip(&b).any(|(&x, &y)| x == i32::MIN && y == -1));
    let quot = map_kernel!(i32, |x, y| x / y).unwrap();
    let rem = map_kernel!(i32, |x, y| x % y).unwrap();
    // Both operators, with literals of either sign and Rust's precedence.
    let mixed = map_kernel!(i32, |x, y| x / y * 3 + x % y - x / -3 + x % 2 * (x % -5)).unwrap();
    // Nested: a quotient as a divisor, a call's argument, a unary minus.
    let nested = map_kernel!(i32, |x, y| -x / (y % 3) % max(y / 2, -y) + abs(x % y) / y).unwrap();
    let want_q: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| wgsl_div_i32(x, y))
        .collect();
    let want_r: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| wgsl_rem_i32(x, y))
        .collect();
    let want_m: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            wgsl_div_i32(x, y)
                .wrapping_mul(3)
                .wrapping_add(wgsl_rem_i32(x, y))
                .wrapping_sub(x / -3)
                .wrapping_add((x % 2).wrapping_mul(x % -5))
        })
        .collect();
    let want_n: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            let left = wgsl_div_i32(x.wrapping_neg(), wgsl_rem_i32(y, 3));
            let m = (y / 2).max(y.wrapping_neg());
            let right = wgsl_div_i32(wgsl_rem_i32(x, y).wrapping_abs(), y);
            wgsl_rem_i32(left, m).wrapping_add(right)
        })
        .collect();
    assert_eq!(-7 % 2, -1, "the case GL once got wrong");
    assert!(a.iter().zip(&b).any(|(&x, &y)| x == -7 && y == 2));
    // `div` / `rem` spell the same rules out.
    let defined = map_kernel!(i32, |x, y| div(x, y) * 7 + rem(x, y)).unwrap();
    let want_d: Vec<i32> = want_q
        .iter()
        .zip(&want_r)
        .map(|(&q, &r)| q.wrapping_mul(7).wrapping_add(r))
        .collect();
    for (side, ctx) in sides() {
        check!(side, "x / y", ctx, &quot, a, b, want_q);
        check!(side, "x % y", ctx, &rem, a, b, want_r);
        check!(side, "mixed", ctx, &mixed, a, b, want_m);
        check!(side, "nested", ctx, &nested, a, b, want_n);
        check!(side, "div/rem", ctx, &defined, a, b, want_d);
        let (x, y) = (ctx.upload(&a).unwrap(), ctx.upload(&b).unwrap());
        let sum = want_m.iter().fold(0i32, |s, &v| s.wrapping_add(v));
        assert_eq!(
            ctx.map_reduce(&mixed, [&x, &y], []).unwrap(),
            sum,
            "{side}: map_reduce"
        );
    }
}

#[test]
fn the_documented_wgsl_values_for_zero_divisors_and_min_by_minus_one() {
    let a = [5, -5, 0, i32::MIN, i32::MIN, i32::MAX, -7];
    let b = [0, 0, 0, 0, -1, 0, 2];
    // x / 0 = x, x % 0 = 0, i32::MIN / -1 = i32::MIN, i32::MIN % -1 = 0.
    let want_q = [5, -5, 0, i32::MIN, i32::MIN, i32::MAX, -3];
    let want_r = [0, 0, 0, 0, 0, 0, -1];
    let quot = map_kernel!(i32, |x, y| x / y).unwrap();
    let rem = map_kernel!(i32, |x, y| x % y).unwrap();
    assert_eq!(quot.eval([i32::MIN, -1], []), i32::MIN);
    assert_eq!(rem.eval([7, 0], []), 0);
    for (side, ctx) in sides() {
        check!(side, "/", ctx, &quot, a, b, want_q);
        check!(side, "%", ctx, &rem, a, b, want_r);
    }
}

#[test]
fn u32_division_and_remainder_follow_wgsl_on_every_side_for_every_input() {
    let (a, b) = pairs(&U32S, 3000, draw_u32);
    assert!(b.contains(&0));
    let div_u = |x: u32, y: u32| x.checked_div(y).unwrap_or(x);
    let rem_u = |x: u32, y: u32| x.checked_rem(y).unwrap_or(0);
    let mixed = map_kernel!(u32, |x, y| x / y * 3 + x % y + x / 3 + x % 7).unwrap();
    let want_m: Vec<u32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            div_u(x, y)
                .wrapping_mul(3)
                .wrapping_add(rem_u(x, y))
                .wrapping_add(x / 3)
                .wrapping_add(x % 7)
        })
        .collect();
    let quot = map_kernel!(u32, |x, y| x / y).unwrap();
    let rem = map_kernel!(u32, |x, y| x % y).unwrap();
    let want_q: Vec<u32> = a.iter().zip(&b).map(|(&x, &y)| div_u(x, y)).collect();
    let want_r: Vec<u32> = a.iter().zip(&b).map(|(&x, &y)| rem_u(x, y)).collect();
    let defined = map_kernel!(u32, |x, y| div(x, y) * 7 + rem(x, y)).unwrap();
    let want_d: Vec<u32> = want_q
        .iter()
        .zip(&want_r)
        .map(|(&q, &r)| q.wrapping_mul(7).wrapping_add(r))
        .collect();
    for (side, ctx) in sides() {
        check!(side, "x / y", ctx, &quot, a, b, want_q);
        check!(side, "x % y", ctx, &rem, a, b, want_r);
        check!(side, "mixed", ctx, &mixed, a, b, want_m);
        check!(side, "div/rem", ctx, &defined, a, b, want_d);
    }
}

#[test]
fn float_division_and_remainder_are_unchanged_by_the_rewrite() {
    // Exact quotients and remainders, so every backend must give these bits.
    let a = [7.5f32, -7.5, 1.0, -1.0, 0.0, 3.0, 1e30];
    let b = [2.0f32, 2.0, 4.0, -4.0, 4.0, -0.5, 0.5];
    let k = map_kernel!(f32, |x, y| x / y + x % y).unwrap();
    let want: Vec<f32> = a.iter().zip(&b).map(|(&x, &y)| x / y + x % y).collect();
    for (side, ctx) in sides() {
        check!(side, "x / y + x % y", ctx, &k, a, b, want);
    }
}
