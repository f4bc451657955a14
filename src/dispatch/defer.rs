//! Deferred GPU runs as the dispatcher sees them: which results can be filled
//! in after the call returned ([`Deferrable`]), and the batch entry a deferred
//! call leaves (see `crate::gpu::deferred` for when batches submit and how a
//! failed one is recovered).

use std::sync::Arc;

use crate::buffer::{Buffer, BufferSlot};
use crate::element::Element;
use crate::error::{Error, Result};
use crate::gpu::deferred::{Entry, Mark, Replay};
use crate::gpu::timing::Timer;

/// A result that a deferred call can fill in later (from a CPU re-run) or
/// mark failed: every op output that is a buffer.
pub(crate) trait Deferrable: Sized + Send + 'static {
    /// Where the result's contents go once they are known.
    type Slot: Send + Sync + 'static;
    /// The slot of this result.
    fn slot(&self) -> Self::Slot;
    /// Fills `slot` with `fresh`, the same result computed on the CPU.
    fn fill(slot: &Self::Slot, fresh: Self) -> Result<()>;
    /// Marks `slot`'s contents failed.
    fn fail(slot: &Self::Slot, e: &Error);
    /// Marks `slot`'s contents as being re-run (reads wait for fill or fail).
    fn hold(slot: &Self::Slot);
}

impl<T: Element> Deferrable for Buffer<T> {
    type Slot = BufferSlot<T>;
    fn slot(&self) -> BufferSlot<T> {
        Buffer::slot(self)
    }
    fn fill(slot: &BufferSlot<T>, fresh: Self) -> Result<()> {
        slot.fill(fresh)
    }
    fn fail(slot: &BufferSlot<T>, e: &Error) {
        slot.fail(e)
    }
    fn hold(slot: &BufferSlot<T>) {
        slot.hold()
    }
}

impl<A: Deferrable, B: Deferrable> Deferrable for (A, B) {
    type Slot = (A::Slot, B::Slot);
    fn slot(&self) -> Self::Slot {
        (self.0.slot(), self.1.slot())
    }
    fn fill(slot: &Self::Slot, fresh: Self) -> Result<()> {
        A::fill(&slot.0, fresh.0)?;
        B::fill(&slot.1, fresh.1)
    }
    fn fail(slot: &Self::Slot, e: &Error) {
        A::fail(&slot.0, e);
        B::fail(&slot.1, e);
    }
    fn hold(slot: &Self::Slot) {
        A::hold(&slot.0);
        B::hold(&slot.1);
    }
}

/// Makes a deferred call's batch entry from its result: given the result and
/// whether the call may re-run on the CPU, the re-run and the way to fail it.
pub(crate) type MakeEntry<'a, R> = Box<dyn FnOnce(&R, bool) -> EntryParts + 'a>;

/// A batch entry's re-run (None: none allowed) and its way to mark outputs:
/// failed with an error, or (None) held for the re-run.
pub(crate) type EntryParts = (Option<Replay>, Mark);

/// The entry maker for a call whose CPU side is `cpu` (a `'static` closure
/// over shared handles of its inputs, see `Buffer::share`).
pub(crate) fn entry_maker<'a, R: Deferrable>(
    cpu: impl FnOnce() -> Result<R> + Send + 'static,
) -> MakeEntry<'a, R> {
    Box::new(move |out: &R, replay: bool| {
        let slot = Arc::new(out.slot());
        let failing = slot.clone();
        let replay = replay.then(|| Box::new(move || R::fill(&slot, cpu()?)) as Replay);
        let mark = move |e: Option<&Error>| match e {
            Some(e) => R::fail(&failing, e),
            None => R::hold(&failing),
        };
        (replay, Box::new(mark) as Mark)
    })
}

/// The entry of a deferred call of `op`; `timer` receives its GPU time.
pub(crate) fn entry(
    op: &'static str,
    parts: EntryParts,
    fault: Option<Error>,
    epoch: u64,
    timer: Option<Timer>,
) -> Entry {
    let (replay, mark) = parts;
    Entry {
        op,
        fault,
        replay,
        mark,
        epoch,
        timer,
        dispatches: 0,
    }
}
