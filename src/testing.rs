//! Test your own kernels the way tandem tests its own: run them on every side
//! this machine has, over the awkward sizes, against a plain sequential
//! evaluation of the same expression, with a tolerance for floats.
//!
//! ```
//! use tandem::testing::{check_map, Tolerance};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = tandem::Context::new()?;
//! let k = tandem::map_kernel!(f32, |x, y; a| a * x + y)?;
//! let report = check_map(&ctx, &k, [2.5], Tolerance::float(1e-6))?;
//! println!("{report}");
//! # Ok(()) }
//! ```

use std::fmt;

use crate::element::Element;
use crate::kernel::MapKernel;
use crate::{Context, Policy};

/// Sizes that catch off-by-one and tiling bugs: tiny, around the workgroup size
/// (256) and the reduction tile (2,048), around the CPU chunk (65,536), and a prime
/// past a million.
pub const AWKWARD_SIZES: &[usize] = &[
    0, 1, 2, 3, 7, 31, 255, 256, 257, 2047, 2048, 2049, 65_535, 65_536, 65_537, 1_000_003,
];

/// How far a result may be from the reference: `|got - want| <= abs + rel * scale`,
/// where `scale` is `|want|` for `check_map` and the sum of `|f(x_i)|` for
/// `check_map_reduce`. NaN matches NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute slack.
    pub abs: f64,
    /// Relative slack.
    pub rel: f64,
}

impl Tolerance {
    /// Bit-exact (integers, or float kernels with only `+ - *` and exact data).
    pub const EXACT: Tolerance = Tolerance { abs: 0.0, rel: 0.0 };

    /// A relative tolerance for float kernels (e.g. 1e-6 for f32 arithmetic,
    /// 1e-5 with transcendental functions).
    pub fn float(rel: f64) -> Tolerance {
        Tolerance { abs: 1e-30, rel }
    }

    fn accepts(&self, got: f64, want: f64, scale: f64) -> bool {
        (got.is_nan() && want.is_nan())
            || got == want
            || (got - want).abs() <= self.abs + self.rel * scale
    }
}

/// What a check ran.
#[derive(Debug, Clone, PartialEq)]
pub struct ParityReport {
    /// The sides that ran: "cpu", and "gpu" when an adapter exists.
    pub sides: Vec<&'static str>,
    /// The sizes checked.
    pub sizes: Vec<usize>,
    /// The largest error seen, relative to the tolerance's scale.
    pub max_error: f64,
}

impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "parity ok on {} over {} sizes (largest scaled error {:e})",
            self.sides.join(" and "),
            self.sizes.len(),
            self.max_error
        )
    }
}

/// A mismatch: which side, size and element, and the values.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

/// The default input data: deterministic, varied, small: floats in [-4, 4),
/// signed integers in [-100, 100], unsigned in [0, 200].
pub fn default_input<T: Element>(input: usize, i: usize) -> T {
    let h = (i as u64 ^ ((input as u64 + 1) << 40))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17);
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    if T::SCALAR.is_float() {
        T::from_f64(unit * 8.0 - 4.0)
    } else if T::SCALAR == crate::ScalarType::U32 {
        T::from_f64((unit * 201.0).floor())
    } else {
        T::from_f64((unit * 201.0).floor() - 100.0)
    }
}

fn inputs_for<T: Element, const N: usize>(
    n: usize,
    data: &impl Fn(usize, usize) -> T,
) -> [Vec<T>; N] {
    std::array::from_fn(|j| (0..n).map(|i| data(j, i)).collect())
}

/// Checks `ctx.map(kernel, ..)` on every side over [`AWKWARD_SIZES`] with
/// [`default_input`] data. See [`check_map_with`].
///
/// # Errors
/// A [`Mismatch`] naming the side, size, element and values; or a tandem error
/// from running the kernel (as a `Mismatch` with its message).
pub fn check_map<T: Element, const N: usize, const P: usize, F>(
    ctx: &Context,
    kernel: &MapKernel<T, N, P, F>,
    params: [T; P],
    tol: Tolerance,
) -> Result<ParityReport, Mismatch>
where
    F: Fn([T; N], [T; P]) -> T + Sync + Send + 'static,
{
    check_map_with(ctx, kernel, params, tol, AWKWARD_SIZES, default_input::<T>)
}

/// As [`check_map`], over `sizes`, with `data(input, i)` giving element `i` of input `input`.
///
/// # Errors
/// As [`check_map`].
pub fn check_map_with<T: Element, const N: usize, const P: usize, F>(
    ctx: &Context,
    kernel: &MapKernel<T, N, P, F>,
    params: [T; P],
    tol: Tolerance,
    sizes: &[usize],
    data: impl Fn(usize, usize) -> T,
) -> Result<ParityReport, Mismatch>
where
    F: Fn([T; N], [T; P]) -> T + Sync + Send + 'static,
{
    let sides = runnable_sides::<T>(ctx);
    let mut max_error = 0.0f64;
    for &n in sizes {
        let ins: [Vec<T>; N] = inputs_for(n, &data);
        let want: Vec<T> = (0..n)
            .map(|i| kernel.eval(std::array::from_fn(|j| ins[j][i]), params))
            .collect();
        for (side, c) in &sides {
            let bufs = ins
                .iter()
                .map(|v| c.upload(v))
                .collect::<crate::Result<Vec<_>>>()
                .map_err(|e| Mismatch(e.to_string()))?;
            let refs: [&crate::Buffer<T>; N] = std::array::from_fn(|j| &bufs[j]);
            let got = c
                .map(kernel, refs, params)
                .and_then(|b| b.to_vec())
                .map_err(|e| Mismatch(format!("{side} n={n}: {e}")))?;
            for i in 0..n {
                let (g, w) = (got[i].to_f64(), want[i].to_f64());
                if !tol.accepts(g, w, w.abs()) {
                    return Err(Mismatch(format!(
                        "`{}` on the {side}, n={n}, element {i}: got {g}, want {w} (inputs {:?}, params {params:?})",
                        kernel.expression(),
                        (0..N).map(|j| ins[j][i]).collect::<Vec<_>>()
                    )));
                }
                if g != w && w.is_finite() {
                    max_error = max_error.max((g - w).abs() / w.abs().max(f64::MIN_POSITIVE));
                }
            }
        }
    }
    Ok(ParityReport {
        sides: sides.iter().map(|s| s.0).collect(),
        sizes: sizes.to_vec(),
        max_error,
    })
}

/// Checks `ctx.map_reduce(kernel, ..)` on every side over [`AWKWARD_SIZES`]
/// against a sequential sum; the tolerance's scale is the sum of `|f(x_i)|`.
///
/// # Errors
/// As [`check_map`].
pub fn check_map_reduce<T: Element, const N: usize, const P: usize, F>(
    ctx: &Context,
    kernel: &MapKernel<T, N, P, F>,
    params: [T; P],
    tol: Tolerance,
) -> Result<ParityReport, Mismatch>
where
    F: Fn([T; N], [T; P]) -> T + Sync + Send,
{
    let sides = runnable_sides::<T>(ctx);
    let mut max_error = 0.0f64;
    for &n in AWKWARD_SIZES {
        let ins: [Vec<T>; N] = inputs_for(n, &default_input::<T>);
        // Integers: the wrapping sum, exactly. Floats: an f64 sum, more accurate
        // than either side, so the tolerance measures their error alone.
        let mut wrapped = T::zero();
        let (mut exact, mut scale) = (0.0f64, 0.0f64);
        for v in (0..n).map(|i| kernel.eval(std::array::from_fn(|j| ins[j][i]), params)) {
            wrapped = wrapped.add(v);
            exact += v.to_f64();
            scale += v.to_f64().abs();
        }
        let want = if T::SCALAR.is_float() {
            exact
        } else {
            wrapped.to_f64()
        };
        for (side, c) in &sides {
            let bufs = ins
                .iter()
                .map(|v| c.upload(v))
                .collect::<crate::Result<Vec<_>>>()
                .map_err(|e| Mismatch(e.to_string()))?;
            let refs: [&crate::Buffer<T>; N] = std::array::from_fn(|j| &bufs[j]);
            let got = c
                .map_reduce(kernel, refs, params)
                .map_err(|e| Mismatch(format!("{side} n={n}: {e}")))?;
            let (g, w) = (got.to_f64(), want);
            if !tol.accepts(g, w, scale) {
                return Err(Mismatch(format!(
                    "sum of `{}` on the {side}, n={n}: got {g}, want {w}",
                    kernel.expression()
                )));
            }
            if g != w && scale > 0.0 {
                max_error = max_error.max((g - w).abs() / scale);
            }
        }
    }
    Ok(ParityReport {
        sides: sides.iter().map(|s| s.0).collect(),
        sizes: AWKWARD_SIZES.to_vec(),
        max_error,
    })
}

/// The CPU, and the GPU when it exists and runs `T` (f64 needs SHADER_F64).
fn runnable_sides<T: Element>(ctx: &Context) -> Vec<(&'static str, Context)> {
    let mut v = vec![("cpu", ctx.with_policy(Policy::Cpu))];
    if let Some(info) = ctx.gpu_info() {
        if ctx.has_gpu() && (T::SCALAR != crate::ScalarType::F64 || info.f64) {
            v.push(("gpu", ctx.with_policy(Policy::Gpu)));
            v.push(("split", ctx.with_policy(Policy::Split)));
        }
    }
    v
}
