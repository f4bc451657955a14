//! Scans over a world: a local scan on every member, an exclusive scan of the
//! members' totals, and one add of that offset to every element of a part.
//!
//! Integers wrap and match a single context's scan bit for bit. Float element
//! `i` of member `j` is `o_j + y_i`, where `y` is the member's local scan (as
//! its side associates it) and `o_j = ((t_0 + t_1) + ...) + t_{j-1}` adds the
//! earlier members' totals in member order; it differs from a single
//! context's scan by association order only.

use super::buffer::DistBuffer;
use super::world::Slot;
use super::World;
use crate::buffer::{Buffer, Residency};
use crate::element::Element;
use crate::error::Result;
use crate::kernel::MapKernel;
use crate::Context;

/// `x + a`, the add of the offset where a part's scan stays on a GPU.
type AddKernel<T> = MapKernel<T, 1, 1, fn([T; 1], [T; 1]) -> T>;

fn add_offset<T: Element>([x]: [T; 1], [a]: [T; 1]) -> T {
    x.add(a)
}

impl World {
    /// The inclusive prefix sums of `d`, with `d`'s distribution: element `i`
    /// is `d[0] + ... + d[i]`. Integers wrap.
    ///
    /// # Errors
    /// [`crate::Error::Member`] naming a member whose local scan failed (a GPU
    /// error under `Policy::Gpu`).
    pub fn inclusive_scan<T: Element>(&self, d: &DistBuffer<T>) -> Result<DistBuffer<T>> {
        self.scan("inclusive_scan", d, true)
    }

    /// The exclusive prefix sums of `d`, with `d`'s distribution: element `i`
    /// is `d[0] + ... + d[i - 1]` (0 for the first).
    ///
    /// # Errors
    /// As [`World::inclusive_scan`].
    pub fn exclusive_scan<T: Element>(&self, d: &DistBuffer<T>) -> Result<DistBuffer<T>> {
        self.scan("exclusive_scan", d, false)
    }

    fn scan<T: Element>(
        &self,
        op: &'static str,
        d: &DistBuffer<T>,
        inclusive: bool,
    ) -> Result<DistBuffer<T>> {
        self.check_world(d, op)?;
        let add = self.agreed(self.kernel::<T, AddKernel<T>>(|| {
            MapKernel::new(
                "x + a",
                ["x"],
                ["a"],
                add_offset::<T> as fn([T; 1], [T; 1]) -> T,
            )
        }))?;
        let held = self.comm.held();
        self.call(op, d.len(), |_| {
            self.note_lens(&d.lens);
            // Local scans and each part's total.
            let local = self.each(|h, ctx| {
                let part = &d.parts[h];
                let y = if inclusive {
                    ctx.inclusive_scan(part)?
                } else {
                    ctx.exclusive_scan(part)?
                };
                let total = if part.is_empty() {
                    T::zero()
                } else if inclusive && y.residency() != Residency::Device {
                    // The last element of the scan on the host: no extra pass.
                    y.host()?[y.len() - 1]
                } else {
                    ctx.sum(part)?
                };
                Ok((y, total))
            })?;
            let totals: Vec<T> = local.iter().map(|(_, t)| *t).collect();
            let offsets = self.comm.exclusive_scan_totals(&totals)?;
            let scans: Vec<(Buffer<T>, T)> =
                local.into_iter().map(|(y, _)| y).zip(offsets).collect();
            let slots: Vec<Slot<(Buffer<T>, T)>> = scans
                .into_iter()
                .map(|s| std::sync::Mutex::new(Some(s)))
                .collect();
            let parts = self.each(|h, ctx| {
                let taken = slots[h].lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some((y, offset)) = taken else {
                    return Err(crate::Error::InvalidArgument {
                        op,
                        message: "internal: a member's scan was taken twice".into(),
                    });
                };
                // Member 0 adds nothing: its part is already the global scan
                // (and adding +0 would turn a float -0 into +0).
                if held.start + h == 0 || y.is_empty() {
                    return Ok(y);
                }
                offset_part(ctx, &add, y, offset)
            })?;
            Ok(self.wrap(parts, d.lens.clone()))
        })
    }
}

/// `y + offset`: in place when the scan is on the host and held only here (no
/// new allocation), else through the member's context (on the side it picks).
fn offset_part<T: Element>(
    ctx: &Context,
    add: &AddKernel<T>,
    y: Buffer<T>,
    offset: T,
) -> Result<Buffer<T>> {
    if y.residency() == Residency::Host {
        let mut v = y.into_vec()?;
        crate::cpu::for_each_chunk_mut(&mut v, |_, c| {
            for e in c {
                *e = e.add(offset);
            }
        });
        return ctx.from_vec(v);
    }
    ctx.map(add, [&y], [offset])
}
