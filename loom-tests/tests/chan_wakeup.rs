//! Models of the blocking send/receive wakeup of the buffered channels
//! (`chan/src/flavors/array.rs` for `bounded(n > 1)`, here `bounded(2)`,
//! `flavors/list.rs` for `unbounded()`, and `SyncWaker` in `waker.rs`;
//! `bounded(1)` is `flavors/small.rs`, whose waiters register and re-check
//! under the channel's lock and are completed by their peer — Go's
//! hand-off — rather than woken to retry): a task that finds the
//! channel empty (or full) spins briefly, then *registers* in the wait
//! list, *re-checks* the channel, and only then *parks*; its peer changes
//! the channel, then reads the wait list's `is_empty` flag without the
//! lock, and wakes a waiter only if there is one.
//!
//! The models drive gofer-chan's public API: under `--cfg loom` the crate
//! compiles against loom's atomics and locks, and its runtime hooks
//! (park/unpark, the current task) are a loom double (`chan/src/rt.rs`).
//!
//! If a property here failed, the register/re-check/notify handshake would
//! have a window in which the peer's change and the waiter's registration
//! miss each other: the waiter sleeps forever next to a message it could
//! take, or room it could use (loom reports a deadlock). A failed assert
//! means a message was lost, duplicated or reordered.
//!
//! Each model is checked from several starting schedules ([`sweep`]):
//!
//! * the peer `0..=6` turns late: the waiter yields a few times in its
//!   optimistic spin before it registers (4 times with `utils.rs`'s
//!   `Backoff`), and each yield hands the peer the CPU; with a preemption
//!   bound of 2 loom cannot hold the peer back through all of them, so
//!   without a late peer the register/re-check window is never reached
//!   (checked: dropping the re-check from `array.rs` `recv` then passes);
//! * the main thread `1..=2` turns late, so the spawned thread runs first:
//!   loom's partial-order reduction remembers only the last access to each
//!   atomic, so when a thread loads a word and then CASes it (every
//!   `start_send`), an earlier load by another thread is forgotten and the
//!   orders where the CAS comes first are never tried (loom#392, loom#166;
//!   a `try_recv` racing a `send` runs 1 execution from the default start).
#![cfg(loom)]

use gofer_chan::{Receiver, Sender, TryRecvError, bounded, unbounded};
use loom::thread;
use loom_tests::sweep;

/// The main thread blocks in `recv` while a spawned thread sends one
/// message: it is received exactly once.
fn recv_vs_send(make: fn() -> (Sender<u32>, Receiver<u32>)) {
    sweep(2, 6, move |late| {
        let (s, r) = make();
        let sender = thread::spawn(move || {
            late.peer();
            s.send(7).unwrap();
            s
        });
        late.main();
        assert_eq!(r.recv(), Ok(7));
        let s = sender.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

#[test]

fn a_blocking_recv_on_bounded_one_is_woken_by_a_send() {
    recv_vs_send(|| bounded(1));
}

#[test]
fn a_blocking_recv_on_bounded_two_is_woken_by_a_send() {
    recv_vs_send(|| bounded(2));
}

#[test]
fn a_blocking_recv_on_unbounded_is_woken_by_a_send() {
    recv_vs_send(unbounded);
}

/// The main thread blocks in `send` on a full `bounded(1)` while a
/// spawned thread receives: both messages arrive, once each, in order.
#[test]

fn a_blocking_send_on_a_full_bounded_one_is_woken_by_a_recv() {
    sweep(2, 6, |late| {
        let (s, r) = bounded(1);
        s.try_send(1u32).unwrap(); // full
        let receiver = thread::spawn(move || {
            late.peer();
            assert_eq!(r.recv(), Ok(1));
            assert_eq!(r.recv(), Ok(2));
            r
        });
        late.main();
        s.send(2).unwrap();
        let r = receiver.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A spawned thread sends two messages through `bounded(1)`, so its second
/// send waits for room, while the main thread receives both, possibly
/// blocking on each: they arrive once each, in order.
#[test]

fn two_messages_through_a_bounded_one_arrive_once_each_in_order() {
    sweep(2, 6, |late| {
        let (s, r) = bounded(1);
        let sender = thread::spawn(move || {
            late.peer();
            s.send(1u32).unwrap();
            s.send(2).unwrap();
            s
        });
        late.main();
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        let s = sender.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

/// A spawned thread fills `bounded(2)` (the ring) and blocks on a third
/// message while the main thread receives all three: once each, in order.
#[test]
fn three_messages_through_a_bounded_two_arrive_once_each_in_order() {
    sweep(2, 6, |late| {
        let (s, r) = bounded(2);
        let sender = thread::spawn(move || {
            late.peer();
            for v in 1..=3u32 {
                s.send(v).unwrap();
            }
            s
        });
        late.main();
        for v in 1..=3u32 {
            assert_eq!(r.recv(), Ok(v));
        }
        let s = sender.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

/// Two senders race one receiver; each message arrives exactly once. (The
/// ring, `bounded(n > 1)`, cannot be checked this way: while one sender is
/// preempted between claiming a slot and publishing it, the other sender
/// and the receiver both wait for it, yielding, and loom lets two yielding
/// threads hand the CPU to each other forever without charging a
/// preemption. `bounded(1)` has no such window: everything happens under
/// its lock, and a sender that finds it full parks with its message,
/// which the receiver moves into the slot it frees.)
fn two_senders_each_deliver_exactly_once(make: fn() -> (Sender<u32>, Receiver<u32>)) {
    sweep(1, 0, move |late| {
        let (s, r) = make();
        let senders: Vec<_> = [1, 2]
            .into_iter()
            .map(|v| {
                let s = s.clone();
                thread::spawn(move || {
                    late.peer();
                    s.send(v).unwrap();
                })
            })
            .collect();
        late.main();
        let a: u32 = r.recv().unwrap();
        let b = r.recv().unwrap();
        assert!(matches!((a, b), (1, 2) | (2, 1)), "received {a} and {b}");
        for t in senders {
            t.join().unwrap();
        }
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

#[test]
fn two_senders_on_unbounded_each_deliver_exactly_once() {
    two_senders_each_deliver_exactly_once(unbounded);
}

#[test]
fn two_senders_on_bounded_one_each_deliver_exactly_once() {
    two_senders_each_deliver_exactly_once(|| bounded(1));
}
