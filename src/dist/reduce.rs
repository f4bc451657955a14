//! Reductions over a world: a local result on every member, then one
//! all-gather of those results folded in member order (so every member gets
//! the same bits), and element-wise kernels, which need no communication.
//!
//! Float sums associate as `((s_0 + s_1) + s_2) + ...` over the members'
//! partial sums `s_j`, each summed by its member's side as
//! [`crate::Context::sum`] documents; integers wrap and are identical bit for
//! bit to a single context's result. `min`/`max`/`argmin`/`argmax` are
//! identical bit for bit (NaN ignored, `-0 < +0`, first index on ties).

use super::buffer::DistBuffer;
use super::collectives::{from_bits, to_bits};
use super::World;
use crate::element::Element;
use crate::error::Result;
use crate::kernel::MapKernel;

impl World {
    /// The sum of every element on every member; 0 when empty. Integers wrap.
    ///
    /// # Errors
    /// [`crate::Error::Member`] naming a member whose local sum failed (a GPU
    /// error under `Policy::Gpu`); [`crate::Error::InvalidArgument`] for a
    /// buffer of another world.
    pub fn sum<T: Element>(&self, d: &DistBuffer<T>) -> Result<T> {
        self.check_world(d, "sum")?;
        self.call("sum", d.len(), |_| {
            self.note_lens(&d.lens);
            let partial = self.each(|h, ctx| ctx.sum(&d.parts[h]))?;
            self.comm.all_reduce(&partial, T::add)
        })
    }

    /// The dot product `sum(a[i] * b[i])`; 0 when empty. Integers wrap.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ,
    /// [`crate::Error::InvalidArgument`] when they are split differently;
    /// otherwise as [`World::sum`].
    pub fn dot<T: Element>(&self, a: &DistBuffer<T>, b: &DistBuffer<T>) -> Result<T> {
        self.check_world(a, "dot")?;
        a.same_layout(b, "dot")?;
        self.call("dot", a.len(), |_| {
            self.note_lens(&a.lens);
            let partial = self.each(|h, ctx| ctx.dot(&a.parts[h], &b.parts[h]))?;
            self.comm.all_reduce(&partial, T::add)
        })
    }

    /// The smallest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`World::sum`].
    pub fn min<T: Element>(&self, d: &DistBuffer<T>) -> Result<Option<T>> {
        Ok(self.best("min", d, false)?.map(|(v, _)| v))
    }

    /// The largest element, or `None` when empty. NaN is ignored; `-0 < +0`.
    ///
    /// # Errors
    /// As [`World::sum`].
    pub fn max<T: Element>(&self, d: &DistBuffer<T>) -> Result<Option<T>> {
        Ok(self.best("max", d, true)?.map(|(v, _)| v))
    }

    /// The global index of the first smallest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`World::sum`].
    pub fn argmin<T: Element>(&self, d: &DistBuffer<T>) -> Result<Option<usize>> {
        Ok(self.best("argmin", d, false)?.map(|(_, i)| i))
    }

    /// The global index of the first largest element, or `None` when empty.
    ///
    /// # Errors
    /// As [`World::sum`].
    pub fn argmax<T: Element>(&self, d: &DistBuffer<T>) -> Result<Option<usize>> {
        Ok(self.best("argmax", d, true)?.map(|(_, i)| i))
    }

    /// The best element and its global index: each member's local best (its
    /// value through `min`/`max`, its index through `argmin`/`argmax`), then
    /// the first member with the best key wins, which is the first index.
    fn best<T: Element>(
        &self,
        op: &'static str,
        d: &DistBuffer<T>,
        max: bool,
    ) -> Result<Option<(T, usize)>> {
        self.check_world(d, op)?;
        let offsets = d.part_offsets();
        let held = self.comm.held();
        self.call(op, d.len(), |_| {
            self.note_lens(&d.lens);
            let local = self.each(|h, ctx| {
                let part = &d.parts[h];
                let (v, i) = if max {
                    (ctx.max(part)?, ctx.argmax(part)?)
                } else {
                    (ctx.min(part)?, ctx.argmin(part)?)
                };
                Ok(v.zip(i))
            })?;
            // Two words per member: the value's bits, and 1 + global index (0: empty part).
            let words: Vec<[u64; 2]> = local
                .iter()
                .enumerate()
                .map(|(h, b)| match b {
                    Some((v, i)) => [to_bits(*v), (offsets[held.start + h] + i + 1) as u64],
                    None => [0, 0],
                })
                .collect();
            let rows: Vec<&[u64]> = words.iter().map(|w| w.as_slice()).collect();
            let all = self.comm.all_gather_u64(&rows, 2)?;
            let mut best: Option<(T, usize)> = None;
            for w in all.chunks(2) {
                if w[1] == 0 {
                    continue;
                }
                let (v, i) = (from_bits::<T>(w[0]), w[1] as usize - 1);
                let better = match best {
                    None => true,
                    // Strictly better only: an equal key keeps the earlier member.
                    Some((b, _)) if max => v.key_max() > b.key_max(),
                    Some((b, _)) => v.key_min() < b.key_min(),
                };
                if better {
                    best = Some((v, i));
                }
            }
            Ok(best)
        })
    }

    /// Runs an element-wise kernel on every member's parts:
    /// `out[i] = f(inputs[0][i], ..., params)`, with the inputs' distribution.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the inputs differ in length,
    /// [`crate::Error::InvalidArgument`] when they are split differently;
    /// [`crate::Error::Member`] for a member's GPU error under `Policy::Gpu`.
    pub fn map<T: Element, const N: usize, const P: usize, F>(
        &self,
        kernel: &MapKernel<T, N, P, F>,
        inputs: [&DistBuffer<T>; N],
        params: [T; P],
    ) -> Result<DistBuffer<T>>
    where
        F: Fn([T; N], [T; P]) -> T + Sync + Send + 'static,
    {
        let first = self.check_inputs("map", &inputs)?;
        self.call("map", first.len(), |_| {
            self.note_lens(&first.lens);
            let parts = self.each(|h, ctx| ctx.map(kernel, inputs.map(|d| &d.parts[h]), params))?;
            Ok(self.wrap(parts, first.lens.clone()))
        })
    }

    /// Runs an element-wise kernel and sums its results over every member, as
    /// [`World::sum`] sums; 0 when empty.
    ///
    /// # Errors
    /// As [`World::map`].
    pub fn map_reduce<T: Element, const N: usize, const P: usize, F>(
        &self,
        kernel: &MapKernel<T, N, P, F>,
        inputs: [&DistBuffer<T>; N],
        params: [T; P],
    ) -> Result<T>
    where
        F: Fn([T; N], [T; P]) -> T + Sync + Send,
    {
        let first = self.check_inputs("map_reduce", &inputs)?;
        self.call("map_reduce", first.len(), |_| {
            self.note_lens(&first.lens);
            let partial =
                self.each(|h, ctx| ctx.map_reduce(kernel, inputs.map(|d| &d.parts[h]), params))?;
            self.comm.all_reduce(&partial, T::add)
        })
    }

    /// The first input, once every input is of this world and split alike.
    fn check_inputs<'a, T: Element, const N: usize>(
        &self,
        op: &'static str,
        inputs: &[&'a DistBuffer<T>; N],
    ) -> Result<&'a DistBuffer<T>> {
        let first = inputs[0];
        self.check_world(first, op)?;
        for d in &inputs[1..] {
            first.same_layout(d, op)?;
        }
        Ok(first)
    }
}
