//! Buffered bounded channels (`bounded(n)`, `n > 0`): the behaviours of
//! crossbeam-channel's `tests/array.rs`, each concurrent one run with
//! threads, with goroutines, and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[test]
fn smoke_send_recv_and_try_recv() {
    let (s, r) = bounded(1);
    s.send(7).unwrap();
    assert_eq!(r.try_recv(), Ok(7));
    s.send(8).unwrap();
    assert_eq!(r.recv(), Ok(8));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_is_reported_by_both_ends() {
    for cap in 1..10 {
        let (s, r) = bounded::<()>(cap);
        assert_eq!(s.capacity(), Some(cap));
        assert_eq!(r.capacity(), Some(cap));
    }
}

#[test]
fn len_is_empty_and_is_full_track_the_buffer() {
    let (s, r) = bounded(2);
    let state = |s: &Sender<()>, r: &Receiver<()>| {
        assert_eq!(s.len(), r.len());
        assert_eq!(s.is_empty(), r.is_empty());
        assert_eq!(s.is_full(), r.is_full());
        (s.len(), s.is_empty(), s.is_full())
    };
    assert_eq!(state(&s, &r), (0, true, false));
    s.send(()).unwrap();
    assert_eq!(state(&s, &r), (1, false, false));
    s.send(()).unwrap();
    assert_eq!(state(&s, &r), (2, false, true));
    r.recv().unwrap();
    assert_eq!(state(&s, &r), (1, false, false));
    r.recv().unwrap();
    assert_eq!(state(&s, &r), (0, true, false));
}

fn recv_timeout_on_empty_channel_times_out(mode: Mode) {
    run(mode, || {
        let (_s, r) = bounded::<i32>(1);
        let start = Instant::now();
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(start.elapsed(), ms(50));
        let start = Instant::now();
        assert_eq!(
            r.recv_deadline(start + ms(50)),
            Err(RecvTimeoutError::Timeout)
        );
        assert_waited(start.elapsed(), ms(50));
    });
}
mode_tests!(recv_timeout_on_empty_channel_times_out);

#[test]
fn recv_timeout_with_expired_deadline_still_takes_a_buffered_message() {
    let (s, r) = bounded(2);
    s.send(5).unwrap();
    assert_eq!(r.recv_timeout(ms(0)), Ok(5));
    assert_eq!(r.recv_timeout(ms(0)), Err(RecvTimeoutError::Timeout));
    s.send(6).unwrap();
    assert_eq!(r.recv_deadline(Instant::now()), Ok(6));
    assert_eq!(
        r.recv_deadline(Instant::now()),
        Err(RecvTimeoutError::Timeout)
    );
}

fn try_recv_sees_empty_then_the_message_then_disconnected(mode: Mode) {
    let (s, r) = bounded(100);
    let (go_s, go_r) = unbounded::<()>();
    let (sent_s, sent_r) = unbounded::<()>();
    scope(mode, |sc| {
        let sender = sc.spawn(move || {
            go_r.recv().unwrap();
            s.send(7).unwrap();
            sent_s.send(()).unwrap();
        });
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        go_s.send(()).unwrap();
        sent_r.recv().unwrap();
        assert_eq!(r.try_recv(), Ok(7));
        sender.join();
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    });
}
all_modes!(try_recv_sees_empty_then_the_message_then_disconnected);

fn recv_waits_for_messages_then_sees_disconnection(mode: Mode) {
    let (s, r) = bounded(100);
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(50));
            s.send(7).unwrap();
            s.send(8).unwrap();
            sleep(ms(20));
            s.send(9).unwrap();
        });
        assert_eq!(r.recv(), Ok(7));
        assert_eq!(r.recv(), Ok(8));
        assert_eq!(r.recv(), Ok(9));
        assert_eq!(r.recv(), Err(RecvError));
    });
}
all_modes!(recv_waits_for_messages_then_sees_disconnection);

fn recv_timeout_times_out_then_receives_then_sees_disconnection(mode: Mode) {
    let (s, r) = bounded::<i32>(100);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            go_r.recv().unwrap();
            sleep(ms(20));
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

fn try_send_reports_full_then_succeeds_then_disconnected(mode: Mode) {
    let (s, r) = bounded(1);
    let (to_recv_s, to_recv_r) = unbounded::<()>();
    let (to_send_s, to_send_r) = unbounded::<()>();
    scope(mode, |sc| {
        let receiver = sc.spawn(move || {
            to_recv_r.recv().unwrap();
            assert_eq!(r.try_recv(), Ok(1));
            assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
            to_send_s.send(()).unwrap();
            assert_eq!(r.recv(), Ok(3));
        });
        assert_eq!(s.try_send(1), Ok(()));
        assert_eq!(s.try_send(2), Err(TrySendError::Full(2)));
        to_recv_s.send(()).unwrap();
        to_send_r.recv().unwrap();
        assert_eq!(s.try_send(3), Ok(()));
        receiver.join();
        assert_eq!(s.try_send(4), Err(TrySendError::Disconnected(4)));
    });
}
all_modes!(try_send_reports_full_then_succeeds_then_disconnected);

fn send_blocks_while_the_buffer_is_full(mode: Mode) {
    let (s, r) = bounded(1);
    let sent = AtomicUsize::new(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..4 {
                s.send(i).unwrap();
                sent.fetch_add(1, SeqCst);
            }
        });
        sleep(ms(50));
        // One message fits; the second send cannot finish before a recv.
        assert!(sent.load(SeqCst) <= 1);
        for i in 0..4 {
            assert_eq!(r.recv(), Ok(i));
            assert!(sent.load(SeqCst) <= i + 2);
        }
    });
    assert_eq!(sent.load(SeqCst), 4);
}
all_modes!(send_blocks_while_the_buffer_is_full);

fn send_timeout_times_out_while_full_and_succeeds_once_there_is_room(mode: Mode) {
    let (s, r) = bounded(2);
    let (go_s, go_r) = unbounded::<()>();
    let (room_s, room_r) = unbounded::<()>();
    scope(mode, |sc| {
        let receiver = sc.spawn(move || {
            go_r.recv().unwrap();
            assert_eq!(r.recv(), Ok(1));
            room_s.send(()).unwrap();
            assert_eq!(r.recv(), Ok(2));
            assert_eq!(r.recv(), Ok(4));
        });
        assert_eq!(s.send_timeout(1, LONG), Ok(()));
        assert_eq!(s.send_timeout(2, LONG), Ok(()));
        let start = Instant::now();
        assert_eq!(s.send_timeout(3, ms(50)), Err(SendTimeoutError::Timeout(3)));
        assert_waited(start.elapsed(), ms(50));
        assert_eq!(
            s.send_deadline(3, Instant::now()),
            Err(SendTimeoutError::Timeout(3))
        );
        go_s.send(()).unwrap();
        room_r.recv().unwrap();
        assert_eq!(s.send_timeout(4, LONG), Ok(()));
        receiver.join();
        assert_eq!(s.send(5), Err(SendError(5)));
        assert_eq!(
            s.send_timeout(6, LONG),
            Err(SendTimeoutError::Disconnected(6))
        );
    });
}
all_modes!(send_timeout_times_out_while_full_and_succeeds_once_there_is_room);

fn blocked_send_timeout_completes_when_a_slot_frees(mode: Mode) {
    let (s, r) = bounded(1);
    s.send(1).unwrap();
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            assert_eq!(r.recv(), Ok(1));
        });
        assert_eq!(s.send_timeout(2, LONG), Ok(()));
    });
    assert_eq!(r.try_recv(), Ok(2));
}
all_modes!(blocked_send_timeout_completes_when_a_slot_frees);

#[test]
fn send_after_receivers_are_gone_fails_and_returns_the_message() {
    let (s, r) = bounded(100);
    s.send(1).unwrap();
    s.send(2).unwrap();
    s.send(3).unwrap();
    drop(r);
    assert_eq!(s.send(4), Err(SendError(4)));
    assert_eq!(s.try_send(5), Err(TrySendError::Disconnected(5)));
    assert_eq!(
        s.send_timeout(6, ms(50)),
        Err(SendTimeoutError::Disconnected(6))
    );
}

#[test]
fn recv_after_senders_are_gone_drains_then_fails() {
    let (s, r) = bounded(100);
    s.send(1).unwrap();
    s.send(2).unwrap();
    s.send(3).unwrap();
    drop(s);
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(r.recv(), Ok(2));
    assert_eq!(r.recv(), Ok(3));
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn len_counts_messages_in_the_buffer() {
    const CAP: usize = 100;
    let (s, r) = bounded(CAP);
    for _ in 0..CAP / 10 {
        for i in 0..50 {
            s.send(i).unwrap();
            assert_eq!(s.len(), i + 1);
        }
        for i in 0..50 {
            r.recv().unwrap();
            assert_eq!(r.len(), 50 - i - 1);
        }
    }
    for i in 0..CAP {
        s.send(i).unwrap();
        assert_eq!(s.len(), i + 1);
    }
    assert!(s.is_full());
    for _ in 0..CAP {
        r.recv().unwrap();
    }
    assert_eq!(s.len(), 0);
    assert_eq!(r.len(), 0);
}

fn len_never_exceeds_capacity_under_concurrency(mode: Mode) {
    const COUNT: usize = 10_000;
    const CAP: usize = 50;
    let (s, r) = bounded(CAP);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                s.send(i).unwrap();
                assert!(s.len() <= CAP);
            }
        });
        sc.spawn(|| {
            for i in 0..COUNT {
                assert_eq!(r.recv(), Ok(i));
                assert!(r.len() <= CAP);
            }
        });
    });
    assert_eq!(s.len(), 0);
    assert_eq!(r.len(), 0);
}
all_modes!(len_never_exceeds_capacity_under_concurrency);

fn dropping_last_receiver_wakes_blocked_sender(mode: Mode) {
    scenario::dropping_last_receiver_wakes_sender(mode, 1);
}
all_modes!(dropping_last_receiver_wakes_blocked_sender);

fn dropping_last_sender_wakes_blocked_receiver(mode: Mode) {
    scenario::dropping_last_sender_wakes_receiver(mode, Some(1));
}
all_modes!(dropping_last_sender_wakes_blocked_receiver);

fn spsc_delivers_every_message_once_in_order(mode: Mode) {
    scenario::spsc(mode, Some(3), 10_000);
}
all_modes!(spsc_delivers_every_message_once_in_order);

fn mpmc_delivers_every_message_exactly_once(mode: Mode) {
    scenario::mpmc(mode, Some(3), 2_500, 4);
}
all_modes!(mpmc_delivers_every_message_exactly_once);

fn oneshot_send_and_recv_race_cleanly(mode: Mode) {
    scenario::oneshot(mode, Some(1), 300);
}
all_modes!(oneshot_send_and_recv_race_cleanly);

fn iter_and_try_iter_serve_a_request_loop(mode: Mode) {
    scenario::iter_request_response(mode, Some(1), 5_000);
}
all_modes!(iter_and_try_iter_serve_a_request_loop);

fn short_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
    scenario::timeouts_in_a_retry_loop(mode, Some(2), 40);
}
all_modes!(short_timeouts_in_retry_loops_lose_nothing);

fn unreceived_messages_are_dropped_exactly_once(mode: Mode) {
    scenario::unreceived_messages_dropped_once(mode, Some(50), 20, 2_000, 50);
}
mode_tests!(unreceived_messages_are_dropped_exactly_once);

fn completed_send_is_visible_to_try_recv(mode: Mode) {
    scenario::send_then_try_recv_is_linearizable(mode, Some(4), 4, 5_000);
}
all_modes!(completed_send_is_visible_to_try_recv);

fn channels_can_be_sent_through_channels(mode: Mode) {
    scenario::channels_through_channels(mode, Some(1), 500);
}
all_modes!(channels_can_be_sent_through_channels);

#[test]
fn select_chooses_fairly_between_ready_channels() {
    const COUNT: usize = 5_000;
    let (s1, r1) = bounded::<()>(COUNT);
    let (s2, r2) = bounded::<()>(COUNT);
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut hits = [0usize; 2];
    for _ in 0..COUNT {
        select! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
        }
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 4), "{hits:?}");
}

#[test]
fn select_chooses_fairly_between_duplicate_arms() {
    const COUNT: usize = 5_000;
    let (s, r) = bounded::<()>(COUNT);
    for _ in 0..COUNT {
        s.send(()).unwrap();
    }
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
    assert!(hits.iter().all(|&h| h >= COUNT / 10), "{hits:?}");
}

#[test]
#[allow(unreachable_code, clippy::diverging_sub_expression)]
fn send_arm_message_is_evaluated_only_once_chosen() {
    // Full: the send arm is not chosen, so its message is never evaluated.
    let (s, _r) = bounded(1);
    s.send(()).unwrap();
    select! {
        send(s, panic!("evaluated the message of an arm that was not chosen")) -> _ => panic!(),
        default => {}
    }

    // The message may even receive from the channel the arm sends on.
    let (s, r) = bounded(2);
    s.send(()).unwrap();
    select! {
        send(s, assert_eq!(r.recv(), Ok(()))) -> res => assert_eq!(res, Ok(())),
    }
    assert_eq!(r.try_recv(), Ok(()));
}

#[test]
fn panic_in_a_message_drop_reaches_the_dropper() {
    struct Flag<'a>(&'a AtomicUsize);
    impl Drop for Flag<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    struct Bomb<'a>(&'a AtomicUsize);
    impl Drop for Bomb<'_> {
        fn drop(&mut self) {
            if self.0.fetch_add(1, SeqCst) == 0 {
                panic!("first drop");
            }
        }
    }

    // Normal: both buffered messages are dropped with the channel.
    let (a, b) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (s, r) = bounded(2);
    s.send(Flag(&a)).unwrap();
    s.send(Flag(&b)).unwrap();
    drop(s);
    drop(r);
    assert_eq!((a.load(SeqCst), b.load(SeqCst)), (1, 1));

    // The first drop panics: the panic reaches whoever dropped the last
    // handle, and that message is dropped exactly once.
    let a = AtomicUsize::new(0);
    let b = AtomicUsize::new(0);
    let (s, r) = bounded(2);
    s.send(Bomb(&a)).unwrap();
    s.send(Bomb(&b)).unwrap();
    drop(s);
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(r)));
    assert_eq!(
        *res.unwrap_err().downcast_ref::<&str>().unwrap(),
        "first drop"
    );
    assert_eq!(a.load(SeqCst), 1);
    assert!(b.load(SeqCst) <= 1);
}

#[test]
fn blocked_receivers_park_their_goroutines() {
    let (s, r) = bounded::<()>(1);
    let s = std::sync::Mutex::new(Some(s));
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(r.recv(), Err(RecvError)),
        || drop(s.lock().unwrap().take()),
    );
}

#[test]
fn blocked_senders_park_their_goroutines() {
    let (s, r) = bounded::<u32>(1);
    s.send(0).unwrap();
    let r = std::sync::Mutex::new(Some(r));
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(s.send(1), Err(SendError(1))),
        || drop(r.lock().unwrap().take()),
    );
}
