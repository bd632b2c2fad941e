//! Models of the worker that sleeps in the netpoller
//! (`Parker::park_polling`, `runtime/src/sched/parker.rs`): it sets
//! `in_poll` before it announces PARKED, and `unpark`, when it replaced
//! PARKED, wakes it through the poller (an eventfd) if `in_poll` is set and
//! through the futex otherwise.
//!
//! The poller is modelled as a level-triggered event: `wake` sets it, and
//! `poll_wait` blocks until it is set and then clears it, as the blocking
//! poll drains the eventfd; `wake` skips the write while an earlier one is
//! pending (`Shard::wake_pending`), and the drain clears that flag after
//! the read, as `netpoll/src/poller.rs` does. A real `epoll_wait` may also return for socket
//! events; the model's poller returns only when woken, which is the harder
//! case for the protocol.
//!
//! If a property here failed, a wakeup sent to a worker asleep in
//! `epoll_wait` would go to its futex instead (or the other way round) and
//! the worker would sleep with work in its inbox (loom reports a deadlock).
#![cfg(loom)]

use gofer_runtime::__loom::Parker;
use gofer_runtime::hooks::{Poll, set_poll};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use loom_tests::check;
use std::time::Duration;

loom::lazy_static! {
    /// The eventfd: is it readable?
    static ref EVENT: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
    /// `Shard::wake_pending` in `netpoll/src/poller.rs`: a write is pending.
    static ref WAKE_PENDING: AtomicBool = AtomicBool::new(false);
}

fn poll_now(_shard: usize) -> usize {
    0
}

fn watching(_shard: usize) -> bool {
    true
}

/// The blocking poll: returns once the eventfd is readable, then drains it
/// and clears the pending flag, in `dispatch`'s order.
fn poll_wait(_shard: usize, _timeout: Option<Duration>) -> usize {
    let (readable, cond) = &*EVENT;
    let mut readable = readable.lock().unwrap();
    while !*readable {
        readable = cond.wait(readable).unwrap();
    }
    *readable = false;
    drop(readable);
    WAKE_PENDING.store(false, Release);
    0
}

/// `poller::wake`: skips the write while one is pending.
fn wake(_shard: usize) {
    if WAKE_PENDING.swap(true, AcqRel) {
        return;
    }
    let (readable, cond) = &*EVENT;
    *readable.lock().unwrap() = true;
    cond.notify_one();
}

static POLL: Poll = Poll {
    poll_now,
    poll_wait,
    wake,
    watching,
};

fn install() {
    set_poll(Poll {
        poll_now,
        poll_wait,
        wake,
        watching,
    });
}

#[test]
fn an_unpark_reaches_a_worker_asleep_in_the_poller() {
    install();
    check(|| {
        let parker = Arc::new(Parker::new());
        let unparker = {
            let parker = parker.clone();
            thread::spawn(move || parker.unpark())
        };
        // One unpark, one polling park, in any order: the park must return.
        parker.park_polling(None, &POLL);
        unparker.join().unwrap();
    });
}

#[test]
fn a_worker_switching_between_poller_and_futex_gets_every_unpark() {
    install();
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
        // The owner sleeps in the poller, then on the futex, and so on: an
        // unparker may read `in_poll` from either kind of park, and must
        // still reach the one the owner is in.
        let mut polling = true;
        while arrived.load(Acquire) < 2 {
            if polling {
                parker.park_polling(None, &POLL);
            } else {
                parker.park(None::<()>);
            }
            polling = !polling;
        }
        for u in unparkers {
            u.join().unwrap();
        }
    });
}
