//! The binning rule both sides share: [`plan`] validates a histogram's
//! arguments and computes its bin edges as order keys (see the module docs of
//! [`crate::ops::histogram`]).

use crate::element::{Element, ScalarType};
use crate::error::{Error, Result};
/// The most bins a histogram may have, on either side.
pub const MAX_BINS: usize = 1 << 24;

const OP: &str = "histogram";

pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument {
        op: OP,
        message: message.into(),
    }
}

/// The binning rule of one call: bin `k` holds the keys in `edges[k]..edges[k + 1]`.
#[derive(Debug, Clone)]
pub(crate) struct Bins<K> {
    pub bins: usize,
    /// `edges[0]` is the key of `lo`, `edges[bins]` the key of `hi`; non-decreasing.
    pub edges: Vec<K>,
    /// The guess of a bin is `(x - lo) * scale` (floats) or `(key - edges[0]) * scale` (ints).
    pub lo: f64,
    pub scale: f64,
}

/// A validated rule, by key width.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// f32, i32, u32: 32-bit keys (the GPU's rule too).
    K32(Bins<u32>),
    /// f64: 64-bit keys (CPU only).
    K64(Bins<u64>),
}

/// The order key of an f32 for binning: IEEE order, -0 and +0 equal.
#[inline(always)]
pub(crate) fn key_f32(x: f32) -> u32 {
    let b = x.to_bits();
    let b = if b == 0x8000_0000 { 0 } else { b };
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[inline(always)]
pub(super) fn key_f64(x: f64) -> u64 {
    let b = x.to_bits();
    let b = if b == 0x8000_0000_0000_0000 { 0 } else { b };
    if b & 0x8000_0000_0000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000_0000_0000
    }
}

#[inline(always)]
pub(super) fn key_i32(x: i32) -> u32 {
    (x as u32) ^ 0x8000_0000
}

/// The smallest f32 that is not below `v` (`v` finite and within the f32 range).
pub(super) fn round_up_f32(v: f64) -> f32 {
    let f = v as f32;
    if (f as f64) >= v {
        return f;
    }
    let b = f.to_bits();
    if f == 0.0 {
        f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(b + 1)
    } else {
        f32::from_bits(b - 1)
    }
}

fn check_bins(bins: usize) -> Result<()> {
    if bins == 0 {
        return Err(invalid("bins must be at least 1"));
    }
    if bins > MAX_BINS {
        return Err(invalid(format!(
            "{bins} bins requested; at most {MAX_BINS} are supported"
        )));
    }
    Ok(())
}

fn check_float_range(lo: f64, hi: f64) -> Result<()> {
    if !lo.is_finite() || !hi.is_finite() {
        return Err(invalid(format!("lo ({lo}) and hi ({hi}) must be finite")));
    }
    if lo >= hi {
        return Err(invalid(format!("lo ({lo}) must be below hi ({hi})")));
    }
    Ok(())
}

fn plan_f32(bins: usize, lo: f32, hi: f32) -> Result<Bins<u32>> {
    check_bins(bins)?;
    check_float_range(lo as f64, hi as f64)?;
    let (l, h) = (lo as f64, hi as f64);
    let width = h - l; // finite: both are f32 values
    let mut edges = Vec::with_capacity(bins + 1);
    edges.push(key_f32(lo));
    for k in 1..bins {
        let v = l + width * k as f64 / bins as f64;
        let e = round_up_f32(v).clamp(lo, hi);
        edges.push(key_f32(e));
    }
    edges.push(key_f32(hi));
    Ok(Bins {
        bins,
        edges,
        lo: l,
        scale: bins as f64 / width,
    })
}

fn plan_f64(bins: usize, lo: f64, hi: f64) -> Result<Bins<u64>> {
    check_bins(bins)?;
    check_float_range(lo, hi)?;
    let width = hi - lo; // may overflow to inf; then interpolate
    let mut edges = Vec::with_capacity(bins + 1);
    edges.push(key_f64(lo));
    let mut prev = lo;
    for k in 1..bins {
        let t = k as f64 / bins as f64;
        let v = if width.is_finite() {
            lo + width * t
        } else {
            lo * (1.0 - t) + hi * t
        };
        let e = v.clamp(prev, hi);
        prev = e;
        edges.push(key_f64(e));
    }
    edges.push(key_f64(hi));
    Ok(Bins {
        bins,
        edges,
        lo,
        scale: bins as f64 / width,
    })
}

/// Integer rule in key space: `edge[k] = klo + ceil(k * (khi - klo) / bins)`, exact.
fn plan_keys(bins: usize, klo: u32, khi: u32) -> Result<Bins<u32>> {
    check_bins(bins)?;
    if klo >= khi {
        return Err(invalid("lo must be below hi"));
    }
    let span = (khi - klo) as u64;
    let mut edges = Vec::with_capacity(bins + 1);
    for k in 0..=bins as u64 {
        let off = (k * span).div_ceil(bins as u64);
        edges.push(klo + off as u32);
    }
    Ok(Bins {
        bins,
        edges,
        lo: 0.0,
        scale: bins as f64 / span as f64,
    })
}

/// Reinterprets a value of `T` (whose scalar type was matched) as `U`.
pub(super) fn cast<T: Element, U: bytemuck::Pod>(v: T) -> Result<U> {
    bytemuck::try_cast(v).map_err(|_| invalid("internal: element size mismatch"))
}

pub(super) fn cast_slice<T: Element, U: bytemuck::Pod>(x: &[T]) -> Result<&[U]> {
    bytemuck::try_cast_slice(x).map_err(|_| invalid("internal: element size mismatch"))
}

/// Validates the arguments and computes the bin edges.
///
/// # Errors
/// [`Error::InvalidArgument`] when `bins` is 0 or above [`MAX_BINS`], or `lo >= hi`,
/// or (floats) `lo` or `hi` is NaN or infinite.
pub(crate) fn plan<T: Element>(bins: usize, lo: T, hi: T) -> Result<Plan> {
    Ok(match T::SCALAR {
        ScalarType::F32 => Plan::K32(plan_f32(bins, cast(lo)?, cast(hi)?)?),
        ScalarType::I32 => Plan::K32(plan_keys(bins, key_i32(cast(lo)?), key_i32(cast(hi)?))?),
        ScalarType::U32 => Plan::K32(plan_keys(bins, cast(lo)?, cast(hi)?)?),
        ScalarType::F64 => Plan::K64(plan_f64(bins, cast(lo)?, cast(hi)?)?),
    })
}
