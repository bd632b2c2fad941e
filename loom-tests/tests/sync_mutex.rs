//! Models of gofer-sync's `Mutex` (`sync/src/mutex.rs`, on the wait queue
//! of `sync/src/queue.rs`). The state word has a LOCKED and a QUEUED bit.
//! A locker that finds the lock held spins twice (yielding), then takes
//! the queue's lock, sets QUEUED, *re-checks* LOCKED under the queue lock,
//! and only then enqueues and parks. `unlock` is one CAS from LOCKED to 0;
//! if QUEUED is set that CAS fails and the slow path pops the longest
//! waiter under the queue lock and either
//!
//! * wakes it to *compete* (normal mode: the lock is released, QUEUED
//!   stays set, an arriving locker may barge in first and the woken waiter
//!   then re-queues at the *front*), or
//! * *hands* it the lock (starvation mode: the lock stays LOCKED and the
//!   waiter owns it on waking).
//!
//! The waiter is starving after 1 ms of waiting; under `cfg(loom)` instead
//! once it has been woken and lost the lock at least once (`Arrival` in
//! `mutex.rs`), which loom controls. So in these models a waiter that was
//! woken and lost to a barging locker is handed the lock by the next
//! unlock, and every execution takes the same branches on replay.
//!
//! The models drive the public API on loom threads (under `--cfg loom`
//! gofer-sync takes its atomics and locks from loom, `sync/src/loom.rs`,
//! and `gofer_runtime::park` is a loom double, `runtime/src/park_loom.rs`).
//! The protected counter is a `loom::cell::UnsafeCell`, so loom reports two
//! owners at once — or an owner that does not see the previous owner's
//! write (a missing Acquire/Release) — as a data race.
//!
//! What would break (checked by hand in `mutex.rs`): without the re-check
//! under the queue lock, an unlock that ran between the waiter's look at
//! LOCKED and its enqueue is missed and the waiter sleeps forever (all
//! five models deadlock). A hand-off that stored the state without LOCKED
//! would let a later locker in beside the handed owner
//! (`a_starving_waiter_*` reports concurrent writes to the counter). A wake
//! that cleared QUEUED while a waiter is still queued would lose that
//! waiter's wakeup.
//!
//! Spin-before-queue: a locker yields twice before it queues, and each
//! yield hands the holder the CPU for free, so with 2 preemptions loom
//! rarely keeps the lock held long enough for the waiter to queue. Each
//! model therefore runs from several starting schedules ([`sweep`]): the
//! holder yields `0..=hold` times *inside* its critical section (in the
//! two-thread models the hand-off is reached only from `hold+2`).
#![cfg(loom)]

use gofer_runtime::park::Task;
use gofer_sync::Mutex;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::Ordering::Relaxed;
use loom::thread;
use loom_tests::check;

/// A counter only ever touched with the mutex held.
struct Counter(Mutex<UnsafeCell<usize>>);

impl Counter {
    fn new() -> Arc<Counter> {
        Arc::new(Counter(Mutex::new(UnsafeCell::new(0))))
    }

    /// Locks, yields `hold` times with the lock held, increments, unlocks.
    fn increment(&self, hold: usize) {
        let g = self.0.lock();
        yields(hold);
        // SAFETY: the lock is held (loom checks that claim).
        g.with_mut(|p| unsafe { *p += 1 });
    }

    fn get(&self) -> usize {
        let g = self.0.lock();
        // SAFETY: the lock is held.
        g.with(|p| unsafe { *p })
    }
}

/// Two threads each lock once: both get in, one at a time, and neither is
/// left parked (a lost wakeup would be reported as a deadlock).
#[test]
fn two_threads_lock_once_each_exclusively_and_both_finish() {
    sweep(3, |hold| {
        let c = Counter::new();
        let t = {
            let c = c.clone();
            thread::spawn(move || c.increment(0))
        };
        c.increment(hold);
        t.join().unwrap();
        assert_eq!(c.get(), 2);
    });
}

/// The main thread locks twice while another locks once: a waiter woken in
/// normal mode may lose the lock to the main thread's second lock (it
/// barges), goes back to the front of the queue, and is woken again (under
/// loom, handed the lock: it is starving now).
#[test]
fn a_woken_waiter_that_loses_to_a_barging_locker_requeues_and_gets_the_lock() {
    sweep(3, |hold| {
        let c = Counter::new();
        let t = {
            let c = c.clone();
            thread::spawn(move || c.increment(0))
        };
        c.increment(hold);
        c.increment(0);
        t.join().unwrap();
        assert_eq!(c.get(), 3);
    });
}

/// Three threads each lock once: each waiter is woken by one unlock, none
/// twice, none never.
#[test]
fn three_threads_lock_once_each_exclusively_and_all_finish() {
    sweep(0, |hold| {
        let c = Counter::new();
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                thread::spawn(move || c.increment(0))
            })
            .collect();
        c.increment(hold);
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(c.get(), 3);
    });
}

/// The grant `sync/src/mutex.rs` writes into a waiter's wait slot when it
/// hands it the lock (`HANDED` there).
const HANDED: usize = 2;

/// Starvation-mode hand-off: the main thread locks three times, another
/// thread once. If that thread queues while the main thread holds the
/// lock, the unlock wakes it to compete, the main thread's next lock
/// barges in first, the waiter re-queues (starving now), and the next
/// unlock hands it the lock: LOCKED stays set and it wakes as the owner,
/// while the main thread's following lock waits behind it. The waiter
/// reads its wait slot to tell whether it was handed the lock, and the
/// test fails unless that happens at `hold+2` and `hold+3`.
#[test]
fn a_starving_waiter_is_handed_the_lock_and_owns_it_exclusively() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const MAX: usize = 3;
    // Per start: in how many executions the waiter was handed the lock.
    let handed: std::sync::Arc<[AtomicUsize; MAX + 1]> = Default::default();
    let counts = handed.clone();
    sweep(MAX, move |hold| {
        let c = Counter::new();
        let t = {
            let (c, counts) = (c.clone(), counts.clone());
            thread::spawn(move || {
                let g = c.0.lock();
                if Task::current().wait_slot().state.load(Relaxed) == HANDED {
                    counts[hold].fetch_add(1, Ordering::Relaxed);
                }
                // SAFETY: the lock is held.
                g.with_mut(|p| unsafe { *p += 1 });
            })
        };
        c.increment(hold);
        c.increment(0);
        c.increment(0);
        t.join().unwrap();
        assert_eq!(c.get(), 4);
    });
    let handed: Vec<usize> = handed.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    eprintln!("loom: hand-offs per start (hold+0..={MAX}): {handed:?}");
    assert!(
        handed[2..].iter().all(|&n| n > 0),
        "the hand-off branch was not reached: {handed:?}"
    );
}

/// `try_lock` racing a blocking `lock`: it either gets the lock or sees it
/// held, never both owners, and the blocking locker is never left parked.
#[test]
fn try_lock_racing_a_blocking_lock_never_gives_two_owners() {
    sweep(2, |hold| {
        let c = Counter::new();
        let t = {
            let c = c.clone();
            thread::spawn(move || c.increment(0))
        };
        let mut n = 1;
        {
            let g = c.0.lock();
            yields(hold);
            // SAFETY: the lock is held.
            g.with_mut(|p| unsafe { *p += 1 });
        }
        if let Some(g) = c.0.try_lock() {
            // SAFETY: the lock is held.
            g.with_mut(|p| unsafe { *p += 1 });
            n += 1;
        }
        t.join().unwrap();
        assert_eq!(c.get(), n + 1);
    });
}

fn yields(n: usize) {
    for _ in 0..n {
        thread::yield_now();
    }
}

/// Checks `model(hold)` for `hold` in `0..=max`; each start prints its
/// executions under `test [hold+h]`.
fn sweep<F>(max: usize, model: F)
where
    F: Fn(usize) + Send + Sync + 'static,
{
    let test = std::thread::current().name().unwrap_or("model").to_owned();
    let model = std::sync::Arc::new(model);
    for hold in 0..=max {
        let model = model.clone();
        // A named thread, so `check` reports which start this was.
        let run = std::thread::Builder::new()
            .name(format!("{test} [hold+{hold}]"))
            .spawn(move || check(move || model(hold)))
            .expect("spawn a model thread")
            .join();
        if let Err(panic) = run {
            std::panic::resume_unwind(panic);
        }
    }
}
