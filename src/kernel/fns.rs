//! The functions an expression kernel may call, for its CPU side.
//!
//! Each has the name and argument order of its WGSL builtin, so one expression
//! text compiles as Rust (with these in scope) and as WGSL. `select(f, t, cond)`
//! follows WGSL: the *false* value comes first.
//!
//! Precision: the GPU's `exp`, `log`, `pow`, `sin`, `cos` are accurate to a few
//! ULP (WGSL leaves the exact error to the implementation), so compare float
//! results of kernels that use them with a tolerance. `min`/`max` of a NaN is
//! unspecified in WGSL; avoid NaN inputs to them or test with a tolerance that
//! accepts either.

use crate::element::Element;

/// Scalars with the integer-and-float builtins (`abs`, `min`, `max`, `clamp`, `select`).
pub trait KernelScalar: Element + PartialOrd {
    /// Absolute value (identity for unsigned; wrapping for `i32::MIN`, as WGSL).
    fn abs_(self) -> Self;
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

impl KernelScalar for u32 {
    fn abs_(self) -> Self {
        self
    }
}
impl KernelScalar for i32 {
    fn abs_(self) -> Self {
        self.wrapping_abs()
    }
}

macro_rules! float_fns {
    ($t:ty) => {
        impl KernelScalar for $t {
            fn abs_(self) -> Self {
                self.abs()
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

/// WGSL `min`.
#[inline(always)]
pub fn min<T: KernelScalar>(a: T, b: T) -> T {
    if b < a {
        b
    } else {
        a
    }
}

/// WGSL `max`.
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
