//! Which workers sleep, which spin, and who wakes whom.
//!
//! This is Go's spinning-M protocol (proc.go, "Worker thread parking/
//! unparking") for workers that each own one P for life:
//!
//! * A worker that runs out of local work may become *spinning*: it looks
//!   for work to steal. At most half of the busy workers spin at once.
//! * Whoever publishes stealable work calls [`Idle::wake_spinner`], which
//!   wakes one sleeping worker **only if nobody is spinning**: a spinner will
//!   find the work, and when it stops spinning because it found some, it
//!   wakes the next one ([`Idle::stop_spinning`] tells it it was the last).
//!   Parallelism ramps up one worker at a time instead of as a herd.
//! * Lost wakeups are ruled out by two store-then-load pairs with a full
//!   fence in between on each side: a publisher does *publish work, fence,
//!   read `npidle`/`nmspinning`*; a worker going to sleep does *register as
//!   idle (and drop its spinning count), fence, re-check every queue*. At
//!   least one of the two sees the other.
//! * Work published by a worker into its own queues needs no fence: its
//!   owner is awake and will run it; the wakeup there only buys parallelism.
//! * A woken worker is handed the spinning role by its waker before it
//!   wakes ("assign P, then wake" in Go), so it never races for it.
//!
//! Targeted wakeups of a goroutine's home worker bypass all this: the waker
//! pushes into that worker's inbox and unparks its parker directly.

use crate::loom::lock;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*, fence};

/// Shared idle/spinning bookkeeping for `nprocs` workers.
pub struct Idle {
    nprocs: usize,
    /// Workers currently spinning (looking for work to steal).
    nmspinning: AtomicUsize,
    /// Workers registered as sleeping (may be awake but about to sleep).
    npidle: AtomicUsize,
    sleepers: Mutex<Sleepers>,
}

struct Sleepers {
    /// Registered sleepers, most recent last (woken LIFO: warm caches).
    stack: Vec<usize>,
    /// `listed[w]`: `w` is in `stack`.
    listed: Vec<bool>,
    /// `handoff[w]`: `w` was taken off the list by a waker that counted it
    /// as spinning; `w` inherits that count when it wakes.
    handoff: Vec<bool>,
}

impl Idle {
    /// Bookkeeping for `nprocs` workers, all busy.
    pub fn new(nprocs: usize) -> Idle {
        Idle {
            nprocs,
            nmspinning: AtomicUsize::new(0),
            npidle: AtomicUsize::new(0),
            sleepers: Mutex::new(Sleepers {
                stack: Vec::with_capacity(nprocs),
                listed: vec![false; nprocs],
                handoff: vec![false; nprocs],
            }),
        }
    }

    /// Cheap, racy pre-check for hot paths: could a wakeup be useful?
    #[inline]
    pub fn wants_wakeup(&self) -> bool {
        self.npidle.load(Relaxed) != 0 && self.nmspinning.load(Relaxed) == 0
    }

    /// A thread that is not a worker published stealable work: fence, then
    /// [`wake_spinner`](Self::wake_spinner).
    pub fn work_published_remotely(&self) -> Option<usize> {
        fence(SeqCst);
        self.wake_spinner()
    }

    /// Go's `wakep`: if some worker sleeps and none spins, takes one sleeper
    /// off the list, hands it the spinning role and returns it; the caller
    /// must unpark it.
    pub fn wake_spinner(&self) -> Option<usize> {
        if self.npidle.load(SeqCst) == 0 || self.nmspinning.load(SeqCst) != 0 {
            return None;
        }
        if self
            .nmspinning
            .compare_exchange(0, 1, SeqCst, Relaxed)
            .is_err()
        {
            return None;
        }
        let mut s = lock(&self.sleepers);
        match s.stack.pop() {
            Some(w) => {
                s.listed[w] = false;
                s.handoff[w] = true;
                self.npidle.fetch_sub(1, SeqCst);
                Some(w)
            }
            None => {
                // The sleeper we counted woke by itself; every worker is
                // awake and will look at the queues before sleeping.
                self.nmspinning.fetch_sub(1, SeqCst);
                None
            }
        }
    }

    /// Racy hint: is some worker idle or spinning, i.e. able to steal
    /// goroutines that have not started yet?
    #[inline]
    pub fn thieves_about(&self) -> bool {
        self.npidle.load(Relaxed) != 0 || self.nmspinning.load(Relaxed) != 0
    }

    /// A worker out of local work asks to spin. Refused when half of the
    /// busy workers already spin (Go: `2*nmspinning < gomaxprocs-npidle`).
    pub fn try_spin(&self) -> bool {
        let spinning = self.nmspinning.load(SeqCst);
        let busy = self.nprocs.saturating_sub(self.npidle.load(SeqCst));
        if 2 * spinning >= busy {
            return false;
        }
        self.nmspinning.fetch_add(1, SeqCst);
        true
    }

    /// Becomes spinning regardless of the cap: used after the pre-sleep
    /// re-check found stealable work.
    pub fn force_spin(&self) {
        self.nmspinning.fetch_add(1, SeqCst);
    }

    /// A spinner found work (or gives up). Returns `true` if it was the last
    /// spinner: the caller must then call [`wake_spinner`](Self::wake_spinner)
    /// so that any other published work still gets a spinner.
    pub fn stop_spinning(&self) -> bool {
        self.nmspinning.fetch_sub(1, SeqCst) == 1
    }

    /// Registers worker `me` as a sleeper and drops its spinning count.
    /// The caller must then re-check every queue before really sleeping,
    /// and call [`woke`](Self::woke) when it stops sleeping.
    pub fn sleep(&self, me: usize, was_spinning: bool) {
        {
            let mut s = lock(&self.sleepers);
            debug_assert!(!s.listed[me]);
            s.listed[me] = true;
            s.stack.push(me);
            self.npidle.fetch_add(1, SeqCst);
        }
        if was_spinning {
            self.nmspinning.fetch_sub(1, SeqCst);
        }
        fence(SeqCst);
    }

    /// Worker `me` is awake again (woken, timed out, or its re-check found
    /// work). Returns `true` if a waker handed it the spinning role.
    pub fn woke(&self, me: usize) -> bool {
        let mut s = lock(&self.sleepers);
        if s.listed[me] {
            s.listed[me] = false;
            if let Some(pos) = s.stack.iter().rposition(|&w| w == me) {
                s.stack.remove(pos);
            }
            self.npidle.fetch_sub(1, SeqCst);
            false
        } else {
            std::mem::take(&mut s.handoff[me])
        }
    }

    /// Number of workers registered as sleeping.
    pub fn num_idle(&self) -> usize {
        self.npidle.load(SeqCst)
    }

    /// Number of spinning workers.
    pub fn num_spinning(&self) -> usize {
        self.nmspinning.load(SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn no_wakeup_while_someone_spins() {
        let idle = Idle::new(4);
        idle.sleep(0, false);
        idle.sleep(1, false);
        assert!(idle.try_spin());
        assert_eq!(idle.wake_spinner(), None);
        assert!(idle.stop_spinning());
        assert_eq!(idle.wake_spinner(), Some(1));
        assert_eq!(idle.num_spinning(), 1);
        assert!(idle.woke(1), "the woken worker inherits the spinning role");
        assert!(!idle.woke(0) || idle.num_idle() == 0);
    }

    #[test]
    fn spinning_is_capped_at_half_the_busy_workers() {
        let idle = Idle::new(4);
        assert!(idle.try_spin());
        assert!(idle.try_spin());
        assert!(!idle.try_spin());
        idle.sleep(3, false);
        // 3 busy: 2 spinning is already >= 3/2.
        assert!(!idle.try_spin());
    }

    #[test]
    fn a_worker_that_wakes_by_itself_leaves_the_list() {
        let idle = Idle::new(2);
        idle.sleep(0, false);
        assert_eq!(idle.num_idle(), 1);
        assert!(!idle.woke(0));
        assert_eq!(idle.num_idle(), 0);
        assert_eq!(idle.wake_spinner(), None);
        assert_eq!(idle.num_spinning(), 0);
    }
}
