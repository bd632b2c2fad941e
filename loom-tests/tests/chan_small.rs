//! Models of the parts of `bounded(1)` (`chan/src/flavors/small.rs`, the
//! locked hand-off flavor) that the other channel models do not reach:
//! what a select holds on the channel between being chosen and completing
//! — a *claimed* message or a receive packet the sender filled, a
//! *reserved* slot for a send — and what happens to it when the select
//! gives the operation up (`SelectHandle::abandon`) or the channel
//! disconnects meanwhile.
//!
//! If a property here failed: an abandoned receive could lose a message
//! it never had or drop one twice, or leave the slot claimed so that a
//! blocked sender is never served (deadlock); a receive arm that lost its
//! select to another arm could swallow the message a racing sender tried
//! to hand it; a receiver waiting on a closed channel for a reserved slot
//! could miss the message written there, or sleep forever when the slot is
//! given back; a message written into a reserved slot after the last
//! receiver left could leak or be dropped twice.
//!
//! An abandoned `SelectedOperation` panics after it has released what it
//! held (the documented behaviour); the models catch that panic, and a
//! panic hook keeps it off the output. Timeouts are `Duration::ZERO` (loom
//! has no clock: the select registers, then aborts, racing any peer that
//! is completing it). Starting schedules as in every `chan_*.rs`.
#![cfg(loom)]

use gofer_chan::{RecvError, Select, SelectedOperation, TryRecvError, bounded};
use loom::thread;
use loom_tests::sweep;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::time::Duration;

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

/// The panic an abandoned operation raises, by design.
const ABANDON_PANIC: &str = "dropped `SelectedOperation` without completing the operation";

/// Drops `op` uncompleted: the channel takes back what it held for it.
fn abandon(op: SelectedOperation<'_>) {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info.payload().downcast_ref::<&str>() == Some(&ABANDON_PANIC)
                || info.payload().downcast_ref::<String>().map(String::as_str)
                    == Some(ABANDON_PANIC);
            if !expected {
                default(info);
            }
        }));
    });
    let res = catch_unwind(AssertUnwindSafe(|| drop(op)));
    assert!(res.is_err(), "abandoning an operation did not panic");
}

// ---- abandoning a receive ---------------------------------------------------

/// A spawned thread sends 1 and then 2, blocking. The main thread selects
/// a receive with a zero timeout and abandons what it gets: message 1,
/// claimed from the buffer or handed into the select's packet by the
/// sender (even as the select times out). The abandoned message is dropped
/// exactly once, and the slot it held is freed, so the sender's 2 — which
/// may be blocked on it — moves in and arrives. Without a select win,
/// both arrive, in order.
#[test]
fn an_abandoned_select_recv_on_bounded_one_drops_its_message_once_and_frees_the_slot() {
    sweep(2, 2, |late| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (s, r) = bounded(1);
        let sender = {
            let drops = drops.clone();
            thread::spawn(move || {
                late.peer();
                for value in [1, 2] {
                    let msg = Counted {
                        value,
                        drops: drops.clone(),
                    };
                    assert!(s.send(msg).is_ok());
                }
                s
            })
        };
        late.main();
        let mut sel = Select::new();
        sel.recv(&r);
        let abandoned = match sel.select_timeout(Duration::ZERO) {
            Ok(op) => {
                abandon(op);
                assert_eq!(drops.load(Relaxed), 1, "the abandoned message");
                true
            }
            Err(_) => false,
        };
        let expect: &[u32] = if abandoned { &[2] } else { &[1, 2] };
        for &v in expect {
            assert_eq!(r.recv().map(|m| m.value).ok(), Some(v));
        }
        let s = sender.join().unwrap();
        assert!(matches!(r.try_recv(), Err(TryRecvError::Empty)));
        drop((s, r));
        assert_eq!(drops.load(Relaxed), 2, "each message dropped once");
    });
}

/// A select over two receive arms, `r1` (bounded(1)) first: the spawned
/// thread disconnects `r2` and then sends on `r1`. If the disconnect
/// decides the select, the send finds the select's `r1` entry still
/// listed but lost, and must leave its message in the channel; otherwise
/// the select takes the message. Either way it is received once.
#[test]
fn a_select_recv_on_bounded_one_decided_by_another_arm_leaves_a_racing_message_in_the_channel() {
    sweep(2, 2, |late| {
        let (s1, r1) = bounded::<u32>(1);
        let (s2, r2) = bounded::<u32>(1);
        let peer = thread::spawn(move || {
            late.peer();
            drop(s2);
            s1.send(1).unwrap();
            s1
        });
        late.main();
        let mut sel = Select::new_biased();
        let i1 = sel.recv(&r1);
        let i2 = sel.recv(&r2);
        let op = sel.select();
        let got = if op.index() == i1 {
            Some(op.recv(&r1).unwrap())
        } else {
            assert_eq!(op.index(), i2);
            assert_eq!(op.recv(&r2), Err(RecvError));
            None
        };
        let s1 = peer.join().unwrap();
        let later = r1.try_recv().ok();
        match (got, later) {
            (Some(1), None) | (None, Some(1)) => {}
            other => panic!("select got, later receive got: {other:?}"),
        }
        drop(s1);
    });
}

// ---- letting picked waiters go after the unlock ------------------------------
//
// A picker moves the message under the lock, and after the unlock unparks
// the waiter and only then sets its packet's `ready`: the waiter's context
// is borrowed, not counted, so the waiter must not leave before that store.
// A select-sender has no packet and may return as soon as it is chosen; it
// is woken through a counted handle.

/// The main thread holds the one slot of a `bounded(1)` (a select send
/// that has not written); one spawned thread blocks in `recv`, the other
/// in `send(2)`. Writing the slot lets both go in one critical section:
/// the receiver is handed 1 and the sender's 2 moves into the freed slot.
/// Each message arrives once, in order, and both waiters return.
#[test]
fn one_write_on_bounded_one_lets_a_blocked_receiver_and_a_blocked_sender_go() {
    sweep(1, 1, |late| {
        let (s, r) = bounded::<u32>(1);
        let mut sel = Select::new();
        sel.send(&s);
        let op = sel.select();
        let r2 = r.clone();
        let receiver = thread::spawn(move || {
            late.peer();
            r2.recv().unwrap()
        });
        let s2 = s.clone();
        let sender = thread::spawn(move || {
            late.peer();
            s2.send(2).unwrap();
        });
        late.main();
        op.send(&s, 1).unwrap();
        sender.join().unwrap();
        let first = receiver.join().unwrap();
        let second = r.try_recv();
        // The receiver may have arrived after the write and the sender's 2.
        match (first, second) {
            (1, Ok(2)) => {}
            other => panic!("received {other:?}"),
        }
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A select with a send arm on a full `bounded(1)` (and a receive arm on
/// a channel nobody sends on) waits; the spawned thread receives twice.
/// The receive that frees the slot grants it to the select, which writes
/// 2 into it; its select word may be decided before it is unparked.
#[test]
fn a_select_send_arm_on_a_full_bounded_one_is_granted_the_slot_a_receive_frees() {
    sweep(2, 2, |late| {
        let (s, r) = bounded::<u32>(1);
        let (_s_other, r_other) = bounded::<u32>(1);
        s.try_send(1).unwrap();
        let receiver = thread::spawn(move || {
            late.peer();
            let first = r.recv().unwrap();
            let second = r.recv().unwrap();
            (first, second)
        });
        late.main();
        let mut sel = Select::new();
        let i = sel.send(&s);
        sel.recv(&r_other);
        let op = sel.select();
        assert_eq!(op.index(), i);
        op.send(&s, 2).unwrap();
        assert_eq!(receiver.join().unwrap(), (1, 2));
    });
}

// ---- disconnecting while a slot is reserved ---------------------------------

/// The spawned thread is granted the slot by a select send, closes the
/// channel, and only then writes: the slot was its own before the close,
/// so the write succeeds. The main thread, blocked in `recv` (or arriving
/// later), is woken by the close, must see that a granted slot is still
/// to be written and wait again, and gets the message, then `Err`.
#[test]
fn a_receiver_on_bounded_one_gets_the_message_of_a_slot_reserved_before_close() {
    sweep(2, 2, |late| {
        let (s, r) = bounded::<u32>(1);
        let peer = thread::spawn(move || {
            late.peer();
            let mut sel = Select::new();
            sel.send(&s);
            let op = sel.select();
            assert!(s.close());
            op.send(&s, 1).unwrap();
            s
        });
        late.main();
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(r.recv(), Err(RecvError));
        drop(peer.join().unwrap());
    });
}

/// As above, but the select gives its reserved slot back instead of
/// writing: nothing will ever arrive, and the receiver still waiting for
/// the slot must be told so (`balance` disconnects the receivers when the
/// last granted slot goes).
#[test]
fn a_receiver_on_bounded_one_sees_close_once_a_reserved_slot_is_abandoned() {
    sweep(2, 2, |late| {
        let (s, r) = bounded::<u32>(1);
        let peer = thread::spawn(move || {
            late.peer();
            let mut sel = Select::new();
            sel.send(&s);
            let op = sel.select();
            assert!(s.close());
            abandon(op);
            s
        });
        late.main();
        assert_eq!(r.recv(), Err(RecvError));
        drop(peer.join().unwrap());
    });
}

/// The last receiver leaves while a select send may hold the only slot.
/// Written before the receiver's drop, the message is discarded with the
/// buffer; written after it, it stays until the channel is freed; granted
/// after it, the send fails and hands it back. A blocking send behind it
/// is woken (or turned away) by the disconnect. Every message is dropped
/// exactly once.
#[test]
fn a_slot_reserved_on_bounded_one_when_the_last_receiver_leaves_drops_its_message_once() {
    sweep(2, 2, |late| {
        let drops = Arc::new(AtomicUsize::new(0));
        let msg = |value| Counted {
            value,
            drops: drops.clone(),
        };
        let (first, second) = (msg(1), msg(2));
        let (s, r) = bounded::<Counted>(1);
        let peer = thread::spawn(move || {
            late.peer();
            let mut sel = Select::new();
            sel.send(&s);
            let op = sel.select();
            if let Err(back) = op.send(&s, first) {
                assert_eq!(back.into_inner().value, 1);
            }
            match s.send(second) {
                Err(back) => assert_eq!(back.into_inner().value, 2),
                Ok(()) => panic!("a send nobody can receive succeeded"),
            }
            s
        });
        late.main();
        drop(r);
        drop(peer.join().unwrap());
        assert_eq!(drops.load(Relaxed), 2, "each message dropped once");
    });
}

// ---- observers ----------------------------------------------------------------

/// `Select::ready` on each side of a `bounded(1)` channel: the main thread
/// watches for a message (or, on a full channel, for room) while the
/// spawned thread sends (or receives). The observer is decided under the
/// channel's lock and unparked after the unlock; it must wake either way.
#[test]
fn ready_observers_on_bounded_one_are_woken_by_the_other_side() {
    sweep(2, 2, |late| {
        let (s, r) = bounded::<u32>(1);
        let s2 = s.clone();
        let peer = thread::spawn(move || {
            late.peer();
            s2.send(1).unwrap();
            s2
        });
        late.main();
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready(), 0);
        drop(peer.join().unwrap());
        assert_eq!(r.try_recv(), Ok(1));
    });
    sweep(2, 2, |late| {
        let (s, r) = bounded::<u32>(1);
        s.send(1).unwrap(); // full
        let peer = thread::spawn(move || {
            late.peer();
            assert_eq!(r.recv(), Ok(1));
            r
        });
        late.main();
        let mut sel = Select::new();
        sel.send(&s);
        assert_eq!(sel.ready(), 0);
        let r = peer.join().unwrap();
        assert_eq!(s.try_send(2), Ok(()));
        drop(r);
    });
}
