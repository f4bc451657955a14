//! The functions an expression kernel may call, for its CPU side.
//!
//! Each has the name and argument order of its WGSL builtin, so one expression
//! text compiles as Rust (with these in scope) and as WGSL. `select(f, t, cond)`
//! follows WGSL: the *false* value comes first.
//!
//! Every function's result is defined for every input, identically on both
//! sides (the GPU side spells `min`, `max` and `clamp` out the same way rather
//! than calling WGSL's builtins, whose NaN result is up to the implementation):
//! - `min(a, b)` is `b` when `b < a`, else `a`; `max(a, b)` is `b` when `b > a`,
//!   else `a`. So a NaN *first* argument is returned (`min(NaN, 1.0)` is NaN),
//!   a NaN second argument is not (`min(1.0, NaN)` is 1.0), and of two zeros
//!   the first is returned. `clamp(x, lo, hi)` is `min(max(x, lo), hi)`.
//! - `div(a, b)` and `rem(a, b)` follow WGSL's `/` and `%`: for integers,
//!   `div(x, 0) == x`, `rem(x, 0) == 0`, `div(i32::MIN, -1) == i32::MIN` and
//!   `rem(i32::MIN, -1) == 0`; for floats, IEEE division and a truncated
//!   remainder. The operators `/` and `%` in a kernel mean the same on both
//!   sides: [`map_kernel!`](crate::map_kernel) reads the CPU side's `a / b` as
//!   `div(a, b)` and `a % b` as `rem(a, b)`.
//!
//! Float arithmetic on NaN or infinities (`x * 0.0` with x NaN, say) is the
//! one place the sides may differ: WGSL lets a shader compiler assume no NaN or
//! infinity is present (Mesa folds `NaN * 0.0` to 0). The functions above are
//! spelled out on the bits, so they agree; plain operators follow the driver.
//! Integer `/` and `%` in a kernel give Rust's results on the GPU too, on every
//! backend, wherever Rust's operator has one (any signs: `-7 % 2 == -1`): the
//! GPU side calls the helpers of `div`/`rem`, which divide unsigned magnitudes,
//! since naga's GLSL output keeps GLSL's `/` and `%`, undefined for negative
//! operands and zero divisors (llvmpipe GL gave `-7 % 2 == 1`).
//!
//! Precision: the GPU's `exp`, `log`, `pow`, `sin`, `cos` are accurate to a few
//! ULP (WGSL leaves the exact error to the implementation), so compare float
//! results of kernels that use them with a tolerance.

use crate::element::Element;

/// Scalars with the integer-and-float builtins (`abs`, `min`, `max`, `clamp`, `select`).
pub trait KernelScalar: Element + PartialOrd {
    /// Absolute value (identity for unsigned; wrapping for `i32::MIN`, as WGSL).
    fn abs_(self) -> Self;
    /// WGSL's `self / b` (see the [module docs](self) for integers).
    fn div_(self, b: Self) -> Self;
    /// WGSL's `self % b` (see the [module docs](self) for integers).
    fn rem_(self, b: Self) -> Self;
}

/// Floats, with the transcendental builtins.
pub trait KernelFloat: KernelScalar {
    /// Square root.
    fn sqrt_(self) -> Self;
    /// e^x.
    fn exp_(self) -> Self;
    /// Natural logarithm.
    fn log_(self) -> Self;
    /// x^y.
    fn pow_(self, y: Self) -> Self;
    /// Sine.
    fn sin_(self) -> Self;
    /// Cosine.
    fn cos_(self) -> Self;
    /// Fused multiply-add.
    fn fma_(self, b: Self, c: Self) -> Self;
}

// WGSL: when the divisor is 0 (or the division overflows), `/` gives the
// dividend and `%` gives 0.
impl KernelScalar for u32 {
    fn abs_(self) -> Self {
        self
    }
    fn div_(self, b: Self) -> Self {
        self.checked_div(b).unwrap_or(self)
    }
    fn rem_(self, b: Self) -> Self {
        self.checked_rem(b).unwrap_or(0)
    }
}
impl KernelScalar for i32 {
    fn abs_(self) -> Self {
        self.wrapping_abs()
    }
    fn div_(self, b: Self) -> Self {
        self.checked_div(b).unwrap_or(self)
    }
    fn rem_(self, b: Self) -> Self {
        self.checked_rem(b).unwrap_or(0)
    }
}

macro_rules! float_fns {
    ($t:ty) => {
        impl KernelScalar for $t {
            fn abs_(self) -> Self {
                self.abs()
            }
            fn div_(self, b: Self) -> Self {
                self / b
            }
            fn rem_(self, b: Self) -> Self {
                self % b
            }
        }
        impl KernelFloat for $t {
            fn sqrt_(self) -> Self {
                self.sqrt()
            }
            fn exp_(self) -> Self {
                self.exp()
            }
            fn log_(self) -> Self {
                self.ln()
            }
            fn pow_(self, y: Self) -> Self {
                self.powf(y)
            }
            fn sin_(self) -> Self {
                self.sin()
            }
            fn cos_(self) -> Self {
                self.cos()
            }
            fn fma_(self, b: Self, c: Self) -> Self {
                self.mul_add(b, c)
            }
        }
    };
}
float_fns!(f32);
float_fns!(f64);

/// WGSL `select(f, t, cond)`: `t` when `cond`, else `f`.
#[inline(always)]
pub fn select<T: Copy>(f: T, t: T, cond: bool) -> T {
    if cond {
        t
    } else {
        f
    }
}

/// WGSL `abs`.
#[inline(always)]
pub fn abs<T: KernelScalar>(x: T) -> T {
    x.abs_()
}

/// WGSL `/`, defined for every input (see the [module docs](self)).
#[inline(always)]
pub fn div<T: KernelScalar>(a: T, b: T) -> T {
    a.div_(b)
}

/// WGSL `%`, defined for every input (see the [module docs](self)).
#[inline(always)]
pub fn rem<T: KernelScalar>(a: T, b: T) -> T {
    a.rem_(b)
}

/// `min`: `b` when `b < a`, else `a` (see the [module docs](self) for NaN).
#[inline(always)]
pub fn min<T: KernelScalar>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

/// `max`: `b` when `b > a`, else `a` (see the [module docs](self) for NaN).
#[inline(always)]
pub fn max<T: KernelScalar>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

/// WGSL `clamp(x, lo, hi)` = `min(max(x, lo), hi)`.
#[inline(always)]
pub fn clamp<T: KernelScalar>(x: T, lo: T, hi: T) -> T {
    min(max(x, lo), hi)
}

/// WGSL `sqrt`.
#[inline(always)]
pub fn sqrt<T: KernelFloat>(x: T) -> T {
    x.sqrt_()
}

/// WGSL `exp`.
#[inline(always)]
pub fn exp<T: KernelFloat>(x: T) -> T {
    x.exp_()
}

/// WGSL `log` (natural logarithm).
#[inline(always)]
pub fn log<T: KernelFloat>(x: T) -> T {
    x.log_()
}

/// WGSL `pow`.
#[inline(always)]
pub fn pow<T: KernelFloat>(x: T, y: T) -> T {
    x.pow_(y)
}

/// WGSL `sin`.
#[inline(always)]
pub fn sin<T: KernelFloat>(x: T) -> T {
    x.sin_()
}

/// WGSL `cos`.
#[inline(always)]
pub fn cos<T: KernelFloat>(x: T) -> T {
    x.cos_()
}

/// WGSL `fma(a, b, c)` = `a * b + c`, fused.
#[inline(always)]
pub fn fma<T: KernelFloat>(a: T, b: T, c: T) -> T {
    a.fma_(b, c)
}
