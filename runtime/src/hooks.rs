//! Extension points for the other gofer crates (the netpoller uses them).
//! Public so that sibling crates can reach them; not meant for users.

use std::sync::OnceLock;

pub use crate::sysmon::{ExternalWait, external_wait, register_service_thread};

static IDLE_POLL: OnceLock<fn() -> usize> = OnceLock::new();

/// Installs a function that a worker calls when it has run out of
/// goroutines, just before it goes to sleep: it should poll an event source
/// without blocking (the netpoller's `epoll_wait` with a zero timeout),
/// unpark the tasks it finds ready, and return how many it woke. A ready
/// connection is then usually run by the worker that found it, without a
/// cross-thread wakeup. Only the first call installs; returns whether this
/// one did.
pub fn set_idle_poll(poll: fn() -> usize) -> bool {
    IDLE_POLL.set(poll).is_ok()
}

/// Runs the idle poll, if one is installed; the number of tasks it woke.
#[inline]
pub(crate) fn idle_poll() -> usize {
    match IDLE_POLL.get() {
        Some(poll) => poll(),
        None => 0,
    }
}
