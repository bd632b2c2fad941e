//! Models of `select!` (`chan/src/select.rs`, `run_select`): try every
//! arm; register on every channel and stop if one became ready meanwhile
//! (the re-check, `SelectHandle::register`'s return value); park until a
//! peer, a disconnect or the select's own timeout decides the task's
//! select word with a CAS (`context.rs`); unregister everywhere; complete
//! the chosen arm, or try again. A select with a `default` arm makes one
//! lock-free pass and gives up; one with `default(timeout)` registers and,
//! at the deadline, races to abort against peers that may be selecting it
//! at that very moment.
//!
//! If a property here failed, a select that gives up could still have a
//! peer's message committed to it (lost: the peer thinks it delivered), a
//! select could complete two arms (one message taken, the other lost or
//! duplicated), a select could sleep while one of its channels has a
//! message or is disconnected (deadlock), or a rendezvous partner could
//! pair with a select that already gave up.
//!
//! Loom has no clock: the timeouts here are `Duration::ZERO`, so the
//! select registers and then aborts at once, which is exactly the race
//! against a concurrent selection. Multi-arm selects are `select_biased!`
//! (see `chan_zero.rs` on determinism). Each model is checked from several
//! starting schedules (see `chan_wakeup.rs`).
#![cfg(loom)]

use gofer_chan::{
    Receiver, RecvError, SendTimeoutError, Sender, TryRecvError, bounded, select, select_biased,
    unbounded,
};
use loom::thread;
use loom_tests::sweep;
use std::time::Duration;

type Make = fn() -> (Sender<u32>, Receiver<u32>);

fn zero() -> (Sender<u32>, Receiver<u32>) {
    bounded(0)
}

fn one() -> (Sender<u32>, Receiver<u32>) {
    bounded(1)
}

// ---- the select path's own wakeup ---------------------------------------

/// A select blocked on one receive arm is woken by a send.
fn select_recv_vs_send(make: Make) {
    sweep(2, 2, move |late| {
        let (s, r) = make();
        let sender = thread::spawn(move || {
            late.peer();
            s.send(7).unwrap();
            s
        });
        late.main();
        let got = select! {
            recv(r) -> v => v,
        };
        assert_eq!(got, Ok(7));
        let s = sender.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

#[test]

fn a_select_recv_on_bounded_one_is_woken_by_a_send() {
    select_recv_vs_send(one);
}

#[test]
fn a_select_recv_on_unbounded_is_woken_by_a_send() {
    select_recv_vs_send(unbounded);
}

#[test]

fn a_select_send_on_a_full_bounded_one_is_woken_by_a_recv() {
    sweep(2, 2, |late| {
        let (s, r) = one();
        s.try_send(1).unwrap(); // full
        let receiver = thread::spawn(move || {
            late.peer();
            assert_eq!(r.recv(), Ok(1));
            assert_eq!(r.recv(), Ok(2));
            r
        });
        late.main();
        select! {
            send(s, 2) -> res => res.unwrap(),
        }
        let r = receiver.join().unwrap();
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}

// ---- giving up vs a concurrent selection ---------------------------------

/// How the main thread's select gives up.
#[derive(Clone, Copy)]
enum GiveUp {
    /// `default`: one non-blocking pass.
    Default,
    /// `default(Duration::ZERO)`: register, then abort.
    Timeout,
}

/// Selects on receiving from `r` alone, giving up as `how` says.
fn recv_or_give_up(r: &Receiver<u32>, how: GiveUp) -> Option<u32> {
    match how {
        GiveUp::Default => select! {
            recv(r) -> v => Some(v.unwrap()),
            default => None,
        },
        GiveUp::Timeout => select! {
            recv(r) -> v => Some(v.unwrap()),
            default(Duration::ZERO) => None,
        },
    }
}

/// A spawned thread sends one message (blocking) while the main thread
/// selects on the channel and may give up: the message is either received
/// by the select or left for a later receive — never both, never neither.
fn give_up_vs_send(make: Make, how: GiveUp) {
    sweep(2, 2, move |late| {
        let (s, r) = make();
        let rendezvous = s.capacity() == Some(0);
        let sender = thread::spawn(move || {
            late.peer();
            s.send(7).unwrap();
            s
        });
        late.main();
        let got = recv_or_give_up(&r, how);
        let mut later = None;
        if got.is_none() && rendezvous {
            // Unpaired, the sender still waits for a partner.
            later = Some(r.recv().unwrap());
        }
        let s = sender.join().unwrap();
        if !rendezvous {
            later = r.try_recv().ok();
        }
        match (got, later) {
            (Some(7), None) | (None, Some(7)) => {}
            other => panic!("select got, later receive got: {other:?}"),
        }
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        drop(s);
    });
}

#[test]

fn a_select_with_default_takes_a_racing_message_on_bounded_one_or_leaves_it() {
    give_up_vs_send(one, GiveUp::Default);
}

#[test]
fn a_select_with_default_takes_a_racing_message_on_unbounded_or_leaves_it() {
    give_up_vs_send(unbounded, GiveUp::Default);
}

#[test]
fn a_select_with_default_pairs_with_a_racing_sender_on_zero_or_leaves_it() {
    give_up_vs_send(zero, GiveUp::Default);
}

#[test]

fn a_select_timing_out_takes_a_racing_message_on_bounded_one_or_leaves_it() {
    give_up_vs_send(one, GiveUp::Timeout);
}

#[test]
fn a_select_timing_out_takes_a_racing_message_on_unbounded_or_leaves_it() {
    give_up_vs_send(unbounded, GiveUp::Timeout);
}

#[test]
fn a_select_timing_out_pairs_with_a_racing_sender_on_zero_or_leaves_it() {
    give_up_vs_send(zero, GiveUp::Timeout);
}

/// Both sides of a zero channel may give up: a select with a timeout
/// against `send_timeout`. Either they pair (the select has the message
/// and the send succeeded) or neither does (the send hands its message
/// back); never one without the other.
#[test]
fn a_select_timing_out_vs_a_send_timing_out_on_zero_agree() {
    sweep(2, 2, |late| {
        let (s, r) = zero();
        let sender = thread::spawn(move || {
            late.peer();
            let res = s.send_timeout(7, Duration::ZERO);
            (s, res) // keep the channel connected
        });
        late.main();
        let got = recv_or_give_up(&r, GiveUp::Timeout);
        let (s, res) = sender.join().unwrap();
        match (got, res) {
            (Some(7), Ok(())) | (None, Err(SendTimeoutError::Timeout(7))) => {}
            other => panic!("select got, send returned: {other:?}"),
        }
        drop(s);
    });
}

/// The mirror image: a select *sending* on a zero channel with a timeout,
/// against a blocked receiver. If the select gives up, the receiver is
/// still waiting and gets the main thread's second message instead.
#[test]
fn a_select_send_timing_out_pairs_with_a_racing_receiver_on_zero_or_leaves_it() {
    sweep(2, 2, |late| {
        let (s, r) = zero();
        let receiver = thread::spawn(move || {
            late.peer();
            r.recv()
        });
        late.main();
        let sent = select! {
            send(s, 1) -> res => { res.unwrap(); true }
            default(Duration::ZERO) => false,
        };
        if !sent {
            s.send(2).unwrap();
        }
        assert_eq!(receiver.join().unwrap(), Ok(if sent { 1 } else { 2 }));
    });
}

// ---- two arms, two racing peers --------------------------------------------

/// Two threads send on two channels while the main thread selects over
/// both: exactly one arm fires, with its own channel's message, and the
/// other message is still available afterwards.
fn two_senders_vs_select(make: Make) {
    sweep(1, 0, move |late| {
        let (s1, r1) = make();
        let (s2, r2) = make();
        let rendezvous = s1.capacity() == Some(0);
        let t1 = thread::spawn(move || {
            late.peer();
            s1.send(1).unwrap();
            s1
        });
        let t2 = thread::spawn(move || {
            late.peer();
            s2.send(2).unwrap();
            s2
        });
        late.main();
        let (arm, v) = select_biased! {
            recv(r1) -> v => (1, v.unwrap()),
            recv(r2) -> v => (2, v.unwrap()),
        };
        assert_eq!(v, arm, "arm {arm} got another channel's message");
        let other = if arm == 1 { &r2 } else { &r1 };
        if rendezvous {
            // The other sender still waits for a partner.
            assert_eq!(other.recv(), Ok(3 - arm));
        }
        let (s1, s2) = (t1.join().unwrap(), t2.join().unwrap());
        if !rendezvous {
            assert_eq!(other.try_recv(), Ok(3 - arm));
        }
        assert_eq!(r1.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(r2.try_recv(), Err(TryRecvError::Empty));
        drop((s1, s2));
    });
}

#[test]

fn a_select_over_two_bounded_ones_fires_exactly_one_arm() {
    two_senders_vs_select(one);
}

#[test]
fn a_select_over_two_unbounded_fires_exactly_one_arm() {
    two_senders_vs_select(unbounded);
}

#[test]
fn a_select_over_two_zeros_fires_exactly_one_arm() {
    two_senders_vs_select(zero);
}

// ---- disconnection --------------------------------------------------------

/// A select over two channels is woken when one of them disconnects: that
/// arm fires with `Err`.
fn select_woken_by_disconnect(make: Make) {
    sweep(2, 2, move |late| {
        let (s1, r1) = make();
        let (s2, r2) = make();
        let dropper = thread::spawn(move || {
            late.peer();
            drop(s1);
        });
        late.main();
        select_biased! {
            recv(r1) -> v => assert_eq!(v, Err(RecvError)),
            recv(r2) -> v => panic!("r2 fired with {v:?}"),
        }
        dropper.join().unwrap();
        drop(s2);
    });
}

#[test]
fn a_select_over_bounded_ones_is_woken_by_a_disconnect() {
    select_woken_by_disconnect(one);
}

#[test]
fn a_select_over_unbounded_is_woken_by_a_disconnect() {
    select_woken_by_disconnect(unbounded);
}

#[test]
fn a_select_over_zeros_is_woken_by_a_disconnect() {
    select_woken_by_disconnect(zero);
}
