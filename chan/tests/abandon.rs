//! A select that chose an operation and then did not complete it — its
//! `SelectedOperation` dropped, or a `select!` send arm whose message
//! panicked — must leave the channel usable: peers paired with the
//! abandoned operation go back to waiting, later messages still arrive,
//! nothing is delivered twice.

#[macro_use]
mod common;

use common::*;
use gofer_chan::{Select, bounded, select, unbounded};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Selects a send on `s` (waiting for it to become ready) and drops the
/// chosen operation; checks the drop panics with the documented message.
fn abandon_a_send<T>(s: &gofer_chan::Sender<T>) {
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(s);
        drop(
            sel.select_timeout(LONG)
                .expect("the send never became ready"),
        );
    }));
    let err = res.expect_err("dropping a selected send did not panic");
    assert_eq!(
        *err.downcast_ref::<&str>().unwrap(),
        "dropped `SelectedOperation` without completing the operation"
    );
}

/// As `abandon_a_send`, for a receive.
fn abandon_a_recv<T>(r: &gofer_chan::Receiver<T>) {
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.recv(r);
        drop(
            sel.select_timeout(LONG)
                .expect("the recv never became ready"),
        );
    }));
    assert!(res.is_err(), "dropping a selected recv did not panic");
}

fn receivers_skip_an_abandoned_send(mode: Mode, cap: Option<usize>) {
    let (s, r) = make::<u32>(cap);
    scope(mode, |sc| {
        let receiver = sc.spawn(|| (r.recv().unwrap(), r.recv().unwrap()));
        // On a rendezvous channel the send is ready only once the receiver
        // waits; it then pairs with it, and the abandon must release it.
        abandon_a_send(&s);
        s.send(1).unwrap();
        s.send(2).unwrap();
        assert_eq!(receiver.join(), (1, 2));
    });
    assert_eq!(r.try_recv(), Err(gofer_chan::TryRecvError::Empty));
}

fn receivers_skip_an_abandoned_send_zero(mode: Mode) {
    receivers_skip_an_abandoned_send(mode, Some(0));
}
all_modes!(receivers_skip_an_abandoned_send_zero);

fn receivers_skip_an_abandoned_send_array(mode: Mode) {
    receivers_skip_an_abandoned_send(mode, Some(3));
}
all_modes!(receivers_skip_an_abandoned_send_array);

fn receivers_skip_an_abandoned_send_list(mode: Mode) {
    receivers_skip_an_abandoned_send(mode, None);
}
all_modes!(receivers_skip_an_abandoned_send_list);

/// A blocked sender whose message a select picked and then dropped keeps
/// its message and offers it again.
fn a_blocked_sender_offers_an_abandoned_message_again(mode: Mode) {
    let (s, r) = bounded::<String>(0);
    scope(mode, |sc| {
        let sender = sc.spawn(|| s.send("once".to_string()));
        // Wait until the sender is blocked with its message (a rendezvous
        // receive is ready only then), so the select below picks it there.
        // (Had the select been waiting first, the sender would have moved
        // the message into the select's packet and returned: a message the
        // select has already received is lost if it is abandoned.)
        let mut ready = Select::new();
        ready.recv(&r);
        ready.ready();
        abandon_a_recv(&r);
        assert_eq!(r.recv_timeout(LONG).as_deref(), Ok("once"));
        assert_eq!(sender.join(), Ok(()));
    });
    assert!(r.try_recv().is_err());
}
all_modes!(a_blocked_sender_offers_an_abandoned_message_again);

#[test]
fn an_abandoned_buffered_receive_drops_only_its_message() {
    for cap in [Some(4), None] {
        let (s, r) = make::<u32>(cap);
        for i in 0..3 {
            s.send(i).unwrap();
        }
        abandon_a_recv(&r);
        assert_eq!(r.try_iter().collect::<Vec<_>>(), [1, 2], "cap {cap:?}");
    }
}

#[test]
fn a_skipped_slot_does_not_make_a_full_channel_look_free() {
    // The lock-free ring (capacities above 1) marks an abandoned send's
    // slot as a skip, which stays until a receiver passes it.
    let (s, r) = bounded::<u32>(32);
    for i in 0..31 {
        s.send(i).unwrap();
    }
    abandon_a_send(&s);
    // The skip occupies the last slot until a receiver passes it.
    assert_eq!(
        s.try_send(99),
        Err(gofer_chan::TrySendError::Full(99)),
        "a send overwrote the skipped slot"
    );
    assert_eq!(
        r.try_iter().collect::<Vec<_>>(),
        (0..31).collect::<Vec<_>>()
    );
    s.try_send(100).unwrap();
    assert_eq!(r.try_recv(), Ok(100));
}

#[test]
fn an_abandoned_send_gives_its_slot_back_on_a_small_channel() {
    // The locked flavor (`bounded(1)`) only counted a granted slot;
    // abandoning the send gives it back at once.
    let (s, r) = bounded::<u32>(1);
    abandon_a_send(&s);
    assert_eq!(r.try_recv(), Err(gofer_chan::TryRecvError::Empty));
    s.try_send(1).unwrap();
    assert_eq!(s.try_send(2), Err(gofer_chan::TrySendError::Full(2)));
    assert_eq!(r.try_recv(), Ok(1));
}

#[test]
fn many_abandoned_sends_wrap_the_ring_safely() {
    let (s, r) = bounded::<Box<u32>>(2);
    for lap in 0..10u32 {
        abandon_a_send(&s);
        s.send(Box::new(lap)).unwrap();
        assert_eq!(*r.recv().unwrap(), lap);
    }
}

fn compute_message() -> u32 {
    panic!("the message could not be computed")
}

fn a_panicking_send_arm_leaves_the_channel_usable(mode: Mode, cap: Option<usize>) {
    let (s, r) = make::<u32>(cap);
    scope(mode, |sc| {
        let receiver = sc.spawn(|| r.recv().unwrap());
        let res = catch_unwind(AssertUnwindSafe(|| {
            select! {
                send(s, compute_message()) -> _ => {}
            }
        }));
        let err = res.expect_err("the arm did not panic");
        assert_eq!(
            *err.downcast_ref::<&str>().unwrap(),
            "the message could not be computed"
        );
        s.send(7).unwrap();
        assert_eq!(receiver.join(), 7);
    });
}

fn a_panicking_send_arm_leaves_the_channel_usable_zero(mode: Mode) {
    a_panicking_send_arm_leaves_the_channel_usable(mode, Some(0));
}
all_modes!(a_panicking_send_arm_leaves_the_channel_usable_zero);

fn a_panicking_send_arm_leaves_the_channel_usable_array(mode: Mode) {
    a_panicking_send_arm_leaves_the_channel_usable(mode, Some(1));
}
mode_tests!(a_panicking_send_arm_leaves_the_channel_usable_array);

fn a_panicking_send_arm_leaves_the_channel_usable_list(mode: Mode) {
    a_panicking_send_arm_leaves_the_channel_usable(mode, None);
}
mode_tests!(a_panicking_send_arm_leaves_the_channel_usable_list);

/// A select-receiver (heap packet) paired with a select-sender that then
/// abandons must wait again, not return a phantom message.
fn a_select_receiver_waits_again_after_an_abandoned_send(mode: Mode) {
    let (s, r) = bounded::<u32>(0);
    scope(mode, |sc| {
        let receiver = sc.spawn(|| {
            select! {
                recv(r) -> m => m.unwrap(),
            }
        });
        abandon_a_send(&s);
        s.send(9).unwrap();
        assert_eq!(receiver.join(), 9);
    });
}
all_modes!(a_select_receiver_waits_again_after_an_abandoned_send);

#[test]
fn a_wrong_sender_panics_once_without_aborting() {
    let (s1, _r1) = unbounded::<u32>();
    let (s2, _r2) = unbounded::<u32>();
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut sel = Select::new();
        sel.send(&s1);
        let oper = sel.select();
        let _ = oper.send(&s2, 1);
    }));
    let err = res.expect_err("a wrong sender was accepted");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(msg.contains("wasn't selected"), "{msg}");
}

#[test]
fn many_abandons_under_traffic_lose_nothing_that_was_sent() {
    // Abandoned sends deliver nothing; every completed send arrives once.
    for cap in [Some(0), Some(2), None] {
        let (s, r) = make::<u32>(cap);
        let total = gofer_runtime::scope(|sc| {
            let consumer = sc.spawn(|| r.iter().collect::<Vec<_>>());
            for i in 0..200u32 {
                if i % 3 == 0 {
                    abandon_a_send(&s);
                }
                s.send(i).unwrap();
            }
            s.close();
            consumer.join().unwrap()
        });
        assert_eq!(total, (0..200).collect::<Vec<_>>(), "cap {cap:?}");
    }
}
