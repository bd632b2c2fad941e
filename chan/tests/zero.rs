//! Zero-capacity (rendezvous) channels (`bounded(0)`): the behaviours of
//! crossbeam-channel's `tests/zero.rs`, each concurrent one run with
//! threads, with goroutines, and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[test]
fn smoke_nothing_passes_without_a_partner() {
    let (s, r) = bounded(0);
    assert_eq!(s.try_send(7), Err(TrySendError::Full(7)));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_is_zero() {
    let (s, r) = bounded::<()>(0);
    assert_eq!(s.capacity(), Some(0));
    assert_eq!(r.capacity(), Some(0));
}

fn len_is_always_zero_and_channel_always_empty_and_full(mode: Mode) {
    let (s, r) = bounded(0);
    let check = || {
        assert_eq!((s.len(), s.is_empty(), s.is_full()), (0, true, true));
        assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, true));
    };
    check();
    scope(mode, |sc| {
        sc.spawn(|| s.send(0).unwrap());
        sc.spawn(|| r.recv().unwrap());
    });
    check();
}
all_modes!(len_is_always_zero_and_channel_always_empty_and_full);

fn len_stays_zero_under_concurrency(mode: Mode) {
    const COUNT: usize = 2_000;
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                assert_eq!(r.recv(), Ok(i));
                assert_eq!(r.len(), 0);
            }
        });
        sc.spawn(|| {
            for i in 0..COUNT {
                s.send(i).unwrap();
                assert_eq!(s.len(), 0);
            }
        });
    });
}
all_modes!(len_stays_zero_under_concurrency);

fn recv_timeout_without_a_sender_times_out(mode: Mode) {
    run(mode, || {
        let (_s, r) = bounded::<i32>(0);
        let start = Instant::now();
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(start.elapsed(), ms(50));
        assert_eq!(r.recv_timeout(ms(0)), Err(RecvTimeoutError::Timeout));
    });
}
mode_tests!(recv_timeout_without_a_sender_times_out);

fn try_recv_takes_from_a_blocked_sender_only(mode: Mode) {
    let (s, r) = bounded(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        let sender = sc.spawn(move || {
            go_r.recv().unwrap();
            s.send(7).unwrap();
        });
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        go_s.send(()).unwrap();
        // Once the sender is blocked in `send`, `try_recv` pairs with it.
        let deadline = Instant::now() + LONG;
        let got = loop {
            match r.try_recv() {
                Ok(v) => break v,
                Err(TryRecvError::Empty) if Instant::now() < deadline => relax(),
                Err(e) => panic!("try_recv never met the blocked sender: {e:?}"),
            }
        };
        assert_eq!(got, 7);
        sender.join();
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    });
}
all_modes!(try_recv_takes_from_a_blocked_sender_only);

fn try_send_hands_over_to_a_blocked_receiver_only(mode: Mode) {
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        assert_eq!(s.try_send(7), Err(TrySendError::Full(7)));
        let receiver = sc.spawn(move || assert_eq!(r.recv(), Ok(8)));
        let deadline = Instant::now() + LONG;
        let mut msg = 8;
        loop {
            match s.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    relax();
                }
                Err(e) => panic!("try_send never met the blocked receiver: {e:?}"),
            }
        }
        receiver.join();
        assert_eq!(s.try_send(9), Err(TrySendError::Disconnected(9)));
    });
}
all_modes!(try_send_hands_over_to_a_blocked_receiver_only);

fn recv_waits_for_each_sender_then_sees_disconnection(mode: Mode) {
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(50));
            s.send(7).unwrap();
            s.send(8).unwrap();
            s.send(9).unwrap();
        });
        assert_eq!(r.recv(), Ok(7));
        sleep(ms(20));
        assert_eq!(r.recv(), Ok(8));
        assert_eq!(r.recv(), Ok(9));
        assert_eq!(r.recv(), Err(RecvError));
    });
}
all_modes!(recv_waits_for_each_sender_then_sees_disconnection);

fn recv_timeout_times_out_then_receives_then_sees_disconnection(mode: Mode) {
    let (s, r) = bounded::<i32>(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            go_r.recv().unwrap();
            s.send(7).unwrap();
        });
        let start = Instant::now();
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(start.elapsed(), ms(50));
        go_s.send(()).unwrap();
        assert_eq!(r.recv_timeout(LONG), Ok(7));
        assert_eq!(r.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    });
}
all_modes!(recv_timeout_times_out_then_receives_then_sees_disconnection);

fn send_completes_only_when_received(mode: Mode) {
    let (s, r) = bounded(0);
    let sent = AtomicUsize::new(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..3 {
                s.send(i).unwrap();
                sent.fetch_add(1, SeqCst);
            }
        });
        sleep(ms(50));
        assert_eq!(
            sent.load(SeqCst),
            0,
            "a send completed with nobody receiving"
        );
        for i in 0..3 {
            assert_eq!(r.recv(), Ok(i));
            assert!(sent.load(SeqCst) <= i + 1);
        }
    });
}
all_modes!(send_completes_only_when_received);

fn send_timeout_times_out_then_meets_a_receiver_then_sees_disconnection(mode: Mode) {
    let (s, r) = bounded(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        let receiver = sc.spawn(move || {
            go_r.recv().unwrap();
            assert_eq!(r.recv(), Ok(8));
        });
        let start = Instant::now();
        assert_eq!(s.send_timeout(7, ms(50)), Err(SendTimeoutError::Timeout(7)));
        assert_waited(start.elapsed(), ms(50));
        assert_eq!(
            s.send_deadline(7, Instant::now()),
            Err(SendTimeoutError::Timeout(7))
        );
        go_s.send(()).unwrap();
        assert_eq!(s.send_timeout(8, LONG), Ok(()));
        receiver.join();
        assert_eq!(
            s.send_timeout(9, LONG),
            Err(SendTimeoutError::Disconnected(9))
        );
    });
}
all_modes!(send_timeout_times_out_then_meets_a_receiver_then_sees_disconnection);

#[test]
fn send_and_recv_after_disconnection_fail_at_once() {
    let (s, r) = bounded::<i32>(0);
    drop(r);
    assert_eq!(s.send(1), Err(SendError(1)));
    assert_eq!(s.try_send(2), Err(TrySendError::Disconnected(2)));
    assert_eq!(
        s.send_timeout(3, LONG),
        Err(SendTimeoutError::Disconnected(3))
    );
    let (s, r) = bounded::<i32>(0);
    drop(s);
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(r.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
}

fn dropping_last_receiver_wakes_blocked_sender(mode: Mode) {
    scenario::dropping_last_receiver_wakes_sender(mode, 0);
}
all_modes!(dropping_last_receiver_wakes_blocked_sender);

fn dropping_last_sender_wakes_blocked_receiver(mode: Mode) {
    scenario::dropping_last_sender_wakes_receiver(mode, Some(0));
}
all_modes!(dropping_last_sender_wakes_blocked_receiver);

fn spsc_delivers_every_message_once_in_order(mode: Mode) {
    scenario::spsc(mode, Some(0), 5_000);
}
all_modes!(spsc_delivers_every_message_once_in_order);

fn mpmc_delivers_every_message_exactly_once(mode: Mode) {
    scenario::mpmc(mode, Some(0), 2_500, 4);
}
all_modes!(mpmc_delivers_every_message_exactly_once);

fn oneshot_send_and_recv_race_cleanly(mode: Mode) {
    scenario::oneshot(mode, Some(0), 300);
}
all_modes!(oneshot_send_and_recv_race_cleanly);

fn iter_and_try_iter_serve_a_request_loop(mode: Mode) {
    scenario::iter_request_response(mode, Some(0), 1_000);
}
all_modes!(iter_and_try_iter_serve_a_request_loop);

fn short_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
    scenario::timeouts_in_a_retry_loop(mode, Some(0), 40);
}
all_modes!(short_timeouts_in_retry_loops_lose_nothing);

fn every_message_is_dropped_exactly_once(mode: Mode) {
    scenario::unreceived_messages_dropped_once(mode, Some(0), 20, 2_000, 0);
}
mode_tests!(every_message_is_dropped_exactly_once);

fn channels_can_be_sent_through_channels(mode: Mode) {
    scenario::channels_through_channels(mode, Some(0), 500);
}
all_modes!(channels_can_be_sent_through_channels);

fn select_pairs_fairly_between_two_rendezvous_channels(mode: Mode) {
    const COUNT: usize = 2_000;
    let (s1, r1) = bounded::<()>(0);
    let (s2, r2) = bounded::<()>(0);
    scope(mode, |sc| {
        let receiver = sc.spawn(|| {
            let mut hits = [0usize; 2];
            for _ in 0..COUNT {
                select! {
                    recv(r1) -> _ => hits[0] += 1,
                    recv(r2) -> _ => hits[1] += 1,
                }
            }
            hits
        });
        let mut hits = [0usize; 2];
        for _ in 0..COUNT {
            select! {
                send(s1, ()) -> _ => hits[0] += 1,
                send(s2, ()) -> _ => hits[1] += 1,
            }
        }
        let received = receiver.join();
        assert_eq!(hits, received, "each send pairs with the matching receive");
        assert!(hits.iter().all(|&h| h >= COUNT / 8), "{hits:?}");
    });
}
all_modes!(select_pairs_fairly_between_two_rendezvous_channels);

fn select_pairs_fairly_between_duplicate_arms(mode: Mode) {
    const COUNT: usize = 2_000;
    let (s, r) = bounded::<()>(0);
    scope(mode, |sc| {
        let receiver = sc.spawn(|| {
            let mut hits = [0usize; 5];
            for _ in 0..COUNT {
                select! {
                    recv(r) -> _ => hits[0] += 1,
                    recv(r) -> _ => hits[1] += 1,
                    recv(r) -> _ => hits[2] += 1,
                    recv(r) -> _ => hits[3] += 1,
                    recv(r) -> _ => hits[4] += 1,
                }
            }
            hits
        });
        let mut hits = [0usize; 5];
        for _ in 0..COUNT {
            select! {
                send(s, ()) -> _ => hits[0] += 1,
                send(s, ()) -> _ => hits[1] += 1,
                send(s, ()) -> _ => hits[2] += 1,
                send(s, ()) -> _ => hits[3] += 1,
                send(s, ()) -> _ => hits[4] += 1,
            }
        }
        let received = receiver.join();
        assert!(hits.iter().all(|&h| h >= COUNT / 20), "{hits:?}");
        assert!(received.iter().all(|&h| h >= COUNT / 20), "{received:?}");
    });
}
all_modes!(select_pairs_fairly_between_duplicate_arms);

fn send_arm_message_is_evaluated_after_pairing(mode: Mode) {
    // The select pairs with the first receiver, and only then evaluates
    // the message, which itself receives from the second sender.
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        let first = sc.spawn(|| {
            sleep(ms(20));
            r.recv()
        });
        sc.spawn(|| {
            sleep(ms(200));
            s.send(1).unwrap();
        });
        select! {
            send(s, r.recv().unwrap() + 1) -> res => assert_eq!(res, Ok(())),
        }
        assert_eq!(first.join(), Ok(2));
    });
}
all_modes!(send_arm_message_is_evaluated_after_pairing);

fn two_goroutines_on_one_worker_can_pair(mode: Mode) {
    // Identity is the task, not the thread: goroutines sharing a worker
    // must not take each other for "self" (crossbeam's thread-id check).
    // With many pairs and few workers, several pairs share a worker.
    const PAIRS: usize = 16;
    const ROUNDS: usize = 200;
    let chans: Vec<_> = (0..PAIRS).map(|_| bounded::<usize>(0)).collect();
    scope(mode, |sc| {
        for (s, r) in &chans {
            sc.spawn(move || {
                for i in 0..ROUNDS {
                    select! {
                        send(s, i) -> res => res.unwrap(),
                        recv(r) -> v => assert!(v.unwrap() < ROUNDS),
                    }
                }
            });
            sc.spawn(move || {
                for i in 0..ROUNDS {
                    select! {
                        send(s, i) -> res => res.unwrap(),
                        recv(r) -> v => assert!(v.unwrap() < ROUNDS),
                    }
                }
            });
        }
    });
}
all_modes!(two_goroutines_on_one_worker_can_pair);

#[test]
fn blocked_receivers_park_their_goroutines() {
    let (s, r) = bounded::<()>(0);
    let s = std::sync::Mutex::new(Some(s));
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(r.recv(), Err(RecvError)),
        || drop(s.lock().unwrap().take()),
    );
}

#[test]
fn blocked_senders_park_their_goroutines() {
    let (s, r) = bounded::<u32>(0);
    let r = std::sync::Mutex::new(Some(r));
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(s.send(1), Err(SendError(1))),
        || drop(r.lock().unwrap().take()),
    );
}
