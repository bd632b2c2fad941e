//! Models of gofer-sync's `WaitGroup` (`sync/src/waitgroup.rs`, on the
//! wait queue of `sync/src/queue.rs`). `add`/`done` change the count with
//! one `fetch_add`; the one that brings it to zero takes the queue's
//! lock, re-checks that the count is still zero (else a new round has
//! begun), takes the whole queue and grants every waiter. `wait` returns at once
//! if the count is zero; otherwise it takes the queue's lock, *re-checks*
//! the count under it, and only then enqueues and parks until granted.
//!
//! The models drive the public API on loom threads (under `--cfg loom`
//! gofer-sync takes its atomics and locks from loom, `sync/src/loom.rs`,
//! and `gofer_runtime::park` is a loom double, `runtime/src/park_loom.rs`).
//! The work each task reports with `done` is a Relaxed store to a loom
//! atomic, read Relaxed after `wait`: it is visible only if `done` →
//! `wait` is a happens-before edge (AcqRel `fetch_add`, Acquire load).
//!
//! What would break: without the re-check under the queue lock, a `done`
//! that reaches zero between the waiter's first look and its enqueue finds
//! the queue empty, and the waiter sleeps forever (loom reports a
//! deadlock); without the wake in `add`, every waiter does. A wait that
//! returned early, or a count read with a weaker ordering, fails the
//! asserts. (Both negative checks were done by hand; see the README.)
#![cfg(loom)]

use gofer_sync::{Condvar, Mutex, WaitGroup};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use loom::thread;
use loom_tests::check;
use std::time::Duration;

/// Two threads each do their work and call `done` while the main thread
/// waits: `wait` returns only after both, sees both threads' work, and
/// never hangs.
#[test]
fn wait_returns_only_after_both_dones_and_sees_their_work() {
    check(|| {
        let wg = WaitGroup::new();
        wg.add(2);
        let work = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let ts: Vec<_> = (0..2)
            .map(|i| {
                let (wg, work) = (wg.clone(), work.clone());
                thread::spawn(move || {
                    work[i].store(true, Relaxed);
                    wg.done();
                })
            })
            .collect();
        wg.wait();
        assert_eq!(wg.count(), 0);
        assert!(work[0].load(Relaxed) && work[1].load(Relaxed));
        for t in ts {
            t.join().unwrap();
        }
    });
}

/// A thread adds for a second piece of work while the first is still
/// counted (as Go allows: `Add` with a positive count while a `Wait` is
/// pending), then both are done from two threads; the main thread's wait
/// returns only after both.
#[test]
fn an_add_from_another_thread_while_the_count_is_positive_is_waited_for() {
    check(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let work = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let added = Arc::new(AtomicBool::new(false));
        let adder = {
            let (wg, work, added) = (wg.clone(), work.clone(), added.clone());
            thread::spawn(move || {
                wg.add(1);
                added.store(true, Relaxed);
                work[0].store(true, Relaxed);
                wg.done();
            })
        };
        let finisher = {
            let (wg, work, added) = (wg.clone(), work.clone(), added.clone());
            thread::spawn(move || {
                // The first piece of work ends only after the second was
                // added (an ordering the program must provide, as in Go).
                while !added.load(Relaxed) {
                    thread::yield_now();
                }
                work[1].store(true, Relaxed);
                wg.done();
            })
        };
        wg.wait();
        assert!(work[0].load(Relaxed) && work[1].load(Relaxed));
        adder.join().unwrap();
        finisher.join().unwrap();
    });
}

/// Two threads wait on one count that the main thread brings to zero:
/// every waiter wakes (the zeroing `done` grants the whole queue).
#[test]
fn a_done_that_reaches_zero_wakes_every_waiter() {
    check(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        let work = Arc::new(AtomicBool::new(false));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (wg, work) = (wg.clone(), work.clone());
                thread::spawn(move || {
                    wg.wait();
                    assert!(work.load(Relaxed));
                })
            })
            .collect();
        work.store(true, Relaxed);
        wg.done();
        for t in ts {
            t.join().unwrap();
        }
    });
}

/// A wait group used for two rounds: the second `wait` waits for the
/// second round's `done`, not the first's. The second `add` comes after
/// the first `wait` returned, as Go requires. (The first round's last
/// `done` took the queue without re-checking the count, so it could grant
/// the second round's waiter; fixed in 70dbde9.)
#[test]
fn a_reused_wait_group_waits_for_the_second_round() {
    check(|| {
        let wg = WaitGroup::new();
        let round2 = WaitGroup::new();
        round2.add(1);
        let work = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        wg.add(1);
        let t = {
            let (wg, round2, work) = (wg.clone(), round2.clone(), work.clone());
            thread::spawn(move || {
                work[0].store(true, Relaxed);
                wg.done();
                round2.wait(); // until the main thread has added again
                work[1].store(true, Relaxed);
                wg.done();
            })
        };
        wg.wait();
        assert!(work[0].load(Relaxed));
        wg.add(1);
        round2.done();
        wg.wait();
        assert!(work[1].load(Relaxed));
        t.join().unwrap();
    });
}

/// A grant must reach only the wait it was meant for: a `wait_timeout`
/// that times out while `notify_all` is granting its queue outside the
/// lock waits for that grant, so the task's next wait, here a
/// `WaitGroup::wait`, returns only when the count is zero. (The late grant
/// used to land in that next wait; fixed in `queue.rs` in 70dbde9.)
#[test]
fn a_wait_group_wait_is_not_ended_by_a_stale_condvar_grant() {
    check(|| {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let wg = WaitGroup::new();
        wg.add(1);
        let notifier = {
            let (pair, wg) = (pair.clone(), wg.clone());
            thread::spawn(move || {
                pair.1.notify_all();
                wg.done();
            })
        };
        let (m, cv) = &*pair;
        let (g, _) = cv.wait_timeout(m.lock(), Duration::ZERO);
        drop(g);
        wg.wait();
        assert_eq!(wg.count(), 0, "wait returned with the count at 1");
        notifier.join().unwrap();
    });
}
