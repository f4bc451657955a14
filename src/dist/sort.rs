//! Sample sort over a world.
//!
//! 1. Every member takes regularly spaced samples of its part, about
//!    `OVERSAMPLE * members` in all, in proportion to its part's length; one
//!    all-gather gives every member all samples, and every member picks the
//!    same `members - 1` splitters from them, so that member `j` receives about
//!    as many elements as its part had.
//! 2. Every member partitions its part by the splitters (stably) and one
//!    all-to-all with counts sends each bucket to its member.
//! 3. Every member sorts what it received through its own context
//!    (`Context::sort` / `sort_by_key`, on its best side).
//!
//! Elements are compared by `(key in total order, member, index in the part)`,
//! so runs of equal keys can be cut between members (all-equal data still
//! spreads), and elements with equal keys keep their global input order:
//! received runs arrive in member order and the local sort is stable. The
//! result is identical to a single context's sort of the whole array.

use super::buffer::DistBuffer;
use super::collectives::to_bits;
use super::World;
use crate::element::{Element, ScalarType};
use crate::error::Result;

/// Samples per member in all (times the member count).
const OVERSAMPLE: usize = 64;

/// An element's place in the order every member compares by.
type Tag = (u64, u64, u64);

/// A key as an unsigned integer that orders as `f32::total_cmp` (floats) or
/// by value (integers).
fn order_key<T: Element>(v: T) -> u64 {
    let b = to_bits(v);
    match T::SCALAR {
        ScalarType::F32 => {
            let u = b as u32;
            (if u >> 31 == 1 { !u } else { u | 0x8000_0000 }) as u64
        }
        ScalarType::F64 => {
            if b >> 63 == 1 {
                !b
            } else {
                b | (1 << 63)
            }
        }
        ScalarType::I32 => ((b as u32) ^ 0x8000_0000) as u64,
        ScalarType::U32 => b,
    }
}

/// How many samples member `m` takes: its share of `OVERSAMPLE * p`, at most its length.
fn sample_count(lens: &[usize], m: usize) -> usize {
    let n: usize = lens.iter().sum();
    if n == 0 {
        return 0;
    }
    let want = (OVERSAMPLE * lens.len()) as u128 * lens[m] as u128;
    (want.div_ceil(n as u128) as usize).min(lens[m])
}

/// The splitters: bucket `j` takes the tags `t` with `s[j-1] <= t < s[j]`
/// (`None` is past every tag). Picked from the sorted samples where their
/// weight (each stands for `len / samples` elements of its member) reaches
/// each member's share of the output, `target` (every member's length).
fn splitters(mut samples: Vec<Tag>, lens: &[usize], target: &[usize]) -> Vec<Option<Tag>> {
    samples.sort_unstable();
    let weight = |m: u64| {
        let m = m as usize;
        lens[m] as f64 / sample_count(lens, m).max(1) as f64
    };
    let mut out = Vec::with_capacity(target.len().saturating_sub(1));
    let (mut before, mut k, mut goal) = (0.0f64, 0usize, 0usize);
    for &t in &target[..target.len().saturating_sub(1)] {
        goal += t;
        while k < samples.len() && before < goal as f64 {
            before += weight(samples[k].1);
            k += 1;
        }
        // Sample k is the first whose weight before it reaches the goal.
        out.push(samples.get(k).copied());
    }
    out
}

/// The splitters laid out for the partition's hot loop: their keys apart, so
/// that an element is placed by its key alone unless it ties with one.
struct Cuts {
    keys: Vec<u64>,
    rest: Vec<(u64, u64)>,
}

impl Cuts {
    fn new(split: &[Option<Tag>]) -> Cuts {
        // `None`s come last (past every tag): they only leave buckets empty.
        let some: Vec<Tag> = split.iter().map_while(|s| *s).collect();
        Cuts {
            keys: some.iter().map(|t| t.0).collect(),
            rest: some.iter().map(|t| (t.1, t.2)).collect(),
        }
    }

    /// The bucket of the element `(key, member, index)`: how many splitters are at most its tag.
    #[inline]
    fn bucket(&self, key: u64, member: u64, index: u64) -> usize {
        let mut b = if self.keys.len() <= 8 {
            self.keys.iter().filter(|&&s| s < key).count()
        } else {
            self.keys.partition_point(|&s| s < key)
        };
        while b < self.keys.len() && self.keys[b] == key && self.rest[b] <= (member, index) {
            b += 1;
        }
        b
    }
}

impl World {
    /// `keys` sorted ascending over the whole world, integers by value and
    /// floats by IEEE total order: identical to [`crate::Context::sort`] of the
    /// concatenated array. The result's parts are in member order and about as
    /// long as `keys`' parts (not exactly: the cut follows samples).
    ///
    /// # Errors
    /// [`crate::Error::Member`] naming a member whose local sort failed (under
    /// `Policy::Gpu`: f64, or a GPU error); [`crate::Error::LimitExceeded`]
    /// under MPI when one rank would send or receive over 2 GiB.
    pub fn sort<T: Element>(&self, keys: &DistBuffer<T>) -> Result<DistBuffer<T>> {
        self.check_world(keys, "sort")?;
        Ok(self.sample_sort::<T, u32>("sort", keys, None)?.0)
    }

    /// `keys` sorted as [`World::sort`] does and `values` moved with them;
    /// stable: values with equal keys keep their global input order. Identical
    /// to [`crate::Context::sort_by_key`] of the concatenated arrays.
    ///
    /// # Errors
    /// [`crate::Error::LengthMismatch`] when the lengths differ,
    /// [`crate::Error::InvalidArgument`] when they are split differently;
    /// otherwise as [`World::sort`].
    pub fn sort_by_key<K: Element, V: Element>(
        &self,
        keys: &DistBuffer<K>,
        values: &DistBuffer<V>,
    ) -> Result<(DistBuffer<K>, DistBuffer<V>)> {
        self.check_world(keys, "sort_by_key")?;
        keys.same_layout(values, "sort_by_key")?;
        let (k, v) = self.sample_sort("sort_by_key", keys, Some(values))?;
        Ok((k, v.unwrap_or_else(|| self.wrap(Vec::new(), Vec::new()))))
    }

    fn sample_sort<K: Element, V: Element>(
        &self,
        op: &'static str,
        keys: &DistBuffer<K>,
        values: Option<&DistBuffer<V>>,
    ) -> Result<(DistBuffer<K>, Option<DistBuffer<V>>)> {
        let p = self.size();
        let lens = keys.lens.clone();
        let held = self.comm.held();
        self.call(op, keys.len(), |_| {
            self.note_lens(&lens);
            if p > u16::MAX as usize {
                return Err(crate::Error::InvalidArgument {
                    op,
                    message: format!(
                        "a world of {p} members is past the sort's 65,535; use fewer members"
                    ),
                });
            }
            if p == 1 {
                return self.sort_parts(
                    &keys.parts,
                    values.map(|v| v.parts.as_slice()),
                    lens.clone(),
                );
            }
            let khost = self
                .comm
                .agree(keys.parts.iter().map(|b| b.host()).collect())?;
            // 1. Samples and splitters.
            let mut mine: Vec<u64> = Vec::new();
            let mut counts = Vec::new();
            for (h, part) in khost.iter().enumerate() {
                let m = held.start + h;
                let s = sample_count(&lens, m);
                for i in 0..s {
                    let at = ((2 * i + 1) as u128 * part.len() as u128 / (2 * s) as u128) as usize;
                    mine.extend([order_key(part[at]), m as u64, at as u64]);
                }
                counts.push(3 * s);
            }
            let rows: Vec<&[u64]> = {
                let mut at = 0;
                counts
                    .iter()
                    .map(|&c| {
                        let r = &mine[at..at + c];
                        at += c;
                        r
                    })
                    .collect()
            };
            let all_counts: Vec<usize> = (0..p).map(|m| 3 * sample_count(&lens, m)).collect();
            let flat = self.comm.all_gather_concat(&rows, &all_counts)?;
            let samples: Vec<Tag> = flat.chunks(3).map(|c| (c[0], c[1], c[2])).collect();
            let split = splitters(samples, &lens, &lens);
            // 2. Partition every part by the splitters, stably.
            let vhost = match values {
                Some(v) => Some(
                    self.comm
                        .agree(v.parts.iter().map(|b| b.host()).collect())?,
                ),
                None => None,
            };
            let cut = Cuts::new(&split);
            let parted = self.each(|h, _| {
                let m = (held.start + h) as u64;
                let part = &khost[h];
                // Two passes: the bucket of every element (and the counts), then
                // a stable scatter into one send buffer grouped by destination.
                let mut count = vec![0usize; p];
                let buckets: Vec<u16> = part
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        let b = cut.bucket(order_key(k), m, i as u64);
                        count[b] += 1;
                        b as u16
                    })
                    .collect();
                let mut start = super::buffer::offsets(&count);
                let mut ks = vec![K::zero(); part.len()];
                let mut vs = vhost.as_ref().map(|v| vec![V::zero(); v[h].len()]);
                match (vs.as_mut(), vhost.as_ref()) {
                    (Some(vs), Some(vh)) => {
                        for (i, &b) in buckets.iter().enumerate() {
                            let at = &mut start[b as usize];
                            ks[*at] = part[i];
                            vs[*at] = vh[h][i];
                            *at += 1;
                        }
                    }
                    _ => {
                        for (&k, &b) in part.iter().zip(&buckets) {
                            let at = &mut start[b as usize];
                            ks[*at] = k;
                            *at += 1;
                        }
                    }
                }
                Ok((ks, vs, count))
            })?;
            let counts: Vec<Vec<usize>> = parted.iter().map(|(_, _, c)| c.clone()).collect();
            let ksend: Vec<&[K]> = parted.iter().map(|(k, _, _)| k.as_slice()).collect();
            let krecv = self.comm.all_to_all(&ksend, &counts)?;
            let vrecv = match values {
                Some(_) => {
                    let vsend: Vec<&[V]> = parted
                        .iter()
                        .map(|(_, v, _)| v.as_deref().unwrap_or(&[]))
                        .collect();
                    Some(self.comm.all_to_all(&vsend, &counts)?)
                }
                None => None,
            };
            drop(parted);
            let out_lens = self
                .comm
                .all_gather_lens(&krecv.iter().map(|k| k.len()).collect::<Vec<_>>())?;
            // 3. Sort what arrived, on each member's side.
            let kb = krecv
                .into_iter()
                .zip(&self.members)
                .map(|(v, ctx)| ctx.from_vec(v))
                .collect::<Result<Vec<_>>>()?;
            let vb = match vrecv {
                Some(vr) => Some(
                    vr.into_iter()
                        .zip(&self.members)
                        .map(|(v, ctx)| ctx.from_vec(v))
                        .collect::<Result<Vec<_>>>()?,
                ),
                None => None,
            };
            self.sort_parts(&kb, vb.as_deref(), out_lens)
        })
    }

    /// Every held member sorts its part (with values: stably by key).
    fn sort_parts<K: Element, V: Element>(
        &self,
        keys: &[crate::Buffer<K>],
        values: Option<&[crate::Buffer<V>]>,
        lens: Vec<usize>,
    ) -> Result<(DistBuffer<K>, Option<DistBuffer<V>>)> {
        match values {
            None => {
                let parts = self.each(|h, ctx| ctx.sort(&keys[h]))?;
                Ok((self.wrap(parts, lens), None))
            }
            Some(vals) => {
                let pairs = self.each(|h, ctx| ctx.sort_by_key(&keys[h], &vals[h]))?;
                let (k, v): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
                Ok((self.wrap(k, lens.clone()), Some(self.wrap(v, lens))))
            }
        }
    }
}
