//! The `select!` and `select_biased!` macros: crossbeam-channel's syntax
//! and semantics (`tests/select_macro.rs`) — arms, `default`,
//! `default(timeout)`, disconnected channels counting as ready,
//! evaluation order (channel expressions once, in order; a send message
//! only for the winning arm), fairness and bias — each concurrent test run
//! with threads, with goroutines, and mixed.

#![forbid(unsafe_code)] // select! needs none.
#![allow(
    clippy::match_single_binding,
    clippy::never_loop,
    clippy::redundant_closure_call,
    clippy::diverging_sub_expression,
    unreachable_code
)]

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[test]
fn the_arm_of_the_ready_channel_runs() {
    let (s1, r1) = unbounded::<usize>();
    let (s2, r2) = unbounded::<usize>();
    s1.send(1).unwrap();
    select! {
        recv(r1) -> v => assert_eq!(v, Ok(1)),
        recv(r2) -> _ => panic!(),
    }
    s2.send(2).unwrap();
    select! {
        recv(r1) -> _ => panic!(),
        recv(r2) -> v => assert_eq!(v, Ok(2)),
    }
}

#[test]
fn the_one_ready_arm_among_many_runs() {
    let (_s1, r1) = unbounded::<i32>();
    let (_s2, r2) = unbounded::<i32>();
    let (_s3, r3) = unbounded::<i32>();
    let (_s4, r4) = unbounded::<i32>();
    let (s5, r5) = unbounded::<i32>();
    s5.send(5).unwrap();
    select! {
        recv(r1) -> _ => panic!(),
        recv(r2) -> _ => panic!(),
        recv(r3) -> _ => panic!(),
        recv(r4) -> _ => panic!(),
        recv(r5) -> v => assert_eq!(v, Ok(5)),
    }
}

fn a_disconnected_channel_is_ready_with_an_error(mode: Mode) {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let s2 = &s2;
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            drop(s1);
            // r2 gets its message only after the select is done.
            go_r.recv().unwrap();
            s2.send(5).unwrap();
        });
        select! {
            recv(r1) -> v => assert_eq!(v, Err(RecvError)),
            recv(r2) -> _ => panic!("r2 won before its message was sent"),
            default(LONG) => panic!("timed out"),
        }
        go_s.send(()).unwrap();
        assert_eq!(r2.recv(), Ok(5));
    });
    select! {
        recv(r1) -> v => assert!(v.is_err()),
        default(LONG) => panic!("timed out"),
    }
}
all_modes!(a_disconnected_channel_is_ready_with_an_error);

fn disconnection_wakes_a_blocked_select(mode: Mode) {
    let (s, r) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(50));
            drop(s);
        });
        select! {
            recv(r) -> v => assert_eq!(v, Err(RecvError)),
            default(LONG) => panic!("timed out"),
        }
    });
}
all_modes!(disconnection_wakes_a_blocked_select);

#[test]
fn default_runs_only_when_nothing_is_ready() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    select! {
        recv(r1) -> _ => panic!(),
        recv(r2) -> _ => panic!(),
        default => {}
    }
    drop(s1);
    select! {
        recv(r1) -> v => assert!(v.is_err()),
        recv(r2) -> _ => panic!(),
        default => panic!(),
    }
    s2.send(2).unwrap();
    select! {
        recv(r2) -> v => assert_eq!(v, Ok(2)),
        default => panic!(),
    }
    select! {
        recv(r2) -> _ => panic!(),
        default => {},
    }
    select! {
        default => {},
    }
}

fn default_timeout_runs_when_nothing_arrives_in_time(mode: Mode) {
    let (_s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            go_r.recv().unwrap();
            sleep(ms(20));
            s2.send(2).unwrap();
        });
        let start = Instant::now();
        select! {
            recv(r1) -> _ => panic!(),
            recv(r2) -> _ => panic!(),
            default(ms(50)) => {},
        }
        assert_waited(start.elapsed(), ms(50));
        go_s.send(()).unwrap();
        select! {
            recv(r1) -> _ => panic!(),
            recv(r2) -> v => assert_eq!(v, Ok(2)),
            default(LONG) => panic!("timed out"),
        }
    });

    // After a default(timeout), a disconnection that happened meanwhile is
    // seen by a plain default.
    let (s, r) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(20));
            drop(s);
        });
        select! {
            default(ms(300)) => {
                select! {
                    recv(r) -> v => assert!(v.is_err()),
                    default => panic!(),
                }
            }
        }
    });
}
all_modes!(default_timeout_runs_when_nothing_arrives_in_time);

#[test]
fn disconnected_channels_beat_default() {
    let (_, r) = unbounded::<i32>();
    select! {
        recv(r) -> res => assert!(res.is_err()),
        default => panic!(),
    }
    let (_, r) = unbounded::<i32>();
    select! {
        recv(r) -> res => assert!(res.is_err()),
        default(LONG) => panic!(),
    }
    let (s, _) = bounded::<i32>(0);
    select! {
        send(s, 0) -> res => assert_eq!(res, Err(SendError(0))),
        default => panic!(),
    }
    let (s, _) = bounded::<i32>(0);
    select! {
        send(s, 0) -> res => assert_eq!(res, Err(SendError(0))),
        default(LONG) => panic!(),
    }
}

fn a_select_with_only_default_runs_it(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let x = select! {
            default => 7,
        };
        assert_eq!(x, 7);
        assert!(start.elapsed() < LONG);

        let start = Instant::now();
        select! {
            default(ms(50)) => {}
        }
        assert_waited(start.elapsed(), ms(50));
    });
}
mode_tests!(a_select_with_only_default_runs_it);

#[test]
fn an_empty_select_blocks_forever() {
    fn block() {
        select! {}
    }
    // The thread is left parked for the rest of the run.
    let h = std::thread::spawn(block);
    sleep(ms(50));
    assert!(!h.is_finished());
}

fn a_late_peer_unblocks_the_select(mode: Mode) {
    let (s1, r1) = bounded::<i32>(0);
    let (s2, r2) = bounded::<i32>(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            s2.send(2).unwrap();
        });
        select! {
            recv(r1) -> _ => panic!(),
            recv(r2) -> v => assert_eq!(v, Ok(2)),
            default(LONG) => panic!("timed out"),
        }
    });
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            assert_eq!(r1.recv(), Ok(1));
        });
        select! {
            send(s1, 1) -> res => assert_eq!(res, Ok(())),
            send(s2, 2) -> _ => panic!(),
            default(LONG) => panic!("timed out"),
        }
    });
}
all_modes!(a_late_peer_unblocks_the_select);

fn a_send_and_a_receive_arm_are_served_in_turn(mode: Mode) {
    let (s1, r1) = bounded(0);
    let (s2, r2) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            s1.send(1).unwrap();
            assert_eq!(r2.recv(), Ok(2));
        });
        for _ in 0..2 {
            select! {
                recv(r1) -> v => assert_eq!(v, Ok(1)),
                send(s2, 2) -> res => assert_eq!(res, Ok(())),
            }
        }
    });
}
all_modes!(a_send_and_a_receive_arm_are_served_in_turn);

fn polling_with_default_meets_a_blocking_select(mode: Mode) {
    for _ in 0..5 {
        let (s1, r1) = bounded::<i32>(0);
        let (s2, r2) = bounded::<i32>(0);
        let (s_end, r_end) = bounded::<()>(0);
        scope(mode, |sc| {
            sc.spawn(|| {
                loop {
                    select! {
                        send(s1, 1) -> _ => break,
                        default => {}
                    }
                    select! {
                        recv(r_end) -> _ => break,
                        default => {}
                    }
                    relax();
                }
            });
            sc.spawn(|| {
                loop {
                    if let Ok(x) = r2.try_recv() {
                        assert_eq!(x, 2);
                        break;
                    }
                    select! {
                        recv(r_end) -> _ => break,
                        default => {}
                    }
                    relax();
                }
            });
            sc.spawn(|| {
                sleep(ms(20));
                select! {
                    recv(r1) -> v => assert_eq!(v, Ok(1)),
                    send(s2, 2) -> _ => {},
                    default(LONG) => panic!("timed out"),
                }
                drop(s_end);
            });
        });
    }
}
all_modes!(polling_with_default_meets_a_blocking_select);

fn dropping_a_clone_does_not_disturb_a_blocked_select(mode: Mode) {
    let (s1, r1) = unbounded::<i32>();
    let (_s2, r2) = unbounded::<i32>();
    let (s3, r3) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            r3.recv().unwrap();
            drop(s1.clone());
            assert_eq!(r3.try_recv(), Err(TryRecvError::Empty));
            s1.send(1).unwrap();
            r3.recv().unwrap();
        });
        s3.send(()).unwrap();
        select! {
            recv(r1) -> v => assert_eq!(v, Ok(1)),
            recv(r2) -> _ => panic!(),
        }
        s3.send(()).unwrap();
    });
}
all_modes!(dropping_a_clone_does_not_disturb_a_blocked_select);

fn dropping_a_clone_does_not_wake_a_select_on_it(mode: Mode) {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(|| {
            select! {
                recv(r1) -> _ => panic!("woken by dropping a clone"),
                recv(r2) -> v => assert_eq!(v, Ok(())),
            }
        });
        sleep(ms(50));
        drop(s1.clone());
        s2.send(()).unwrap();
    });
}
all_modes!(dropping_a_clone_does_not_wake_a_select_on_it);

#[test]
fn preflight_queued_messages_come_before_the_disconnection() {
    let (s, r) = unbounded();
    s.send(()).unwrap();
    select! {
        recv(r) -> v => assert_eq!(v, Ok(())),
    }

    let (s, r) = unbounded();
    drop(s.clone());
    s.send(()).unwrap();
    drop(s);
    select! {
        recv(r) -> v => assert!(v.is_ok()),
    }
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    select! {
        recv(r) -> v => assert!(v.is_err())
    }
}

#[test]
fn duplicate_arms_are_all_chosen_sometimes() {
    let (s, r) = unbounded::<i32>();
    let mut hit = [false; 4];
    while hit.iter().any(|hit| !hit) {
        select! {
            recv(r) -> _ => hit[0] = true,
            recv(r) -> _ => hit[1] = true,
            send(s, 0) -> _ => hit[2] = true,
            send(s, 0) -> _ => hit[3] = true,
        }
    }
}

#[test]
fn selects_nest_inside_arms() {
    let (s, r) = unbounded::<i32>();
    select! {
        send(s, 0) -> _ => {
            select! {
                recv(r) -> v => {
                    assert_eq!(v, Ok(0));
                    select! {
                        send(s, 1) -> _ => {
                            select! {
                                recv(r) -> v => {
                                    assert_eq!(v, Ok(1));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "send panicked")]
fn a_panicking_sender_expression_propagates() {
    fn get() -> Sender<i32> {
        panic!("send panicked")
    }
    select! {
        send(get(), panic!()) -> _ => {}
    }
}

#[test]
#[should_panic(expected = "recv panicked")]
fn a_panicking_receiver_expression_propagates() {
    fn get() -> Receiver<i32> {
        panic!("recv panicked")
    }
    select! {
        recv(get()) -> _ => {}
    }
}

fn stress_receive_arms(mode: Mode) {
    const COUNT: usize = 1_000;
    let (s1, r1) = unbounded();
    let (s2, r2) = bounded(5);
    let (s3, r3) = bounded(100);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                s1.send(i).unwrap();
                r3.recv().unwrap();
                s2.send(i).unwrap();
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                select! {
                    recv(r1) -> v => assert_eq!(v, Ok(i)),
                    recv(r2) -> v => assert_eq!(v, Ok(i)),
                }
                s3.send(()).unwrap();
            }
        }
    });
}
all_modes!(stress_receive_arms);

fn stress_send_arms(mode: Mode) {
    const COUNT: usize = 1_000;
    let (s1, r1) = bounded(0);
    let (s2, r2) = bounded(0);
    let (s3, r3) = bounded(100);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                assert_eq!(r1.recv(), Ok(i));
                assert_eq!(r2.recv(), Ok(i));
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                select! {
                    send(s1, i) -> _ => {},
                    send(s2, i) -> _ => {},
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_send_arms);

fn stress_mixed_arms(mode: Mode) {
    const COUNT: usize = 1_000;
    let (s1, r1) = bounded(0);
    let (s2, r2) = bounded(0);
    let (s3, r3) = bounded(100);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                s1.send(i).unwrap();
                assert_eq!(r2.recv(), Ok(i));
                r3.recv().unwrap();
            }
        });
        for i in 0..COUNT {
            for _ in 0..2 {
                select! {
                    recv(r1) -> v => assert_eq!(v, Ok(i)),
                    send(s2, i) -> _ => {},
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_mixed_arms);

fn short_default_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
    const COUNT: usize = 20;
    let (s, r) = bounded(2);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                if i.is_multiple_of(4) {
                    sleep(ms(10));
                }
                loop {
                    select! {
                        send(s, i) -> _ => break,
                        default(ms(2)) => {}
                    }
                }
            }
        });
        sc.spawn(|| {
            for i in 0..COUNT {
                if i.is_multiple_of(4) {
                    sleep(ms(10));
                }
                loop {
                    select! {
                        recv(r) -> v => {
                            assert_eq!(v, Ok(i));
                            break;
                        }
                        default(ms(2)) => {}
                    }
                }
            }
        });
    });
}
all_modes!(short_default_timeouts_in_retry_loops_lose_nothing);

fn a_select_never_pairs_with_itself(mode: Mode) {
    run(mode, || {
        let (s, r) = bounded::<i32>(0);
        let start = Instant::now();
        select! {
            send(s, 0) -> _ => panic!(),
            recv(r) -> _ => panic!(),
            default(ms(50)) => {}
        }
        assert_waited(start.elapsed(), ms(50));

        let (s, r) = unbounded::<i32>();
        select! {
            send(s, 0) -> _ => {},
            recv(r) -> _ => panic!(),
            default(LONG) => panic!(),
        }
    });
}
mode_tests!(a_select_never_pairs_with_itself);

fn tasks_selecting_both_ways_on_one_rendezvous_channel_pair_up(mode: Mode) {
    const TASKS: usize = 20;
    let (s, r) = &bounded::<usize>(0);
    let received = AtomicUsize::new(0);
    scope(mode, |sc| {
        for i in 0..TASKS {
            let received = &received;
            sc.spawn(move || {
                select! {
                    recv(r) -> v => {
                        assert_ne!(v.unwrap(), i, "received its own message");
                        received.fetch_add(1, SeqCst);
                    }
                    send(s, i) -> res => res.unwrap(),
                }
            });
        }
    });
    assert_eq!(received.load(SeqCst), TASKS / 2);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(tasks_selecting_both_ways_on_one_rendezvous_channel_pair_up);

fn an_odd_task_out_pairs_with_a_plain_send(mode: Mode) {
    const TASKS: usize = 21;
    let (s, r) = &bounded::<usize>(0);
    scope(mode, |sc| {
        for i in 0..TASKS {
            sc.spawn(move || {
                select! {
                    recv(r) -> v => assert_ne!(v.unwrap(), i),
                    send(s, i) -> res => res.unwrap(),
                }
            });
        }
        s.send(!0).unwrap();
    });
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(an_odd_task_out_pairs_with_a_plain_send);

fn channels_travel_through_select_arms(mode: Mode) {
    type T = Box<dyn std::any::Any + Send>;
    for cap in 0..3 {
        let (s, r) = bounded::<T>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut s = s;
                for _ in 0..300 {
                    let (new_s, new_r) = bounded(cap);
                    let new_r: T = Box::new(Some(new_r));
                    select! {
                        send(s, new_r) -> res => res.unwrap(),
                    }
                    s = new_s;
                }
            });
            sc.spawn(move || {
                let mut r = r;
                for _ in 0..300 {
                    r = select! {
                        recv(r) -> msg => {
                            msg.unwrap()
                                .downcast_mut::<Option<Receiver<T>>>()
                                .unwrap()
                                .take()
                                .unwrap()
                        }
                    }
                }
            });
        });
    }
}
all_modes!(channels_travel_through_select_arms);

/// After the peer's send on `r1` has completed, a `select!` over `r1` and
/// `r2` with `default` (or `default(0)`) must find one ready.
fn linearizable(mode: Mode, with_timeout: bool) {
    const COUNT: usize = 1_000;
    for unbounded_step in [false, true] {
        let (start_s, start_r) = bounded::<()>(0);
        let (end_s, end_r) = bounded::<()>(0);
        let ((s1, r1), (s2, r2)) = if unbounded_step {
            (unbounded::<i32>(), unbounded::<i32>())
        } else {
            (bounded::<i32>(1), bounded::<i32>(1))
        };
        scope(mode, |sc| {
            sc.spawn(|| {
                for _ in 0..COUNT {
                    start_s.send(()).unwrap();
                    s1.send(1).unwrap();
                    if with_timeout {
                        select! {
                            recv(r1) -> _ => {}
                            recv(r2) -> _ => {}
                            default(ms(0)) => unreachable!("nothing ready"),
                        }
                    } else {
                        select! {
                            recv(r1) -> _ => {}
                            recv(r2) -> _ => {}
                            default => unreachable!("nothing ready"),
                        }
                    }
                    end_s.send(()).unwrap();
                    let _ = r2.try_recv();
                }
            });
            for _ in 0..COUNT {
                start_r.recv().unwrap();
                s2.send(1).unwrap();
                let _ = r1.try_recv();
                end_r.recv().unwrap();
            }
        });
    }
}

fn select_with_default_is_linearizable(mode: Mode) {
    linearizable(mode, false);
}
all_modes!(select_with_default_is_linearizable);

fn select_with_zero_timeout_is_linearizable(mode: Mode) {
    linearizable(mode, true);
}
all_modes!(select_with_zero_timeout_is_linearizable);

#[test]
fn select_chooses_fairly_among_ready_flavors() {
    const COUNT: usize = 4_000;
    let (s1, r1) = bounded::<()>(COUNT);
    let (s2, r2) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut hits = [0usize; 4];
    for _ in 0..COUNT {
        select! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(after(ms(0))) -> _ => hits[2] += 1,
            recv(tick(ms(0))) -> _ => hits[3] += 1,
        }
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 8), "{hits:?}");
}

fn select_chooses_fairly_among_senders_of_every_flavor(mode: Mode) {
    const COUNT: usize = 2_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = bounded::<()>(1);
    let (s3, r3) = bounded::<()>(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            let (hole, _r) = bounded(0);
            for _ in 0..COUNT {
                let s1 = if s1.is_empty() { &s1 } else { &hole };
                let s2 = if s2.is_empty() { &s2 } else { &hole };
                select! {
                    send(s1, ()) -> res => assert!(res.is_ok()),
                    send(s2, ()) -> res => assert!(res.is_ok()),
                    send(s3, ()) -> res => assert!(res.is_ok()),
                }
            }
        });
        let hits = [const { Cell::new(0usize) }; 3];
        for _ in 0..COUNT {
            select! {
                recv(r1) -> _ => hits[0].set(hits[0].get() + 1),
                recv(r2) -> _ => hits[1].set(hits[1].get() + 1),
                recv(r3) -> _ => hits[2].set(hits[2].get() + 1),
            }
        }
        assert!(
            hits.iter().all(|x| x.get() >= COUNT / 50),
            "{:?}",
            hits.iter().map(Cell::get).collect::<Vec<_>>()
        );
    });
}
all_modes!(select_chooses_fairly_among_senders_of_every_flavor);

#[test]
fn select_chooses_fairly_between_ready_receives() {
    const COUNT: usize = 4_000;
    let (s1, r1) = bounded::<()>(COUNT);
    let (s2, r2) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut hits = [0usize; 2];
    while hits[0] + hits[1] < COUNT {
        select! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
        }
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 4), "{hits:?}");
}

#[test]
fn select_chooses_fairly_between_ready_sends() {
    const COUNT: usize = 4_000;
    let (s1, _r1) = bounded::<()>(COUNT);
    let (s2, _r2) = unbounded::<()>();
    let mut hits = [0usize; 2];
    for _ in 0..COUNT {
        select! {
            send(s1, ()) -> _ => hits[0] += 1,
            send(s2, ()) -> _ => hits[1] += 1,
        }
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 4), "{hits:?}");
}

#[test]
fn select_biased_always_prefers_the_earlier_ready_arm() {
    const COUNT: usize = 2_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (s3, r3) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    s3.send(()).unwrap();
    let mut hits = [0usize; 3];
    for _ in 0..COUNT {
        select_biased! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(r3) -> _ => hits[2] += 1,
        }
    }
    assert_eq!(hits, [COUNT, 0, 0]);
    for _ in 0..COUNT {
        select_biased! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(r3) -> _ => hits[2] += 1,
        }
    }
    assert_eq!(hits, [COUNT, COUNT, 0]);
}

#[test]
fn select_biased_with_a_timeout_prefers_the_earlier_ready_arm() {
    const COUNT: usize = 2_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (s3, r3) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    s3.send(()).unwrap();
    let mut hits = [0usize; 3];
    for _ in 0..2 * COUNT {
        select_biased! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(r3) -> _ => hits[2] += 1,
            default(LONG) => unreachable!(),
        }
    }
    assert_eq!(hits, [COUNT, COUNT, 0]);
}

#[test]
fn select_biased_with_default_prefers_the_earlier_ready_arm() {
    const COUNT: usize = 2_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (s3, r3) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    s3.send(()).unwrap();
    let mut hits = [0usize; 3];
    for _ in 0..2 * COUNT {
        select_biased! {
            recv(r1) -> _ => hits[0] += 1,
            recv(r2) -> _ => hits[1] += 1,
            recv(r3) -> _ => hits[2] += 1,
            default => unreachable!(),
        }
    }
    assert_eq!(hits, [COUNT, COUNT, 0]);
    select_biased! {
        recv(r1) -> _ => panic!(),
        recv(r3) -> v => assert_eq!(v, Ok(())),
        default => unreachable!(),
    }
}

#[test]
#[allow(clippy::or_fun_call, clippy::unnecessary_literal_unwrap)]
fn channel_expressions_may_be_references_or_owned_values() {
    let (s, r) = unbounded::<i32>();
    select! {
        send(s, 0) -> _ => {}
        recv(r) -> _ => {}
    }
    select! {
        send(&&&&s, 0) -> _ => {}
        recv(&&&&r) -> _ => {}
    }
    let off = never();
    select! {
        recv(Some(&r).unwrap_or(&off)) -> _ => {},
        default => {}
    }
    select! {
        recv(Some(r).unwrap_or(never())) -> _ => {},
        default => {}
    }
}

#[test]
fn arm_bodies_may_be_any_expression() {
    let (s, r) = unbounded::<i32>();
    let x = select! {
        recv(r) -> _ => 3.0,
        recv(r) -> _ => loop {
            unreachable!()
        },
        recv(r) -> _ => match 7 + 3 {
            _ => unreachable!()
        },
        default => 7.
    };
    assert_eq!(x, 7.0);
    select! {
        recv(r) -> msg => if msg.is_ok() {
            unreachable!()
        },
        default => ()
    }
    drop(s);
}

#[test]
fn channel_expressions_may_move_their_handles() {
    let (s, r) = unbounded::<i32>();
    select! {
        recv((move || r)()) -> _ => {}
        send((move || s)(), 0) -> _ => {}
    }
}

#[test]
fn message_types_are_inferred_from_the_arms() {
    let (s, r) = unbounded();
    select! {
        recv(r) -> _ => {}
        default => {}
    }
    s.send(()).unwrap();
    let (s, r) = unbounded();
    select! {
        send(s, ()) -> _ => {}
    }
    r.recv().unwrap();
}

#[test]
fn the_pattern_may_shadow_the_channel() {
    let (_, r) = unbounded::<i32>();
    select! {
        recv(r) -> r => assert!(r.is_err()),
    }
}

#[test]
fn handles_may_live_on_the_heap() {
    let (s, r) = unbounded::<i32>();
    let (s, r) = (Box::new(s), Box::new(r));
    select! {
        send(*s, 0) -> _ => {}
        recv(*r) -> _ => {}
        default => {}
    }
    drop(s);
    drop(r);
}

#[test]
fn only_the_chosen_arm_body_runs_and_runs_once() {
    let (s, r) = unbounded::<i32>();

    let once = Box::new(());
    select! {
        send(s, 0) -> _ => drop(once),
    }
    let once = Box::new(());
    select! {
        recv(r) -> _ => drop(once),
    }
    let once1 = Box::new(());
    let once2 = Box::new(());
    select! {
        send(s, 0) -> _ => drop(once1),
        default => drop(once2),
    }
    let once1 = Box::new(());
    let once2 = Box::new(());
    select! {
        recv(r) -> _ => drop(once1),
        default => drop(once2),
    }
    let once1 = Box::new(());
    let once2 = Box::new(());
    select! {
        recv(r) -> _ => drop(once1),
        send(s, 0) -> _ => drop(once2),
    }
}

#[test]
fn a_receiver_expression_is_evaluated_once() {
    let (_, r) = unbounded::<i32>();
    let once = Box::new(());
    let get = move || {
        drop(once);
        r
    };
    select! {
        recv(get()) -> _ => {}
    }
}

#[test]
fn a_sender_expression_is_evaluated_once() {
    let (s, _) = unbounded::<i32>();
    let once = Box::new(());
    let get = move || {
        drop(once);
        s
    };
    select! {
        send(get(), 5) -> _ => {}
    }
}

#[test]
fn channel_expressions_are_evaluated_in_order_before_any_message() {
    let log = RefCell::new(Vec::new());
    let (s0, r0) = unbounded::<i32>();
    let (s1, _r1) = bounded::<i32>(1);
    s1.send(0).unwrap(); // full: its send arm cannot win
    let (s2, r2) = unbounded::<i32>();
    let note = |what: &'static str| log.borrow_mut().push(what);
    for _ in 0..20 {
        log.borrow_mut().clear();
        select! {
            recv({ note("chan 0"); &r0 }) -> _ => panic!("r0 is empty"),
            send({ note("chan 1"); &s1 }, { note("msg 1"); 1 }) -> _ => panic!("s1 is full"),
            send({ note("chan 2"); &s2 }, { note("msg 2"); 2 }) -> res => {
                assert_eq!(res, Ok(()));
                note("body 2");
            }
            default => panic!("s2 is ready"),
        }
        assert_eq!(
            *log.borrow(),
            ["chan 0", "chan 1", "chan 2", "msg 2", "body 2"]
        );
        assert_eq!(r2.try_recv(), Ok(2));
    }
    // With nothing ready, default runs and no message is evaluated.
    log.borrow_mut().clear();
    select! {
        recv({ note("chan 0"); &r0 }) -> _ => panic!(),
        send({ note("chan 1"); &s1 }, { note("msg 1"); 1 }) -> _ => panic!(),
        default => note("default"),
    }
    assert_eq!(*log.borrow(), ["chan 0", "chan 1", "default"]);
    drop(s0);
}

#[test]
fn only_the_winning_send_arm_evaluates_its_message() {
    let (s1, r1) = unbounded::<usize>();
    let (s2, r2) = unbounded::<usize>();
    let evaluated = [const { Cell::new(0usize) }; 2];
    let make = |i: usize| {
        evaluated[i].set(evaluated[i].get() + 1);
        i
    };
    for _ in 0..200 {
        select! {
            send(s1, make(0)) -> res => res.unwrap(),
            send(s2, make(1)) -> res => res.unwrap(),
        }
    }
    assert_eq!(evaluated[0].get() + evaluated[1].get(), 200);
    assert_eq!(evaluated[0].get(), r1.try_iter().count());
    assert_eq!(evaluated[1].get(), r2.try_iter().count());
    assert!(evaluated[0].get() > 0 && evaluated[1].get() > 0);
}

#[test]
fn parsing_nests() {
    let (_, r) = unbounded::<i32>();
    select! {
        recv(r) -> _ => {}
        recv(r) -> _ => {
            select! {
                recv(r) -> _ => {}
                recv(r) -> _ => {
                    select! {
                        recv(r) -> _ => {}
                        recv(r) -> _ => {
                            select! {
                                default => {}
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn select_evaluates_to_the_chosen_arm() {
    let (s, r) = unbounded::<i32>();
    let v = select! {
        recv(r) -> _ => "foo".into(),
        send(s, 0) -> _ => "bar".to_owned(),
        default => "baz".to_string(),
    };
    assert_eq!(v, "bar");
    let v = select! {
        recv(r) -> _ => "foo".into(),
        default => "baz".to_string(),
    };
    assert_eq!(v, "foo");
    let v = select! {
        recv(r) -> _ => "foo".into(),
        default => "baz".to_string(),
    };
    assert_eq!(v, "baz");
}

#[test]
fn handles_behind_deref_work() {
    struct MySender<T>(Sender<T>);
    struct MyReceiver<T>(Receiver<T>);
    impl<T> Deref for MyReceiver<T> {
        type Target = Receiver<T>;
        fn deref(&self) -> &Receiver<T> {
            &self.0
        }
    }
    impl<T> Deref for MySender<T> {
        type Target = Sender<T>;
        fn deref(&self) -> &Sender<T> {
            &self.0
        }
    }
    let (s, r) = bounded::<i32>(0);
    let (s, r) = (MySender(s), MyReceiver(r));
    select! {
        send(s, 0) -> _ => panic!(),
        recv(r) -> _ => panic!(),
        default => {}
    }
}

#[test]
fn arm_results_have_crossbeams_types() {
    let (s, _) = bounded::<i32>(0);
    let (_, r) = bounded::<i32>(0);
    select! {
        recv(r) -> res => { let _: Result<i32, RecvError> = res; },
    }
    select! {
        recv(r) -> res => { let _: Result<i32, RecvError> = res; },
        default => {}
    }
    select! {
        recv(r) -> res => { let _: Result<i32, RecvError> = res; },
        default(ms(0)) => {}
    }
    select! {
        send(s, 0) -> res => { let _: Result<(), SendError<i32>> = res; },
    }
    select! {
        send(s, 0) -> res => { let _: Result<(), SendError<i32>> = res; },
        default => {}
    }
    select! {
        send(s, 0) -> res => { let _: Result<(), SendError<i32>> = res; },
        default(ms(0)) => {}
    }
    select! {
        send(s, 0) -> res => { let _: Result<(), SendError<i32>> = res; },
        recv(r) -> res => { let _: Result<i32, RecvError> = res; },
    }
}

#[test]
fn thirty_two_arms_are_accepted() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    let n = select! {
        recv(r) -> _ => 0, recv(r) -> _ => 1, recv(r) -> _ => 2, recv(r) -> _ => 3,
        recv(r) -> _ => 4, recv(r) -> _ => 5, recv(r) -> _ => 6, recv(r) -> _ => 7,
        recv(r) -> _ => 8, recv(r) -> _ => 9, recv(r) -> _ => 10, recv(r) -> _ => 11,
        recv(r) -> _ => 12, recv(r) -> _ => 13, recv(r) -> _ => 14, recv(r) -> _ => 15,
        recv(r) -> _ => 16, recv(r) -> _ => 17, recv(r) -> _ => 18, recv(r) -> _ => 19,
        recv(r) -> _ => 20, recv(r) -> _ => 21, recv(r) -> _ => 22, recv(r) -> _ => 23,
        recv(r) -> _ => 24, recv(r) -> _ => 25, recv(r) -> _ => 26, recv(r) -> _ => 27,
        recv(r) -> _ => 28, recv(r) -> _ => 29, recv(r) -> _ => 30, recv(r) -> _ => 31,
    };
    assert!(n < 32);
}

fn try_recv_via_default(mode: Mode) {
    let (s, r) = bounded(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        let receiver = sc.spawn(move || {
            select! {
                recv(r) -> _ => panic!(),
                default => {}
            }
            go_s.send(()).unwrap();
            // A rendezvous send is ready only while a sender waits; poll.
            let deadline = Instant::now() + LONG;
            loop {
                select! {
                    recv(r) -> v => {
                        assert_eq!(v, Ok(7));
                        break;
                    }
                    default => assert!(Instant::now() < deadline, "the sender never came"),
                }
                relax();
            }
            r
        });
        go_r.recv().unwrap();
        select! {
            send(s, 7) -> res => res.unwrap(),
        }
        drop(s);
        let r = receiver.join();
        select! {
            recv(r) -> v => assert_eq!(v, Err(RecvError)),
            default => panic!(),
        }
    });
}
all_modes!(try_recv_via_default);

fn blocking_recv_and_send_via_select(mode: Mode) {
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            select! {
                recv(r) -> v => assert_eq!(v, Ok(7)),
            }
            sleep(ms(20));
            select! {
                recv(r) -> v => assert_eq!(v, Ok(8)),
            }
            select! {
                recv(r) -> v => assert_eq!(v, Ok(9)),
            }
            select! {
                recv(r) -> v => assert_eq!(v, Err(RecvError)),
            }
        });
        sc.spawn(move || {
            sleep(ms(50));
            select! {
                send(s, 7) -> res => res.unwrap(),
            }
            select! {
                send(s, 8) -> res => res.unwrap(),
            }
            select! {
                send(s, 9) -> res => res.unwrap(),
            }
        });
    });
}
all_modes!(blocking_recv_and_send_via_select);

fn recv_with_default_timeout(mode: Mode) {
    let (s, r) = bounded::<i32>(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            let start = Instant::now();
            select! {
                recv(r) -> _ => panic!(),
                default(ms(50)) => {}
            }
            assert_waited(start.elapsed(), ms(50));
            go_s.send(()).unwrap();
            select! {
                recv(r) -> v => assert_eq!(v, Ok(7)),
                default(LONG) => panic!("timed out"),
            }
            select! {
                recv(r) -> v => assert_eq!(v, Err(RecvError)),
                default(LONG) => panic!("timed out"),
            }
        });
        sc.spawn(move || {
            go_r.recv().unwrap();
            select! {
                send(s, 7) -> res => res.unwrap(),
            }
        });
    });
}
all_modes!(recv_with_default_timeout);

fn try_send_via_default(mode: Mode) {
    let (s, r) = bounded(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        let sender = sc.spawn(move || {
            select! {
                send(s, 7) -> _ => panic!(),
                default => {}
            }
            go_s.send(()).unwrap();
            let deadline = Instant::now() + LONG;
            loop {
                select! {
                    send(s, 8) -> res => {
                        res.unwrap();
                        break;
                    }
                    default => assert!(Instant::now() < deadline, "the receiver never came"),
                }
                relax();
            }
            s
        });
        go_r.recv().unwrap();
        select! {
            recv(r) -> v => assert_eq!(v, Ok(8)),
        }
        drop(r);
        let s = sender.join();
        select! {
            send(s, 9) -> res => assert_eq!(res, Err(SendError(9))),
            default => panic!(),
        }
    });
}
all_modes!(try_send_via_default);

fn send_with_default_timeout(mode: Mode) {
    let (s, r) = bounded(0);
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            let start = Instant::now();
            select! {
                send(s, 7) -> _ => panic!(),
                default(ms(50)) => {}
            }
            assert_waited(start.elapsed(), ms(50));
            go_s.send(()).unwrap();
            select! {
                send(s, 8) -> res => res.unwrap(),
                default(LONG) => panic!("timed out"),
            }
            select! {
                send(s, 9) -> res => assert_eq!(res, Err(SendError(9))),
                default(LONG) => panic!("timed out"),
            }
        });
        sc.spawn(move || {
            go_r.recv().unwrap();
            select! {
                recv(r) -> v => assert_eq!(v, Ok(8)),
            }
        });
    });
}
all_modes!(send_with_default_timeout);

fn dropping_the_receiver_wakes_a_select_send(mode: Mode) {
    let (s, r) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            select! {
                send(s, ()) -> res => assert_eq!(res, Err(SendError(()))),
            }
        });
        sc.spawn(move || {
            sleep(ms(50));
            drop(r);
        });
    });
}
all_modes!(dropping_the_receiver_wakes_a_select_send);

fn dropping_the_sender_wakes_a_select_recv(mode: Mode) {
    let (s, r) = bounded::<()>(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            select! {
                recv(r) -> res => assert_eq!(res, Err(RecvError)),
            }
        });
        sc.spawn(move || {
            sleep(ms(50));
            drop(s);
        });
    });
}
all_modes!(dropping_the_sender_wakes_a_select_recv);

#[test]
fn blocked_selects_park_their_goroutines() {
    let (s1, r1) = bounded::<()>(0);
    let (s2, r2) = unbounded::<()>();
    let senders = std::sync::Mutex::new(Some((s1, s2)));
    scenario::blocked_goroutines_leave_their_workers_free(
        || {
            select! {
                recv(r1) -> v => assert!(v.is_err()),
                recv(r2) -> v => assert!(v.is_err()),
            }
        },
        || drop(senders.lock().unwrap().take()),
    );
}

/// Corners of crossbeam-channel's `select!` syntax (each once failed to
/// compile here): `default()` as a spelling of `default`, trailing commas
/// inside an arm's parentheses, and temporaries inside a channel
/// expression (`recv(r.unwrap_or(&never()))`, crossbeam's own idiom), which
/// must live until the select is over.
mod crossbeam_syntax_corners {
    use super::*;

    #[test]
    fn default_with_empty_parentheses() {
        let (s, r) = bounded::<i32>(0);
        select! {
            send(s, 0) -> _ => panic!(),
            default() => {}
        }
        select! {
            recv(r) -> _ => panic!(),
            default() => {}
        }
        select! {
            default() => {}
        }
    }

    #[test]
    fn trailing_commas_inside_arms() {
        let (s, r) = unbounded::<usize>();
        select! {
            send(s, 1,) -> _ => {},
            recv(r,) -> _ => {},
            default(ms(1000),) => {},
        }
    }

    #[test]
    fn temporaries_in_channel_expressions_live_through_the_select() {
        let (s, r) = unbounded::<i32>();
        s.send(1).unwrap();
        // Go's nil channel: an optional receiver, or one that never fires.
        let maybe = std::hint::black_box(Some(&r));
        select! {
            recv(maybe.unwrap_or(&never())) -> v => assert_eq!(v, Ok(1)),
            default => panic!(),
        }
        let absent: Option<&gofer_chan::Receiver<i32>> = std::hint::black_box(None);
        select! {
            recv(absent.unwrap_or(&never())) -> _ => panic!("never() fired"),
            default => {}
        }
    }
}
