//! Readiness without completion: `Select::ready`, `try_ready`,
//! `ready_timeout`, `ready_deadline` — the behaviours of
//! crossbeam-channel's `tests/ready.rs`, each concurrent one run with
//! threads, with goroutines, and mixed. `ready` only reports an index; the
//! caller then acts with the plain non-blocking operation.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::cell::Cell;

#[test]
fn ready_reports_the_receiver_with_a_message() {
    let (s1, r1) = unbounded::<usize>();
    let (s2, r2) = unbounded::<usize>();
    s1.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.ready(), 0);
    assert_eq!(r1.try_recv(), Ok(1));

    s2.send(2).unwrap();
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.ready(), 1);
    assert_eq!(r2.try_recv(), Ok(2));
}

#[test]
fn ready_finds_the_one_ready_among_many() {
    let chans: Vec<_> = (0..5).map(|_| unbounded::<i32>()).collect();
    chans[4].0.send(5).unwrap();
    let mut sel = Select::new();
    for (_, r) in &chans {
        sel.recv(r);
    }
    assert_eq!(sel.ready(), 4);
    assert_eq!(chans[4].1.try_recv(), Ok(5));
}

fn disconnected_channel_is_ready(mode: Mode) {
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
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
        assert_eq!(r1.try_recv(), Err(TryRecvError::Disconnected));
        go_s.send(()).unwrap();
        assert_eq!(r2.recv(), Ok(5));
    });
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.ready_timeout(LONG), Ok(0));
}
all_modes!(disconnected_channel_is_ready);

fn disconnection_wakes_a_blocked_ready(mode: Mode) {
    let (s, r) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(50));
            drop(s);
        });
        let mut sel = Select::new();
        sel.recv(&r);
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
        assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    });
}
all_modes!(disconnection_wakes_a_blocked_ready);

#[test]
fn try_ready_fails_when_nothing_is_ready() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.try_ready(), Err(TryReadyError));

    drop(s1);
    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.try_ready(), Ok(0));
    assert!(r1.try_recv().is_err());

    s2.send(2).unwrap();
    let mut sel = Select::new();
    sel.recv(&r2);
    assert_eq!(sel.try_ready(), Ok(0));
    assert_eq!(r2.try_recv(), Ok(2));

    let mut sel = Select::new();
    sel.recv(&r2);
    assert_eq!(sel.try_ready(), Err(TryReadyError));

    let mut sel = Select::new();
    assert_eq!(sel.try_ready(), Err(TryReadyError));
}

fn ready_timeout_times_out_then_sees_a_late_message(mode: Mode) {
    let (_s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let (go_s, go_r) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(move || {
            go_r.recv().unwrap();
            sleep(ms(20));
            s2.send(2).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        let start = Instant::now();
        assert_eq!(sel.ready_timeout(ms(50)), Err(ReadyTimeoutError));
        assert_waited(start.elapsed(), ms(50));
        let start = Instant::now();
        assert_eq!(sel.ready_deadline(start + ms(50)), Err(ReadyTimeoutError));
        assert_waited(start.elapsed(), ms(50));
        go_s.send(()).unwrap();
        assert_eq!(sel.ready_timeout(LONG), Ok(1));
        assert_eq!(r2.try_recv(), Ok(2));
    });
}
all_modes!(ready_timeout_times_out_then_sees_a_late_message);

fn empty_ready_timeout_just_waits(mode: Mode) {
    run(mode, || {
        let mut sel = Select::new();
        assert_eq!(sel.try_ready(), Err(TryReadyError));
        let start = Instant::now();
        let mut sel = Select::new();
        assert_eq!(sel.ready_timeout(ms(50)), Err(ReadyTimeoutError));
        assert_waited(start.elapsed(), ms(50));
    });
}
mode_tests!(empty_ready_timeout_just_waits);

#[test]
fn disconnected_channels_are_ready_for_try_and_timeout() {
    let (_, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.try_ready(), Ok(0));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));

    let (_, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.ready_timeout(LONG), Ok(0));

    let (s, _) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.send(&s);
    assert_eq!(sel.try_ready(), Ok(0));
    assert_eq!(s.try_send(0), Err(TrySendError::Disconnected(0)));

    let (s, _) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.send(&s);
    assert_eq!(sel.ready_timeout(LONG), Ok(0));
    assert_eq!(s.try_send(0), Err(TrySendError::Disconnected(0)));
}

fn a_late_peer_makes_an_operation_ready(mode: Mode) {
    let (s1, r1) = bounded::<i32>(0);
    let (s2, r2) = bounded::<i32>(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            s2.send(2).unwrap();
        });
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        assert_eq!(sel.ready_timeout(LONG), Ok(1));
        assert_eq!(r2.try_recv(), Ok(2));
    });
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            assert_eq!(r1.recv(), Ok(1));
        });
        let mut sel = Select::new();
        sel.send(&s1);
        sel.send(&s2);
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
        s1.try_send(1).unwrap();
    });
}
all_modes!(a_late_peer_makes_an_operation_ready);

fn ready_serves_a_send_and_a_receive_in_turn(mode: Mode) {
    let (s1, r1) = bounded(0);
    let (s2, r2) = bounded(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            s1.send(1).unwrap();
            assert_eq!(r2.recv(), Ok(2));
        });
        for _ in 0..2 {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.send(&s2);
            match sel.ready() {
                0 => assert_eq!(r1.try_recv(), Ok(1)),
                1 => s2.try_send(2).unwrap(),
                _ => unreachable!(),
            }
        }
    });
}
all_modes!(ready_serves_a_send_and_a_receive_in_turn);

fn dropping_a_sender_clone_does_not_make_a_receiver_ready(mode: Mode) {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(|| {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            match sel.ready() {
                0 => panic!("woken by dropping a clone"),
                1 => assert_eq!(r2.try_recv(), Ok(())),
                _ => unreachable!(),
            }
        });
        sleep(ms(50));
        drop(s1.clone());
        s2.send(()).unwrap();
    });
}
all_modes!(dropping_a_sender_clone_does_not_make_a_receiver_ready);

#[test]
fn preflight_a_queued_message_is_ready_before_disconnection() {
    let (s, r) = unbounded();
    s.send(()).unwrap();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.ready(), 0);
    assert_eq!(r.try_recv(), Ok(()));

    let (s, r) = unbounded();
    drop(s.clone());
    s.send(()).unwrap();
    drop(s);
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.ready(), 0);
    assert_eq!(r.try_recv(), Ok(()));
    assert_eq!(sel.ready(), 0);
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn duplicate_operations_are_all_reported_sometimes() {
    let (s, r) = unbounded::<i32>();
    let hit = [const { Cell::new(false) }; 4];
    while hit.iter().any(|h| !h.get()) {
        let mut sel = Select::new();
        sel.recv(&r);
        sel.recv(&r);
        sel.send(&s);
        sel.send(&s);
        let i = sel.ready();
        match i {
            0 | 1 => assert!(r.try_recv().is_ok()),
            2 | 3 => assert!(s.try_send(0).is_ok()),
            _ => unreachable!(),
        }
        hit[i].set(true);
    }
}

#[test]
fn nested_readiness_checks_complete_in_turn() {
    let (s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.send(&s);
    assert_eq!(sel.ready(), 0);
    assert!(s.try_send(0).is_ok());
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.ready(), 0);
    assert_eq!(r.try_recv(), Ok(0));
    let mut sel = Select::new();
    sel.send(&s);
    assert_eq!(sel.ready(), 0);
    assert!(s.try_send(1).is_ok());
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.ready(), 0);
    assert_eq!(r.try_recv(), Ok(1));
}

fn stress_ready_receives(mode: Mode) {
    const COUNT: usize = 2_000;
    let (s1, r1) = unbounded();
    let (s2, r2) = bounded(5);
    let (s3, r3) = bounded(0);
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
                let mut sel = Select::new();
                sel.recv(&r1);
                sel.recv(&r2);
                match sel.ready() {
                    0 => assert_eq!(r1.try_recv(), Ok(i)),
                    1 => assert_eq!(r2.try_recv(), Ok(i)),
                    _ => unreachable!(),
                }
                s3.send(()).unwrap();
            }
        }
    });
}
all_modes!(stress_ready_receives);

fn stress_ready_sends(mode: Mode) {
    const COUNT: usize = 2_000;
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
                let mut sel = Select::new();
                sel.send(&s1);
                sel.send(&s2);
                match sel.ready() {
                    0 => assert!(s1.try_send(i).is_ok()),
                    1 => assert!(s2.try_send(i).is_ok()),
                    _ => unreachable!(),
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_ready_sends);

fn stress_ready_mixes_sends_and_receives(mode: Mode) {
    const COUNT: usize = 2_000;
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
                let mut sel = Select::new();
                sel.recv(&r1);
                sel.send(&s2);
                match sel.ready() {
                    0 => assert_eq!(r1.try_recv(), Ok(i)),
                    1 => assert!(s2.try_send(i).is_ok()),
                    _ => unreachable!(),
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_ready_mixes_sends_and_receives);

fn short_ready_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
    const COUNT: usize = 20;
    let (s, r) = bounded(2);
    scope(mode, |sc| {
        sc.spawn(|| {
            for i in 0..COUNT {
                if i.is_multiple_of(4) {
                    sleep(ms(10));
                }
                loop {
                    let mut sel = Select::new();
                    sel.send(&s);
                    match sel.ready_timeout(ms(2)) {
                        Err(_) => {}
                        Ok(0) => {
                            assert!(s.try_send(i).is_ok());
                            break;
                        }
                        Ok(_) => unreachable!(),
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
                    let mut sel = Select::new();
                    sel.recv(&r);
                    match sel.ready_timeout(ms(2)) {
                        Err(_) => {}
                        Ok(0) => {
                            assert_eq!(r.try_recv(), Ok(i));
                            break;
                        }
                        Ok(_) => unreachable!(),
                    }
                }
            }
        });
    });
}
all_modes!(short_ready_timeouts_in_retry_loops_lose_nothing);

fn a_task_is_never_ready_for_itself(mode: Mode) {
    run(mode, || {
        let (s, r) = bounded::<i32>(0);
        let mut sel = Select::new();
        sel.send(&s);
        sel.recv(&r);
        let start = Instant::now();
        assert_eq!(sel.ready_timeout(ms(50)), Err(ReadyTimeoutError));
        assert_waited(start.elapsed(), ms(50));

        let (s, r) = unbounded::<i32>();
        let mut sel = Select::new();
        sel.send(&s);
        sel.recv(&r);
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
        assert!(s.try_send(0).is_ok());
    });
}
mode_tests!(a_task_is_never_ready_for_itself);

fn channels_travel_through_channels_found_by_ready(mode: Mode) {
    type T = Box<dyn std::any::Any + Send>;
    for cap in 1..4 {
        let (s, r) = bounded::<T>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut s = s;
                for _ in 0..300 {
                    let (new_s, new_r) = bounded(cap);
                    let mut new_r: T = Box::new(Some(new_r));
                    loop {
                        let mut sel = Select::new();
                        sel.send(&s);
                        assert_eq!(sel.ready(), 0);
                        match s.try_send(new_r) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => new_r = back,
                            Err(TrySendError::Disconnected(_)) => unreachable!(),
                        }
                    }
                    s = new_s;
                }
            });
            sc.spawn(move || {
                let mut r = r;
                for _ in 0..300 {
                    let new = loop {
                        let mut sel = Select::new();
                        sel.recv(&r);
                        assert_eq!(sel.ready(), 0);
                        if let Ok(mut msg) = r.try_recv() {
                            break msg
                                .downcast_mut::<Option<Receiver<T>>>()
                                .unwrap()
                                .take()
                                .unwrap();
                        }
                    };
                    r = new;
                }
            });
        });
    }
}
all_modes!(channels_travel_through_channels_found_by_ready);

#[test]
fn ready_chooses_fairly_among_ready_flavors() {
    const COUNT: usize = 4_000;
    let (s1, r1) = bounded::<()>(COUNT);
    let (s2, r2) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    let mut hits = [0usize; 4];
    for _ in 0..COUNT {
        let after = after(ms(0));
        let tick = tick(ms(0));
        let mut sel = Select::new();
        sel.recv(&r1);
        sel.recv(&r2);
        sel.recv(&after);
        sel.recv(&tick);
        let i = sel.ready();
        match i {
            0 => r1.try_recv().unwrap(),
            1 => r2.try_recv().unwrap(),
            2 => drop(after.try_recv().unwrap()),
            3 => drop(tick.try_recv().unwrap()),
            _ => unreachable!(),
        }
        hits[i] += 1;
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 8), "{hits:?}");
}

#[test]
fn biased_ready_prefers_operations_in_order_of_addition() {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    s1.send(()).unwrap();
    s2.send(()).unwrap();
    let mut sel = Select::new_biased();
    sel.recv(&r1);
    sel.recv(&r2);
    for _ in 0..100 {
        assert_eq!(sel.ready(), 0);
        assert_eq!(sel.try_ready(), Ok(0));
        assert_eq!(sel.ready_timeout(LONG), Ok(0));
    }
    r1.try_recv().unwrap();
    assert_eq!(sel.ready(), 1);
}

#[test]
#[should_panic(expected = "no operations have been added to `Select`")]
fn ready_with_no_operations_panics() {
    let mut sel = Select::new();
    let _ = sel.ready();
}

#[test]
fn blocked_readiness_waits_park_their_goroutines() {
    let (s1, r1) = bounded::<()>(0);
    let (s2, r2) = bounded::<()>(1);
    let senders = std::sync::Mutex::new(Some((s1, s2)));
    scenario::blocked_goroutines_leave_their_workers_free(
        || {
            let mut sel = Select::new();
            sel.recv(&r1);
            sel.recv(&r2);
            let _ = sel.ready();
        },
        || drop(senders.lock().unwrap().take()),
    );
}
