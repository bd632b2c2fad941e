//! `Condvar` with gofer-sync's `Mutex`: `notify_one` and `notify_all` wake
//! waiters (none is lost), `wait_while` re-checks its condition,
//! `wait_timeout`/`wait_timeout_while` wait at least the timeout (lower
//! bounds only), and a bounded producer/consumer queue delivers every
//! item exactly once.

#[macro_use]
mod common;

use common::*;
use gofer_sync::{Condvar, Mutex, WaitGroup};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

fn notify_one_wakes_a_waiter(mode: Mode) {
    let ready = Mutex::new(false);
    let cv = Condvar::new();
    scope(mode, |s| {
        let waiter = s.spawn(|| {
            let g = cv.wait_while(ready.lock(), |r| !*r);
            assert!(*g);
        });
        sleep(Duration::from_millis(5)); // usually waiting by now
        *ready.lock() = true;
        cv.notify_one();
        waiter.join();
    });
}
all_modes!(notify_one_wakes_a_waiter);

/// Every one of `n` waiters wakes from a single `notify_all`, once all of
/// them are known to be waiting (they count themselves under the lock
/// before waiting, and `wait` releases it only once enqueued).
fn notify_all_wakes_every_waiter(mode: Mode) {
    const WAITERS: usize = 6;
    let state = Mutex::new((0usize, false)); // (waiting, go)
    let cv = Condvar::new();
    let woken = AtomicUsize::new(0);
    scope(mode, |s| {
        for _ in 0..WAITERS {
            s.spawn(|| {
                let mut g = state.lock();
                g.0 += 1;
                while !g.1 {
                    g = cv.wait(g);
                }
                woken.fetch_add(1, SeqCst);
            });
        }
        loop {
            let mut g = state.lock();
            if g.0 == WAITERS {
                g.1 = true;
                break;
            }
            drop(g);
            relax();
        }
        cv.notify_all();
    });
    assert_eq!(woken.load(SeqCst), WAITERS);
}
all_modes!(notify_all_wakes_every_waiter);

/// A token per `notify_one`: waiters take tokens under the lock and wait
/// while there are none. Every notification wakes a waiter (or finds one
/// not yet waiting, which then sees the token), so all of them finish.
fn every_notify_one_is_delivered(mode: Mode) {
    const WAITERS: usize = 4;
    const ROUNDS: usize = 200;
    let tokens = Mutex::new(0usize);
    let cv = Condvar::new();
    let taken = AtomicUsize::new(0);
    scope(mode, |s| {
        for _ in 0..WAITERS {
            s.spawn(|| {
                for _ in 0..ROUNDS {
                    let mut g = cv.wait_while(tokens.lock(), |t| *t == 0);
                    *g -= 1;
                    taken.fetch_add(1, SeqCst);
                }
            });
        }
        for i in 0..WAITERS * ROUNDS {
            *tokens.lock() += 1;
            cv.notify_one();
            if i % 16 == 0 {
                relax();
            }
        }
    });
    assert_eq!(taken.load(SeqCst), WAITERS * ROUNDS);
    assert_eq!(*tokens.lock(), 0);
}
all_modes!(every_notify_one_is_delivered);

/// `wait_while` returns only once the condition is false, however many
/// notifications come before that.
fn wait_while_rechecks_the_condition(mode: Mode) {
    let n = Mutex::new(0);
    let cv = Condvar::new();
    scope(mode, |s| {
        let waiter = s.spawn(|| *cv.wait_while(n.lock(), |n| *n < 5));
        for _ in 0..5 {
            sleep(Duration::from_millis(1));
            *n.lock() += 1;
            cv.notify_all();
        }
        assert_eq!(waiter.join(), 5);
    });
}
all_modes!(wait_while_rechecks_the_condition);

fn wait_timeout_without_a_notification_times_out_after_the_timeout(mode: Mode) {
    run(mode, || {
        let m = Mutex::new(());
        let cv = Condvar::new();
        let t = Instant::now();
        let (g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(30));
        assert_waited(t.elapsed(), Duration::from_millis(30));
        assert!(r.timed_out());
        drop(g);
        assert!(!m.is_locked());
    });
}
mode_tests!(wait_timeout_without_a_notification_times_out_after_the_timeout);

fn wait_timeout_with_a_notification_does_not_time_out(mode: Mode) {
    let m = Mutex::new(false);
    let cv = Condvar::new();
    let waiting = AtomicBool::new(false);
    scope(mode, |s| {
        let waiter = s.spawn(|| {
            let g = m.lock();
            waiting.store(true, SeqCst);
            let t = Instant::now();
            let (g, r) = cv.wait_timeout_while(g, LONG, |set| !*set);
            assert!(!r.timed_out());
            assert!(*g);
            assert!(t.elapsed() < LONG);
        });
        while !waiting.load(SeqCst) {
            relax();
        }
        *m.lock() = true; // the waiter holds the lock until it waits
        cv.notify_one();
        waiter.join();
    });
}
all_modes!(wait_timeout_with_a_notification_does_not_time_out);

fn wait_timeout_while_times_out_when_the_condition_stays_true(mode: Mode) {
    let m = Mutex::new(0);
    let cv = Condvar::new();
    let stop = AtomicBool::new(false);
    scope(mode, |s| {
        // Notifications that do not make the condition false do not end it.
        s.spawn(|| {
            while !stop.load(SeqCst) {
                *m.lock() += 1;
                cv.notify_all();
                sleep(Duration::from_millis(2));
            }
        });
        let t = Instant::now();
        let (g, r) = cv.wait_timeout_while(m.lock(), Duration::from_millis(30), |_| true);
        assert_waited(t.elapsed(), Duration::from_millis(30));
        assert!(r.timed_out());
        drop(g);
        stop.store(true, SeqCst);
    });
}
all_modes!(wait_timeout_while_times_out_when_the_condition_stays_true);

/// A bounded queue (capacity 4) built from a `Mutex<VecDeque>` and two
/// condition variables; producers and consumers park on "full" and
/// "empty". When a `WaitGroup` says the producers are done, one end marker
/// per consumer goes through the same queue. Every item arrives exactly
/// once and nothing is left over.
fn a_producer_consumer_queue_delivers_every_item_once(mode: Mode) {
    const PRODUCERS: usize = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: usize = 2_000; // per producer
    const CAP: usize = 4;
    let q = Mutex::new(VecDeque::new());
    let not_empty = Condvar::new();
    let not_full = Condvar::new();
    let push = |item: Option<usize>| {
        let mut g = not_full.wait_while(q.lock(), |q| q.len() == CAP);
        g.push_back(item);
        drop(g);
        not_empty.notify_one();
    };
    let tally = Tally::new(PRODUCERS * ITEMS);
    let producers = WaitGroup::new();
    scope(mode, |s| {
        for p in 0..PRODUCERS {
            producers.add(1);
            let (push, producers) = (&push, producers.clone());
            s.spawn(move || {
                for i in 0..ITEMS {
                    push(Some(p * ITEMS + i));
                }
                producers.done();
            });
        }
        for _ in 0..CONSUMERS {
            s.spawn(|| {
                loop {
                    let mut g = not_empty.wait_while(q.lock(), |q| q.is_empty());
                    let item = g.pop_front().expect("not empty");
                    drop(g);
                    not_full.notify_one();
                    match item {
                        Some(v) => tally.hit(v),
                        None => return,
                    }
                }
            });
        }
        producers.wait();
        for _ in 0..CONSUMERS {
            push(None);
        }
    });
    tally.assert_each(1);
    assert!(q.lock().is_empty());
}
all_modes!(a_producer_consumer_queue_delivers_every_item_once);

/// A grant must reach only the wait it was meant for: a `wait_timeout`
/// whose deadline passes while `notify_all` grants its queue (after
/// releasing the queue lock) must not leave that grant to end the task's
/// *next* wait. Here that next wait is a `WaitGroup::wait` on a count of 1,
/// which must not return before the count reaches 0. (It once did: the
/// timed-out waiter "removed" itself, already taken out, and returned, and
/// the late grant then ended its next wait — any wait through the task's
/// wait slot. Fixed in 70dbde9: `queue::wait` now waits for a grant on its
/// way. The loom model
/// `a_wait_group_wait_is_not_ended_by_a_stale_condvar_grant`, in
/// loom-tests' `sync_waitgroup.rs`, pins it deterministically; this stress
/// run caught it within a few hundred rounds most times on threads.)
fn a_timed_out_waiter_does_not_get_a_late_notify_all_grant_in_its_next_wait(mode: Mode) {
    const WAITERS: usize = 16;
    let m = Mutex::new(());
    let cv = Condvar::new();
    let early = AtomicUsize::new(0);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && early.load(SeqCst) == 0 {
        let gate = WaitGroup::new();
        gate.add(1);
        let stop = AtomicBool::new(false);
        let arrived = AtomicUsize::new(0);
        scope(mode, |s| {
            for _ in 0..WAITERS {
                s.spawn(|| {
                    let g = m.lock();
                    arrived.fetch_add(1, SeqCst);
                    let (g, _) = cv.wait_timeout(g, Duration::from_micros(300));
                    drop(g);
                    gate.wait();
                    if gate.count() != 0 {
                        early.fetch_add(1, SeqCst);
                    }
                });
            }
            s.spawn(|| {
                while !stop.load(SeqCst) {
                    cv.notify_all();
                    relax();
                }
            });
            while arrived.load(SeqCst) < WAITERS {
                relax();
            }
            sleep(Duration::from_millis(3));
            stop.store(true, SeqCst);
            gate.done();
        });
    }
    assert_eq!(
        early.load(SeqCst),
        0,
        "a WaitGroup::wait returned with the count at 1 (a stale condvar grant)"
    );
}
mode_tests!(a_timed_out_waiter_does_not_get_a_late_notify_all_grant_in_its_next_wait:
    threads,
    mixed,
);
