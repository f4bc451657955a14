//! The scalar types tandem computes on.
//!
//! [`Element`] is sealed: f32, i32 and u32 run on every side; f64 runs on the
//! CPU always and on the GPU where the adapter has `SHADER_F64`.
//! Integer arithmetic wraps on both sides (as WGSL does), so integer results are
//! identical bit for bit.

use std::fmt::Debug;

mod sealed {
    pub trait Sealed {}
}

/// The scalar type of a GPU shader instantiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarType {
    /// 32-bit float.
    F32,
    /// 32-bit signed integer.
    I32,
    /// 32-bit unsigned integer.
    U32,
    /// 64-bit float (GPU only with `SHADER_F64`).
    F64,
}

impl ScalarType {
    /// Every scalar type, for tests and warm-up.
    pub const ALL: [ScalarType; 4] = [
        ScalarType::F32,
        ScalarType::I32,
        ScalarType::U32,
        ScalarType::F64,
    ];

    /// The WGSL spelling.
    pub fn wgsl(self) -> &'static str {
        match self {
            ScalarType::F32 => "f32",
            ScalarType::I32 => "i32",
            ScalarType::U32 => "u32",
            ScalarType::F64 => "f64",
        }
    }

    /// Size in bytes.
    pub fn size(self) -> usize {
        match self {
            ScalarType::F64 => 8,
            _ => 4,
        }
    }

    /// True for f32 and f64.
    pub fn is_float(self) -> bool {
        matches!(self, ScalarType::F32 | ScalarType::F64)
    }
}

/// A scalar tandem can store in a [`crate::Buffer`] and compute on.
///
/// `min`/`max`/`argmin`/`argmax` order elements by an order key: integers by value,
/// floats by IEEE total order with `-0 < +0`, and NaN is ignored (it loses every
/// comparison). The key makes both sides agree bit for bit.
pub trait Element:
    sealed::Sealed + bytemuck::Pod + Copy + Send + Sync + PartialEq + Debug + Default + 'static
{
    /// The shader scalar type.
    const SCALAR: ScalarType;
    /// The order key: an unsigned integer that sorts as the elements do.
    type Key: Copy + Ord + Send + Sync + Debug + 'static;
    /// The key that loses every `min` comparison (NaN maps here).
    const KEY_MIN_IDENTITY: Self::Key;
    /// The key that loses every `max` comparison (NaN maps here).
    const KEY_MAX_IDENTITY: Self::Key;

    /// Additive identity.
    fn zero() -> Self;
    /// Addition; wrapping for integers.
    fn add(self, other: Self) -> Self;
    /// Subtraction; wrapping for integers.
    fn sub(self, other: Self) -> Self;
    /// Multiplication; wrapping for integers.
    fn mul(self, other: Self) -> Self;
    /// True for a float NaN; false for integers.
    fn is_nan(self) -> bool;
    /// The key for `min`: NaN maps to [`Element::KEY_MIN_IDENTITY`].
    fn key_min(self) -> Self::Key;
    /// The key for `max`: NaN maps to [`Element::KEY_MAX_IDENTITY`].
    fn key_max(self) -> Self::Key;
    /// The element a key came from (a NaN for the NaN keys of floats).
    fn from_key(key: Self::Key) -> Self;
    /// The key as 32 bits, for the GPU; `None` for 64-bit elements.
    fn key_to_u32(key: Self::Key) -> Option<u32>;
    /// A 32-bit GPU key back to a key.
    fn key_from_u32(key: u32) -> Self::Key;
    /// The value as f64 (exact for every 32-bit type), for comparisons and reports.
    fn to_f64(self) -> f64;
    /// An `as` conversion from f64 (saturating for integers).
    fn from_f64(v: f64) -> Self;
}

macro_rules! int_element {
    ($t:ty, $scalar:expr, $to_key:expr, $from_key:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const SCALAR: ScalarType = $scalar;
            type Key = u32;
            const KEY_MIN_IDENTITY: u32 = u32::MAX;
            const KEY_MAX_IDENTITY: u32 = 0;
            #[inline(always)]
            fn zero() -> Self {
                0
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                false
            }
            #[inline(always)]
            fn key_min(self) -> u32 {
                $to_key(self)
            }
            #[inline(always)]
            fn key_max(self) -> u32 {
                $to_key(self)
            }
            #[inline(always)]
            fn from_key(key: u32) -> Self {
                $from_key(key)
            }
            fn key_to_u32(key: u32) -> Option<u32> {
                Some(key)
            }
            fn key_from_u32(key: u32) -> u32 {
                key
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}

int_element!(u32, ScalarType::U32, |x: u32| x, |k: u32| k);
int_element!(
    i32,
    ScalarType::I32,
    |x: i32| (x as u32) ^ 0x8000_0000,
    |k: u32| (k ^ 0x8000_0000) as i32
);

/// Total-order key of float bits: flip all bits of negatives, the sign bit of positives.
macro_rules! float_key {
    ($bits:expr, $sign:expr) => {{
        let b = $bits;
        if b & $sign != 0 {
            !b
        } else {
            b | $sign
        }
    }};
}

macro_rules! float_element {
    ($t:ty, $u:ty, $scalar:expr, $sign:expr, $to_u32:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const SCALAR: ScalarType = $scalar;
            type Key = $u;
            const KEY_MIN_IDENTITY: $u = <$u>::MAX;
            const KEY_MAX_IDENTITY: $u = 0;
            #[inline(always)]
            fn zero() -> Self {
                0.0
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self + o
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self - o
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self * o
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            #[inline(always)]
            fn key_min(self) -> $u {
                if <$t>::is_nan(self) {
                    <$u>::MAX
                } else {
                    float_key!(self.to_bits(), $sign)
                }
            }
            #[inline(always)]
            fn key_max(self) -> $u {
                if <$t>::is_nan(self) {
                    0
                } else {
                    float_key!(self.to_bits(), $sign)
                }
            }
            #[inline(always)]
            fn from_key(key: $u) -> Self {
                let bits = if key & $sign != 0 { key ^ $sign } else { !key };
                <$t>::from_bits(bits)
            }
            fn key_to_u32(key: $u) -> Option<u32> {
                $to_u32(key)
            }
            fn key_from_u32(key: u32) -> $u {
                key as $u
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}

float_element!(f32, u32, ScalarType::F32, 0x8000_0000u32, |k: u32| Some(k));
float_element!(
    f64,
    u64,
    ScalarType::F64,
    0x8000_0000_0000_0000u64,
    |_k: u64| None
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_keys_follow_total_order_and_round_trip() {
        let xs = [
            f32::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            f32::MIN_POSITIVE,
            2.0,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(w[0].key_min() < w[1].key_min(), "{:?}", w);
        }
        for x in xs {
            assert_eq!(f32::from_key(x.key_min()).to_bits(), x.to_bits());
        }
        assert_eq!(f32::NAN.key_min(), u32::MAX);
        assert_eq!(f32::NAN.key_max(), 0);
        assert!(f32::from_key(u32::MAX).is_nan());
        assert!(f64::from_key(0).is_nan());
    }

    #[test]
    fn int_keys_round_trip() {
        for x in [i32::MIN, -1, 0, 1, i32::MAX] {
            assert_eq!(i32::from_key(x.key_min()), x);
        }
        assert!(i32::MIN.key_min() < (-1i32).key_min());
        assert!((-1i32).key_min() < 0i32.key_min());
    }
}
