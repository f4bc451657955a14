//! The collectives every distributed algorithm is written over.
//!
//! [`Transport`] is the small byte-level interface a world's members talk
//! through: an all-gather, an all-to-all with counts, and an all-reduce of
//! counts. It has two implementations: [`super::local`] (members in this
//! process: memory copies) and `super::mpi` (one member per MPI rank). [`Comm`]
//! builds the typed collectives on top (all-gather of values, the exclusive scan
//! of per-member totals, all-to-all of typed parts) and the agreement step, and
//! counts each call's communication time and bytes for the dist record.
//!
//! Rule kept here: a collective is entered by every member or by none. Every
//! decision that could skip one (a size check, a failure) is taken from data
//! every member already holds, so members never disagree about what comes next.

use std::ops::Range;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::element::Element;
use crate::error::{Error, ErrorKind, Result};

/// How members exchange bytes. Every method is collective: every member of the
/// world (every process holding one) calls it with its held members' data.
pub(crate) trait Transport: Send + Sync {
    /// Members in the world.
    fn size(&self) -> usize;
    /// The members whose parts this process holds (all in a local world; one rank under MPI).
    fn held(&self) -> Range<usize>;
    /// The most bytes one member may send or receive in one collective, if limited.
    fn max_bytes(&self) -> Option<u64>;
    /// `mine[h]`: `count` u64 words of held member `h`; returns every member's
    /// words, member after member.
    fn all_gather_u64(&self, mine: &[&[u64]], count: usize) -> Result<Vec<u64>>;
    /// `mine[h]`: the bytes of held member `h`; `counts[m]`: bytes of member `m`
    /// (known to all). Fills `out` with every member's bytes in member order.
    fn all_gather_bytes(&self, mine: &[&[u8]], counts: &[usize], out: &mut [u8]) -> Result<()>;
    /// `send[h]`: held member `h`'s bytes, destination after destination, with
    /// `counts[s][d]` bytes from member `s` to member `d` (the whole matrix, known
    /// to all). Fills `recv[h]` with what held member `h` receives, source after source.
    fn all_to_all_bytes(
        &self,
        send: &[&[u8]],
        counts: &[Vec<usize>],
        recv: &mut [&mut [u8]],
    ) -> Result<()>;
    /// The element-wise wrapping sum of every member's `mine` (equal lengths).
    fn all_reduce_sum_u32(&self, mine: &[&[u32]], len: usize) -> Result<Vec<u32>>;
}

/// Communication time and bytes of the call in progress, per held member.
#[derive(Debug, Default, Clone)]
pub(crate) struct Traffic {
    pub time: Duration,
    pub bytes_sent: Vec<u64>,
}

/// The typed collectives over a [`Transport`], with traffic accounting.
pub(crate) struct Comm {
    transport: Box<dyn Transport>,
    traffic: Mutex<Traffic>,
}

/// Every error kind, for sending a kind between processes as a number.
const KINDS: [ErrorKind; 12] = [
    ErrorKind::NoAdapter,
    ErrorKind::LimitExceeded,
    ErrorKind::TooLarge,
    ErrorKind::OutOfMemory,
    ErrorKind::DeviceLost,
    ErrorKind::Timeout,
    ErrorKind::ShaderCompile,
    ErrorKind::LengthMismatch,
    ErrorKind::InvalidArgument,
    ErrorKind::Unsupported,
    ErrorKind::Io,
    ErrorKind::Gpu,
];

fn kind_code(k: ErrorKind) -> u64 {
    // Unknown future kinds travel as Gpu (a device-side failure).
    KINDS.iter().position(|&x| x == k).unwrap_or(11) as u64 + 1
}

fn bytes_of_slice<T: bytemuck::Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

impl Comm {
    pub(crate) fn new(transport: Box<dyn Transport>) -> Comm {
        let held = transport.held().len();
        Comm {
            transport,
            traffic: Mutex::new(Traffic {
                time: Duration::ZERO,
                bytes_sent: vec![0; held],
            }),
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.transport.size()
    }

    pub(crate) fn held(&self) -> Range<usize> {
        self.transport.held()
    }

    /// Starts counting a new call's traffic.
    pub(crate) fn reset_traffic(&self) {
        let mut t = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        t.time = Duration::ZERO;
        t.bytes_sent.iter_mut().for_each(|b| *b = 0);
    }

    /// The traffic counted since [`Comm::reset_traffic`].
    pub(crate) fn traffic(&self) -> Traffic {
        self.traffic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn count(&self, started: Instant, sent: impl Fn(usize) -> u64) {
        let mut t = self.traffic.lock().unwrap_or_else(|p| p.into_inner());
        t.time += started.elapsed();
        for (h, b) in t.bytes_sent.iter_mut().enumerate() {
            *b += sent(h);
        }
    }

    /// Refuses, on every member alike, an exchange one member's side of which
    /// is over the transport's limit. `per_member[m]`: bytes member `m` sends or receives.
    fn check_limit(&self, per_member: impl Iterator<Item = u64>) -> Result<()> {
        let Some(limit) = self.transport.max_bytes() else {
            return Ok(());
        };
        match per_member.max() {
            Some(b) if b > limit => Err(Error::LimitExceeded {
                what: "the bytes one MPI rank sends or receives in one collective",
                requested: b,
                limit,
            }),
            _ => Ok(()),
        }
    }

    /// `count` u64 words per held member in; every member's words out.
    pub(crate) fn all_gather_u64(&self, mine: &[&[u64]], count: usize) -> Result<Vec<u64>> {
        let t = Instant::now();
        let out = self.transport.all_gather_u64(mine, count)?;
        let others = (self.size() - 1) as u64;
        self.count(t, |_| 8 * count as u64 * others);
        Ok(out)
    }

    /// One element per held member in; every member's element out, in member order.
    pub(crate) fn all_gather_values<T: Element>(&self, mine: &[T]) -> Result<Vec<T>> {
        let words: Vec<u64> = mine.iter().map(|&v| to_bits(v)).collect();
        let rows: Vec<&[u64]> = words.chunks(1).collect();
        let all = self.all_gather_u64(&rows, 1)?;
        Ok(all.into_iter().map(from_bits::<T>).collect())
    }

    /// Every member's length (or any count), from the held members' ones.
    pub(crate) fn all_gather_lens(&self, mine: &[usize]) -> Result<Vec<usize>> {
        let words: Vec<u64> = mine.iter().map(|&n| n as u64).collect();
        let rows: Vec<&[u64]> = words.chunks(1).collect();
        Ok(self
            .all_gather_u64(&rows, 1)?
            .into_iter()
            .map(|n| n as usize)
            .collect())
    }

    /// The combination of every member's value, folded in member order, so
    /// every member gets the same bits (floats included).
    pub(crate) fn all_reduce<T: Element>(&self, mine: &[T], f: impl Fn(T, T) -> T) -> Result<T> {
        let all = self.all_gather_values(mine)?;
        let mut it = all.into_iter();
        let first = it.next().unwrap_or_else(T::zero);
        Ok(it.fold(first, f))
    }

    /// Each held member's exclusive prefix of the members' totals: the sum of
    /// the totals of the members before it (0 for member 0), in member order.
    pub(crate) fn exclusive_scan_totals<T: Element>(&self, mine: &[T]) -> Result<Vec<T>> {
        let all = self.all_gather_values(mine)?;
        let mut acc = Vec::with_capacity(all.len());
        let mut run: Option<T> = None;
        for &v in &all {
            acc.push(run.unwrap_or_else(T::zero));
            run = Some(match run {
                Some(r) => r.add(v),
                None => v,
            });
        }
        Ok(self.held().map(|m| acc[m]).collect())
    }

    /// The element-wise wrapping sum of every member's counts.
    pub(crate) fn all_reduce_sum_u32(&self, mine: &[&[u32]], len: usize) -> Result<Vec<u32>> {
        self.check_limit(std::iter::once(4 * len as u64))?;
        let t = Instant::now();
        let out = self.transport.all_reduce_sum_u32(mine, len)?;
        self.count(t, |_| 4 * len as u64);
        Ok(out)
    }

    /// Every member's elements, concatenated in member order; `lens[m]` is
    /// member `m`'s count (known to all).
    pub(crate) fn all_gather_concat<T: bytemuck::Pod>(
        &self,
        mine: &[&[T]],
        lens: &[usize],
    ) -> Result<Vec<T>> {
        let size = std::mem::size_of::<T>();
        let total: usize = lens.iter().sum();
        self.check_limit(std::iter::once((total * size) as u64))?;
        let counts: Vec<usize> = lens.iter().map(|&n| n * size).collect();
        let mut out = vec![T::zeroed(); total];
        let send: Vec<&[u8]> = mine.iter().map(|s| bytes_of_slice(s)).collect();
        let t = Instant::now();
        self.transport
            .all_gather_bytes(&send, &counts, bytemuck::cast_slice_mut(&mut out))?;
        let others = (self.size() - 1) as u64;
        let held = self.held();
        self.count(t, |h| counts[held.start + h] as u64 * others);
        Ok(out)
    }

    /// All-to-all with counts: `send[h]` holds held member `h`'s elements grouped
    /// by destination, `counts[h][d]` of them for member `d`. Returns, per held
    /// member, what it receives, source after source (member order).
    pub(crate) fn all_to_all<T: bytemuck::Pod>(
        &self,
        send: &[&[T]],
        counts: &[Vec<usize>],
    ) -> Result<Vec<Vec<T>>> {
        Ok(self.all_to_all_runs(send, counts)?.0)
    }

    /// [`Comm::all_to_all`], and per held member the elements it received from
    /// each source, in member order.
    #[allow(clippy::type_complexity)]
    pub(crate) fn all_to_all_runs<T: bytemuck::Pod>(
        &self,
        send: &[&[T]],
        counts: &[Vec<usize>],
    ) -> Result<(Vec<Vec<T>>, Vec<Vec<usize>>)> {
        let p = self.size();
        let size = std::mem::size_of::<T>();
        // Every member learns the whole count matrix, so receive sizes and the
        // limit check are the same decision everywhere.
        let words: Vec<Vec<u64>> = counts
            .iter()
            .map(|row| row.iter().map(|&c| c as u64).collect())
            .collect();
        let rows: Vec<&[u64]> = words.iter().map(|r| r.as_slice()).collect();
        let flat = self.all_gather_u64(&rows, p)?;
        let matrix: Vec<Vec<usize>> = flat
            .chunks(p.max(1))
            .map(|r| r.iter().map(|&c| c as usize * size).collect())
            .collect();
        let sent = (0..p).map(|s| matrix[s].iter().sum::<usize>() as u64);
        let recvd = (0..p).map(|d| (0..p).map(|s| matrix[s][d]).sum::<usize>() as u64);
        self.check_limit(sent.chain(recvd))?;
        let held = self.held();
        let mut out: Vec<Vec<T>> = held
            .clone()
            // Pooled (huge-page) memory: every byte is received before it is read.
            .map(|d| {
                crate::host_pool::take_filled(
                    (0..p).map(|s| matrix[s][d]).sum::<usize>() / size.max(1),
                )
            })
            .collect();
        let send_bytes: Vec<&[u8]> = send.iter().map(|s| bytes_of_slice(s)).collect();
        let t = Instant::now();
        {
            let mut recv: Vec<&mut [u8]> = out
                .iter_mut()
                .map(|v| bytemuck::cast_slice_mut(v.as_mut_slice()))
                .collect();
            self.transport
                .all_to_all_bytes(&send_bytes, &matrix, &mut recv)?;
        }
        self.count(t, |h| {
            let m = held.start + h;
            (0..p)
                .filter(|&d| d != m)
                .map(|d| matrix[m][d] as u64)
                .sum()
        });
        let runs = held
            .map(|d| (0..p).map(|s| matrix[s][d] / size.max(1)).collect())
            .collect();
        Ok((out, runs))
    }

    /// The agreement step: every held member's result of a local step in; on
    /// every member, either all the values or the same error, naming the first
    /// member that failed. Members call this before any collective that needs
    /// the step's output, so a failure on one member never leaves the others
    /// blocked in an exchange it will not join.
    pub(crate) fn agree<R>(&self, results: Vec<Result<R>>) -> Result<Vec<R>> {
        let codes: Vec<u64> = results
            .iter()
            .map(|r| r.as_ref().err().map_or(0, |e| kind_code(e.kind())))
            .collect();
        let rows: Vec<&[u64]> = codes.chunks(1).collect();
        let all = self.all_gather_u64(&rows, 1)?;
        let Some(failed) = all.iter().position(|&c| c != 0) else {
            return Ok(results.into_iter().filter_map(|r| r.ok()).collect());
        };
        // Every member failed (a bad argument every member was given): each
        // returns its own error, the plain typed one, with no member to name.
        if all.iter().all(|&c| c != 0) {
            if let Some(Err(e)) = results.into_iter().next() {
                return Err(e);
            }
            return Err(Error::InvalidArgument {
                op: "agree",
                message: "internal: a process holding no member".into(),
            });
        }
        // Every member saw the same codes, so every member takes this branch:
        // the failed member's message is shared in one more (collective) step.
        let messages: Vec<Vec<u8>> = results
            .iter()
            .map(|r| match r {
                Err(e) => failure_message(e).into_bytes(),
                Ok(_) => Vec::new(),
            })
            .collect();
        let lens = self.all_gather_lens(&messages.iter().map(|m| m.len()).collect::<Vec<_>>())?;
        let send: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
        let mut bytes = vec![0u8; lens.iter().sum()];
        self.transport.all_gather_bytes(&send, &lens, &mut bytes)?;
        let start: usize = lens[..failed].iter().sum();
        let message = String::from_utf8_lossy(&bytes[start..start + lens[failed]]).into_owned();
        let kind = KINDS
            .get(all[failed] as usize - 1)
            .copied()
            .unwrap_or(ErrorKind::Gpu);
        Err(Error::Member {
            member: failed,
            kind,
            message,
        })
    }
}

/// The message a failed member sends: its own message, not wrapped twice.
fn failure_message(e: &Error) -> String {
    match e {
        Error::Member { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// An element's bits in a u64 (elements are at most 8 bytes).
pub(crate) fn to_bits<T: Element>(v: T) -> u64 {
    let mut b = [0u8; 8];
    let src = bytemuck::bytes_of(&v);
    b[..src.len()].copy_from_slice(src);
    u64::from_le_bytes(b)
}

/// The element whose bits [`to_bits`] gave.
pub(crate) fn from_bits<T: Element>(w: u64) -> T {
    let b = w.to_le_bytes();
    bytemuck::pod_read_unaligned(&b[..std::mem::size_of::<T>()])
}
