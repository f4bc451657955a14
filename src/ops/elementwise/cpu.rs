//! CPU twins of `shaders/elementwise.wgsl` and `shaders/fill.wgsl`.
//! Integer arithmetic wraps, as WGSL's does.

use crate::cpu::for_each_chunk_mut;
use crate::element::Element;

/// `out[i] = f(a[i], b[i])`, in parallel when large.
///
/// # Panics
/// When `a` and `b` differ in length (`Context` ops check this and return an error instead).
pub fn zip_map<T: Element>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "zip_map needs equal lengths");
    let mut out = vec![T::zero(); a.len()];
    for_each_chunk_mut(&mut out, |start, o| {
        let a = &a[start..start + o.len()];
        let b = &b[start..start + o.len()];
        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    });
    out
}

/// `out[i] = f(x[i])`, in parallel when large.
pub fn map<T: Element>(x: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    for_each_chunk_mut(&mut out, |start, o| {
        let x = &x[start..start + o.len()];
        for (o, &v) in o.iter_mut().zip(x) {
            *o = f(v);
        }
    });
    out
}

/// `a + b`, element-wise.
pub fn add<T: Element>(a: &[T], b: &[T]) -> Vec<T> {
    zip_map(a, b, T::add)
}

/// `a - b`, element-wise.
pub fn sub<T: Element>(a: &[T], b: &[T]) -> Vec<T> {
    zip_map(a, b, T::sub)
}

/// `a * b`, element-wise.
pub fn mul<T: Element>(a: &[T], b: &[T]) -> Vec<T> {
    zip_map(a, b, T::mul)
}

/// `alpha * x`, element-wise.
pub fn scale<T: Element>(x: &[T], alpha: T) -> Vec<T> {
    map(x, |v| alpha.mul(v))
}

/// `alpha * x + y`, element-wise (a multiply then an add, not fused).
///
/// # Panics
/// When `x` and `y` differ in length.
pub fn axpy<T: Element>(alpha: T, x: &[T], y: &[T]) -> Vec<T> {
    zip_map(x, y, |a, b| alpha.mul(a).add(b))
}

/// Sets every element to `value`.
pub fn fill<T: Element>(out: &mut [T], value: T) {
    for_each_chunk_mut(out, |_, o| o.fill(value));
}
