//! The park permit of a goroutine: how parking and unparking agree on who
//! schedules a goroutine, exactly once.
//!
//! A goroutine parks in two steps, like Go's `gopark`:
//!
//! 1. On its own stack it takes a pending permit if there is one
//!    ([`Permit::try_take`]) and otherwise suspends to its worker.
//! 2. On the worker's stack, *after* the switch, the scheduler commits the
//!    park ([`Permit::commit`]: `EMPTY -> PARKED`).
//!
//! An unparker moves the permit on with one compare-and-swap
//! ([`Permit::unpark`]): `PARKED -> EMPTY` schedules the goroutine, anything
//! else becomes `NOTIFIED`. Only the one unparker that replaces `PARKED`
//! makes the goroutine runnable, and it can only see `PARKED` after the
//! goroutine's stack is fully switched out, so a goroutine is never queued
//! while it still runs and never queued twice. If the unpark lands between
//! steps 1 and 2 the commit fails, takes the permit, and the scheduler
//! simply runs the goroutine again: the wakeup is not lost.
//!
//! Either way the goroutine resumes with its permit already consumed, so
//! waking costs it no atomic read-modify-write of its own (there used to
//! be one, an `after_wake` swap, on every wakeup; with the `try_take` that a
//! plain load now answers when no permit is pending, that was two of the
//! four locked instructions of each park/unpark, ~5 ns each here).
//! Happens-before from the unparker to the woken goroutine runs through
//! the run queue that hands the goroutine over (or, after a failed commit,
//! through the commit's acquiring swap). An unpark that arrives after the
//! goroutine was scheduled but before it runs leaves a permit for its next
//! park, which then returns at once: a spurious wakeup, which every caller
//! of `park` already tolerates.
//!
//! `BLOCKING` is the rare path where a goroutine must not suspend (it is
//! unwinding from a panic; see `park.rs`) and blocks its worker thread
//! instead: its unparker then has to wake the thread, not the scheduler.
//! That path keeps the permit `NOTIFIED` and consumes it with
//! [`Permit::after_wake`].

use crate::loom::sync::atomic::{AtomicU8, Ordering::*};

const EMPTY: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;
const BLOCKING: u8 = 3;

/// What an unparker must do after [`Permit::unpark`].
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// The goroutine was running or already notified: nothing.
    Nothing,
    /// The goroutine was parked: the caller now owns it and must queue it.
    Schedule,
    /// The goroutine blocks its worker thread: unpark that thread.
    Thread,
}

/// See the module docs.
pub struct Permit {
    state: AtomicU8,
}

impl Default for Permit {
    fn default() -> Permit {
        Permit::new()
    }
}

impl Permit {
    /// An empty permit: the goroutine is running, nobody unparked it.
    pub fn new() -> Permit {
        Permit {
            state: AtomicU8::new(EMPTY),
        }
    }

    /// Goroutine side, before suspending: consumes a pending permit.
    ///
    /// A plain load answers the common case, no permit pending (a waiter
    /// checked its condition just before), without a locked instruction.
    /// A stale answer is harmless: the goroutine suspends, and the commit
    /// finds the permit.
    #[inline]
    pub fn try_take(&self) -> bool {
        self.state.load(Relaxed) == NOTIFIED
            && self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Acquire, Relaxed)
                .is_ok()
    }

    /// Scheduler side, after the goroutine suspended. `true`: it is parked
    /// and belongs to whoever unparks it. `false`: a permit arrived during
    /// the switch; it is consumed here, and the goroutine must run again.
    #[inline]
    pub fn commit(&self) -> bool {
        // Release: the suspended coroutine's saved state happens-before the
        // unparker that reads PARKED and queues it elsewhere.
        if self
            .state
            .compare_exchange(EMPTY, PARKED, AcqRel, Acquire)
            .is_ok()
        {
            return true;
        }
        // NOTIFIED (nobody else moves the permit away from it): take it
        // with a swap, not a store, so that this reads the last unparker's
        // write and the goroutine, run next, sees what every unparker did
        // before unparking.
        self.state.swap(EMPTY, Acquire);
        false
    }

    /// Blocking-thread path, after the thread woke notified: consumes the
    /// notification (and any that collapsed into it).
    pub fn after_wake(&self) {
        self.state.swap(EMPTY, Acquire);
    }

    /// Blocking-thread variant of [`commit`](Self::commit), done by the
    /// goroutine itself before it blocks its thread. `false`: notified.
    pub fn commit_blocking(&self) -> bool {
        self.state
            .compare_exchange(EMPTY, BLOCKING, AcqRel, Acquire)
            .is_ok()
    }

    /// After the thread woke: `true` if nobody notified (spurious wakeup or
    /// timeout; the permit is back to empty), `false` if notified.
    pub fn cancel_blocking(&self) -> bool {
        self.state
            .compare_exchange(BLOCKING, EMPTY, AcqRel, Acquire)
            .is_ok()
    }

    /// Any thread: makes the permit available. See [`Wake`].
    ///
    /// One compare-and-swap in the common cases. The load only guesses the
    /// state; every outcome is decided by a read-modify-write, so that an
    /// unpark of an already notified goroutine still happens-before the
    /// acquiring operation that consumes the permit.
    #[inline]
    pub fn unpark(&self) -> Wake {
        let mut cur = self.state.load(Relaxed);
        loop {
            let (next, wake) = match cur {
                // Ours to schedule; it resumes with the permit consumed.
                PARKED => (EMPTY, Wake::Schedule),
                BLOCKING => (NOTIFIED, Wake::Thread),
                _ => (NOTIFIED, Wake::Nothing),
            };
            match self.state.compare_exchange(cur, next, AcqRel, Relaxed) {
                Ok(_) => return wake,
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn unpark_during_the_switch_fails_the_commit_which_takes_the_permit() {
        let p = Permit::new();
        assert!(!p.try_take());
        assert_eq!(p.unpark(), Wake::Nothing);
        assert!(!p.commit());
        assert!(!p.try_take(), "the failed commit consumed the permit");
        assert!(p.commit());
    }

    #[test]
    fn only_the_first_unpark_of_a_parked_goroutine_schedules_it() {
        let p = Permit::new();
        assert!(p.commit());
        assert_eq!(p.unpark(), Wake::Schedule);
        assert!(!p.try_take(), "scheduled with the permit consumed");
        // A second unpark before the goroutine parks again leaves a permit
        // for that park (a spurious wakeup), and schedules nothing.
        assert_eq!(p.unpark(), Wake::Nothing);
        assert!(p.try_take());
        assert!(!p.try_take());
    }

    #[test]
    fn a_pending_permit_is_taken_without_suspending() {
        let p = Permit::new();
        p.unpark();
        assert!(p.try_take());
        assert!(!p.try_take());
    }

    #[test]
    fn blocking_thread_path_asks_for_a_thread_wakeup() {
        let p = Permit::new();
        assert!(p.commit_blocking());
        assert_eq!(p.unpark(), Wake::Thread);
        assert!(!p.cancel_blocking());
        p.after_wake();
        assert!(p.commit_blocking());
        assert!(p.cancel_blocking());
    }
}
