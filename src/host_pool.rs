//! The host output pool: large host allocations that tandem reuses for op outputs.
//!
//! A fresh large allocation comes from the OS as unmapped pages, and the first
//! write to each 4 KiB page faults (about a microsecond each): a memory-bound op
//! that writes a fresh 256 MiB output spends most of its time in the kernel.
//! glibc's malloc maps blocks of 128 KiB and more fresh on each call and unmaps
//! them on free, so a program that calls an op in a loop pays that every time.
//!
//! So tandem keeps the memory of dropped outputs, as PyTorch's caching host
//! allocator does: when a [`crate::Buffer`] that holds the only reference to its
//! host copy is dropped, the allocation goes to this pool; the next op output of a
//! similar size (at least as large, at most twice as large) takes it back, with
//! its pages already mapped. Small blocks (under [`MIN_POOLED_BYTES`]) are left to
//! the system allocator, which reuses them well on its own.
//!
//! - **One pool per process**, shared by every [`crate::Context`]: memory is a
//!   process resource. It is bounded: it keeps at most
//!   [`DEFAULT_LIMIT_BYTES`] of *idle* blocks (memory in use by live buffers is
//!   never counted or limited), evicting the blocks returned longest ago;
//!   [`crate::ContextBuilder::host_pool_bytes`] changes the bound (0 turns the pool
//!   off). It is emptied when the last `Context` is dropped, and on request with
//!   [`crate::Context::release_host_memory`]; [`crate::Context::host_pool_stats`]
//!   says what it did.
//! - **Soundness.** A block is handed back only as a `Vec<T>` whose layout is the
//!   one it was allocated with: the same alignment as `T`, and a byte size that is
//!   a whole number of `T` (so f32, i32 and u32 share blocks, and f64 and pairs of
//!   32-bit values share theirs). It is freed with that same layout. A block is
//!   handed out either empty (length 0: safe code can only write it, through
//!   `spare_capacity_mut`), or, for scratch and outputs that are written before
//!   they are read, with a length no larger than the bytes an earlier `Pod`
//!   vector initialised (any bytes are a valid `Pod` value); it is never handed
//!   out twice, since taking removes it under the lock.
//! - **Huge pages.** On Linux, a fresh block of at least [`HUGE_MIN_BYTES`] is
//!   advised `MADV_HUGEPAGE` (transparent huge pages, where the kernel offers them
//!   in `madvise` mode): a fault then maps 2 MiB at once. Measured on a loaded
//!   2-core machine (CPU time, median of 9): a 2^26-element scan 29-31 ms with
//!   the advice, 36-42 ms without; a 2^24-key sort inconclusive (within noise).
//!
//! This module never reads a block's contents and never frees memory it did not
//! take from a `Vec` of the same layout.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The default bound on the idle memory the pool keeps: 1 GiB (a 2^27-key sort's
/// output and scratch).
pub const DEFAULT_LIMIT_BYTES: usize = 1 << 30;
/// Blocks smaller than this are left to the system allocator.
pub const MIN_POOLED_BYTES: usize = 128 << 10;
/// Fresh blocks from this size on are advised to use huge pages (Linux).
pub const HUGE_MIN_BYTES: usize = 4 << 20;
/// The most idle blocks kept (a bound on the search, whatever their sizes).
const MAX_BLOCKS: usize = 64;

/// What the host pool holds and has done since the process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostPoolStats {
    /// The bound on idle bytes held.
    pub limit_bytes: usize,
    /// Idle bytes held now, ready for reuse.
    pub held_bytes: usize,
    /// Idle blocks held now.
    pub held_blocks: usize,
    /// Outputs that took a pooled block (no page faults).
    pub reused: u64,
    /// Outputs of pooled size that found no block and were allocated fresh.
    pub allocated: u64,
    /// Blocks returned to the pool by dropped buffers and finished scratch.
    pub returned: u64,
    /// Blocks freed to the system: evicted by the bound, released on request or
    /// when the last context was dropped.
    pub freed: u64,
}

/// An idle allocation: `bytes` at `ptr`, allocated by the global allocator with
/// alignment `align`; its first `init` bytes were written by a `Pod` vector.
struct Block {
    ptr: NonNull<u8>,
    bytes: usize,
    align: usize,
    init: usize,
}

// SAFETY: a Block is an owned allocation with no thread affinity; it is only
// reached through the pool's mutex.
unsafe impl Send for Block {}

impl Block {
    /// Frees the block with the layout it was allocated with.
    fn free(self) {
        // SAFETY: `give` built this block from a live `Vec` allocation of exactly
        // `bytes` bytes with alignment `align` (nonzero size; checked there), and
        // the block is owned here, so nothing else uses or frees it.
        unsafe {
            std::alloc::dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(self.bytes, self.align),
            )
        }
    }
}

struct Pool {
    blocks: Mutex<Vec<Block>>,
    held: AtomicUsize,
    limit: AtomicUsize,
    contexts: AtomicUsize,
    reused: AtomicU64,
    allocated: AtomicU64,
    returned: AtomicU64,
    freed: AtomicU64,
}

static POOL: Pool = Pool {
    blocks: Mutex::new(Vec::new()),
    held: AtomicUsize::new(0),
    limit: AtomicUsize::new(DEFAULT_LIMIT_BYTES),
    contexts: AtomicUsize::new(0),
    reused: AtomicU64::new(0),
    allocated: AtomicU64::new(0),
    returned: AtomicU64::new(0),
    freed: AtomicU64::new(0),
};

fn blocks() -> std::sync::MutexGuard<'static, Vec<Block>> {
    // Every update of the list is a push or a remove; a panic elsewhere cannot
    // leave it half-written, so a poisoned lock is still sound.
    POOL.blocks.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes and returns the best-fitting block for `need` bytes of `T` (the
/// smallest one from `need` to `2 * need` bytes, of `T`'s alignment and a whole
/// number of `T`), with at least `need` initialised bytes when `initialised`.
fn take_block<T>(need: usize, initialised: bool) -> Option<Block> {
    let (size, align) = (std::mem::size_of::<T>(), std::mem::align_of::<T>());
    if size == 0 || need < MIN_POOLED_BYTES || POOL.held.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut list = blocks();
    let best = list
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            b.align == align
                && b.bytes % size == 0
                && b.bytes >= need
                && b.bytes / 2 <= need
                && (!initialised || b.init >= need)
        })
        .min_by_key(|(_, b)| b.bytes)
        .map(|(i, _)| i)?;
    let b = list.swap_remove(best);
    POOL.held.fetch_sub(b.bytes, Ordering::Relaxed);
    POOL.reused.fetch_add(1, Ordering::Relaxed);
    Some(b)
}

/// An empty `Vec` with room for at least `n` elements: a pooled block when one
/// fits, else a fresh allocation (advised to use huge pages when large).
pub(crate) fn take_empty<T: Copy>(n: usize) -> Vec<T> {
    let need = n.saturating_mul(std::mem::size_of::<T>());
    if let Some(b) = take_block::<T>(need, false) {
        let cap = b.bytes / std::mem::size_of::<T>();
        // SAFETY: the block was allocated by the global allocator with `T`'s
        // alignment and `cap * size_of::<T>()` bytes (checked in `take_block`),
        // which is the layout of a `Vec<T>` of capacity `cap`; length 0 exposes
        // nothing; the block was removed from the pool, so this Vec owns it.
        return unsafe { Vec::from_raw_parts(b.ptr.as_ptr().cast::<T>(), 0, cap) };
    }
    let v: Vec<T> = Vec::with_capacity(n);
    fresh(v.as_ptr().cast(), need);
    v
}

/// As [`take_empty`], for a length a user decides: a size no allocator can
/// give, or one the allocator refuses now, is an error instead of an abort.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::OutOfMemory`].
pub(crate) fn try_take_empty<T: Copy>(op: &'static str, n: usize) -> crate::Result<Vec<T>> {
    let need = n.saturating_mul(std::mem::size_of::<T>());
    if let Some(b) = take_block::<T>(need, false) {
        let cap = b.bytes / std::mem::size_of::<T>();
        // SAFETY: as in `take_empty`.
        return Ok(unsafe { Vec::from_raw_parts(b.ptr.as_ptr().cast::<T>(), 0, cap) });
    }
    let v: Vec<T> = crate::host::try_with_capacity(op, n)?;
    fresh(v.as_ptr().cast(), need);
    Ok(v)
}

/// A `Vec` of `n` elements, for outputs and scratch that are written before they
/// are read: a pooled block whose first `n` elements an earlier `Pod` vector
/// wrote (their old values), else fresh zeroed memory (the OS's zero pages, first
/// touched by whoever writes them).
pub(crate) fn take_filled<T: bytemuck::Pod>(n: usize) -> Vec<T> {
    let need = n.saturating_mul(std::mem::size_of::<T>());
    if let Some(b) = take_block::<T>(need, true) {
        let cap = b.bytes / std::mem::size_of::<T>();
        // SAFETY: layout and ownership as in `take_empty`; the first `need`
        // bytes were initialised by a vector of a `Pod` type (the block's `init`),
        // and every bit pattern is a valid `T` (`Pod`), so `n` elements are
        // initialised; `n <= cap` since `need <= bytes`.
        return unsafe { Vec::from_raw_parts(b.ptr.as_ptr().cast::<T>(), n, cap) };
    }
    zeroed::<T>(n)
}

/// `n` zeroed elements straight from the allocator: large blocks come as fresh
/// zero pages, first touched by whoever writes them, instead of a fill here.
pub(crate) fn zeroed<T: bytemuck::Zeroable + Clone>(n: usize) -> Vec<T> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return vec![T::zeroed(); n];
    }
    let Ok(layout) = Layout::array::<T>(n) else {
        // Too large for any allocator: let `Vec` report it as it always does.
        return vec![T::zeroed(); n];
    };
    // SAFETY: `layout` has a nonzero size (n > 0 and T is not zero-sized).
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    fresh(p.cast(), layout.size());
    // SAFETY: `p` comes from the global allocator with the layout of `n` T's
    // (so capacity `n`), and all-zero bytes are a valid `T` (`Zeroable`).
    unsafe { Vec::from_raw_parts(p, n, n) }
}

/// Counts a fresh allocation of pooled size and advises huge pages for it.
fn fresh(ptr: *const u8, bytes: usize) {
    if bytes < MIN_POOLED_BYTES {
        return;
    }
    POOL.allocated.fetch_add(1, Ordering::Relaxed);
    if bytes >= HUGE_MIN_BYTES {
        advise_huge_pages(ptr, bytes);
    }
}

/// Asks the kernel to back the 2 MiB-aligned middle of `bytes` at `ptr` with
/// transparent huge pages. Advice only: nothing changes if the kernel declines.
#[allow(unused_variables)]
fn advise_huge_pages(ptr: *const u8, bytes: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const HUGE: usize = 2 << 20;
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: madvise with MADV_HUGEPAGE changes no contents and no
            // access rights; the range lies inside one live allocation.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// Gives `v`'s allocation to the pool (or frees it when the pool is off, no
/// context is alive, or it is small or larger than the bound). Its first
/// `v.len()` elements count as initialised.
pub(crate) fn give<T: bytemuck::Pod>(v: Vec<T>) {
    let size = std::mem::size_of::<T>();
    let bytes = v.capacity().saturating_mul(size);
    let limit = POOL.limit.load(Ordering::Relaxed);
    if size == 0 || bytes < MIN_POOLED_BYTES || bytes > limit {
        return;
    }
    if POOL.contexts.load(Ordering::Acquire) == 0 {
        return;
    }
    let init = v.len() * size;
    let mut v = std::mem::ManuallyDrop::new(v);
    // A Vec's pointer is never null; with a nonzero capacity it is an allocation.
    let Some(ptr) = NonNull::new(v.as_mut_ptr().cast::<u8>()) else {
        return;
    };
    let block = Block {
        ptr,
        bytes,
        align: std::mem::align_of::<T>(),
        init,
    };
    POOL.returned.fetch_add(1, Ordering::Relaxed);
    let evicted = {
        let mut list = blocks();
        list.push(block);
        let held = POOL.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        evict(&mut list, held, limit)
    };
    free_all(evicted);
}

/// Removes the blocks returned longest ago until at most `limit` bytes and
/// [`MAX_BLOCKS`] blocks are held; the caller frees them outside the lock.
fn evict(list: &mut Vec<Block>, mut held: usize, limit: usize) -> Vec<Block> {
    let mut out = Vec::new();
    while !list.is_empty() && (held > limit || list.len() > MAX_BLOCKS) {
        // Blocks are pushed at the end; `swap_remove` in `take_block` disturbs the
        // order a little, which only makes eviction approximate.
        let b = list.remove(0);
        held -= b.bytes;
        POOL.held.fetch_sub(b.bytes, Ordering::Relaxed);
        out.push(b);
    }
    out
}

fn free_all(blocks: Vec<Block>) -> usize {
    let mut bytes = 0;
    for b in blocks {
        bytes += b.bytes;
        POOL.freed.fetch_add(1, Ordering::Relaxed);
        b.free();
    }
    bytes
}

/// Frees every idle block; returns the bytes freed.
pub(crate) fn release() -> usize {
    let all = std::mem::take(&mut *blocks());
    let bytes: usize = all.iter().map(|b| b.bytes).sum();
    POOL.held.fetch_sub(bytes, Ordering::Relaxed);
    free_all(all)
}

/// Sets the bound on idle bytes, evicting what no longer fits.
pub(crate) fn set_limit(bytes: usize) {
    POOL.limit.store(bytes, Ordering::Relaxed);
    let evicted = {
        let mut list = blocks();
        let held = POOL.held.load(Ordering::Relaxed);
        evict(&mut list, held, bytes)
    };
    free_all(evicted);
}

/// What the pool holds and has done (also [`crate::Context::host_pool_stats`]).
pub fn stats() -> HostPoolStats {
    let list = blocks();
    HostPoolStats {
        limit_bytes: POOL.limit.load(Ordering::Relaxed),
        held_bytes: list.iter().map(|b| b.bytes).sum(),
        held_blocks: list.len(),
        reused: POOL.reused.load(Ordering::Relaxed),
        allocated: POOL.allocated.load(Ordering::Relaxed),
        returned: POOL.returned.load(Ordering::Relaxed),
        freed: POOL.freed.load(Ordering::Relaxed),
    }
}

/// Held by every live context: the pool keeps blocks only while one exists, and
/// the last one to go empties it.
#[derive(Debug)]
pub(crate) struct ContextHold(());

impl ContextHold {
    pub(crate) fn new() -> Self {
        POOL.contexts.fetch_add(1, Ordering::AcqRel);
        ContextHold(())
    }
}

impl Drop for ContextHold {
    fn drop(&mut self) {
        if POOL.contexts.fetch_sub(1, Ordering::AcqRel) == 1 {
            release();
        }
    }
}
