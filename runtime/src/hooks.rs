//! Extension points for the other gofer crates (the netpoller uses them).
//! Public so that sibling crates can reach them; not meant for users.
//! Under loom only [`Poll`] is here, for the parker's models.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::Duration;

#[cfg(not(loom))]
pub use crate::sysmon::{ExternalWait, external_wait, register_service_thread};

/// An event source that idle workers poll: the netpoller. Go's scheduler
/// calls `netpoll(0)` from `findrunnable` and lets one idle M block in
/// `netpoll(delay)`; these are the same two entry points.
pub struct Poll {
    /// Looks for ready events without blocking, unparks the tasks they
    /// concern and returns how many it woke. Any thread may call it, any
    /// number at once.
    pub poll_now: fn() -> usize,
    /// Blocks for events until `timeout` passes (`None`: until woken) and
    /// unparks the tasks they concern; returns how many it woke. Only one
    /// worker at a time calls it, the one holding the poll role (see
    /// [`worker_polling`]).
    pub poll_wait: fn(timeout: Option<Duration>) -> usize,
    /// Makes a `poll_wait` in progress on another thread return soon (Go's
    /// `netpollBreak`). It may be called when nobody waits; a later
    /// `poll_wait` may then return early once.
    pub wake: fn(),
}

static POLL: OnceLock<Poll> = OnceLock::new();

/// A worker is blocked in `Poll::poll_wait`, or about to be.
static POLLING: AtomicBool = AtomicBool::new(false);

/// Installs the event source that idle workers poll. From then on a worker
/// that runs out of goroutines looks at it without blocking before it
/// sleeps, and one sleeping worker at a time sleeps *in* it rather than on
/// its futex, so that a ready socket wakes a worker directly, with no
/// thread in between. Only the first call installs; returns whether this
/// one did.
pub fn set_poll(poll: Poll) -> bool {
    POLL.set(poll).is_ok()
}

/// The installed event source, if any.
#[inline]
pub(crate) fn poll() -> Option<&'static Poll> {
    POLL.get()
}

/// Is some worker blocked in `Poll::poll_wait` (or on its way there)? The
/// netpoller's own thread polls only while none is, as Go's sysmon does.
pub fn worker_polling() -> bool {
    POLLING.load(Relaxed)
}

/// Takes the poll role: whoever gets it may call `Poll::poll_wait`.
pub(crate) fn try_take_poll_role() -> bool {
    POLLING
        .compare_exchange(false, true, Acquire, Relaxed)
        .is_ok()
}

/// Gives the poll role back.
pub(crate) fn release_poll_role() {
    POLLING.store(false, Release);
}

/// Runs the non-blocking poll, if an event source is installed; the number
/// of tasks it woke.
#[inline]
pub(crate) fn poll_now() -> usize {
    match POLL.get() {
        Some(p) => (p.poll_now)(),
        None => 0,
    }
}
