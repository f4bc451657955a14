//! CPU twin of `shaders/segmented_reduce.wgsl`: one reduction per segment, on rayon.
//!
//! Segments run in parallel (many at once when they are short); each is
//! reduced by the reductions of `ops::reduce` (`sum`, `min`, `max`), which go
//! parallel themselves over a long segment, in fixed 65,536-element chunks. So
//! a float sum follows `sum`'s association: 32 lanes per chunk, chunks in order.

use rayon::prelude::*;

use crate::cpu::PAR_MIN;
use crate::element::Element;
use crate::ops::by_key::ReduceOp;
use crate::ops::reduce::cpu::{max, min, sum, sum_seq};

/// Segments handed to one task at least: short ones cost less than a task.
const SEGMENTS_PER_TASK: usize = 256;

/// `out[s]` = the reduction of `values[offsets[s]..offsets[s + 1]]` (the op's
/// identity when empty: 0, the largest value or +inf, the smallest or -inf).
///
/// # Panics
/// When the offsets decrease or pass `values.len()` (`Context::segmented_reduce`
/// checks them and returns an error instead).
pub fn segmented_reduce<T: Element>(values: &[T], offsets: &[u32], op: ReduceOp) -> Vec<T> {
    let segments = offsets.len().saturating_sub(1);
    let one = |s: usize| {
        let seg = &values[offsets[s] as usize..offsets[s + 1] as usize];
        if seg.is_empty() {
            return op.identity();
        }
        // Short segments inline (the parallel reductions collect per-chunk
        // results, which costs more than a short segment's work).
        if seg.len() < PAR_MIN {
            return match op {
                ReduceOp::Sum => sum_seq(seg),
                ReduceOp::Min => T::from_key(
                    seg.iter()
                        .map(|&v| v.key_min())
                        .fold(T::KEY_MIN_IDENTITY, std::cmp::Ord::min),
                ),
                ReduceOp::Max => T::from_key(
                    seg.iter()
                        .map(|&v| v.key_max())
                        .fold(T::KEY_MAX_IDENTITY, std::cmp::Ord::max),
                ),
            };
        }
        match op {
            ReduceOp::Sum => sum(seg),
            ReduceOp::Min => min(seg).unwrap_or(op.identity()),
            ReduceOp::Max => max(seg).unwrap_or(op.identity()),
        }
    };
    if values.len() < PAR_MIN && segments < SEGMENTS_PER_TASK {
        return (0..segments).map(one).collect();
    }
    (0..segments)
        .into_par_iter()
        .with_min_len(SEGMENTS_PER_TASK.min(segments.div_ceil(4 * crate::cpu::threads()).max(1)))
        .map(one)
        .collect()
}
