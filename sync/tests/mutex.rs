//! `Mutex`: mutual exclusion under many goroutines and threads (exact
//! counts of non-atomic increments, and an "inside" flag that catches two
//! owners at once), `try_lock`, `get_mut`/`into_inner`, no lost wakeups in
//! long contended runs, bounded unfairness (a waiter gets the lock while
//! others hammer it), and unlocking when a holder panics.

#[macro_use]
mod common;

use common::*;
use gofer_sync::Mutex;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// A counter behind the mutex, updated as a read, an optional pause and a
/// write (so an overlap loses increments), with an `inside` flag that
/// catches an overlap directly.
struct Guarded {
    m: Mutex<usize>,
    inside: AtomicBool,
}

impl Guarded {
    fn new() -> Guarded {
        Guarded {
            m: Mutex::new(0),
            inside: AtomicBool::new(false),
        }
    }

    /// One locked increment; `pause` yields (a goroutine lets the others
    /// of its worker run, and they queue behind the held lock).
    fn increment(&self, pause: bool) {
        let mut g = self.m.lock();
        assert!(!self.inside.swap(true, SeqCst), "two owners at once");
        let v = *g;
        if pause {
            relax();
        }
        *g = v + 1;
        self.inside.store(false, SeqCst);
    }
}

fn sixteen_tasks_times_ten_thousand_increments_are_exact(mode: Mode) {
    const TASKS: usize = 16;
    const ITERS: usize = 10_000;
    let g = Guarded::new();
    scope(mode, |s| {
        for _ in 0..TASKS {
            s.spawn(|| {
                for i in 0..ITERS {
                    g.increment(i % 100 == 0);
                }
            });
        }
    });
    assert_eq!(g.m.into_inner(), TASKS * ITERS);
}
all_modes!(sixteen_tasks_times_ten_thousand_increments_are_exact);

/// Holders that sleep with the lock held make every other task queue and
/// park; each unlock must wake the next. A lost wakeup hangs (and the
/// watchdog fails the test).
fn long_contended_runs_with_parking_holders_complete(mode: Mode) {
    const TASKS: usize = 8;
    const ITERS: usize = 300;
    let g = Guarded::new();
    scope(mode, |s| {
        for t in 0..TASKS {
            let g = &g;
            s.spawn(move || {
                for i in 0..ITERS {
                    if (i + t) % 25 == 0 {
                        let _held = g.m.lock();
                        sleep(Duration::from_micros(200));
                    }
                    g.increment(i % 3 == 0);
                }
            });
        }
    });
    assert_eq!(g.m.into_inner(), TASKS * ITERS);
}
all_modes!(long_contended_runs_with_parking_holders_complete);

fn try_lock_fails_while_another_task_holds_the_lock(mode: Mode) {
    let m = Mutex::new(1);
    let (locked_s, locked_r) = gofer_chan::bounded(0);
    let (release_s, release_r) = gofer_chan::bounded::<()>(0);
    scope(mode, |s| {
        let holder = s.spawn(|| {
            let mut g = m.lock();
            locked_s.send(()).unwrap();
            release_r.recv().unwrap();
            *g = 2;
        });
        locked_r.recv().unwrap();
        assert!(m.try_lock().is_none());
        assert!(m.is_locked());
        release_s.send(()).unwrap();
        holder.join();
        let g = m.try_lock().expect("free after the holder unlocked");
        assert_eq!(*g, 2);
    });
}
all_modes!(try_lock_fails_while_another_task_holds_the_lock);

/// The mutex is not reentrant: `try_lock` by the holder itself fails
/// (where `lock` would deadlock).
fn try_lock_by_the_holder_itself_fails(mode: Mode) {
    run(mode, || {
        let m = Mutex::new(());
        let g = m.lock();
        assert!(m.try_lock().is_none());
        drop(g);
        assert!(!m.is_locked());
        assert!(m.try_lock().is_some());
    });
}
mode_tests!(try_lock_by_the_holder_itself_fails);

#[test]
fn get_mut_and_into_inner_see_every_locked_write() {
    let mut m = Mutex::new(Vec::new());
    scope(Mode::Mixed, |s| {
        for i in 0..4 {
            let m = &m;
            s.spawn(move || m.lock().push(i));
        }
    });
    m.get_mut().sort();
    assert_eq!(*m.get_mut(), [0, 1, 2, 3]);
    m.get_mut().push(4);
    assert_eq!(m.into_inner(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_static_mutex_is_shared_by_goroutines_and_threads() {
    static COUNT: Mutex<u32> = Mutex::new(0);
    scope(Mode::Mixed, |s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..100 {
                    *COUNT.lock() += 1;
                }
            });
        }
    });
    assert_eq!(*COUNT.lock(), 800);
}

/// Bounded unfairness: while several tasks lock and unlock in a loop, a
/// newcomer still gets the lock (after about 1 ms of waiting the unlock
/// hands it over instead of letting the hammering tasks barge in). Only
/// completion is asserted, never timing.
fn a_waiter_gets_the_lock_while_others_hammer_it(mode: Mode) {
    const HAMMERS: usize = 4;
    let m = Mutex::new(0usize);
    let stop = AtomicBool::new(false);
    let rounds = AtomicUsize::new(0);
    scope(mode, |s| {
        for _ in 0..HAMMERS {
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    let mut g = m.lock();
                    *g += 1;
                    relax(); // hold it across a yield: the others queue
                    drop(g);
                    rounds.fetch_add(1, SeqCst);
                }
            });
        }
        // Let the hammering get going, then ask for the lock once.
        while rounds.load(SeqCst) < 1_000 {
            relax();
        }
        let g = m.lock();
        stop.store(true, SeqCst);
        drop(g);
    });
    assert!(rounds.load(SeqCst) >= 1_000);
}
all_modes!(a_waiter_gets_the_lock_while_others_hammer_it);

/// Every one of several tasks that each want the lock many times while a
/// dedicated hammer holds it most of the time finishes.
fn every_waiter_finishes_while_one_task_barely_lets_go(mode: Mode) {
    let m = Mutex::new(0usize);
    let stop = AtomicBool::new(false);
    scope(mode, |s| {
        let hammer = s.spawn(|| {
            while !stop.load(SeqCst) {
                let g = m.lock();
                relax();
                relax();
                drop(g);
            }
        });
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..200 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for w in waiters {
            w.join();
        }
        stop.store(true, SeqCst);
        hammer.join();
    });
    assert_eq!(m.into_inner(), 600);
}
all_modes!(every_waiter_finishes_while_one_task_barely_lets_go);

/// A holder that panics unlocks on unwinding (there is no poisoning): the
/// next `lock` succeeds and sees the data as the panicking task left it.
fn a_panicking_holder_unlocks_and_its_writes_survive(mode: Mode) {
    let m = Arc::new(Mutex::new(0));
    let h = {
        let m = m.clone();
        spawn_static(mode.nth(0), move || {
            let mut g = m.lock();
            *g = 7;
            panic!("deliberate panic with the lock held");
        })
    };
    let panicked = catch_unwind(AssertUnwindSafe(|| h.join())).is_err();
    assert!(panicked);
    run(mode, || {
        assert!(!m.is_locked());
        let mut g = m.lock();
        assert_eq!(*g, 7);
        *g += 1;
    });
    assert_eq!(*m.lock(), 8);
}
all_modes!(a_panicking_holder_unlocks_and_its_writes_survive);

/// A task already parked waiting for the lock is woken when the holder
/// panics: the unlock on unwinding hands it on like any unlock.
fn a_waiter_parked_behind_a_panicking_holder_is_woken(mode: Mode) {
    let m = Arc::new(Mutex::new(0));
    let (locked_s, locked_r) = gofer_chan::bounded(0);
    let holder = {
        let m = m.clone();
        spawn_static(mode.nth(0), move || {
            let _g = m.lock();
            locked_s.send(()).unwrap();
            // Give the waiter time to queue and park behind us.
            sleep(Duration::from_millis(20));
            panic!("deliberate panic with a waiter queued");
        })
    };
    locked_r.recv().unwrap();
    let waiter = {
        let m = m.clone();
        spawn_static(mode.nth(1), move || {
            *m.lock() += 1;
        })
    };
    waiter.join();
    assert!(catch_unwind(AssertUnwindSafe(|| holder.join())).is_err());
    assert_eq!(*m.lock(), 1);
}
all_modes!(a_waiter_parked_behind_a_panicking_holder_is_woken);
