//! Sample sort over a world.
//!
//! 1. Every member sorts its part through its own context (`Context::sort` /
//!    the stable `sort_by_key`, on its best side).
//! 2. Every member takes regularly spaced samples of its sorted part, about
//!    `OVERSAMPLE * members` in all, in proportion to its part's length; one
//!    all-gather gives every member all samples, and every member picks the
//!    same `members - 1` splitters from them, so that member `j` receives about
//!    as many elements as its part had.
//! 3. Each splitter cuts a sorted part at a binary search, so one all-to-all
//!    with counts sends contiguous runs straight from the sorted parts.
//! 4. Every member merges the sorted runs it received (stably, earlier source
//!    first on ties).
//!
//! Elements are compared by `(key in total order, member, index in the sorted
//! part)`, so runs of equal keys can be cut between members (all-equal data
//! still spreads), and elements with equal keys keep their global input order:
//! a member's stable local sort keeps them in input order, runs arrive in
//! member order, and the merge is stable. The result is identical to a single
//! context's sort of the whole array.

use super::buffer::DistBuffer;
use super::collectives::to_bits;
use super::world::Slot;
use super::World;
use crate::element::{Element, ScalarType};
use crate::error::Result;

/// Samples per member in all (times the member count).
const OVERSAMPLE: usize = 64;

/// What a member received: keys, and values for `sort_by_key`.
type Received<K, V> = (Vec<K>, Option<Vec<V>>);

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

/// Where splitter `s` cuts member `m`'s sorted part: how many of its
/// elements have a tag below `s` (all of them for `None`).
fn cut<K: Element>(sorted: &[K], m: u64, s: Option<Tag>) -> usize {
    let Some((sk, sm, si)) = s else {
        return sorted.len();
    };
    let lo = sorted.partition_point(|&k| order_key(k) < sk);
    let hi = lo + sorted[lo..].partition_point(|&k| order_key(k) == sk);
    // Tags tie on the key: the member, then the index, decide.
    lo + if m < sm {
        hi - lo
    } else if m == sm {
        (si as usize).clamp(lo, hi) - lo
    } else {
        0
    }
}

/// Writes the stable merge of two sorted runs (`a` first on ties) into `out`
/// (and their values into `vout` when there are values), both exactly as long
/// as the two runs together. Branch-free in the loop: which run gives the next
/// element is a select, not a jump, so random keys cost no mispredictions
/// (the branchy merge took about 11 ns an element on random u32 keys).
fn merge2<K: Element, V: Copy>(
    a: (&[K], &[V]),
    b: (&[K], &[V]),
    out: &mut [K],
    vout: &mut [V],
    with_values: bool,
) {
    let (ak, bk) = (a.0, b.0);
    let (mut i, mut j) = (0, 0);
    while i < ak.len() && j < bk.len() {
        let (x, y) = (ak[i], bk[j]);
        let take_b = order_key(y) < order_key(x);
        out[i + j] = if take_b { y } else { x };
        if with_values {
            vout[i + j] = if take_b { b.1[j] } else { a.1[i] };
        }
        j += usize::from(take_b);
        i += usize::from(!take_b);
    }
    // One run is used up: the rest of the other follows as it is.
    let k = i + j;
    out[k..k + ak.len() - i].copy_from_slice(&ak[i..]);
    out[k + ak.len() - i..].copy_from_slice(&bk[j..]);
    if with_values {
        vout[k..k + ak.len() - i].copy_from_slice(&a.1[i..]);
        vout[k + ak.len() - i..].copy_from_slice(&b.1[j..]);
    }
}

/// The stable merge of the sorted runs of lengths `runs` laid end to end in
/// `keys` (and `values`, when given): pairwise rounds, earlier runs first on ties.
fn merge_runs<K: Element, V: Element>(
    mut keys: Vec<K>,
    mut values: Option<Vec<V>>,
    runs: &[usize],
) -> (Vec<K>, Option<Vec<V>>) {
    let mut bounds: Vec<usize> = super::buffer::offsets(runs);
    bounds.push(keys.len());
    // Empty runs merge into nothing (and one non-empty run needs no merge).
    bounds.dedup();
    let with_values = values.is_some();
    while bounds.len() > 2 {
        // Pooled blocks (every element is written), and the round's inputs go back.
        let mut out: Vec<K> = crate::host_pool::take_filled(keys.len());
        let mut vout: Vec<V> =
            crate::host_pool::take_filled(if with_values { keys.len() } else { 0 });
        let vs: &[V] = values.as_deref().unwrap_or(&[]);
        let val = |r: std::ops::Range<usize>| if with_values { &vs[r] } else { &[][..] };
        let mut next = vec![0];
        let spans: Vec<std::ops::Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
        for pair in spans.chunks(2) {
            let a = pair[0].clone();
            let end = pair.get(1).map_or(a.end, |b| b.end);
            let o = &mut out[a.start..end];
            let vo = if with_values {
                &mut vout[a.start..end]
            } else {
                &mut [][..]
            };
            match pair.get(1) {
                Some(b) => merge2(
                    (&keys[a.clone()], val(a)),
                    (&keys[b.clone()], val(b.clone())),
                    o,
                    vo,
                    with_values,
                ),
                None => {
                    o.copy_from_slice(&keys[a.clone()]);
                    if with_values {
                        vo.copy_from_slice(&vs[a]);
                    }
                }
            }
            next.push(end);
        }
        crate::host_pool::give(std::mem::replace(&mut keys, out));
        if with_values {
            if let Some(old) = values.replace(vout) {
                crate::host_pool::give(old);
            }
        }
        bounds = next;
    }
    (keys, values)
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
            // 1. Local sorts, on each member's side.
            let (sk, sv) = self.sort_parts(
                &keys.parts,
                values.map(|v| v.parts.as_slice()),
                lens.clone(),
            )?;
            let khost = self
                .comm
                .agree(sk.parts.iter().map(|b| b.host()).collect())?;
            let vhost = match &sv {
                Some(v) => Some(
                    self.comm
                        .agree(v.parts.iter().map(|b| b.host()).collect())?,
                ),
                None => None,
            };
            // 2. Samples and splitters.
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
            // 3. Cut every sorted part at the splitters and send the runs.
            let counts: Vec<Vec<usize>> = khost
                .iter()
                .enumerate()
                .map(|(h, part)| {
                    let m = (held.start + h) as u64;
                    let mut ends: Vec<usize> = split.iter().map(|&s| cut(part, m, s)).collect();
                    ends.push(part.len());
                    let mut prev = 0;
                    ends.iter()
                        .map(|&e| {
                            let e = e.max(prev);
                            let c = e - prev;
                            prev = e;
                            c
                        })
                        .collect()
                })
                .collect();
            let ksend: Vec<&[K]> = khost.iter().map(|k| k.as_slice()).collect();
            let (krecv, runs) = self.comm.all_to_all_runs(&ksend, &counts)?;
            let vrecv = match &vhost {
                Some(vh) => {
                    let vsend: Vec<&[V]> = vh.iter().map(|v| v.as_slice()).collect();
                    Some(self.comm.all_to_all(&vsend, &counts)?)
                }
                None => None,
            };
            drop((sk, sv, khost, vhost));
            let out_lens = self
                .comm
                .all_gather_lens(&krecv.iter().map(|k| k.len()).collect::<Vec<_>>())?;
            // 4. Merge what arrived.
            let mut vrecv = vrecv.map(|v| v.into_iter().map(Some).collect::<Vec<_>>());
            let slots: Vec<Slot<Received<K, V>>> = krecv
                .into_iter()
                .enumerate()
                .map(|(h, k)| {
                    let v = vrecv.as_mut().and_then(|v| v[h].take());
                    std::sync::Mutex::new(Some((k, v)))
                })
                .collect();
            let merged = self.each(|h, ctx| {
                let (k, v) = slots[h]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_default();
                let (k, v) = merge_runs(k, v, &runs[h]);
                Ok((ctx.from_vec(k)?, v.map(|v| ctx.from_vec(v)).transpose()?))
            })?;
            let (kb, vb): (Vec<_>, Vec<_>) = merged.into_iter().unzip();
            let vb: Option<Vec<_>> = vb.into_iter().collect();
            let kd = self.wrap(kb, out_lens.clone());
            Ok((kd, values.and(vb).map(|v| self.wrap(v, out_lens))))
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
