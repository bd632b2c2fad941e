//! Models of the OS-thread parker (`runtime/src/sched/parker.rs`): a
//! one-permit binary semaphore (EMPTY / NOTIFIED / PARKED) that worker
//! threads sleep on when they run out of goroutines, and that plain threads
//! and `BLOCKING` goroutines sleep on inside gofer's blocking calls.
//!
//! Under loom the parker sleeps on a Mutex + Condvar instead of a futex;
//! the state machine on the atomic word (`fetch_sub` to take a permit or
//! announce PARKED, `swap(NOTIFIED)` to unpark) is the one the runtime runs.
//!
//! If a property here failed, an unpark that lands before or while its
//! target parks would be lost and the thread would sleep forever: a worker
//! with work in its inbox, or a thread blocked on a channel that already has
//! a message (loom reports a deadlock).
#![cfg(loom)]

use gofer_runtime::__loom::Parker;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering::*};
use loom::thread;
use loom_tests::check;

#[test]
fn an_unpark_before_or_during_park_is_not_lost() {
    check(|| {
        let parker = Arc::new(Parker::new());
        let unparker = {
            let parker = parker.clone();
            thread::spawn(move || parker.unpark())
        };
        // One unpark, one park, in any order: the park must return.
        parker.park(None::<()>);
        unparker.join().unwrap();
    });
}

#[test]
fn unparks_from_two_threads_wake_a_thread_waiting_for_both() {
    check(|| {
        let parker = Arc::new(Parker::new());
        let arrived = Arc::new(AtomicUsize::new(0));
        let unparkers: Vec<_> = (0..2)
            .map(|_| {
                let (parker, arrived) = (parker.clone(), arrived.clone());
                thread::spawn(move || {
                    arrived.fetch_add(1, Release);
                    parker.unpark();
                })
            })
            .collect();
        // Two unparks may collapse into one permit; the second arrival must
        // still be seen, either before parking or through a second permit.
        while arrived.load(Acquire) < 2 {
            parker.park(None::<()>);
        }
        for u in unparkers {
            u.join().unwrap();
        }
    });
}

#[test]
fn parking_in_a_loop_on_a_condition_sees_every_round() {
    const ROUNDS: usize = 2;
    check(|| {
        let parker = Arc::new(Parker::new());
        let cond = Arc::new(AtomicUsize::new(0));
        let waker = {
            let (parker, cond) = (parker.clone(), cond.clone());
            thread::spawn(move || {
                for round in 1..=ROUNDS {
                    cond.store(round, Release);
                    parker.unpark();
                }
            })
        };
        // A stale permit from round 1 may make a round-2 park return early;
        // the loop re-checks, and the round-2 unpark must still arrive.
        for round in 1..=ROUNDS {
            while cond.load(Acquire) < round {
                parker.park(None::<()>);
            }
        }
        waker.join().unwrap();
    });
}
