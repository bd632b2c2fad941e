//! Models of rendezvous pairing on a zero-capacity channel
//! (`chan/src/flavors/zero.rs`, Go's unbuffered `hchan`): under the
//! channel lock, the side that arrives second picks a listed waiter of the
//! other side with one CAS on the waiter's select word, unlinks its packet
//! (the packet carries its list link) and moves the message into or out of
//! it right there; after unlocking it releases the waiter — unpark, then
//! the packet pointer, then `ready` — and from then on touches nothing of
//! the waiter's (its context is borrowed, not counted, and lives in the
//! waiter's frame like its packet). Packets live on the stack of a blocked
//! sender or receiver, in the frame of a `select!` receive arm (listed
//! again each round), or in a box for a select-send arm (which has no
//! message yet: its receiver wakes it at once and waits for it to write).
//! A task never pairs with its own entry: `register` skips entries whose
//! context pointer is the registering select's own.
//!
//! If a property here failed, a rendezvous would lose or duplicate its
//! message or take it from a packet not yet written (a failed assert, or
//! the `expect` in `zero.rs` that a packet holds a message), leave both
//! sides asleep (loom reports a deadlock), or let one task in `select!`
//! pair its own send with its own receive (Go's `test_self_select`: the
//! two selecting tasks must pair with each other; broken, the select sees
//! its own entry as ready and retries forever, which loom reports as
//! exceeding its branch limit).
//!
//! Every multi-arm select here is `select_biased!`: `select!` shuffles
//! with a thread-local random generator that loom does not control, and
//! loom needs every execution of a model to be deterministic. The
//! self-select model runs the arm orders explicitly instead. Each model is
//! checked from several starting schedules (see `chan_wakeup.rs`).
#![cfg(loom)]

use gofer_chan::{bounded, select, select_biased};
use loom::thread;
use loom_tests::sweep;

#[test]
fn a_blocking_send_pairs_with_a_blocking_recv() {
    sweep(2, 2, |late| {
        let (s, r) = bounded(0);
        let sender = thread::spawn(move || {
            late.peer();
            s.send(7u32).unwrap();
        });
        late.main();
        assert_eq!(r.recv(), Ok(7));
        sender.join().unwrap();
    });
}

#[test]
fn a_select_recv_pairs_with_a_blocking_send() {
    sweep(2, 2, |late| {
        let (s, r) = bounded(0);
        let sender = thread::spawn(move || {
            late.peer();
            s.send(7u32).unwrap();
        });
        late.main();
        let got = select! {
            recv(r) -> v => v,
        };
        assert_eq!(got, Ok(7));
        sender.join().unwrap();
    });
}

#[test]
fn a_select_send_pairs_with_a_blocking_recv() {
    sweep(2, 2, |late| {
        let (s, r) = bounded(0);
        let receiver = thread::spawn(move || {
            late.peer();
            r.recv()
        });
        late.main();
        select! {
            send(s, 7u32) -> res => res.unwrap(),
        }
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}

#[test]
fn a_select_send_pairs_with_a_select_recv() {
    sweep(2, 2, |late| {
        let (s, r) = bounded(0);
        let receiver = thread::spawn(move || {
            late.peer();
            select! {
                recv(r) -> v => v,
            }
        });
        late.main();
        select! {
            send(s, 7u32) -> res => res.unwrap(),
        }
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}

/// What one self-selecting task did.
#[derive(Debug, PartialEq, Eq)]
enum Did {
    Sent,
    Received(u32),
}

/// Selects sending `me` or receiving, on the same zero channel; the arm
/// order is fixed by `send_first` (`select_biased!`).
fn send_or_recv(
    s: &gofer_chan::Sender<u32>,
    r: &gofer_chan::Receiver<u32>,
    me: u32,
    send_first: bool,
) -> Did {
    if send_first {
        select_biased! {
            send(s, me) -> res => { res.unwrap(); Did::Sent }
            recv(r) -> v => Did::Received(v.unwrap()),
        }
    } else {
        select_biased! {
            recv(r) -> v => Did::Received(v.unwrap()),
            send(s, me) -> res => { res.unwrap(); Did::Sent }
        }
    }
}

/// Two tasks each select { send mine, receive } on one zero channel. They
/// must pair with each other: one sends, the other receives its value;
/// a task never receives its own value. This model needs the preemption
/// bound: without one, loom finds that the two tasks can abort and retry
/// in lockstep forever (a livelock only an adversarial scheduler produces;
/// `shared/research/crossbeam.md` §3.5).
fn self_select(first_sends_first: bool, second_sends_first: bool) {
    sweep(2, 2, move |late| {
        let (s, r) = bounded(0);
        let other = {
            let (s, r) = (s.clone(), r.clone());
            thread::spawn(move || {
                late.peer();
                send_or_recv(&s, &r, 2, second_sends_first)
            })
        };
        late.main();
        let mine = send_or_recv(&s, &r, 1, first_sends_first);
        let theirs = other.join().unwrap();
        match (mine, theirs) {
            (Did::Sent, Did::Received(2)) | (Did::Received(1), Did::Sent) => {
                panic!("a task received its own message")
            }
            (Did::Sent, Did::Received(1)) | (Did::Received(2), Did::Sent) => {}
            other => panic!("the two selects did not pair: {other:?}"),
        }
    });
}

#[test]
fn two_tasks_selecting_send_and_recv_on_one_channel_pair_with_each_other() {
    self_select(true, true);
}

#[test]
fn two_tasks_selecting_send_and_recv_in_opposite_orders_pair_with_each_other() {
    self_select(true, false);
}

#[test]
fn two_tasks_selecting_recv_first_pair_with_each_other() {
    self_select(false, false);
}

/// A `select!` receive arm keeps its packet in the select's own frame and
/// lists it again in every round. Here a select-sender picks it and then
/// abandons its send (its message panics): the receiving select must see
/// the packet handed back empty, list the same packet again, and take the
/// next send's message from it — never a stale or a phantom message.
#[test]
fn a_select_recv_lists_its_frame_packet_again_after_an_abandoned_send() {
    sweep(1, 1, |late| {
        let (s, r) = bounded(0);
        let receiver = thread::spawn(move || {
            late.peer();
            select! {
                recv(r) -> v => v,
            }
        });
        late.main();
        let abandoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            select! {
                send(s, no_message()) -> res => res.unwrap(),
            }
        }));
        assert!(abandoned.is_err(), "the send arm's message did not panic");
        s.send(8u32).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(8));
    });
}

/// A blocked receive without a deadline is decided only under the channel
/// lock, so a picker decides it with a load and a store rather than a CAS
/// (`Context::try_select_locked`). A close decides it too and leaves it
/// listed until it runs and unlists itself: a sender arriving meanwhile
/// must see the close's decision and not pair with it (else the message
/// of a send that succeeded is lost).
#[test]
fn a_send_never_pairs_with_a_receive_that_a_close_decided() {
    sweep(1, 1, |late| {
        let (s, r) = bounded::<u32>(0);
        let closer_s = s.clone();
        let receiver = thread::spawn(move || {
            late.peer();
            r.recv()
        });
        let closer = thread::spawn(move || {
            late.peer();
            closer_s.close();
        });
        late.main();
        let sent = s.send(7);
        let got = receiver.join().unwrap();
        closer.join().unwrap();
        match sent {
            Ok(()) => assert_eq!(got, Ok(7), "a completed send's message was lost"),
            Err(back) => {
                assert_eq!(back.0, 7);
                assert!(got.is_err(), "received a message nobody sent");
            }
        }
    });
}

fn no_message() -> u32 {
    panic!("no message (abandons the send)")
}
