//! How a world splits an array over its members, and the moves that re-split one.

use std::ops::Range;

use super::record::DistRecord;
use crate::error::{Error, Result};
use crate::{Context, Policy};

/// How to split an array over a world's members.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Balance {
    /// Equal parts (the first members take one more when it does not divide).
    Even,
    /// Parts in proportion to each member's measured speed: elements per second
    /// of compute over this world's recent calls (the dist records), else the
    /// member's calibration profile (the `sum` curve of the side its policy
    /// picks), else a short timed probe. A GPU member and a CPU member get
    /// different shares.
    Measured,
    /// Parts in proportion to these weights, one per member (finite, at least
    /// 0, not all 0).
    Weights(Vec<f64>),
    /// Exactly these part lengths, one per member, summing to the array's length
    /// (e.g. another buffer's `part_lens()`).
    Lens(Vec<usize>),
}

impl Balance {
    /// The weights of `size` members for `total` elements (not for `Measured`).
    pub(crate) fn weights(&self, size: usize, total: usize) -> Result<Vec<f64>> {
        let bad = |message: String| Error::InvalidArgument {
            op: "balance",
            message,
        };
        match self {
            Balance::Even | Balance::Measured => Ok(vec![1.0; size]),
            Balance::Weights(w) => {
                if w.len() != size {
                    return Err(bad(format!(
                        "{} weights for a world of {size} members; give one per member",
                        w.len()
                    )));
                }
                if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                    return Err(bad(format!(
                        "weights {w:?} must be finite, at least 0 and not all 0"
                    )));
                }
                Ok(w.clone())
            }
            Balance::Lens(l) => {
                if l.len() != size || l.iter().sum::<usize>() != total {
                    return Err(bad(format!(
                        "part lengths {l:?} must be one per member ({size}) and sum to the array's {total} elements"
                    )));
                }
                // Exact: split_lens gives back these lengths for integral weights.
                Ok(l.iter().map(|&n| n as f64).collect())
            }
        }
    }
}

/// Part lengths for `total` elements in proportion to `weights`: part `j` ends
/// at `round(total * W_j / W)` where `W_j` is the sum of the first `j + 1`
/// weights. The same bits on every member, which all compute it.
pub(crate) fn split_lens(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if weights.iter().all(|&w| w == 1.0) {
        // Even: exact integer arithmetic.
        let p = weights.len().max(1);
        return (0..weights.len())
            .map(|j| total / p + usize::from(j < total % p))
            .collect();
    }
    let mut lens = Vec::with_capacity(weights.len());
    let (mut acc, mut prev) = (0.0f64, 0usize);
    for (j, &w) in weights.iter().enumerate() {
        acc += w;
        let end = if j + 1 == weights.len() {
            total
        } else {
            (((total as f64) * acc / sum).round() as usize).clamp(prev, total)
        };
        lens.push(end - prev);
        prev = end;
    }
    lens
}

/// The all-to-all counts that turn parts of lengths `from` into parts of
/// lengths `to`, for the held members: `counts[h][d]` elements of held member
/// `h`'s part go to member `d` (the overlap of its range with `d`'s new one).
pub(crate) fn moves(from: &[usize], to: &[usize], held: Range<usize>) -> Vec<Vec<usize>> {
    let (fo, to_off) = (super::buffer::offsets(from), super::buffer::offsets(to));
    held.map(|s| {
        let (a, b) = (fo[s], fo[s] + from[s]);
        (0..to.len())
            .map(|d| {
                let (c, e) = (to_off[d], to_off[d] + to[d]);
                b.min(e).saturating_sub(a.max(c))
            })
            .collect()
    })
    .collect()
}

/// Elements per second that `member` (held here, with context `ctx`) computes.
pub(crate) fn measured_speed(ctx: &Context, records: &[DistRecord], member: usize) -> f64 {
    // 1. This world's recent calls.
    let (mut elems, mut secs) = (0.0, 0.0);
    for r in records.iter().rev().filter(|r| !r.failed).take(16) {
        for m in r.members.iter().filter(|m| m.member == member) {
            if m.len > 0 && !m.compute.is_zero() {
                elems += m.len as f64;
                secs += m.compute.as_secs_f64();
            }
        }
    }
    if secs > 0.0 {
        return elems / secs;
    }
    // 2. The calibration profile (never opened for a CPU member, which has none).
    const PROBE: f64 = (1 << 20) as f64;
    if ctx.policy() != Policy::Cpu {
        if let Some(c) = ctx.profile().and_then(|p| p.ops.get("sum").cloned()) {
            let cpu = c.cpu.predict(PROBE, 0.0);
            let gpu = c.gpu.predict(PROBE, 0.0);
            let t = match ctx.policy() {
                Policy::Gpu => gpu,
                _ => match (cpu, gpu) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
            };
            if let Some(t) = t.filter(|t| *t > 0.0) {
                return PROBE / t;
            }
        }
    }
    // 3. A short probe: the best of three sums of 2^18 elements.
    let n = 1 << 18;
    let Ok(x) = ctx.upload(&vec![1.0f32; n]) else {
        return 1.0;
    };
    let best = (0..3)
        .filter_map(|_| {
            let t = std::time::Instant::now();
            ctx.sum(&x).ok().map(|_| t.elapsed().as_secs_f64())
        })
        .fold(f64::INFINITY, f64::min);
    if best.is_finite() && best > 0.0 {
        n as f64 / best
    } else {
        // A member that cannot even sum gets a token share.
        1.0
    }
}
