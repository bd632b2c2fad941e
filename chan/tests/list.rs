//! Unbounded channels (`unbounded()`): the behaviours of crossbeam-channel's
//! `tests/list.rs`, each concurrent one run with threads, with goroutines,
//! and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;

#[test]
fn smoke_send_try_send_recv_and_try_recv() {
    let (s, r) = unbounded();
    s.try_send(7).unwrap();
    assert_eq!(r.try_recv(), Ok(7));
    s.send(8).unwrap();
    assert_eq!(r.recv(), Ok(8));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn capacity_is_none() {
    let (s, r) = unbounded::<()>();
    assert_eq!(s.capacity(), None);
    assert_eq!(r.capacity(), None);
}

#[test]
fn len_is_empty_and_is_full_track_the_queue() {
    let (s, r) = unbounded();
    assert_eq!((s.len(), s.is_empty(), s.is_full()), (0, true, false));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
    s.send(()).unwrap();
    assert_eq!((s.len(), s.is_empty(), s.is_full()), (1, false, false));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (1, false, false));
    r.recv().unwrap();
    assert_eq!((s.len(), s.is_empty(), s.is_full()), (0, true, false));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
}

#[test]
fn len_counts_queued_messages_across_blocks() {
    // Blocks hold 31 messages; go well past a few of them.
    let (s, r) = unbounded();
    for i in 0..200 {
        s.send(i).unwrap();
        assert_eq!(s.len(), i + 1);
    }
    for i in 0..200 {
        assert_eq!(r.recv(), Ok(i));
        assert_eq!(r.len(), 200 - i - 1);
    }
    assert_eq!(s.len(), 0);
}

fn recv_timeout_on_empty_channel_times_out(mode: Mode) {
    run(mode, || {
        let (_s, r) = unbounded::<i32>();
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
fn recv_timeout_with_expired_deadline_still_takes_a_queued_message() {
    let (s, r) = unbounded::<i32>();
    s.send(5).unwrap();
    assert_eq!(r.recv_timeout(ms(0)), Ok(5));
    assert_eq!(r.recv_timeout(ms(0)), Err(RecvTimeoutError::Timeout));
}

fn try_recv_sees_empty_then_the_message_then_disconnected(mode: Mode) {
    let (s, r) = unbounded();
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
    let (s, r) = unbounded();
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
    let (s, r) = unbounded::<i32>();
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

#[test]
fn try_send_never_reports_full() {
    let (s, r) = unbounded();
    for i in 0..1000 {
        assert_eq!(s.try_send(i), Ok(()));
    }
    assert_eq!(r.len(), 1000);
    drop(r);
    assert_eq!(s.try_send(777), Err(TrySendError::Disconnected(777)));
}

#[test]
fn send_never_blocks() {
    let (s, r) = unbounded();
    for i in 0..1000 {
        assert_eq!(s.send(i), Ok(()));
    }
    drop(r);
    assert_eq!(s.send(777), Err(SendError(777)));
}

#[test]
fn send_timeout_never_times_out() {
    let (s, r) = unbounded();
    for i in 0..1000 {
        assert_eq!(s.send_timeout(i, ms(0)), Ok(()));
        assert_eq!(s.send_deadline(i, Instant::now()), Ok(()));
    }
    drop(r);
    assert_eq!(
        s.send_timeout(777, ms(0)),
        Err(SendTimeoutError::Disconnected(777))
    );
}

#[test]
fn send_after_receivers_are_gone_fails_and_returns_the_message() {
    let (s, r) = unbounded();
    s.send(1).unwrap();
    s.send(2).unwrap();
    s.send(3).unwrap();
    drop(r);
    assert_eq!(s.send(4), Err(SendError(4)));
    assert_eq!(s.try_send(5), Err(TrySendError::Disconnected(5)));
    assert_eq!(
        s.send_timeout(6, ms(0)),
        Err(SendTimeoutError::Disconnected(6))
    );
}

#[test]
fn recv_after_senders_are_gone_drains_then_fails() {
    let (s, r) = unbounded();
    s.send(1).unwrap();
    s.send(2).unwrap();
    s.send(3).unwrap();
    drop(s);
    assert_eq!(r.recv(), Ok(1));
    assert_eq!(r.recv(), Ok(2));
    assert_eq!(r.recv(), Ok(3));
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
}

fn dropping_last_sender_wakes_blocked_receiver(mode: Mode) {
    scenario::dropping_last_sender_wakes_receiver(mode, None);
}
all_modes!(dropping_last_sender_wakes_blocked_receiver);

fn spsc_delivers_every_message_once_in_order(mode: Mode) {
    scenario::spsc(mode, None, 10_000);
}
all_modes!(spsc_delivers_every_message_once_in_order);

fn mpmc_delivers_every_message_exactly_once(mode: Mode) {
    scenario::mpmc(mode, None, 2_500, 4);
}
all_modes!(mpmc_delivers_every_message_exactly_once);

fn oneshot_send_and_recv_race_cleanly(mode: Mode) {
    scenario::oneshot(mode, None, 300);
}
all_modes!(oneshot_send_and_recv_race_cleanly);

fn iter_and_try_iter_serve_a_request_loop(mode: Mode) {
    scenario::iter_request_response(mode, None, 5_000);
}
all_modes!(iter_and_try_iter_serve_a_request_loop);

fn short_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
    scenario::timeouts_in_a_retry_loop(mode, None, 40);
}
all_modes!(short_timeouts_in_retry_loops_lose_nothing);

fn unreceived_messages_are_dropped_exactly_once(mode: Mode) {
    scenario::unreceived_messages_dropped_once(mode, None, 20, 2_000, 200);
}
mode_tests!(unreceived_messages_are_dropped_exactly_once);

fn completed_send_is_visible_to_try_recv(mode: Mode) {
    scenario::send_then_try_recv_is_linearizable(mode, None, 4, 5_000);
}
all_modes!(completed_send_is_visible_to_try_recv);

fn channels_can_be_sent_through_channels(mode: Mode) {
    scenario::channels_through_channels(mode, None, 500);
}
all_modes!(channels_can_be_sent_through_channels);

fn senders_racing_the_last_receivers_drop_lose_or_drop_every_message(mode: Mode) {
    // Senders keep sending while the receiver takes a few and then goes
    // away: every message is either received or dropped, exactly once,
    // and every send after the disconnection fails with its message back.
    const SENDERS: usize = 4;
    for _ in 0..20 {
        let drops = DropCounter::new();
        let (s, r) = unbounded::<Counted>();
        let received = scope(mode, |sc| {
            let senders: Vec<_> = (0..SENDERS)
                .map(|_| {
                    let s = s.clone();
                    let drops = drops.clone();
                    sc.spawn(move || {
                        let mut sent = 0usize;
                        while s.send(drops.item()).is_ok() {
                            sent += 1;
                            if sent.is_multiple_of(64) {
                                relax();
                            }
                        }
                        sent
                    })
                })
                .collect();
            let mut received = 0;
            for _ in 0..100 {
                r.recv().unwrap();
                received += 1;
            }
            drop(r);
            let sent: usize = senders.into_iter().map(|h| h.join()).sum();
            (received, sent)
        });
        let (received, sent) = received;
        drop(s);
        assert_eq!(received, 100);
        // Every successfully sent message was dropped once (received or
        // discarded), plus one rejected message per sender.
        assert_eq!(drops.drops(), sent + SENDERS);
    }
}
all_modes!(senders_racing_the_last_receivers_drop_lose_or_drop_every_message);

#[test]
fn dropping_a_long_queue_drops_every_message_once() {
    let drops = DropCounter::new();
    let (s, r) = unbounded();
    for _ in 0..100_000 {
        s.send(drops.item()).unwrap();
    }
    for _ in 0..1_000 {
        r.recv().unwrap();
    }
    assert_eq!(drops.drops(), 1_000);
    drop(r);
    assert_eq!(drops.drops(), 100_000);
    drop(s);
    assert_eq!(drops.drops(), 100_000);
}

fn large_messages_do_not_overflow_the_stack(mode: Mode) {
    // A block holds 31 slots; it must be allocated on the heap directly,
    // not built on the stack and moved: 31 slots of a large message do not
    // fit a thread's stack (2 MiB), nor a goroutine's (256 KiB).
    fn send_one<const N: usize>() {
        struct Big<const N: usize> {
            data: [u8; N],
        }
        let (s, r) = unbounded::<Big<N>>();
        s.send(Big { data: [7; N] }).unwrap();
        for big in r.try_iter() {
            assert!(big.data.iter().all(|&x| x == 7));
        }
    }
    match mode.body() {
        Kind::Thread => run(mode, send_one::<{ 32 * 1024 }>),
        Kind::Goroutine => run(mode, send_one::<{ 8 * 1024 }>),
    }
}
mode_tests!(large_messages_do_not_overflow_the_stack:
    threads,
    goroutines,
);

#[test]
fn select_chooses_fairly_between_ready_channels() {
    const COUNT: usize = 5_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
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
    let (s, r) = unbounded::<()>();
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
fn send_arm_message_may_receive_from_the_same_channel() {
    let (s, r) = unbounded();
    s.send(()).unwrap();
    select! {
        send(s, assert_eq!(r.recv(), Ok(()))) -> res => assert_eq!(res, Ok(())),
    }
    assert_eq!(r.try_recv(), Ok(()));
}

#[test]
fn blocked_receivers_park_their_goroutines() {
    let (s, r) = unbounded::<()>();
    let s = std::sync::Mutex::new(Some(s));
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(r.recv(), Err(RecvError)),
        || drop(s.lock().unwrap().take()),
    );
}

/// A goroutine woken by a plain thread (here: a channel send) must get to
/// run soon, even while a producer goroutine that yields every 32 sends
/// and a consumer goroutine keep the workers busy with an unbounded
/// channel. Seen failing: the woken goroutine runs only after seconds, or
/// not before the pair stops (not with `GOFER_MAXPROCS=1`; also when the
/// goroutine is woken by its own `sleep` timer instead).
#[test]
fn a_woken_goroutine_runs_promptly_beside_a_chatty_pair() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let mut worst = Duration::ZERO;
    for _ in 0..100 {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (s, r) = unbounded::<u64>();
        let producer = {
            let stop = stop.clone();
            gofer_runtime::spawn(move || {
                let mut i = 0u64;
                while !stop.load(SeqCst) && s.send(i).is_ok() {
                    i += 1;
                    if i.is_multiple_of(32) {
                        relax();
                    }
                }
            })
        };
        let consumer = gofer_runtime::spawn(move || while r.recv().is_ok() {});
        let (wake_s, wake_r) = bounded::<Instant>(1);
        let (started_s, started_r) = bounded::<()>(1);
        let woken = gofer_runtime::spawn(move || {
            started_s.send(()).unwrap();
            wake_r.recv().unwrap().elapsed()
        });
        started_r.recv().unwrap();
        sleep(ms(5));
        wake_s.send(Instant::now()).unwrap();
        let deadline = Instant::now() + ms(3000);
        while !woken.is_finished() && Instant::now() < deadline {
            sleep(ms(1));
        }
        let latency = if woken.is_finished() {
            woken.join().unwrap()
        } else {
            ms(3000)
        };
        stop.store(true, SeqCst);
        producer.join().unwrap();
        consumer.join().unwrap();
        worst = worst.max(latency);
    }
    assert!(
        worst < ms(1000),
        "a goroutine woken by a send ran only {worst:?} later (3 s: not while the pair ran)"
    );
}
