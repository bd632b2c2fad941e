//! Extension points for the other gofer crates (the netpoller uses them).
//! Public so that sibling crates can reach them; not meant for users.
//! Under loom the sysmon hooks are left out.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::Duration;

#[cfg(not(loom))]
pub use crate::sysmon::{ExternalWait, external_wait, register_service_thread};

/// An event source that idle workers poll: the netpoller, one epoll
/// instance per worker (a *shard*; workers beyond [`MAX_POLL_SHARDS`]
/// share). Go's scheduler calls `netpoll(0)` from `findrunnable` and lets
/// an idle M block in `netpoll(delay)`; these are the same entry points,
/// per shard.
pub struct Poll {
    /// Looks for ready events in `shard` without blocking, unparks the
    /// tasks they concern and returns how many it woke. Any thread may
    /// call it, any number at once.
    pub poll_now: fn(shard: usize) -> usize,
    /// Blocks for events in `shard` until `timeout` passes (`None`: until
    /// woken) and unparks the tasks they concern; returns how many it
    /// woke. Only the holder of the shard's poll role calls it.
    pub poll_wait: fn(shard: usize, timeout: Option<Duration>) -> usize,
    /// Makes a `poll_wait` in progress on `shard` return soon (Go's
    /// `netpollBreak`). It may be called when nobody waits; a later
    /// `poll_wait` may then return early once.
    pub wake: fn(shard: usize),
    /// Does `shard` watch any descriptor? A worker whose shard watches
    /// none sleeps on its futex, which is cheaper to wake; descriptors
    /// join a shard only from its own worker, so none can join while it
    /// sleeps (bar workers sharing a shard).
    pub watching: fn(shard: usize) -> bool,
}

/// At most this many shards; worker `i` uses shard `i % MAX_POLL_SHARDS`.
pub const MAX_POLL_SHARDS: usize = 64;

static POLL: OnceLock<Poll> = OnceLock::new();

/// Per shard: a worker is blocked in `Poll::poll_wait`, or about to be.
/// With one worker per shard the role is always free when its worker
/// asks; it only arbitrates between workers that share a shard.
static POLLING: [AtomicBool; MAX_POLL_SHARDS] = [const { AtomicBool::new(false) }; MAX_POLL_SHARDS];

/// Installs the event source that idle workers poll. From then on a worker
/// polls its shard without blocking every 61st scheduling tick and before
/// it sleeps, and (while its shard watches descriptors) sleeps *in* its
/// shard's `poll_wait` rather than on its futex, so that a ready socket
/// wakes its worker directly, with no thread in between. Only the first
/// call installs; returns whether this one did.
pub fn set_poll(poll: Poll) -> bool {
    POLL.set(poll).is_ok()
}

/// The installed event source, if any.
#[inline]
pub(crate) fn poll() -> Option<&'static Poll> {
    POLL.get()
}

/// The shard of worker `index`.
pub(crate) fn poll_shard_of(index: usize) -> usize {
    index % MAX_POLL_SHARDS
}

/// How many shards there are: one per worker, up to [`MAX_POLL_SHARDS`].
/// Starts the runtime if it is not running yet.
#[cfg(not(loom))]
pub fn poll_shards() -> usize {
    crate::max_procs().min(MAX_POLL_SHARDS)
}

/// The shard of the worker this thread is, if it is one: where a
/// goroutine running here registers the descriptors it waits on.
#[cfg(not(loom))]
pub fn current_poll_shard() -> Option<usize> {
    crate::sched::processor::current_local().map(|l| poll_shard_of(l.index))
}

/// Is some worker blocked in `shard`'s `Poll::poll_wait` (or on its way
/// there)? The netpoller's own thread polls a shard only while none is,
/// as Go's sysmon does.
pub fn shard_polling(shard: usize) -> bool {
    POLLING[shard].load(Relaxed)
}

/// Takes `shard`'s poll role: whoever gets it may call `Poll::poll_wait`.
pub(crate) fn try_take_poll_role(shard: usize) -> bool {
    POLLING[shard]
        .compare_exchange(false, true, Acquire, Relaxed)
        .is_ok()
}

/// Gives `shard`'s poll role back.
pub(crate) fn release_poll_role(shard: usize) {
    POLLING[shard].store(false, Release);
}

/// Runs the non-blocking poll of `shard`, if an event source is
/// installed; the number of tasks it woke.
#[inline]
pub(crate) fn poll_now(shard: usize) -> usize {
    match POLL.get() {
        Some(p) => (p.poll_now)(shard),
        None => 0,
    }
}
