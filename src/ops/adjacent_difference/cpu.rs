//! CPU twin of `shaders/adjacent_difference.wgsl`: `d[0] = x[0]`,
//! `d[i] = x[i] - x[i - 1]` (wrapping for integers), in parallel pieces.

use crate::cpu::collect_pieces;
use crate::element::Element;

/// The differences of neighbours of `x`; the first element is copied.
pub fn adjacent_difference<T: Element>(x: &[T]) -> Vec<T> {
    // SAFETY: each piece writes its first element, then one element per entry of
    // `rest` (zipped with slices of `x` exactly as long), so every element.
    unsafe {
        collect_pieces(x.len(), |first, piece| {
            let end = first + piece.len();
            let (o0, rest) = match piece.split_first_mut() {
                Some(p) => p,
                None => return,
            };
            o0.write(match first {
                0 => x[0],
                _ => x[first].sub(x[first - 1]),
            });
            let cur = &x[first + 1..end];
            let prev = &x[first..end - 1];
            for ((o, &c), &p) in rest.iter_mut().zip(cur).zip(prev) {
                o.write(c.sub(p));
            }
        })
    }
}
