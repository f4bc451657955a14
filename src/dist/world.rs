//! `World`: the members, how a call runs on them, and how data enters a world.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::balance::{self, Balance};
use super::buffer::DistBuffer;
use super::collectives::Comm;
use super::local::LocalTransport;
use super::record::{DistRecord, MemberRecord};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::{Context, Policy};

/// A value one member's step takes out of a step before it (each member takes its own).
pub(crate) type Slot<X> = Mutex<Option<X>>;

static NEXT_WORLD_ID: AtomicU64 = AtomicU64::new(1);

/// How many dist records a world keeps.
const RECORDS_KEPT: usize = 256;

/// A set of members, each a [`Context`] holding one part of every
/// [`DistBuffer`]. Ops run a local step on every member (through that
/// member's own Context, on its best side) and collectives between members.
///
/// A local world ([`World::local`]) holds every member in this process; an MPI
/// world ([`World::mpi`], cargo feature `mpi`) holds one member per rank. Every
/// op is collective: under MPI every rank makes the same calls in the same
/// order. A world runs one call at a time.
pub struct World {
    pub(crate) comm: Arc<Comm>,
    /// The contexts of the members this process holds, in member order.
    pub(crate) members: Vec<Context>,
    pub(crate) id: u64,
    rank: usize,
    records: Mutex<VecDeque<DistRecord>>,
    /// The member records of the call in progress.
    current: Mutex<Vec<MemberRecord>>,
    /// One call at a time: collectives of two calls must not interleave.
    call_lock: Mutex<()>,
    /// Kernels the algorithms need, made once per element type.
    kernels: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("rank", &self.rank)
            .field("size", &self.size())
            .field("members", &self.members)
            .finish()
    }
}

impl World {
    fn with_comm(comm: Comm, members: Vec<Context>, rank: usize) -> World {
        World {
            comm: Arc::new(comm),
            members,
            id: NEXT_WORLD_ID.fetch_add(1, Ordering::Relaxed),
            rank,
            records: Mutex::new(VecDeque::new()),
            current: Mutex::new(Vec::new()),
            call_lock: Mutex::new(()),
            kernels: Mutex::new(HashMap::new()),
        }
    }

    /// A world of `members` in this process: member `i` is `members[i]`. Give
    /// each member its own context (clones share one run log, so the dist
    /// record could not tell their sides apart). Local steps run on all
    /// members at once, one thread each.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `members` is empty.
    pub fn local(members: Vec<Context>) -> Result<World> {
        if members.is_empty() {
            return Err(Error::InvalidArgument {
                op: "World::local",
                message: "a world needs at least one member context".into(),
            });
        }
        let size = members.len();
        Ok(World::with_comm(
            Comm::new(Box::new(LocalTransport { size })),
            members,
            0,
        ))
    }

    /// A local world of every hardware GPU wgpu finds (one member each, under
    /// `Policy::Auto`, so a member whose GPU is lost carries on on the CPU),
    /// plus one CPU member. An adapter reached through two APIs counts once;
    /// software adapters (lavapipe, llvmpipe) are left out, since the CPU
    /// member already runs on those cores. On a machine without a GPU this is
    /// a world of one CPU member.
    ///
    /// # Errors
    /// As [`crate::ContextBuilder::build`].
    pub fn local_all_devices() -> Result<World> {
        let mut members = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (index, a) in crate::gpu::list_adapters().into_iter().enumerate() {
            if a.device_type == "Cpu" || seen.contains(&a.name) {
                continue;
            }
            seen.push(a.name.clone());
            let ctx = Context::builder()
                .policy(Policy::Auto)
                .adapter_index(index)
                .build()?;
            // Only if it opened the adapter we meant (indices follow one sort).
            if ctx.gpu_info().is_some_and(|g| g.name == a.name) {
                members.push(ctx);
            }
        }
        members.push(Context::builder().policy(Policy::Cpu).build()?);
        World::local(members)
    }

    /// A world of every rank of `MPI_COMM_WORLD`, this process being member
    /// `rank()` with `ctx`. Call it once per process, on every rank (under
    /// `mpirun`; a process started without it is a world of one). It installs a
    /// panic hook that aborts the whole MPI job with the rank and the message,
    /// so a panic on one rank never leaves the others blocked.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when MPI was already initialised in this process.
    #[cfg(feature = "mpi")]
    pub fn mpi(ctx: Context) -> Result<World> {
        let t = super::mpi::MpiTransport::init()?;
        let (rank, size) = (t.rank(), super::collectives::Transport::size(&t));
        super::mpi::install_abort_on_panic(rank, size);
        Ok(World::with_comm(Comm::new(Box::new(t)), vec![ctx], rank))
    }

    /// This process's rank: 0 in a local world.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of members.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// The members this process holds, in member order (every member in a
    /// local world; this rank's under MPI), and their global indices.
    pub fn held_members(&self) -> std::ops::Range<usize> {
        self.comm.held()
    }

    /// The contexts of the members this process holds.
    pub fn contexts(&self) -> &[Context] {
        &self.members
    }

    /// Waits until every member has reached this call (a collective).
    ///
    /// # Errors
    /// None in a local world; MPI failures abort the job instead.
    pub fn barrier(&self) -> Result<()> {
        let zeros = vec![0u64; self.members.len()];
        let rows: Vec<&[u64]> = zeros.chunks(1).collect();
        self.comm.all_gather_u64(&rows, 1).map(|_| ())
    }

    /// The record of the latest call on this process.
    pub fn last_record(&self) -> Option<DistRecord> {
        self.lock_records().back().cloned()
    }

    /// The records of the latest 256 calls, oldest first.
    pub fn records(&self) -> Vec<DistRecord> {
        self.lock_records().iter().cloned().collect()
    }

    /// Forgets the records (they also feed [`Balance::Measured`]).
    pub fn clear_records(&self) {
        self.lock_records().clear()
    }

    fn lock_records(&self) -> std::sync::MutexGuard<'_, VecDeque<DistRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Splits `data` over the members by `balance`. In a local world `data` is
    /// the whole array; under MPI rank 0 passes the whole array and every
    /// other rank passes `&[]`.
    ///
    /// # Errors
    /// [`Error::Member`] (kind InvalidArgument) naming a rank other than 0 that
    /// passed data; [`Error::InvalidArgument`] for bad weights (see [`Balance`]).
    pub fn scatter<T: Element>(&self, data: &[T], balance: Balance) -> Result<DistBuffer<T>> {
        self.call("scatter", data.len(), |held| {
            // This process's data is the input of its first held member (member 0
            // in a local world, this rank under MPI); its other members have none.
            let input = |h: usize| if h == 0 { data } else { &[][..] };
            self.each(|h, _| {
                let m = held.start + h;
                if m != 0 && !input(h).is_empty() {
                    return Err(Error::InvalidArgument {
                        op: "scatter",
                        message: format!(
                            "rank {m} passed {} elements; only rank 0 passes data to scatter (the others pass &[]); use from_local for data every rank holds",
                            data.len()
                        ),
                    });
                }
                Ok(())
            })?;
            let mine: Vec<usize> = (0..held.len()).map(|h| input(h).len()).collect();
            let total = self.comm.all_gather_lens(&mine)?[0];
            let lens = self.part_lens(&balance, total)?;
            let p = self.size();
            let send: Vec<&[T]> = (0..held.len()).map(input).collect();
            let counts: Vec<Vec<usize>> = held
                .clone()
                .map(|m| if m == 0 { lens.clone() } else { vec![0; p] })
                .collect();
            let parts = self.comm.all_to_all(&send, &counts)?;
            self.buffers(parts, lens)
        })
    }

    /// A buffer from the part this process holds: under MPI, this rank's part
    /// (the global order is rank order). In a local world of one member, that
    /// member's data; a local world of several needs [`World::from_parts`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] in a local world of several members.
    pub fn from_local<T: Element>(&self, part: &[T]) -> Result<DistBuffer<T>> {
        if self.members.len() != 1 {
            return Err(Error::InvalidArgument {
                op: "from_local",
                message: format!(
                    "this process holds {} members; pass one part each with from_parts, or split one array with scatter",
                    self.members.len()
                ),
            });
        }
        self.from_parts(&[part])
    }

    /// A buffer from one part per member this process holds, in member order.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `parts` does not have one entry per held member.
    pub fn from_parts<T: Element>(&self, parts: &[&[T]]) -> Result<DistBuffer<T>> {
        if parts.len() != self.members.len() {
            return Err(Error::LengthMismatch {
                op: "from_parts",
                expected: self.members.len(),
                actual: parts.len(),
            });
        }
        let total_here = parts.iter().map(|p| p.len()).sum();
        self.call("from_local", total_here, |_| {
            let lens = self
                .comm
                .all_gather_lens(&parts.iter().map(|p| p.len()).collect::<Vec<_>>())?;
            self.buffers(parts.iter().map(|p| p.to_vec()).collect(), lens)
        })
    }

    /// Moves `d`'s elements between members so that the parts follow
    /// `balance`; the global order is kept.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for bad weights or a buffer of another world.
    pub fn rebalance<T: Element>(
        &self,
        d: &DistBuffer<T>,
        balance: Balance,
    ) -> Result<DistBuffer<T>> {
        self.check_world(d, "rebalance")?;
        self.call("rebalance", d.len(), |_| {
            let lens = self.part_lens(&balance, d.len())?;
            self.relayout(d, lens)
        })
    }

    /// `d` re-split into parts of lengths `lens` (every member's), keeping the order.
    pub(crate) fn relayout<T: Element>(
        &self,
        d: &DistBuffer<T>,
        lens: Vec<usize>,
    ) -> Result<DistBuffer<T>> {
        let hosts = self
            .comm
            .agree(d.parts.iter().map(|p| p.host()).collect())?;
        let counts = balance::moves(&d.lens, &lens, self.comm.held());
        let send: Vec<&[T]> = hosts.iter().map(|h| h.as_slice()).collect();
        let parts = self.comm.all_to_all(&send, &counts)?;
        self.buffers(parts, lens)
    }

    /// Every member's part length for `balance` over `total` elements.
    pub(crate) fn part_lens(&self, balance: &Balance, total: usize) -> Result<Vec<usize>> {
        let weights = match balance {
            Balance::Measured => {
                let recs = self.records();
                let held = self.comm.held();
                let speeds: Vec<f64> = self
                    .members
                    .iter()
                    .enumerate()
                    .map(|(h, ctx)| balance::measured_speed(ctx, &recs, held.start + h))
                    .collect();
                self.comm.all_gather_values(&speeds)?
            }
            other => self.agreed(other.weights(self.size(), total))?,
        };
        Ok(balance::split_lens(total, &weights))
    }

    /// Wraps received parts as buffers of the held members' contexts.
    pub(crate) fn buffers<T: Element>(
        &self,
        parts: Vec<Vec<T>>,
        lens: Vec<usize>,
    ) -> Result<DistBuffer<T>> {
        let parts = parts
            .into_iter()
            .zip(&self.members)
            .map(|(v, ctx)| ctx.from_vec(v))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.wrap(parts, lens))
    }

    /// Wraps buffers already made by the held members.
    pub(crate) fn wrap<T: Element>(
        &self,
        parts: Vec<crate::Buffer<T>>,
        lens: Vec<usize>,
    ) -> DistBuffer<T> {
        DistBuffer {
            comm: self.comm.clone(),
            world_id: self.id,
            parts,
            lens,
        }
    }

    /// Fails unless `d` was made by this world.
    pub(crate) fn check_world<T: Element>(
        &self,
        d: &DistBuffer<T>,
        op: &'static str,
    ) -> Result<()> {
        let r = if d.world_id != self.id {
            Err(Error::InvalidArgument {
                op,
                message: "the buffer belongs to another world; make it with this world's scatter or from_local".into(),
            })
        } else {
            Ok(())
        };
        self.agreed(r)
    }

    /// `r`, a check made on this process, agreed with every member's (a
    /// collective, like every argument check before a collective): each
    /// member's own error when every member failed it, [`Error::Member`]
    /// naming the first one when only some did (different arguments on
    /// different ranks), so no member enters a collective the others skip.
    pub(crate) fn agreed<R>(&self, r: Result<R>) -> Result<R> {
        let status: Vec<Result<()>> = (0..self.members.len())
            .map(|_| r.as_ref().map(|_| ()).map_err(|e| e.clone()))
            .collect();
        self.comm.agree(status)?;
        r
    }

    /// Runs one op call: counts its traffic and compute and keeps its record.
    /// `body` gets the held members' global indices.
    pub(crate) fn call<R>(
        &self,
        op: &'static str,
        len: usize,
        body: impl FnOnce(std::ops::Range<usize>) -> Result<R>,
    ) -> Result<R> {
        let _one_at_a_time = self.call_lock.lock().unwrap_or_else(|p| p.into_inner());
        let held = self.comm.held();
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = held
            .clone()
            .map(|member| MemberRecord {
                member,
                len: 0,
                side: None,
                fallback: None,
                compute: Duration::ZERO,
                communication: Duration::ZERO,
                bytes_sent: 0,
            })
            .collect();
        self.comm.reset_traffic();
        let t = Instant::now();
        let r = body(held);
        let elapsed = t.elapsed();
        let traffic = self.comm.traffic();
        let mut members =
            std::mem::take(&mut *self.current.lock().unwrap_or_else(|p| p.into_inner()));
        for (m, sent) in members.iter_mut().zip(&traffic.bytes_sent) {
            m.communication = traffic.time;
            m.bytes_sent = *sent;
        }
        let mut recs = self.lock_records();
        if recs.len() == RECORDS_KEPT {
            recs.pop_front();
        }
        recs.push_back(DistRecord {
            op,
            len,
            members,
            elapsed,
            failed: r.is_err(),
        });
        r
    }

    /// Runs a local step on every held member (`Policy::Cpu` members one after
    /// another on the calling thread, the others on threads of their own, at
    /// once), times it, notes the side its last op ran on, and makes every
    /// member agree: every member gets all the values, or the same error
    /// naming the first member that failed. `f` gets the held index and context.
    pub(crate) fn each<R: Send>(
        &self,
        f: impl Fn(usize, &Context) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        let run = |h: usize| {
            let ctx = &self.members[h];
            let before = ctx.last_run();
            let t = Instant::now();
            let r = f(h, ctx);
            // The member's GPU work belongs to its compute time: an op whose
            // result is a buffer returns once recorded. An error here needs no
            // handling: the outputs hold the answer (re-run on the CPU) or the
            // error, which their reads return.
            if r.is_ok() {
                let _ = ctx.synchronize();
            }
            let dt = t.elapsed();
            let after = ctx.last_run();
            (r, dt, if after != before { after } else { None })
        };
        // Members under Policy::Cpu share the one rayon pool, so running them
        // at once gains nothing and their jobs get in each other's way: they
        // run one after another on the calling thread. Members that may use a
        // GPU each get a thread, so that they overlap with the rest (the first
        // of them runs on the calling thread when no member runs there).
        let cpu = |h: usize| self.members[h].policy() == crate::Policy::Cpu;
        let mut inline: Vec<usize> = (0..self.members.len()).filter(|&h| cpu(h)).collect();
        let mut threaded: Vec<usize> = (0..self.members.len()).filter(|&h| !cpu(h)).collect();
        if inline.is_empty() && !threaded.is_empty() {
            inline.push(threaded.remove(0));
        }
        let mut outs: Vec<Option<_>> = (0..self.members.len()).map(|_| None).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = threaded
                .iter()
                .map(|&h| {
                    let run = &run;
                    (h, s.spawn(move || run(h)))
                })
                .collect();
            for &h in &inline {
                outs[h] = Some(run(h));
            }
            for (h, j) in handles {
                outs[h] = Some(j.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
        });
        // Every member ran: each slot is filled.
        let outs: Vec<_> = outs.into_iter().flatten().collect();
        let mut results = Vec::with_capacity(outs.len());
        {
            let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
            for (h, (r, dt, ran)) in outs.into_iter().enumerate() {
                if let Some(m) = cur.get_mut(h) {
                    m.compute += dt;
                    if let Some(run) = ran {
                        m.side = Some(run.side);
                        m.fallback = run.fallback.clone().or(m.fallback.take());
                    }
                }
                results.push(r);
            }
        }
        self.comm.agree(results)
    }

    /// Notes each held member's part length of the call's main input.
    pub(crate) fn note_lens(&self, lens: &[usize]) {
        let held = self.comm.held();
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        for m in cur.iter_mut() {
            if let Some(&n) = lens.get(m.member) {
                m.len = n;
            }
        }
        let _ = held;
    }

    /// The kernel `make` builds for element type `T`, made once per world.
    pub(crate) fn kernel<T: 'static, K: Any + Send + Sync>(
        &self,
        make: impl FnOnce() -> Result<K>,
    ) -> Result<Arc<K>> {
        let mut k = self.kernels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = k.get(&TypeId::of::<(T, K)>()) {
            if let Ok(found) = found.clone().downcast::<K>() {
                return Ok(found);
            }
        }
        let made = Arc::new(make()?);
        k.insert(TypeId::of::<(T, K)>(), made.clone());
        Ok(made)
    }
}
