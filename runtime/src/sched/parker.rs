//! A one-permit parker for OS threads: worker threads sleep on it when they
//! run out of goroutines, and plain threads sleep on it inside gofer's
//! blocking calls.
//!
//! It is our own rather than `std::thread::park` because a worker thread runs
//! arbitrary goroutine code, and that code may call `thread::park` itself
//! (std's own channels do). Sharing std's single per-thread token with user
//! code would let it swallow a wakeup meant for the scheduler. Here the token
//! belongs to the runtime alone.
//!
//! States: `EMPTY` (no permit), `NOTIFIED` (a permit is waiting), `PARKED`
//! (the owner sleeps on the futex word). `unpark` always leaves `NOTIFIED`
//! behind and issues a futex wake only when it replaced `PARKED`, so an
//! unpark of a running thread costs one atomic swap and no syscall.
//!
//! Before it sleeps, `park` watches the word for 20 µs (Go's spinning M,
//! parking_lot's spin-before-park): a worker whose last goroutine just
//! blocked is often handed new work a microsecond later by the goroutine it
//! was talking to on another worker. Measured on a quiet machine, an
//! unbuffered ping-pong between goroutines homed on two workers went from
//! 42 µs to 0.8 µs per round trip (two futex sleeps and wakes saved per
//! trip), a one-connection TCP echo from ~54 µs to ~30 µs. The price is at
//! most 20 µs of CPU each time a worker runs out of work.
//!
//! Once its netpoller shard watches sockets, an idle worker sleeps in the
//! shard's `epoll_wait` instead of on the futex (`park_polling`; Go's
//! `netpoll(delay)` in `findrunnable`), so a ready socket wakes it straight
//! from the kernel. It then sets `in_poll` *before* it announces
//! `PARKED`, and `unpark`, when it replaced `PARKED`, reads `in_poll` to
//! choose how to wake it: through the shard's eventfd or through the
//! futex. Every `EMPTY -> PARKED` is a release and `unpark`'s swap an
//! acquire, so the unparker sees the `in_poll` the owner wrote before the
//! very `PARKED` it replaced: set for a polling park, cleared for a futex
//! park (loom found that a plain acquire there let a stale `true` send a
//! futex sleeper's wakeup to the poller). A value that turns stale after
//! that read costs one spurious wake, never a lost one: the owner
//! re-checks the word after every return.

use crate::hooks::Poll;
use crate::loom::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::time::Instant;

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
const PARKED: u32 = u32::MAX;

/// How long `park` watches for a permit before it sleeps.
#[cfg(not(loom))]
const SPIN_MICROS: u64 = 20;

/// A binary semaphore with futex sleeping; see the module docs.
pub struct Parker {
    state: AtomicU32,
    /// The owner sleeps (or is about to) in the netpoller, not the futex.
    in_poll: AtomicBool,
    /// The netpoller shard the owner polls (workers only).
    poll_shard: usize,
    #[cfg(loom)]
    lock: crate::loom::sync::Mutex<()>,
    #[cfg(loom)]
    cond: crate::loom::sync::Condvar,
}

impl Default for Parker {
    fn default() -> Parker {
        Parker::new()
    }
}

impl Parker {
    /// A parker without a permit.
    pub fn new() -> Parker {
        Parker {
            state: AtomicU32::new(EMPTY),
            in_poll: AtomicBool::new(false),
            poll_shard: 0,
            #[cfg(loom)]
            lock: crate::loom::sync::Mutex::new(()),
            #[cfg(loom)]
            cond: crate::loom::sync::Condvar::new(),
        }
    }

    /// The parker of a worker that polls netpoller shard `shard`.
    pub fn for_poll_shard(shard: usize) -> Parker {
        Parker {
            poll_shard: shard,
            ..Parker::new()
        }
    }

    /// Blocks until a permit is available (then consumes it) or `deadline`
    /// passes. May also return spuriously; callers re-check their condition.
    #[cfg(not(loom))]
    pub fn park(&self, deadline: Option<Instant>) {
        if self.spin_for_permit() {
            return;
        }
        // NOTIFIED -> EMPTY (take the permit) or EMPTY -> PARKED.
        // AcqRel: releases an earlier `in_poll = false` to unparkers.
        if self.state.fetch_sub(1, AcqRel) == NOTIFIED {
            return;
        }
        loop {
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => {
                        // Timed out: leave EMPTY whether or not a permit
                        // raced in; the caller re-checks either way.
                        self.state.swap(EMPTY, Acquire);
                        return;
                    }
                },
            };
            futex_wait(&self.state, PARKED, timeout);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Acquire)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Loom has no clock: deadlines are not modelled and a deadline park is
    /// an ordinary park.
    #[cfg(loom)]
    pub fn park<D>(&self, _deadline: Option<D>) {
        let mut guard = crate::loom::lock(&self.lock);
        // AcqRel: releases an earlier `in_poll = false` to unparkers.
        if self.state.fetch_sub(1, AcqRel) == NOTIFIED {
            return;
        }
        // Consume the permit with a read-modify-write, as the futex loop
        // does: a plain store of EMPTY could erase a second unpark that
        // this thread never synchronised with (loom found exactly that).
        while self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Acquire, Acquire)
            .is_err()
        {
            guard = match self.cond.wait(guard) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    /// Before sleeping, watches for a permit for a few microseconds: a
    /// wakeup that comes that soon (the other side of a cross-worker
    /// hand-off, say) then costs neither side a system call, where a futex
    /// sleep and wake costs both several microseconds.
    #[cfg(not(loom))]
    fn spin_for_permit(&self) -> bool {
        self.spin(|| false)
    }

    /// The same for the worker about to sleep in the poller, which also
    /// looks at the poller every few microseconds: what it finds ready and
    /// is homed here is queued here without a permit, and a socket that
    /// turns ready during the spin is not left waiting for its end.
    #[cfg(not(loom))]
    fn spin_polling(&self, poll: &Poll) -> bool {
        const POLL_EVERY: std::time::Duration = std::time::Duration::from_micros(4);
        let mut last = Instant::now();
        self.spin(|| {
            if last.elapsed() < POLL_EVERY {
                return false;
            }
            last = Instant::now();
            (poll.poll_now)(self.poll_shard) > 0
        })
    }

    /// Spins until a permit arrives (taking it), `found_work` says yes, or
    /// `SPIN_MICROS` pass; whether to skip sleeping.
    #[cfg(not(loom))]
    fn spin(&self, mut found_work: impl FnMut() -> bool) -> bool {
        const SPIN: std::time::Duration = std::time::Duration::from_micros(SPIN_MICROS);
        let start = Instant::now();
        loop {
            for _ in 0..32 {
                if self.state.load(Relaxed) == NOTIFIED
                    && self
                        .state
                        .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                        .is_ok()
                {
                    return true;
                }
                std::hint::spin_loop();
            }
            if found_work() {
                return true;
            }
            if start.elapsed() >= SPIN {
                return false;
            }
        }
    }

    /// Like [`park`](Parker::park), but sleeps in `poll.poll_wait` on this
    /// parker's shard, which also returns when events arrive (and wakes
    /// the goroutines they concern). The caller holds the shard's poll
    /// role, so no other thread is in that `poll_wait` at the same time.
    /// May return spuriously.
    pub fn park_polling(&self, deadline: Option<Instant>, poll: &Poll) {
        #[cfg(not(loom))]
        if self.spin_polling(poll) {
            return;
        }
        self.in_poll.store(true, Relaxed);
        // NOTIFIED -> EMPTY (take the permit) or EMPTY -> PARKED, releasing
        // `in_poll` to the unparker that will replace PARKED.
        if self.state.fetch_sub(1, AcqRel) == NOTIFIED {
            self.in_poll.store(false, Relaxed);
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        (poll.poll_wait)(self.poll_shard, timeout);
        // Woken, timed out or events: leave EMPTY, taking any permit; the
        // caller re-checks its queues either way.
        self.state.swap(EMPTY, Acquire);
        self.in_poll.store(false, Relaxed);
    }

    /// Makes a permit available, waking the owner if it sleeps.
    pub fn unpark(&self) {
        // Acquire: pairs with the release that wrote PARKED, so `in_poll`
        // is the owner's for this park (see the module docs).
        if self.state.swap(NOTIFIED, AcqRel) == PARKED {
            if self.in_poll.load(Relaxed) {
                if let Some(poll) = crate::hooks::poll() {
                    (poll.wake)(self.poll_shard);
                }
                return;
            }
            #[cfg(not(loom))]
            futex_wake(&self.state);
            #[cfg(loom)]
            {
                drop(crate::loom::lock(&self.lock));
                self.cond.notify_one();
            }
        }
    }
}

#[cfg(not(loom))]
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<std::time::Duration>) {
    let ts;
    let ts_ptr = match timeout {
        None => std::ptr::null(),
        Some(d) => {
            ts = libc::timespec {
                tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call; the kernel
    // only reads it and compares it with `expected`. `ts_ptr` is null or
    // points at `ts`, which outlives the call. EINTR, EAGAIN and ETIMEDOUT
    // all just return to the caller's re-check loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

#[cfg(not(loom))]
fn futex_wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key; `word` is live.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn unpark_before_park_is_not_lost() {
        let p = Parker::new();
        p.unpark();
        p.park(None); // must return at once
    }

    #[test]
    fn two_unparks_make_one_permit() {
        let p = Parker::new();
        p.unpark();
        p.unpark();
        p.park(None);
        let t = Instant::now();
        p.park(Some(Instant::now() + Duration::from_millis(20)));
        assert!(t.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn unpark_wakes_a_sleeping_thread() {
        let p = Arc::new(Parker::new());
        let p2 = p.clone();
        let h = std::thread::spawn(move || p2.park(None));
        std::thread::sleep(Duration::from_millis(20));
        p.unpark();
        h.join().unwrap();
    }

    #[test]
    fn deadline_in_the_past_returns_immediately() {
        let p = Parker::new();
        p.park(Some(Instant::now() - Duration::from_millis(1)));
    }
}
