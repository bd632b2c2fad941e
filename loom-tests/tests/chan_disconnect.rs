//! Models of disconnection waking the waiters of a channel: the last
//! sender's drop and `Sender::close` mark the channel (the mark bit on the
//! tail of `flavors/array.rs` and `flavors/list.rs`, the flag under the
//! lock of `flavors/zero.rs` and `flavors/small.rs`, which is `bounded(1)`) and then wake every registered waiter with
//! `Disconnected` (`Waker::disconnect` in `waker.rs`); a waiter about to
//! park re-checks `is_disconnected` after registering. The last receiver's
//! drop does the same for blocked senders, and discards what is buffered.
//!
//! If a property here failed, a task blocked in `recv` on a channel whose
//! senders are gone (or that was closed), or in `send` on a full channel
//! nobody will ever receive from, would sleep forever (loom reports a
//! deadlock) — Go's "close wakes every receiver" broken; a failed assert
//! means a buffered message was lost before the receiver saw `Err`, a
//! rejected send's message vanished instead of coming back in the error,
//! or a message was dropped twice.
//!
//! As in `chan_wakeup.rs` (whose module docs say why), each model is
//! checked from several starting schedules: the disconnecting thread late,
//! so that the disconnect can land inside the waiter's register/re-check
//! window despite its optimistic spin, or the main thread late, so that
//! loom's partial-order reduction sees the orders where the spawned thread
//! acts first.
#![cfg(loom)]

use gofer_chan::{Receiver, RecvError, SendError, Sender, bounded, unbounded};
use loom::thread;
use loom_tests::sweep;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

type Make = fn() -> (Sender<u32>, Receiver<u32>);

/// A spawned thread sends one message and then, `late.peer` turns later,
/// drops the only sender; the main thread receives the message and then
/// `Err`, blocking for either.
fn recv_woken_by_last_senders_drop(make: Make) {
    sweep(2, 6, move |late| {
        let (s, r) = make();
        let sender = thread::spawn(move || {
            s.send(1).unwrap();
            late.peer();
            drop(s);
        });
        late.main();
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Err(RecvError));
        sender.join().unwrap();
    });
}

/// As above, but the thread keeps its sender and calls `close()`, and
/// the main thread holds a second sender all along: closing, not the
/// count of senders, must wake the receiver.
fn recv_woken_by_close(make: Make) {
    sweep(2, 6, move |late| {
        let (s, r) = make();
        let closer = {
            let s = s.clone();
            thread::spawn(move || {
                s.send(1).unwrap();
                late.peer();
                assert!(s.close());
            })
        };
        late.main();
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Err(RecvError));
        closer.join().unwrap();
        assert_eq!(s.send(2), Err(SendError(2)));
    });
}

#[test]

fn a_blocked_recv_on_bounded_one_is_woken_by_the_last_senders_drop() {
    recv_woken_by_last_senders_drop(|| bounded(1));
}

#[test]
fn a_blocked_recv_on_bounded_two_is_woken_by_the_last_senders_drop() {
    recv_woken_by_last_senders_drop(|| bounded(2));
}

#[test]
fn a_blocked_recv_on_unbounded_is_woken_by_the_last_senders_drop() {
    recv_woken_by_last_senders_drop(unbounded);
}

#[test]
fn a_blocked_recv_on_zero_is_woken_by_the_last_senders_drop() {
    recv_woken_by_last_senders_drop(|| bounded(0));
}

#[test]

fn a_blocked_recv_on_bounded_one_is_woken_by_close() {
    recv_woken_by_close(|| bounded(1));
}

#[test]
fn a_blocked_recv_on_unbounded_is_woken_by_close() {
    recv_woken_by_close(unbounded);
}

#[test]
fn a_blocked_recv_on_zero_is_woken_by_close() {
    recv_woken_by_close(|| bounded(0));
}

/// Two messages buffered, then closed: the receiver gets both, in order,
/// before `Err`, whether it was blocked or not when the close came.
#[test]
fn a_receiver_drains_two_buffered_messages_before_seeing_close() {
    sweep(2, 0, |late| {
        let (s, r) = unbounded();
        let closer = thread::spawn(move || {
            s.send(1u32).unwrap();
            s.send(2).unwrap();
            assert!(s.close());
            s
        });
        late.main();
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Ok(2));
        assert_eq!(r.recv(), Err(RecvError));
        drop(closer.join().unwrap());
    });
}

/// A message that counts how often it is dropped.
struct Counted {
    value: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        // A std atomic: loom runs the whole model on one OS thread, and
        // this counter is only an observation, not part of the protocol.
        self.drops.fetch_add(1, Relaxed);
    }
}

/// The main thread blocks in `send` on a channel that is full (capacity
/// 1 or 2, holding as many messages) or has no receiver waiting (capacity 0); a
/// spawned thread either closes the channel through a second sender or
/// drops the only receiver. The send must fail and hand
/// its message back; with the receiver dropped the buffered message is
/// discarded; every message is dropped exactly once.
fn blocked_send_woken(cap: usize, by_close: bool) {
    sweep(2, 6, move |late| {
        let drops = Arc::new(AtomicUsize::new(0));
        let msg = |value| Counted {
            value,
            drops: drops.clone(),
        };
        let (s, r) = bounded(cap);
        for v in 1..=cap as u32 {
            assert!(s.try_send(msg(v)).is_ok()); // full after the last
        }
        let other = {
            let s = s.clone();
            thread::spawn(move || {
                late.peer();
                if by_close {
                    assert!(s.close());
                    Some(r)
                } else {
                    drop(r);
                    None
                }
            })
        };
        late.main();
        match s.send(msg(100)) {
            Err(SendError(m)) => assert_eq!(m.value, 100),
            Ok(()) => panic!("a send nobody can receive succeeded"),
        }
        if let Some(r) = other.join().unwrap() {
            // Closed: what was buffered is still there, then `Err`.
            for v in 1..=cap as u32 {
                assert_eq!(r.recv().map(|m| m.value), Ok(v));
            }
            assert!(r.recv().is_err());
        }
        // Every message is gone now, each dropped once.
        assert_eq!(drops.load(Relaxed), cap + 1);
    });
}

#[test]
fn a_sender_blocked_on_a_full_bounded_one_is_woken_by_close() {
    blocked_send_woken(1, true);
}

#[test]
fn a_sender_blocked_on_a_full_bounded_one_is_woken_by_the_receivers_drop() {
    blocked_send_woken(1, false);
}

/// `bounded(2)` is the lock-free ring (`flavors/array.rs`); `bounded(1)`
/// above is the locked hand-off flavor (`flavors/small.rs`).
#[test]
fn a_sender_blocked_on_a_full_bounded_two_is_woken_by_close() {
    blocked_send_woken(2, true);
}

#[test]
fn a_sender_blocked_on_a_full_bounded_two_is_woken_by_the_receivers_drop() {
    blocked_send_woken(2, false);
}

#[test]
fn a_sender_blocked_on_zero_is_woken_by_close() {
    blocked_send_woken(0, true);
}

#[test]
fn a_sender_blocked_on_zero_is_woken_by_the_receivers_drop() {
    blocked_send_woken(0, false);
}
