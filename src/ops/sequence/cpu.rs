//! CPU twin of `shaders/sequence.wgsl`: `start + i * step`, written once per
//! element in parallel pieces.
//!
//! Floats compute `start + (i as T) * step` with two roundings (Rust never
//! fuses a multiply and an add on its own), as the shader does; integers wrap,
//! with `i` taken modulo 2^32 (the product wraps there anyway).

use crate::cpu::collect_pieces;
use crate::element::{Element, ScalarType};

/// Element `i` of the sequence.
#[inline(always)]
fn at<T: Element>(i: usize, start: T, step: T) -> T {
    let idx: T = match T::SCALAR {
        ScalarType::F32 => bytemuck::cast(i as f32),
        ScalarType::F64 => bytemuck::cast(i as f64),
        // The bits of i modulo 2^32, as u32 or i32.
        ScalarType::U32 | ScalarType::I32 => bytemuck::cast(i as u32),
    };
    start.add(idx.mul(step))
}

/// `start, start + step, ..., start + (n - 1) * step` (see the module docs).
pub fn sequence<T: Element>(n: usize, start: T, step: T) -> Vec<T> {
    // SAFETY: the loop writes every element of its piece.
    unsafe {
        collect_pieces(n, |first, piece| {
            for (k, o) in piece.iter_mut().enumerate() {
                o.write(at(first + k, start, step));
            }
        })
    }
}
