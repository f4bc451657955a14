//! Shared harness of the parity and fault suites: the sides to run on, the
//! awkward sizes, the data patterns, and plain sequential references.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard, OnceLock};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tandem::{Context, Element, Policy};

/// Threads per workgroup of the built-in kernels.
pub const WG: usize = 256;
/// Elements one reduction workgroup covers.
pub const REDUCE_TILE: usize = WG * 8;

/// The shared Auto context of a test binary.
pub fn context() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| {
        // No profile: the suites must not depend on what this machine measured.
        Context::builder()
            .policy(Policy::Auto)
            .without_profile()
            .build()
            .expect("an Auto context always builds")
    })
}

/// The sides this machine has: always the CPU; the GPU when an adapter exists.
/// Without one, prints one line and leaves the GPU out, unless
/// `TANDEM_REQUIRE_GPU=1`, which makes a missing adapter a failure.
pub fn sides() -> Vec<(&'static str, Context)> {
    let ctx = context();
    let mut sides = vec![("cpu", ctx.with_policy(Policy::Cpu))];
    if ctx.has_gpu() {
        sides.push(("gpu", ctx.with_policy(Policy::Gpu)));
    } else {
        let reason = ctx.gpu_unavailable_reason().unwrap_or_default();
        if std::env::var("TANDEM_REQUIRE_GPU").as_deref() == Ok("1") {
            panic!("TANDEM_REQUIRE_GPU=1 but no GPU adapter is usable: {reason}");
        }
        static ONCE: OnceLock<()> = OnceLock::new();
        ONCE.get_or_init(|| eprintln!("GPU tests skipped: no GPU adapter ({reason})"));
    }
    sides
}

/// [`sides`] and, with a GPU, Policy::Split (the GPU and the CPU at once, halves).
pub fn sides_with_split() -> Vec<(&'static str, Context)> {
    let mut v = sides();
    if v.len() > 1 {
        v.push(("split", context().with_policy(Policy::Split)));
    }
    v
}

/// One GPU user at a time within a test binary, for files with long submissions:
/// on GL (llvmpipe) a long submission holds wgpu's adapter-context lock, and a
/// thread waiting on it for more than 6 s makes wgpu-hal panic.
pub fn gpu_serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The GPU context, if any (same skip rule as [`sides`]).
pub fn gpu() -> Option<Context> {
    sides()
        .into_iter()
        .find(|(n, _)| *n == "gpu")
        .map(|(_, c)| c)
}

/// Sizes in the CUB/Thrust habit: tiny, around every tile and chunk, primes,
/// the 1-D dispatch limit, and seeded random ones.
pub fn sizes() -> Vec<usize> {
    let mut v = vec![0, 1, 2, 3, 5, 7, 31, 97, 7919, 104_729];
    for w in [
        16,
        WG,
        REDUCE_TILE,
        1 << 15,
        1 << 16,
        REDUCE_TILE * REDUCE_TILE,
    ] {
        v.extend([w - 1, w, w + 1]);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(0x7A4D);
    for _ in 0..4 {
        v.push(rng.random_range(1..300_000));
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// Sizes past the 65,535-workgroup limit of a 1-D grid for the element-wise
/// kernels (one element per invocation).
pub fn dispatch_limit_sizes() -> Vec<usize> {
    vec![65_535 * WG - 1, 65_535 * WG + 1]
}

/// Data patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Uniform random over the type's test range.
    Random,
    /// One value repeated.
    Constant,
    /// Ascending.
    Sorted,
    /// Descending.
    Reversed,
    /// Small integers (exact float sums at every association order).
    SmallInts,
    /// Floats only: random with NaN, -0, +0 and infinities mixed in.
    Special,
}

/// Every pattern that applies to `T`.
pub fn patterns<T: TestElement>() -> Vec<Pattern> {
    let mut p = vec![
        Pattern::Random,
        Pattern::Constant,
        Pattern::Sorted,
        Pattern::Reversed,
        Pattern::SmallInts,
    ];
    if T::IS_FLOAT {
        p.push(Pattern::Special);
    }
    p
}

/// What the tests need of an element beyond [`Element`].
pub trait TestElement: Element + PartialOrd {
    const IS_FLOAT: bool;
    fn from_i64(v: i64) -> Self;
    fn random(rng: &mut ChaCha8Rng) -> Self;
    fn special(rng: &mut ChaCha8Rng) -> Self;
    /// Bitwise equal, or both NaN.
    fn same(self, other: Self) -> bool;
}

macro_rules! int_test_element {
    ($t:ty) => {
        impl TestElement for $t {
            const IS_FLOAT: bool = false;
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn random(rng: &mut ChaCha8Rng) -> Self {
                rng.random::<$t>()
            }
            fn special(rng: &mut ChaCha8Rng) -> Self {
                Self::random(rng)
            }
            fn same(self, other: Self) -> bool {
                self == other
            }
        }
    };
}
int_test_element!(u32);
int_test_element!(i32);

macro_rules! float_test_element {
    ($t:ty) => {
        impl TestElement for $t {
            const IS_FLOAT: bool = true;
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn random(rng: &mut ChaCha8Rng) -> Self {
                rng.random_range(-1000.0..1000.0)
            }
            fn special(rng: &mut ChaCha8Rng) -> Self {
                match rng.random_range(0..10) {
                    0 => <$t>::NAN,
                    1 => -0.0,
                    2 => 0.0,
                    3 => <$t>::INFINITY,
                    4 => <$t>::NEG_INFINITY,
                    _ => Self::random(rng),
                }
            }
            fn same(self, other: Self) -> bool {
                self.to_bits() == other.to_bits() || (self.is_nan() && other.is_nan())
            }
        }
    };
}
float_test_element!(f32);
float_test_element!(f64);

/// `n` elements of `pattern`, seeded by `seed`.
pub fn data<T: TestElement>(pattern: Pattern, n: usize, seed: u64) -> Vec<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9));
    match pattern {
        Pattern::Random => (0..n).map(|_| T::random(&mut rng)).collect(),
        Pattern::Constant => vec![T::from_i64(3); n],
        Pattern::Sorted => (0..n as i64)
            .map(|i| T::from_i64(i % 50_000 - 25_000))
            .collect::<Vec<_>>()
            .sorted(),
        Pattern::Reversed => {
            let mut v = (0..n as i64)
                .map(|i| T::from_i64(i % 50_000 - 25_000))
                .collect::<Vec<_>>()
                .sorted();
            v.reverse();
            v
        }
        Pattern::SmallInts => (0..n)
            .map(|_| T::from_i64(rng.random_range(-8..=8)))
            .collect(),
        Pattern::Special => (0..n).map(|_| T::special(&mut rng)).collect(),
    }
}

trait Sorted {
    fn sorted(self) -> Self;
}
impl<T: TestElement> Sorted for Vec<T> {
    fn sorted(mut self) -> Self {
        self.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        self
    }
}

/// Plain sequential references, written as a reader would check them by hand.
pub mod reference {
    use super::TestElement;

    pub fn sum<T: TestElement>(x: &[T]) -> T {
        let mut s = T::zero();
        for &v in x {
            s = s.add(v);
        }
        s
    }

    /// The exact-ish float sum in f64, and the sum of magnitudes (for tolerances).
    pub fn sum_f64<T: TestElement>(x: &[T]) -> (f64, f64) {
        x.iter().fold((0.0, 0.0), |(s, a), &v| {
            (s + v.to_f64(), a + v.to_f64().abs())
        })
    }

    /// Index of the first smallest element under tandem's order (NaN ignored,
    /// -0 < +0); 0 when all are NaN.
    pub fn argmin<T: TestElement>(x: &[T]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, &v) in x.iter().enumerate() {
            best = match best {
                None => Some(i),
                Some(b) if better(v, x[b], false) => Some(i),
                keep => keep,
            };
        }
        best
    }

    pub fn argmax<T: TestElement>(x: &[T]) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, &v) in x.iter().enumerate() {
            best = match best {
                None => Some(i),
                Some(b) if better(v, x[b], true) => Some(i),
                keep => keep,
            };
        }
        best
    }

    /// Whether `v` beats the current best `b` (strictly).
    fn better<T: TestElement>(v: T, b: T, want_max: bool) -> bool {
        if v.is_nan() {
            return false;
        }
        if b.is_nan() {
            return true;
        }
        if v == b {
            // Only -0 and +0 compare equal with different bits.
            let (vn, bn) = (v.to_f64().is_sign_negative(), b.to_f64().is_sign_negative());
            return if want_max { bn && !vn } else { vn && !bn };
        }
        if want_max {
            v > b
        } else {
            v < b
        }
    }
}

/// Whether `ctx` (a side from [`sides`]) runs kernels of `T`: f64 needs an
/// adapter with SHADER_F64 on the GPU side. Where it does not, checks that
/// ops are refused with the typed error, so callers can skip the side.
pub fn side_runs<T: TestElement>(side: &str, ctx: &Context) -> bool {
    if side != "gpu" || std::mem::size_of::<T>() != 8 || ctx.gpu_info().is_some_and(|g| g.f64) {
        return true;
    }
    let x = ctx.upload(&[T::from_i64(1)]).unwrap();
    let e = ctx.sum(&x).unwrap_err();
    assert_eq!(e.kind(), tandem::ErrorKind::Unsupported, "{e}");
    eprintln!("f64 GPU tests skipped: this adapter has no SHADER_F64 (ops are refused with Unsupported, checked)");
    false
}
