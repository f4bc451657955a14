//! User kernels: write a kernel once, run it on either side.
//!
//! An *expression kernel* is one expression over 1 to 4 input elements and any
//! number of named scalar parameters, in the subset of syntax that Rust and WGSL
//! share: arithmetic, comparisons, `&&`/`||`/`!`, parentheses, literals, and the
//! functions of [`fns`] (`select`, `sqrt`, `abs`, `min`, `max`, `clamp`, `exp`,
//! `log`, `pow`, `sin`, `cos`, `fma`). [`map_kernel!`](crate::map_kernel) turns it
//! into a rayon closure (checked by rustc) and a WGSL kernel (validated by naga
//! when the kernel is created, with the expression in the error):
//!
//! ```
//! # fn main() -> Result<(), tandem::Error> {
//! let ctx = tandem::Context::new()?;
//! let k = tandem::map_kernel!(f32, |x, y; a| a * x + y)?;   // inputs x, y; parameter a
//! let x = ctx.upload(&[1.0f32, 2.0, 3.0])?;
//! let y = ctx.upload(&[10.0f32, 20.0, 30.0])?;
//! assert_eq!(ctx.map(&k, [&x, &y], [2.0])?.to_vec()?, [12.0, 24.0, 36.0]);
//! assert_eq!(ctx.map_reduce(&k, [&x, &y], [2.0])?, 72.0);   // sum of the map
//! # Ok(()) }
//! ```
//!
//! All inputs, parameters and the result have the kernel's one element type.
//! Integer kernels wrap on the GPU; on the CPU they wrap in release builds and
//! panic on overflow in debug builds (Rust's own rule for the expression). Every
//! function's result is defined for every input, identically on both sides (see
//! [`fns`]: `min`/`max` with NaN, `div`/`rem` by zero). Integer `/` and `%`
//! follow WGSL on both sides: `x / 0 == x`, `x % 0 == 0`,
//! `i32::MIN / -1 == i32::MIN` and `i32::MIN % -1 == 0` (the macro reads the
//! CPU side's `a / b` as `div(a, b)` and `a % b` as `rem(a, b)`, so Rust's
//! operators, which panic there, never run); for every other input they give
//! Rust's result on both sides and every backend (negative operands included).
//! Each kernel compiles once per
//! context (`MapKernel` carries a unique id); [`crate::testing`] checks a kernel on
//! both sides over the awkward sizes.

mod expr;
pub mod fns;
pub(crate) mod gpu;
mod int_ops;
mod wgsl;

pub use wgsl::{Arg, CpuArgs, WgslKernel};

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::buffer::Buffer;
use crate::cpu::PAR_MIN;
use crate::dispatch::{self, Op, Work};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::shader::{self, Variant};
use crate::Context;

static NEXT_KERNEL_ID: AtomicU64 = AtomicU64::new(1);

/// An element-wise kernel over `N` inputs and `P` parameters of type `T`,
/// with a CPU closure `F` and a generated WGSL twin. Build one with
/// [`map_kernel!`](crate::map_kernel); run it with [`Context::map`] or [`Context::map_reduce`].
pub struct MapKernel<T: Element, const N: usize, const P: usize, F> {
    id: u64,
    expr: &'static str,
    inputs: [&'static str; N],
    params: [&'static str; P],
    /// Shared, so that a deferred call's CPU re-run can own it.
    f: Arc<F>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element, const N: usize, const P: usize, F> std::fmt::Debug for MapKernel<T, N, P, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapKernel")
            .field("type", &T::SCALAR.wgsl())
            .field("inputs", &self.inputs)
            .field("params", &self.params)
            .field("expr", &self.expr)
            .finish()
    }
}

impl<T: Element, const N: usize, const P: usize, F> MapKernel<T, N, P, F>
where
    F: Fn([T; N], [T; P]) -> T + Sync + Send,
{
    /// A kernel from its expression text, its input and parameter names, and the
    /// CPU closure of the same expression. The WGSL is generated and validated
    /// with naga here, in both shader variants. Prefer [`map_kernel!`](crate::map_kernel),
    /// which writes the text and the closure from one expression.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0 or more than 4 inputs;
    /// [`Error::ShaderCompile`] when the expression is not valid WGSL for `T`
    /// (the message quotes the expression and naga's diagnosis).
    pub fn new(
        expr: &'static str,
        inputs: [&'static str; N],
        params: [&'static str; P],
        f: F,
    ) -> Result<Self> {
        if N == 0 || N > 4 {
            return Err(Error::InvalidArgument {
                op: "map_kernel",
                message: format!("a kernel takes 1 to 4 inputs, not {N}"),
            });
        }
        let k = MapKernel {
            id: NEXT_KERNEL_ID.fetch_add(1, Ordering::Relaxed),
            expr,
            inputs,
            params,
            f: Arc::new(f),
            _t: PhantomData,
        };
        for variant in [Variant::Subgroup, Variant::Plain] {
            let src = k.full_source(variant);
            shader::validate_wgsl(&k.name(), &src).map_err(|e| match e {
                Error::ShaderCompile { shader, message } => Error::ShaderCompile {
                    shader,
                    message: format!(
                        "the expression `{expr}` is not valid WGSL for {}:\n{message}",
                        T::SCALAR.wgsl()
                    ),
                },
                other => other,
            })?;
        }
        Ok(k)
    }

    /// The expression text.
    pub fn expression(&self) -> &'static str {
        self.expr
    }

    /// The generated WGSL (without the prelude).
    pub fn wgsl(&self) -> String {
        gpu::kernel_source(self.expr, &self.inputs, &self.params, T::SCALAR)
    }

    /// Evaluates the expression on the CPU for one element.
    pub fn eval(&self, inputs: [T; N], params: [T; P]) -> T {
        (self.f)(inputs, params)
    }

    fn name(&self) -> String {
        format!(
            "map_kernel#{}<{}> `{}`",
            self.id,
            T::SCALAR.wgsl(),
            self.expr
        )
    }

    fn full_source(&self, variant: Variant) -> String {
        let mut s = shader::prelude("map_kernel", T::SCALAR, variant);
        s.push_str(&self.wgsl());
        s
    }

    fn work(&self, ctx: &Context, op: Op, inputs: &[&Buffer<T>; N]) -> Work {
        let dyn_inputs = inputs.map(|b| b as &dyn crate::dispatch::Input);
        let (mut w, g) = crate::ops::call_for(
            ctx,
            op,
            crate::gpu::shader::ALL_SCALARS,
            inputs.first().map_or(0, |b| b.len()),
            self.id,
            &dyn_inputs,
        );
        w.gpu_supported &= g.is_some_and(|g| g.supports_scalar(T::SCALAR));
        w
    }
}

/// The host copies of a kernel's inputs (read back where needed).
fn host_copies<T: Element>(inputs: &[&Buffer<T>]) -> Result<Vec<std::sync::Arc<Vec<T>>>> {
    inputs.iter().map(|b| b.host()).collect()
}

fn check_lengths<T: Element, const N: usize>(
    op: &'static str,
    inputs: &[&Buffer<T>; N],
) -> Result<usize> {
    let n = inputs[0].len();
    for b in inputs.iter() {
        inputs[0].same_len(b, op)?;
    }
    Ok(n)
}

/// Runs a kernel's CPU side, turning a panic of the user's expression into an
/// error. Division cannot panic (`__kernel_expr!` rewrites it);
/// integer overflow can, in a debug build, where Rust checks arithmetic.
fn catch_kernel_panic<R>(op: &'static str, f: impl FnOnce() -> R) -> Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Error::InvalidArgument {
            op,
            message: format!("the kernel's expression panicked on the CPU ({what}); integer overflow panics in a debug build, and wraps in a release build as on the GPU"),
        }
    })
}

/// The CPU side of `map`: chunked over rayon, the closure inlined per element.
fn map_cpu<T: Element, const N: usize, const P: usize>(
    f: &(impl Fn([T; N], [T; P]) -> T + Sync + Send),
    ins: [&[T]; N],
    params: [T; P],
) -> Vec<T> {
    let n = ins[0].len();
    // SAFETY: the loop writes every element of each piece (by index, over the
    // piece itself); every input is at least `n` long (`check_lengths`), so the
    // slicing cannot stop it early without a panic.
    unsafe {
        crate::cpu::collect_pieces_timed(n, |start, o| {
            // A local copy: read through a reference, the parameters might alias the
            // output as far as the compiler knows, which blocks vectorisation.
            let local = params;
            let s: [&[T]; N] = std::array::from_fn(|j| &ins[j][start..start + o.len()]);
            for (i, o) in o.iter_mut().enumerate() {
                o.write(f(std::array::from_fn(|j| s[j][i]), local));
            }
        })
    }
}

/// Elements per chunk of `map_reduce`'s CPU side: fixed, so that a sum's
/// association depends on the length alone (not on threads or timing); small, so
/// that a heavy kernel over a few thousand elements still uses every core.
const MAP_SUM_CHUNK: usize = 4096;

/// The CPU side of `map_reduce`: 16 accumulators per chunk, chunks summed in
/// order; in parallel from [`PAR_MIN`] elements, or below when the first chunk's
/// time says the rest is worth it (see [`crate::cpu::map_pieces_timed`]).
fn map_sum_cpu<T: Element, const N: usize, const P: usize>(
    f: &(impl Fn([T; N], [T; P]) -> T + Sync + Send),
    ins: [&[T]; N],
    params: [T; P],
) -> T {
    let n = ins[0].len();
    let chunk_sum = |start: usize| {
        let len = MAP_SUM_CHUNK.min(n - start);
        let s: [&[T]; N] = std::array::from_fn(|j| &ins[j][start..start + len]);
        let mut acc = [T::zero(); 16];
        let full = len / 16 * 16;
        for base in (0..full).step_by(16) {
            for (l, a) in acc.iter_mut().enumerate() {
                *a = a.add(f(std::array::from_fn(|j| s[j][base + l]), params));
            }
        }
        let tail = (full..len).fold(T::zero(), |t, i| {
            t.add(f(std::array::from_fn(|j| s[j][i]), params))
        });
        crate::ops::reduce::cpu::sum_seq(&acc).add(tail)
    };
    let parts = crate::cpu::map_pieces_timed(n.div_ceil(MAP_SUM_CHUNK), n >= PAR_MIN, |i| {
        chunk_sum(i * MAP_SUM_CHUNK)
    });
    crate::ops::reduce::cpu::sum_seq(&parts)
}

impl Context {
    /// Runs an element-wise kernel: `out[i] = f(inputs[0][i], ..., params)`.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when the inputs differ in length; GPU errors under Policy::Gpu.
    pub fn map<T: Element, const N: usize, const P: usize, F>(
        &self,
        kernel: &MapKernel<T, N, P, F>,
        inputs: [&Buffer<T>; N],
        params: [T; P],
    ) -> Result<Buffer<T>>
    where
        F: Fn([T; N], [T; P]) -> T + Sync + Send + 'static,
    {
        let n = check_lengths("map", &inputs)?;
        let w = kernel.work(self, Op::Map, &inputs).output::<T>(n);
        let shared = inputs.map(|b| b.share());
        let f = kernel.f.clone();
        dispatch::run_split_deferred(
            self,
            w,
            move || {
                let hosts = shared
                    .iter()
                    .map(|s| s.host())
                    .collect::<Result<Vec<_>>>()?;
                let ins: [&[T]; N] = std::array::from_fn(|j| hosts[j].as_slice());
                let out = catch_kernel_panic("map", || map_cpu(&*f, ins, params))?;
                Ok(Buffer::from_host(out))
            },
            |g| {
                let bufs = inputs
                    .iter()
                    .map(|b| b.device(g, "map"))
                    .collect::<Result<Vec<_>>>()?;
                let out = gpu::map(
                    g,
                    kernel.id,
                    &kernel.name(),
                    |v| kernel.full_source(v),
                    &bufs,
                    n,
                    &params,
                )?;
                Ok(Buffer::device_output(g, n, out))
            },
            |g, cut| {
                let hosts = host_copies(&inputs)?;
                let slices: Vec<&[T]> = hosts.iter().map(|h| h.as_slice()).collect();
                catch_kernel_panic("map", || {
                    dispatch::split_elementwise(
                        g,
                        "map",
                        &slices,
                        cut,
                        |d| {
                            let name = kernel.name();
                            gpu::map(
                                g,
                                kernel.id,
                                &name,
                                |v| kernel.full_source(v),
                                d,
                                cut,
                                &params,
                            )
                        },
                        |t| map_cpu(&*kernel.f, std::array::from_fn(|j| t[j]), params),
                    )
                })?
            },
        )
    }

    /// Runs an element-wise kernel and sums its results: `sum_i f(inputs[..][i], params)`;
    /// 0 when empty. The sum follows [`Context::sum`]'s rules (wrapping integers, a fixed
    /// association order per side for floats).
    ///
    /// # Errors
    /// As [`Context::map`].
    pub fn map_reduce<T: Element, const N: usize, const P: usize, F>(
        &self,
        kernel: &MapKernel<T, N, P, F>,
        inputs: [&Buffer<T>; N],
        params: [T; P],
    ) -> Result<T>
    where
        F: Fn([T; N], [T; P]) -> T + Sync + Send,
    {
        let n = check_lengths("map_reduce", &inputs)?;
        let w = kernel.work(self, Op::MapReduce, &inputs);
        dispatch::run_split(
            self,
            w,
            || {
                let hosts = host_copies(&inputs)?;
                let ins: [&[T]; N] = std::array::from_fn(|j| hosts[j].as_slice());
                catch_kernel_panic("map_reduce", || map_sum_cpu(&*kernel.f, ins, params))
            },
            |g| {
                let bufs = inputs
                    .iter()
                    .map(|b| b.device(g, "map_reduce"))
                    .collect::<Result<Vec<_>>>()?;
                gpu::map_sum::<T>(
                    g,
                    kernel.id,
                    &kernel.name(),
                    |v| kernel.full_source(v),
                    &bufs,
                    n,
                    &params,
                )
            },
            |g, cut| {
                let hosts = host_copies(&inputs)?;
                let slices: Vec<&[T]> = hosts.iter().map(|h| h.as_slice()).collect();
                let (a, b) = dispatch::split_parts(
                    g,
                    "map_reduce",
                    &slices,
                    cut,
                    |d| {
                        let name = kernel.name();
                        gpu::map_sum::<T>(
                            g,
                            kernel.id,
                            &name,
                            |v| kernel.full_source(v),
                            d,
                            cut,
                            &params,
                        )
                    },
                    |t| {
                        catch_kernel_panic("map_reduce", || {
                            map_sum_cpu(&*kernel.f, std::array::from_fn(|j| t[j]), params)
                        })
                    },
                )?;
                Ok(a.add(b))
            },
        )
    }
}

/// Builds a [`MapKernel`] from one expression: the same text becomes the CPU
/// closure and the WGSL kernel.
///
/// `map_kernel!(T, |inputs...; params...| expression)` with 1 to 4 inputs and
/// any number of parameters (the `;` and the parameters are optional). Returns
/// `Result<MapKernel, tandem::Error>`: the WGSL side is validated on creation.
///
/// ```
/// let norm = tandem::map_kernel!(f32, |x, y| sqrt(x * x + y * y)).unwrap();
/// let relu = tandem::map_kernel!(f32, |x; leak| select(leak * x, x, x > 0.0)).unwrap();
/// assert_eq!(norm.eval([3.0, 4.0], []), 5.0);
/// assert_eq!(relu.eval([-2.0], [0.5]), -1.0);
/// ```
///
/// Integer `/` and `%` follow WGSL on both sides (`x / 0 == x`, `x % 0 == 0`,
/// `i32::MIN / -1 == i32::MIN`): the macro reads the CPU side's `a / b` as
/// `div(a, b)`, one operand per expansion step, so an expression of more than
/// about 200 tokens needs a higher `#![recursion_limit]` in the crate that
/// writes it (rustc's error says so).
///
/// Inputs and parameters may be named like the functions (`max`, `log`,
/// `select`): the name then means the input. A kernel needs 1 to 4 inputs,
/// which the macro checks at compile time:
///
/// ```compile_fail
/// let k = tandem::map_kernel!(f32, |; a| a * 2.0); // error: no inputs
/// ```
///
/// ```compile_fail
/// let k = tandem::map_kernel!(f32, |a, b, c, d, e| a + b + c + d + e); // error: 5 inputs
/// ```
#[macro_export]
macro_rules! map_kernel {
    ($t:ty, || $($body:tt)+) => {
        compile_error!("map_kernel! needs 1 to 4 inputs, e.g. `map_kernel!(f32, |x; a| a * x)`; this kernel has none")
    };
    ($t:ty, |$(; $($p:ident),* )?| $($body:tt)+) => {
        compile_error!("map_kernel! needs 1 to 4 inputs before the `;`, e.g. `map_kernel!(f32, |x; a| a * x)`; this kernel has none")
    };
    ($t:ty, |$x1:ident, $x2:ident, $x3:ident, $x4:ident, $x5:ident $(, $more:ident)* $(; $($p:ident),* )?| $($body:tt)+) => {
        compile_error!("map_kernel! takes at most 4 inputs; pass further values as parameters after the `;`, or split the kernel")
    };
    ($t:ty, |$($x:ident),+ $(; $($p:ident),* )?| $($body:tt)+) => {
        $crate::kernel::MapKernel::<$t, _, _, _>::new(
            stringify!($($body)+),
            [$(stringify!($x)),+],
            [$($(stringify!($p)),*)?],
            move |inputs: [$t; _], params: [$t; _]| -> $t {
                #[allow(unused_imports)]
                use $crate::kernel::fns::*;
                // Bound after the import, so that an input named like one of
                // its functions (`max`, `log`) means the input.
                #[allow(unused_variables)]
                let [$($x),+] = inputs;
                #[allow(unused_variables)]
                let [$($($p),*)?] = params;
                $crate::__kernel_expr!(@start $($body)+)
            },
        )
    };
}
