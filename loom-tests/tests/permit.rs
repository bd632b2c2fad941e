//! Models of a goroutine's park permit (`runtime/src/permit.rs`), driven the
//! way `park.rs` (goroutine side), `sched/worker.rs::execute` (the
//! scheduler's commit after the switch) and `sched::unpark_g` (unparkers)
//! drive it.
//!
//! The permit decides who makes a parked goroutine runnable. If a property
//! here failed, the runtime would:
//! * lose a wakeup: a goroutine stays parked forever although its condition
//!   holds (loom reports a deadlock: the worker sleeps on an empty inbox);
//! * queue a goroutine twice, or while it still runs on its old stack: two
//!   workers resume one coroutine, i.e. memory corruption (caught by the
//!   `running` flag, by a leftover inbox entry, and by loom's race detector
//!   on the goroutine's "stack" cell, which only its current owner may
//!   touch);
//! * on the rare `BLOCKING` path (a goroutine that blocks its worker thread
//!   instead of suspending), sleep through the unpark meant for it.
#![cfg(loom)]

use gofer_runtime::__loom::{Parker, Permit, Wake};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::check;

/// One goroutine and its home worker.
struct World {
    permit: Permit,
    /// The goroutine's saved state (its stack). Touched by the goroutine
    /// while it runs and by whoever owns it while it is parked; loom flags
    /// any two accesses not ordered by happens-before.
    stack: UnsafeCell<u32>,
    /// True while the goroutine runs (between resume and suspend).
    running: AtomicBool,
    /// The home worker's inbox: `sched::ready` pushes a goroutine woken by
    /// another thread here (a count is enough: there is one goroutine).
    inbox: Mutex<usize>,
    /// The home worker's parker, unparked after an inbox push.
    parker: Parker,
}

impl World {
    /// The goroutine starts out running on its worker.
    fn new() -> World {
        World {
            permit: Permit::new(),
            stack: UnsafeCell::new(0),
            running: AtomicBool::new(true),
            inbox: Mutex::new(0),
            parker: Parker::new(),
        }
    }

    /// `park.rs::park_goroutine` plus the worker's half of it
    /// (`worker.rs::execute`, `Suspend::Park`), on the worker's thread.
    /// Returns `true` if the park was committed (the goroutine really
    /// parked and had to be scheduled by an unparker).
    fn park(&self) -> bool {
        // Goroutine stack.
        if self.permit.try_take() {
            return false;
        }
        self.suspend();
        // Worker stack, after the switch.
        let committed = self.permit.commit();
        if committed {
            // Parked: it belongs to whoever gets `Wake::Schedule`. The
            // worker has nothing else to run: it sleeps until its inbox
            // has the goroutine (`find_runnable` -> `sleep`).
            self.wait_for_inbox();
        }
        // Else a permit arrived during the switch (the failed commit took
        // it): `local.push_back(g)`, and the worker picks it straight back
        // up. Either way the goroutine resumes with its permit consumed:
        // nothing is left for it to do on the permit.
        self.resume();
        committed
    }

    /// Writes the goroutine's saved state: whoever calls this must be the
    /// goroutine itself or its current owner, which loom checks.
    fn touch_stack(&self) {
        // SAFETY: not guaranteed by the model: this is the property under
        // test. loom's `UnsafeCell` panics on any access that is not
        // ordered by happens-before with the previous one, before it
        // happens.
        self.stack.with_mut(|s| unsafe { *s += 1 });
    }

    /// The goroutine switches out: its stack is saved, it no longer runs.
    fn suspend(&self) {
        self.touch_stack();
        assert!(self.running.swap(false, Relaxed), "suspended twice");
    }

    /// The worker resumes the goroutine.
    fn resume(&self) {
        assert!(
            !self.running.swap(true, Relaxed),
            "goroutine resumed while it was running"
        );
        self.touch_stack();
    }

    fn wait_for_inbox(&self) {
        loop {
            {
                let mut inbox = self.inbox.lock().unwrap();
                if *inbox > 0 {
                    *inbox -= 1;
                    return;
                }
            }
            self.parker.park(None::<()>);
        }
    }

    /// `sched::unpark_g` for a goroutine that suspends (never `BLOCKING`).
    fn unpark(&self) -> Wake {
        let wake = self.permit.unpark();
        match wake {
            Wake::Schedule => {
                // We own the parked goroutine now (the `Arc` the scheduler
                // leaked): its saved state must be ours to touch.
                assert!(
                    !self.running.load(Relaxed),
                    "goroutine scheduled while it was running"
                );
                self.touch_stack();
                // `sched::ready` for a started goroutine: its home inbox.
                *self.inbox.lock().unwrap() += 1;
                self.parker.unpark();
            }
            Wake::Nothing => {}
            Wake::Thread => panic!("Wake::Thread for a goroutine that never blocked its thread"),
        }
        wake
    }

    /// Nothing is left queued: no unpark scheduled the goroutine without
    /// it being resumed from that schedule.
    fn assert_inbox_empty(&self) {
        assert_eq!(
            *self.inbox.lock().unwrap(),
            0,
            "goroutine scheduled but never resumed from that schedule (double schedule)"
        );
    }
}

#[test]
fn an_unpark_racing_with_park_resumes_the_goroutine_exactly_once() {
    check(|| {
        let w = Arc::new(World::new());
        let unparker = {
            let w = w.clone();
            thread::spawn(move || w.unpark())
        };
        let committed = w.park();
        let wake = unparker.join().unwrap();
        assert_eq!(
            committed,
            wake == Wake::Schedule,
            "a committed park is scheduled by its unparker, and only then"
        );
        w.assert_inbox_empty();
        assert!(w.running.load(Relaxed), "the goroutine runs after its park");
        // The one unpark was consumed by this park: no stale permit left.
        assert!(!w.permit.try_take(), "stale permit left behind");
    });
}

#[test]
fn of_two_racing_unparks_at_most_one_schedules_the_goroutine() {
    check(|| {
        let w = Arc::new(World::new());
        let schedules = Arc::new(AtomicUsize::new(0));
        let unparkers: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                let schedules = schedules.clone();
                thread::spawn(move || {
                    if w.unpark() == Wake::Schedule {
                        schedules.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        let committed = w.park();
        for u in unparkers {
            u.join().unwrap();
        }
        assert_eq!(
            schedules.load(Relaxed),
            usize::from(committed),
            "exactly one unparker schedules a committed park; none otherwise"
        );
        w.assert_inbox_empty();
    });
}

#[test]
fn parking_in_a_loop_on_a_condition_sees_every_round() {
    const ROUNDS: usize = 2;
    check(|| {
        let w = Arc::new(World::new());
        let cond = Arc::new(AtomicUsize::new(0));
        let waker = {
            let (w, cond) = (w.clone(), cond.clone());
            thread::spawn(move || {
                for round in 1..=ROUNDS {
                    cond.store(round, Release);
                    w.unpark();
                }
            })
        };
        // How real callers (channels, mutexes, join) use park: it may
        // return spuriously, on a permit left over from an earlier round.
        for round in 1..=ROUNDS {
            while cond.load(Acquire) < round {
                w.park();
            }
        }
        waker.join().unwrap();
        w.assert_inbox_empty();
    });
}

/// The woken goroutine does no atomic operation on its permit (the commit
/// or the scheduling unparker consumed it), so an unpark that lands after
/// it was scheduled must still be seen: it leaves a permit, and the next
/// park returns on it. The conditions are relaxed, so the permit alone has
/// to carry each waker's write to the goroutine.
#[test]
fn two_wakers_with_conditions_of_their_own_are_both_seen() {
    check(|| {
        let w = Arc::new(World::new());
        let flags = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let (w, flags) = (w.clone(), flags.clone());
                thread::spawn(move || {
                    flags[i].store(true, Relaxed);
                    w.unpark();
                })
            })
            .collect();
        while !(flags[0].load(Relaxed) && flags[1].load(Relaxed)) {
            w.park();
        }
        for waker in wakers {
            waker.join().unwrap();
        }
        w.assert_inbox_empty();
    });
}

/// `park.rs::park_blocking_thread`, verbatim but for the deadline: the
/// goroutine keeps its worker thread and sleeps on the worker's parker.
fn park_blocking_thread(permit: &Permit, parker: &Parker) {
    if !permit.commit_blocking() {
        permit.after_wake();
        return;
    }
    loop {
        parker.park(None::<()>);
        if !permit.cancel_blocking() {
            permit.after_wake();
            return;
        }
        if !permit.commit_blocking() {
            permit.after_wake();
            return;
        }
    }
}

#[test]
fn a_goroutine_blocking_its_thread_is_woken_through_the_worker_parker() {
    check(|| {
        let permit = Arc::new(Permit::new());
        // The worker's parker: the goroutine blocks the worker's thread on
        // it, and unrelated wakeups of that worker (inbox pushes for other
        // goroutines) unpark it too.
        let parker = Arc::new(Parker::new());
        let cond = Arc::new(AtomicBool::new(false));
        let waker = {
            let (permit, parker, cond) = (permit.clone(), parker.clone(), cond.clone());
            thread::spawn(move || {
                cond.store(true, Release);
                // `sched::unpark_g`.
                match permit.unpark() {
                    Wake::Thread => parker.unpark(),
                    Wake::Nothing => {}
                    Wake::Schedule => panic!("a blocking goroutine was scheduled"),
                }
            })
        };
        let stray = {
            let parker = parker.clone();
            thread::spawn(move || parker.unpark())
        };
        // `park_goroutine` while panicking.
        while !cond.load(Acquire) {
            if permit.try_take() {
                continue;
            }
            park_blocking_thread(&permit, &parker);
        }
        waker.join().unwrap();
        stray.join().unwrap();
    });
}
