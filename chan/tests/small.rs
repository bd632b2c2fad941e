//! Small buffered channels (`bounded(1)`; see `SMALL_MAX` in
//! `channel.rs`), which complete the other
//! side's operation (Go's hand-off): a receive that frees a slot moves a
//! blocked sender's message in, and a send gives its message straight to
//! a blocked receiver. Each concurrent behaviour runs with threads, with
//! goroutines, and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn a_blocked_senders_message_lands_after_the_buffered_ones(mode: Mode) {
    for cap in [1, 2, 5, 16] {
        let (s, r) = bounded::<usize>(cap);
        for i in 0..cap {
            s.send(i).unwrap();
        }
        scope(mode, |sc| {
            let s2 = s.clone();
            let blocked = sc.spawn(move || s2.send(cap));
            sleep(ms(20));
            assert!(
                !blocked.is_finished(),
                "a send into a full channel returned"
            );
            // The first receive frees a slot and completes the blocked
            // send at once: the channel is full again.
            assert_eq!(r.recv(), Ok(0));
            blocked.join().unwrap();
            assert_eq!(
                r.len(),
                cap,
                "the blocked sender's message was not moved in"
            );
            let rest: Vec<usize> = r.try_iter().collect();
            assert_eq!(rest, (1..=cap).collect::<Vec<_>>());
        });
    }
}
all_modes!(a_blocked_senders_message_lands_after_the_buffered_ones);

fn blocked_senders_are_served_in_arrival_order(mode: Mode) {
    let (s, r) = bounded::<usize>(1);
    s.send(0).unwrap();
    scope(mode, |sc| {
        for i in 1..=3 {
            let s = s.clone();
            sc.spawn(move || s.send(i).unwrap());
            // Let each one block before the next arrives.
            sleep(ms(20));
        }
        let got: Vec<usize> = (0..4).map(|_| r.recv().unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 3]);
    });
}
all_modes!(blocked_senders_are_served_in_arrival_order);

fn a_send_hands_its_message_to_a_blocked_receiver(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    scope(mode, |sc| {
        let r2 = r.clone();
        let receiver = sc.spawn(move || r2.recv());
        sleep(ms(20));
        s.send(7).unwrap();
        // The message went to the waiting receiver, not into the buffer.
        assert!(s.is_empty());
        assert_eq!(s.try_send(8), Ok(()));
        assert_eq!(receiver.join(), Ok(7));
        assert_eq!(r.try_recv(), Ok(8));
    });
}
all_modes!(a_send_hands_its_message_to_a_blocked_receiver);

fn a_sender_blocked_on_bounded_one_gets_its_message_back_when_the_receiver_is_dropped(mode: Mode) {
    let drops = DropCounter::new();
    let (s, r) = bounded::<Counted>(1);
    s.send(drops.item()).unwrap();
    scope(mode, |sc| {
        let s2 = s.clone();
        let msg = drops.item();
        let blocked = sc.spawn(move || s2.send(msg).map_err(|e| e.into_inner()));
        sleep(ms(20));
        drop(r);
        let back = blocked
            .join()
            .expect_err("the send succeeded with no receiver");
        // The buffered message was dropped with the last receiver; ours
        // came back intact.
        assert_eq!(drops.drops(), 1);
        drop(back);
        assert_eq!(drops.drops(), 2);
    });
}
all_modes!(a_sender_blocked_on_bounded_one_gets_its_message_back_when_the_receiver_is_dropped);

fn a_sender_blocked_on_a_full_channel_gets_its_message_back_on_close(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    s.send(1).unwrap();
    scope(mode, |sc| {
        let s2 = s.clone();
        let blocked = sc.spawn(move || s2.send(3));
        sleep(ms(20));
        assert!(s.close());
        assert_eq!(blocked.join(), Err(SendError(3)));
        // Receivers drain what was buffered, then see the close.
        assert_eq!(r.iter().collect::<Vec<_>>(), [1]);
    });
}
all_modes!(a_sender_blocked_on_a_full_channel_gets_its_message_back_on_close);

fn a_select_send_arm_on_a_full_small_channel_completes_when_a_receiver_frees_a_slot(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    let (_s_other, r_other) = bounded::<u32>(0);
    s.send(1).unwrap();
    scope(mode, |sc| {
        let selecting = sc.spawn(|| {
            select! {
                send(s, 2) -> res => res.map(|()| "sent"),
                recv(r_other) -> _ => Ok("other"),
            }
        });
        sleep(ms(20));
        assert!(!selecting.is_finished());
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(selecting.join(), Ok("sent"));
        assert_eq!(r.recv(), Ok(2));
    });
}
all_modes!(a_select_send_arm_on_a_full_small_channel_completes_when_a_receiver_frees_a_slot);

fn a_select_recv_arm_is_handed_a_message(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    let (_s_other, r_other) = bounded::<u32>(0);
    scope(mode, |sc| {
        let selecting = sc.spawn(|| {
            select! {
                recv(r) -> v => v,
                recv(r_other) -> _ => panic!("nothing was sent there"),
            }
        });
        sleep(ms(20));
        s.send(5).unwrap();
        assert!(s.is_empty(), "the message was not handed to the select");
        assert_eq!(selecting.join(), Ok(5));
    });
}
all_modes!(a_select_recv_arm_is_handed_a_message);

fn a_timed_out_blocked_sender_keeps_its_message(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    s.send(1).unwrap();
    run(mode, || {
        let t = Instant::now();
        assert_eq!(s.send_timeout(2, ms(30)), Err(SendTimeoutError::Timeout(2)));
        assert_waited(t.elapsed(), ms(30));
        assert_eq!(r.try_iter().collect::<Vec<_>>(), [1]);
    });
}
all_modes!(a_timed_out_blocked_sender_keeps_its_message);

#[test]
fn messages_left_in_a_small_channel_are_dropped_once() {
    for cap in [1, 3, 16] {
        let drops = DropCounter::new();
        let (s, r) = bounded::<Counted>(cap);
        for _ in 0..cap {
            s.send(drops.item()).unwrap();
        }
        drop(r.recv().unwrap());
        assert_eq!(drops.drops(), 1);
        drop(s);
        assert_eq!(
            drops.drops(),
            1,
            "cap {cap}: dropped while a receiver lives"
        );
        drop(r);
        assert_eq!(drops.drops(), cap, "cap {cap}");
    }
}

/// Senders (blocking, with timeouts, and in `select!`) and receivers
/// (the same three ways) on small channels; every message arrives once.
fn hand_off_under_traffic_loses_and_duplicates_nothing(mode: Mode) {
    const PER_SENDER: usize = 3000;
    const SENDERS: usize = 3;
    for cap in [1, 2, 16] {
        let (s, r) = bounded::<usize>(cap);
        let tally = Tally::new(SENDERS * PER_SENDER);
        let received = AtomicUsize::new(0);
        scope(mode, |sc| {
            for k in 0..SENDERS {
                let s = s.clone();
                sc.spawn(move || {
                    let (_dead_s, dead_r) = bounded::<usize>(0);
                    for i in k * PER_SENDER..(k + 1) * PER_SENDER {
                        match i % 3 {
                            0 => s.send(i).unwrap(),
                            1 => {
                                let mut msg = i;
                                while let Err(e) = s.send_timeout(msg, Duration::from_micros(50)) {
                                    msg = e.into_inner();
                                }
                            }
                            _ => select! {
                                send(s, i) -> res => res.unwrap(),
                                recv(dead_r) -> _ => unreachable!(),
                            },
                        }
                    }
                });
            }
            for k in 0..SENDERS {
                let r = r.clone();
                let (tally, received) = (&tally, &received);
                sc.spawn(move || {
                    let (_dead_s, dead_r) = bounded::<usize>(0);
                    let mut n = 0usize;
                    while received.load(SeqCst) < SENDERS * PER_SENDER {
                        let got = match (n + k) % 3 {
                            0 => r.recv_timeout(ms(5)).ok(),
                            1 => r.try_recv().ok(),
                            _ => select! {
                                recv(r) -> v => v.ok(),
                                recv(dead_r) -> _ => unreachable!(),
                                default(ms(5)) => None,
                            },
                        };
                        n += 1;
                        if let Some(v) = got {
                            tally.hit(v);
                            received.fetch_add(1, SeqCst);
                        } else if n.is_multiple_of(64) {
                            relax();
                        }
                    }
                });
            }
        });
        tally.assert_each(1);
        assert!(r.is_empty());
    }
}
all_modes!(hand_off_under_traffic_loses_and_duplicates_nothing);

// ---- wakes issued after the channel's lock is released ------------------
//
// The flavor decides whom to wake inside its critical section and unparks
// them after the unlock. These pin that every such wake still arrives:
// observers (`Select::ready`) on both sides, and the many waiters a close
// wakes at once (more than fit in the batch's inline slots).

fn a_ready_observer_of_an_empty_small_channel_is_woken_by_a_send(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    scope(mode, |sc| {
        let observing = sc.spawn(|| {
            let mut sel = Select::new();
            sel.recv(&r);
            sel.ready()
        });
        sleep(ms(20));
        assert!(
            !observing.is_finished(),
            "ready on an empty channel returned"
        );
        s.send(1).unwrap();
        assert_eq!(observing.join(), 0);
        assert_eq!(r.try_recv(), Ok(1));
    });
}
all_modes!(a_ready_observer_of_an_empty_small_channel_is_woken_by_a_send);

fn a_ready_observer_of_a_full_small_channel_is_woken_when_a_recv_frees_the_slot(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    s.send(1).unwrap();
    scope(mode, |sc| {
        let observing = sc.spawn(|| {
            let mut sel = Select::new();
            sel.send(&s);
            sel.ready()
        });
        sleep(ms(20));
        assert!(!observing.is_finished(), "ready on a full channel returned");
        assert_eq!(r.recv(), Ok(1));
        assert_eq!(observing.join(), 0);
        assert_eq!(s.try_send(2), Ok(()));
    });
}
all_modes!(a_ready_observer_of_a_full_small_channel_is_woken_when_a_recv_frees_the_slot);

fn every_receiver_and_observer_of_a_small_channel_wakes_on_close(mode: Mode) {
    const EACH: usize = 3;
    let (s, r) = bounded::<u32>(1);
    let (_s_other, r_other) = bounded::<u32>(0);
    let woken = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..EACH {
            sc.spawn(|| {
                assert_eq!(r.recv(), Err(RecvError));
                woken.fetch_add(1, SeqCst);
            });
            sc.spawn(|| {
                select! {
                    recv(r) -> v => assert_eq!(v, Err(RecvError)),
                    recv(r_other) -> _ => panic!("nothing was sent there"),
                }
                woken.fetch_add(1, SeqCst);
            });
            sc.spawn(|| {
                let mut sel = Select::new();
                sel.recv(&r);
                assert_eq!(sel.ready(), 0);
                woken.fetch_add(1, SeqCst);
            });
        }
        sleep(ms(30));
        assert_eq!(woken.load(SeqCst), 0, "a waiter returned before the close");
        assert!(s.close());
    });
    assert_eq!(woken.load(SeqCst), 3 * EACH);
}
all_modes!(every_receiver_and_observer_of_a_small_channel_wakes_on_close);

fn every_sender_blocked_on_a_full_small_channel_gets_its_message_back_on_close(mode: Mode) {
    const SENDERS: usize = 5;
    let (s, r) = bounded::<usize>(1);
    s.send(0).unwrap();
    let back = Tally::new(SENDERS + 1);
    scope(mode, |sc| {
        for i in 1..=SENDERS {
            let (s, back) = (s.clone(), &back);
            sc.spawn(move || {
                let SendError(v) = s.send(i).expect_err("a send into a closed channel");
                back.hit(v);
            });
        }
        sleep(ms(30));
        assert!(s.close());
    });
    // The buffered message is still there for the receiver; each blocked
    // one came back to its sender, once.
    assert_eq!(r.iter().collect::<Vec<_>>(), [0]);
    back.hit(0);
    back.assert_each(1);
}
all_modes!(every_sender_blocked_on_a_full_small_channel_gets_its_message_back_on_close);

/// A select with a send arm and a receive arm on the same `bounded(1)`
/// channel never completes one of them with the other: a task's own
/// entries are never picked by the task itself (the flavor makes no
/// identity check for this; see `WaitList::try_select` in `small.rs`).
/// Without waiting, the arm the channel allows wins; when both arms wait,
/// each is completed by another task.
fn a_select_with_both_arms_on_one_small_channel_never_pairs_with_itself(mode: Mode) {
    let (s, r) = bounded::<u32>(1);
    let both = |v: u32| {
        select! {
            send(s, v) -> res => res.map(|()| ("sent", v)).map_err(|_| ()),
            recv(r) -> got => got.map(|m| ("received", m)).map_err(|_| ()),
        }
    };
    // Empty: only the send can go; full: only the receive.
    assert_eq!(both(1), Ok(("sent", 1)));
    assert_eq!(s.len(), 1);
    assert_eq!(both(2), Ok(("received", 1)));
    assert!(s.is_empty());

    // Both arms wait: the one slot is reserved for a select-send that has
    // not written yet. Writing it completes the waiting receive arm.
    scope(mode, |sc| {
        let mut sel = Select::new();
        sel.send(&s);
        let reserved = sel.select();
        let selecting = sc.spawn(|| both(3));
        sleep(ms(20));
        assert!(
            !selecting.is_finished(),
            "a select finished on a channel with no room and no message"
        );
        reserved.send(&s, 4).unwrap();
        assert_eq!(selecting.join(), Ok(("received", 4)));
        assert_eq!(
            r.try_recv(),
            Err(TryRecvError::Empty),
            "the select also sent"
        );
    });

    // Both arms wait: the one message is claimed by a select-receive that
    // has not taken it yet. Taking it frees the slot for the waiting send
    // arm.
    s.send(5).unwrap();
    scope(mode, |sc| {
        let mut sel = Select::new();
        sel.recv(&r);
        let claimed = sel.select();
        let selecting = sc.spawn(|| both(6));
        sleep(ms(20));
        assert!(
            !selecting.is_finished(),
            "a select finished on a channel with no room and no message"
        );
        assert_eq!(claimed.recv(&r), Ok(5));
        assert_eq!(selecting.join(), Ok(("sent", 6)));
        assert_eq!(r.try_recv(), Ok(6));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}
all_modes!(a_select_with_both_arms_on_one_small_channel_never_pairs_with_itself);
