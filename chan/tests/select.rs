//! The dynamic `Select`: `send`/`recv` registration, `select`,
//! `try_select`, `select_timeout`, `select_deadline`, `remove`,
//! `new_biased` and the must-complete rule of `SelectedOperation` — the
//! behaviours of crossbeam-channel's `tests/select.rs`, each concurrent
//! one run with threads, with goroutines, and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

#[test]
fn select_completes_the_ready_receive() {
    let (s1, r1) = unbounded::<usize>();
    let (s2, r2) = unbounded::<usize>();
    s1.send(1).unwrap();

    let mut sel = Select::new();
    let oper1 = sel.recv(&r1);
    let oper2 = sel.recv(&r2);
    let oper = sel.select();
    match oper.index() {
        i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
        i if i == oper2 => wrong_arm(oper, "not ready"),
        _ => unreachable!(),
    }

    s2.send(2).unwrap();
    let mut sel = Select::new();
    let oper1 = sel.recv(&r1);
    let oper2 = sel.recv(&r2);
    let oper = sel.select();
    match oper.index() {
        i if i == oper1 => wrong_arm(oper, "not ready"),
        i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
        _ => unreachable!(),
    }
}

#[test]
fn select_finds_the_one_ready_among_many() {
    let chans: Vec<_> = (0..5).map(|_| unbounded::<i32>()).collect();
    chans[4].0.send(5).unwrap();
    let mut sel = Select::new();
    let opers: Vec<_> = chans.iter().map(|(_, r)| sel.recv(r)).collect();
    let oper = sel.select();
    let oper = expect_index(oper, opers[4]);
    assert_eq!(oper.recv(&chans[4].1), Ok(5));
}

#[test]
fn indices_count_up_from_zero_in_order_of_addition() {
    let (s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    assert_eq!(sel.recv(&r), 0);
    assert_eq!(sel.send(&s), 1);
    assert_eq!(sel.recv(&r), 2);
    sel.remove(1);
    // Removing does not renumber; new operations get fresh indices.
    assert_eq!(sel.send(&s), 3);
}

fn disconnected_channel_counts_as_ready(mode: Mode) {
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
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select_timeout(LONG).expect("timed out");
        match oper.index() {
            i if i == oper1 => assert_eq!(oper.recv(&r1), Err(RecvError)),
            i if i == oper2 => wrong_arm(oper, "r2 won before its message was sent"),
            _ => unreachable!(),
        }
        go_s.send(()).unwrap();
        assert_eq!(r2.recv(), Ok(5));
    });

    // r1 stays ready, with an error, every time.
    let mut sel = Select::new();
    let oper1 = sel.recv(&r1);
    let _oper2 = sel.recv(&r2);
    let oper = sel.select_timeout(LONG).expect("timed out");
    let oper = expect_index(oper, oper1);
    assert_eq!(oper.recv(&r1), Err(RecvError));
}
all_modes!(disconnected_channel_counts_as_ready);

fn disconnection_wakes_a_blocked_select(mode: Mode) {
    let (s, r) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(50));
            drop(s);
        });
        let mut sel = Select::new();
        let oper1 = sel.recv(&r);
        let oper = sel.select_timeout(LONG).expect("timed out");
        let oper = expect_index(oper, oper1);
        assert_eq!(oper.recv(&r), Err(RecvError));
    });
}
all_modes!(disconnection_wakes_a_blocked_select);

#[test]
fn try_select_fails_when_nothing_is_ready() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();

    let mut sel = Select::new();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.try_select().map(|_| ()).unwrap_err(), TrySelectError);

    drop(s1);
    let mut sel = Select::new();
    let oper1 = sel.recv(&r1);
    let _oper2 = sel.recv(&r2);
    let oper = sel.try_select().expect("a disconnected channel is ready");
    let oper = expect_index(oper, oper1);
    assert!(oper.recv(&r1).is_err());

    s2.send(2).unwrap();
    let mut sel = Select::new();
    let oper1 = sel.recv(&r2);
    let oper = sel.try_select().unwrap();
    let oper = expect_index(oper, oper1);
    assert_eq!(oper.recv(&r2), Ok(2));

    let mut sel = Select::new();
    sel.recv(&r2);
    assert!(sel.try_select().is_err());

    let mut sel = Select::new();
    assert!(sel.try_select().is_err());
}

fn select_timeout_times_out_then_catches_a_late_message(mode: Mode) {
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
        assert!(sel.select_timeout(ms(50)).is_err());
        assert_waited(start.elapsed(), ms(50));
        let start = Instant::now();
        assert!(sel.select_deadline(start + ms(50)).is_err());
        assert_waited(start.elapsed(), ms(50));

        go_s.send(()).unwrap();
        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select_timeout(LONG).expect("timed out");
        match oper.index() {
            i if i == oper1 => wrong_arm(oper, "not ready"),
            i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
            _ => unreachable!(),
        }
    });
}
all_modes!(select_timeout_times_out_then_catches_a_late_message);

fn empty_select_timeout_just_waits(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let mut sel = Select::new();
        assert!(sel.try_select().is_err());
        assert!(start.elapsed() < LONG);

        let start = Instant::now();
        let mut sel = Select::new();
        assert!(sel.select_timeout(ms(50)).is_err());
        assert_waited(start.elapsed(), ms(50));
    });
}
mode_tests!(empty_select_timeout_just_waits);

#[test]
fn disconnected_channels_are_ready_for_try_and_timeout() {
    let (_, r) = unbounded::<i32>();
    let mut sel = Select::new();
    let oper1 = sel.recv(&r);
    let oper = sel.try_select().unwrap();
    let oper = expect_index(oper, oper1);
    assert!(oper.recv(&r).is_err());

    let (_, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    let oper = sel.select_timeout(LONG).unwrap();
    assert!(oper.recv(&r).is_err());

    let (s, _) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.send(&s);
    let oper = sel.try_select().unwrap();
    assert_eq!(oper.send(&s, 0), Err(SendError(0)));

    let (s, _) = bounded::<i32>(0);
    let mut sel = Select::new();
    sel.send(&s);
    let oper = sel.select_timeout(LONG).unwrap();
    assert_eq!(oper.send(&s, 0), Err(SendError(0)));
}

fn a_late_peer_unblocks_a_select(mode: Mode) {
    let (s1, r1) = bounded::<i32>(0);
    let (s2, r2) = bounded::<i32>(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            s2.send(2).unwrap();
        });
        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper = sel.select_timeout(LONG).expect("timed out");
        match oper.index() {
            i if i == oper1 => wrong_arm(oper, "not ready"),
            i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(2)),
            _ => unreachable!(),
        }
    });
    scope(mode, |sc| {
        sc.spawn(|| {
            sleep(ms(50));
            assert_eq!(r1.recv(), Ok(1));
        });
        let mut sel = Select::new();
        let oper1 = sel.send(&s1);
        let oper2 = sel.send(&s2);
        let oper = sel.select_timeout(LONG).expect("timed out");
        match oper.index() {
            i if i == oper1 => oper.send(&s1, 1).unwrap(),
            i if i == oper2 => wrong_arm(oper, "not ready"),
            _ => unreachable!(),
        }
    });
}
all_modes!(a_late_peer_unblocks_a_select);

fn select_serves_a_send_and_a_receive_in_turn(mode: Mode) {
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
            let oper1 = sel.recv(&r1);
            let oper2 = sel.send(&s2);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                i if i == oper2 => oper.send(&s2, 2).unwrap(),
                _ => unreachable!(),
            }
        }
    });
}
all_modes!(select_serves_a_send_and_a_receive_in_turn);

fn polling_with_try_select_meets_a_blocking_select(mode: Mode) {
    for _ in 0..5 {
        let (s1, r1) = bounded::<i32>(0);
        let (s2, r2) = bounded::<i32>(0);
        let (s_end, r_end) = bounded::<()>(0);
        scope(mode, |sc| {
            sc.spawn(|| {
                loop {
                    let mut sel = Select::new();
                    let oper1 = sel.send(&s1);
                    if let Ok(oper) = sel.try_select() {
                        let oper = expect_index(oper, oper1);
                        let _ = oper.send(&s1, 1);
                        break;
                    }
                    let mut sel = Select::new();
                    sel.recv(&r_end);
                    if let Ok(oper) = sel.try_select() {
                        let _ = oper.recv(&r_end);
                        break;
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
                    let mut sel = Select::new();
                    sel.recv(&r_end);
                    if let Ok(oper) = sel.try_select() {
                        let _ = oper.recv(&r_end);
                        break;
                    }
                    relax();
                }
            });
            sc.spawn(|| {
                sleep(ms(20));
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.send(&s2);
                let oper = sel.select_timeout(LONG).expect("timed out");
                match oper.index() {
                    i if i == oper1 => assert_eq!(oper.recv(&r1), Ok(1)),
                    i if i == oper2 => assert!(oper.send(&s2, 2).is_ok()),
                    _ => unreachable!(),
                }
                drop(s_end);
            });
        });
    }
}
all_modes!(polling_with_try_select_meets_a_blocking_select);

fn dropping_a_sender_clone_does_not_wake_a_select(mode: Mode) {
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    scope(mode, |sc| {
        sc.spawn(|| {
            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => wrong_arm(oper, "woken by dropping a clone"),
                i if i == oper2 => assert_eq!(oper.recv(&r2), Ok(())),
                _ => unreachable!(),
            }
        });
        sleep(ms(50));
        drop(s1.clone());
        s2.send(()).unwrap();
    });
}
all_modes!(dropping_a_sender_clone_does_not_wake_a_select);

#[test]
fn preflight_a_queued_message_is_taken_before_disconnection() {
    let (s, r) = unbounded();
    s.send(()).unwrap();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.select().recv(&r), Ok(()));

    let (s, r) = unbounded();
    drop(s.clone());
    s.send(()).unwrap();
    drop(s);
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.select().recv(&r), Ok(()));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));

    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.select().recv(&r), Err(RecvError));
}

#[test]
fn duplicate_operations_are_all_chosen_sometimes() {
    let (s, r) = unbounded::<i32>();
    let hit = [const { Cell::new(false) }; 4];
    while hit.iter().any(|h| !h.get()) {
        let mut sel = Select::new();
        let oper0 = sel.recv(&r);
        let oper1 = sel.recv(&r);
        let oper2 = sel.send(&s);
        let oper3 = sel.send(&s);
        let oper = sel.select();
        match oper.index() {
            i if i == oper0 => {
                assert!(oper.recv(&r).is_ok());
                hit[0].set(true);
            }
            i if i == oper1 => {
                assert!(oper.recv(&r).is_ok());
                hit[1].set(true);
            }
            i if i == oper2 => {
                assert!(oper.send(&s, 0).is_ok());
                hit[2].set(true);
            }
            i if i == oper3 => {
                assert!(oper.send(&s, 0).is_ok());
                hit[3].set(true);
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn nested_selects_complete_in_turn() {
    let (s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.send(&s);
    let oper = sel.select();
    assert!(oper.send(&s, 0).is_ok());
    {
        let mut sel = Select::new();
        sel.recv(&r);
        let oper = sel.select();
        assert_eq!(oper.recv(&r), Ok(0));
        {
            let mut sel = Select::new();
            sel.send(&s);
            let oper = sel.select();
            assert!(oper.send(&s, 1).is_ok());
            let mut sel = Select::new();
            sel.recv(&r);
            assert_eq!(sel.select().recv(&r), Ok(1));
        }
    }
}

fn stress_select_receives_from_whichever_is_ready(mode: Mode) {
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
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.recv(&r2);
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                    ix if ix == oper2 => assert_eq!(oper.recv(&r2), Ok(i)),
                    _ => unreachable!(),
                }
                s3.send(()).unwrap();
            }
        }
    });
}
all_modes!(stress_select_receives_from_whichever_is_ready);

fn stress_select_sends_to_whichever_is_ready(mode: Mode) {
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
                let mut sel = Select::new();
                let oper1 = sel.send(&s1);
                let oper2 = sel.send(&s2);
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert!(oper.send(&s1, i).is_ok()),
                    ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                    _ => unreachable!(),
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_select_sends_to_whichever_is_ready);

fn stress_select_mixes_sends_and_receives(mode: Mode) {
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
                let mut sel = Select::new();
                let oper1 = sel.recv(&r1);
                let oper2 = sel.send(&s2);
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                    ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                    _ => unreachable!(),
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(stress_select_mixes_sends_and_receives);

fn short_select_timeouts_in_retry_loops_lose_nothing(mode: Mode) {
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
                    let oper1 = sel.send(&s);
                    if let Ok(oper) = sel.select_timeout(ms(2)) {
                        let oper = expect_index(oper, oper1);
                        assert!(oper.send(&s, i).is_ok());
                        break;
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
                    let oper1 = sel.recv(&r);
                    if let Ok(oper) = sel.select_timeout(ms(2)) {
                        let oper = expect_index(oper, oper1);
                        assert_eq!(oper.recv(&r), Ok(i));
                        break;
                    }
                }
            }
        });
    });
}
all_modes!(short_select_timeouts_in_retry_loops_lose_nothing);

fn a_select_never_pairs_with_itself(mode: Mode) {
    run(mode, || {
        let (s, r) = bounded::<i32>(0);
        let mut sel = Select::new();
        sel.send(&s);
        sel.recv(&r);
        let start = Instant::now();
        assert!(sel.select_timeout(ms(50)).is_err());
        assert_waited(start.elapsed(), ms(50));

        let (s, r) = unbounded::<i32>();
        let mut sel = Select::new();
        let oper1 = sel.send(&s);
        let _oper2 = sel.recv(&r);
        let oper = sel.select_timeout(LONG).expect("timed out");
        let oper = expect_index(oper, oper1);
        assert!(oper.send(&s, 0).is_ok());
    });
}
mode_tests!(a_select_never_pairs_with_itself);

fn tasks_selecting_send_and_recv_on_one_rendezvous_channel_pair_up(mode: Mode) {
    const TASKS: usize = 20;
    let (s, r) = &bounded::<usize>(0);
    let paired = AtomicUsize::new(0);
    scope(mode, |sc| {
        for i in 0..TASKS {
            let paired = &paired;
            sc.spawn(move || {
                let mut sel = Select::new();
                let oper1 = sel.recv(r);
                let oper2 = sel.send(s);
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => {
                        assert_ne!(oper.recv(r), Ok(i), "received its own message");
                        paired.fetch_add(1, SeqCst);
                    }
                    ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                    _ => unreachable!(),
                }
            });
        }
    });
    assert_eq!(paired.load(SeqCst), TASKS / 2);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(tasks_selecting_send_and_recv_on_one_rendezvous_channel_pair_up);

fn an_odd_task_out_pairs_with_a_plain_send(mode: Mode) {
    const TASKS: usize = 21;
    let (s, r) = &bounded::<usize>(0);
    scope(mode, |sc| {
        for i in 0..TASKS {
            sc.spawn(move || {
                let mut sel = Select::new();
                let oper1 = sel.recv(r);
                let oper2 = sel.send(s);
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                    ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                    _ => unreachable!(),
                }
            });
        }
        s.send(!0).unwrap();
    });
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(an_odd_task_out_pairs_with_a_plain_send);

fn channels_travel_through_selects(mode: Mode) {
    type T = Box<dyn std::any::Any + Send>;
    for cap in 0..3 {
        let (s, r) = bounded::<T>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut s = s;
                for _ in 0..300 {
                    let (new_s, new_r) = bounded(cap);
                    let new_r: T = Box::new(Some(new_r));
                    let mut sel = Select::new();
                    sel.send(&s);
                    assert!(sel.select().send(&s, new_r).is_ok());
                    s = new_s;
                }
            });
            sc.spawn(move || {
                let mut r = r;
                for _ in 0..300 {
                    let mut sel = Select::new();
                    sel.recv(&r);
                    let next = sel
                        .select()
                        .recv(&r)
                        .unwrap()
                        .downcast_mut::<Option<Receiver<T>>>()
                        .unwrap()
                        .take()
                        .unwrap();
                    r = next;
                }
            });
        });
    }
}
all_modes!(channels_travel_through_selects);

/// After the peer's send of `r1` has completed, a `try_select` (or a
/// zero-timeout select) over `r1` and `r2` must find one of them ready.
fn linearizable(mode: Mode, timeout: Option<Duration>) {
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
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.recv(&r2);
                    let oper = match timeout {
                        None => sel.try_select().expect("nothing ready"),
                        Some(t) => sel.select_timeout(t).expect("nothing ready"),
                    };
                    match oper.index() {
                        ix if ix == oper1 => assert!(oper.recv(&r1).is_ok()),
                        ix if ix == oper2 => assert!(oper.recv(&r2).is_ok()),
                        _ => unreachable!(),
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

fn try_select_is_linearizable(mode: Mode) {
    linearizable(mode, None);
}
all_modes!(try_select_is_linearizable);

fn zero_timeout_select_is_linearizable(mode: Mode) {
    linearizable(mode, Some(ms(0)));
}
all_modes!(zero_timeout_select_is_linearizable);

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
        let after = after(ms(0));
        let tick = tick(ms(0));
        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.recv(&r2);
        let oper3 = sel.recv(&after);
        let oper4 = sel.recv(&tick);
        let oper = sel.select();
        match oper.index() {
            i if i == oper1 => {
                oper.recv(&r1).unwrap();
                hits[0] += 1;
            }
            i if i == oper2 => {
                oper.recv(&r2).unwrap();
                hits[1] += 1;
            }
            i if i == oper3 => {
                oper.recv(&after).unwrap();
                hits[2] += 1;
            }
            i if i == oper4 => {
                oper.recv(&tick).unwrap();
                hits[3] += 1;
            }
            _ => unreachable!(),
        }
    }
    assert!(hits.iter().all(|&h| h >= COUNT / 8), "{hits:?}");
}

fn select_chooses_fairly_among_senders_of_every_flavor(mode: Mode) {
    const COUNT: usize = 1_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = bounded::<()>(1);
    let (s3, r3) = bounded::<()>(0);
    scope(mode, |sc| {
        sc.spawn(|| {
            for _ in 0..COUNT {
                let mut sel = Select::new();
                let mut oper1 = None;
                let mut oper2 = None;
                if s1.is_empty() {
                    oper1 = Some(sel.send(&s1));
                }
                if s2.is_empty() {
                    oper2 = Some(sel.send(&s2));
                }
                let oper3 = sel.send(&s3);
                let oper = sel.select();
                match oper.index() {
                    i if Some(i) == oper1 => assert!(oper.send(&s1, ()).is_ok()),
                    i if Some(i) == oper2 => assert!(oper.send(&s2, ()).is_ok()),
                    i if i == oper3 => assert!(oper.send(&s3, ()).is_ok()),
                    _ => unreachable!(),
                }
            }
        });
        let mut hits = [0usize; 3];
        for _ in 0..COUNT {
            let mut sel = Select::new();
            let oper1 = sel.recv(&r1);
            let oper2 = sel.recv(&r2);
            let oper3 = sel.recv(&r3);
            let oper = sel.select();
            match oper.index() {
                i if i == oper1 => {
                    oper.recv(&r1).unwrap();
                    hits[0] += 1;
                }
                i if i == oper2 => {
                    oper.recv(&r2).unwrap();
                    hits[1] += 1;
                }
                i if i == oper3 => {
                    oper.recv(&r3).unwrap();
                    hits[2] += 1;
                }
                _ => unreachable!(),
            }
        }
        assert!(hits.iter().all(|&h| h >= COUNT / 50), "{hits:?}");
    });
}
all_modes!(select_chooses_fairly_among_senders_of_every_flavor);

fn clones_of_one_select_are_independent(mode: Mode) {
    const TASKS: usize = 20;
    let (s, r) = &bounded::<usize>(0);
    let mut sel = Select::new();
    let oper1 = sel.recv(r);
    let oper2 = sel.send(s);
    let sel = &sel;
    scope(mode, |sc| {
        for i in 0..TASKS {
            sc.spawn(move || {
                let mut sel = sel.clone();
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                    ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                    _ => unreachable!(),
                }
            });
        }
    });
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(clones_of_one_select_are_independent);

fn a_select_can_move_to_another_task(mode: Mode) {
    const TASKS: usize = 20;
    let (s, r) = &bounded::<usize>(0);
    let mut sel = Select::new();
    let oper1 = sel.recv(r);
    let oper2 = sel.send(s);
    scope(mode, |sc| {
        for i in 0..TASKS {
            let mut sel = sel.clone();
            sc.spawn(move || {
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_ne!(oper.recv(r), Ok(i)),
                    ix if ix == oper2 => assert!(oper.send(s, i).is_ok()),
                    _ => unreachable!(),
                }
            });
        }
    });
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(a_select_can_move_to_another_task);

fn one_select_can_be_reused_many_times(mode: Mode) {
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
        let mut sel = Select::new();
        let oper1 = sel.recv(&r1);
        let oper2 = sel.send(&s2);
        for i in 0..COUNT {
            for _ in 0..2 {
                let oper = sel.select();
                match oper.index() {
                    ix if ix == oper1 => assert_eq!(oper.recv(&r1), Ok(i)),
                    ix if ix == oper2 => assert!(oper.send(&s2, i).is_ok()),
                    _ => unreachable!(),
                }
            }
            s3.send(()).unwrap();
        }
    });
}
all_modes!(one_select_can_be_reused_many_times);

#[test]
fn remove_takes_an_operation_out_of_the_select() {
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    s1.send(1).unwrap();
    s2.send(2).unwrap();
    let mut sel = Select::new();
    let oper1 = sel.recv(&r1);
    let oper2 = sel.recv(&r2);
    sel.remove(oper1);
    for _ in 0..20 {
        let oper = sel.try_select().unwrap();
        let oper = expect_index(oper, oper2);
        assert_eq!(oper.recv(&r2), Ok(2));
        s2.send(2).unwrap();
    }
    assert_eq!(r1.try_recv(), Ok(1));
}

fn remove_drops_disconnected_channels_until_one_delivers(mode: Mode) {
    // The idiom: select over several receivers, `remove` each one that
    // turns out disconnected, keep going with the rest.
    let (s1, r1) = unbounded::<i32>();
    let (s2, r2) = unbounded::<i32>();
    let (s3, r3) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            drop(s1);
            sleep(ms(20));
            drop(s2);
            sleep(ms(20));
            s3.send(3).unwrap();
        });
        let rs = [&r1, &r2, &r3];
        let mut sel = Select::new();
        for r in rs {
            sel.recv(r);
        }
        let mut removed = Vec::new();
        let got = loop {
            let oper = sel.select_timeout(LONG).expect("timed out");
            let i = oper.index();
            match oper.recv(rs[i]) {
                Ok(v) => break v,
                Err(RecvError) => {
                    sel.remove(i);
                    removed.push(i);
                }
            }
        };
        assert_eq!(got, 3);
        removed.sort();
        assert_eq!(removed, [0, 1]);
    });
}
all_modes!(remove_drops_disconnected_channels_until_one_delivers);

#[test]
#[should_panic(expected = "no operation with this index")]
fn removing_an_operation_twice_panics() {
    let (_s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    let i = sel.recv(&r);
    sel.recv(&r);
    sel.remove(i);
    sel.remove(i);
}

#[test]
#[should_panic]
fn removing_an_index_never_handed_out_panics() {
    let (_s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    sel.remove(5);
}

#[test]
#[should_panic(expected = "no operations have been added to `Select`")]
fn select_with_no_operations_panics() {
    let mut sel = Select::new();
    let _ = sel.select();
}

#[test]
fn biased_select_prefers_operations_in_order_of_addition() {
    const COUNT: usize = 1_000;
    let (s1, r1) = unbounded::<()>();
    let (s2, r2) = unbounded::<()>();
    let (s3, r3) = unbounded::<()>();
    for _ in 0..COUNT {
        s1.send(()).unwrap();
        s2.send(()).unwrap();
    }
    s3.send(()).unwrap();
    let mut hits = [0usize; 3];
    let rs = [&r1, &r2, &r3];
    for _ in 0..2 * COUNT {
        let mut sel = Select::new_biased();
        for r in rs {
            sel.recv(r);
        }
        let oper = sel.select();
        let i = oper.index();
        oper.recv(rs[i]).unwrap();
        hits[i] += 1;
        if hits[0] < COUNT {
            assert_eq!(i, 0);
        }
    }
    assert_eq!(hits, [COUNT, COUNT, 0]);
    // try_select and select_timeout are biased too.
    s1.send(()).unwrap();
    s2.send(()).unwrap();
    let mut sel = Select::new_biased();
    sel.recv(&r1);
    sel.recv(&r2);
    assert_eq!(sel.clone().try_select().unwrap().recv(&r1), Ok(()));
    let oper = sel.select_timeout(LONG).unwrap();
    let oper = expect_index(oper, 1);
    assert_eq!(oper.recv(&r2), Ok(()));
}

/// Dropping a `SelectedOperation` without completing it panics (the
/// channel may have reserved a slot or paired a peer for it), and the
/// channel can still be dropped afterwards.
fn dropping_an_uncompleted_selected_send_panics(cap: Option<usize>) {
    within(
        ms(2000),
        "dropping the channel after the panic",
        move || {
            let (s, _r) = make::<Box<u8>>(cap);
            let res = catch_unwind(AssertUnwindSafe(|| {
                let mut sel = Select::new();
                sel.send(&s);
                drop(sel.try_select().unwrap());
            }));
            let err = res.unwrap_err();
            assert_eq!(
                *err.downcast_ref::<&str>().unwrap(),
                "dropped `SelectedOperation` without completing the operation"
            );
        },
    );
}

#[test]
fn dropping_an_uncompleted_selected_send_panics_zero() {
    // On a rendezvous channel a selected send has already paired with a
    // waiting receiver; that receiver must be released, not left waiting.
    within(ms(2000), "the paired receiver", || {
        let (s, r) = bounded::<Box<u8>>(0);
        let receiver = std::thread::spawn(move || r.recv());
        let res = catch_unwind(AssertUnwindSafe(|| {
            let deadline = Instant::now() + LONG;
            let mut sel = Select::new();
            sel.send(&s);
            let oper = loop {
                match sel.try_select() {
                    Ok(oper) => break oper,
                    Err(_) if Instant::now() < deadline => sleep(ms(1)),
                    Err(e) => panic!("the receiver never showed up: {e}"),
                }
            };
            drop(oper);
        }));
        let err = res.unwrap_err();
        assert_eq!(
            *err.downcast_ref::<&str>().unwrap(),
            "dropped `SelectedOperation` without completing the operation"
        );
        drop(s);
        assert!(receiver.join().unwrap().is_err());
    });
}

#[test]
fn dropping_an_uncompleted_selected_send_panics_array() {
    dropping_an_uncompleted_selected_send_panics(Some(2));
}

#[test]
fn dropping_an_uncompleted_selected_send_panics_list() {
    dropping_an_uncompleted_selected_send_panics(None);
}

/// A selected send that is forgotten (`mem::forget`, safe) leaks, but
/// dropping the channel afterwards must not hang.
fn forgetting_a_selected_send(mode: Mode, cap: Option<usize>) {
    within(ms(2000), "dropping the channel", move || {
        let (s, r) = make::<Box<u8>>(cap);
        let s2 = s.clone();
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut sel = Select::new();
                sel.send(&s2);
                std::mem::forget(sel.select());
            });
            sleep(ms(20));
            drop(s);
            drop(r);
        });
    });
}

fn forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_zero(mode: Mode) {
    forgetting_a_selected_send(mode, Some(0));
}
all_modes!(forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_zero);

fn forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_array(mode: Mode) {
    forgetting_a_selected_send(mode, Some(2));
}
mode_tests!(forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_array:
    threads,
    goroutines,
);

fn forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_list(mode: Mode) {
    forgetting_a_selected_send(mode, None);
}
mode_tests!(forgetting_a_selected_send_then_dropping_the_channel_does_not_hang_list:
    threads,
    goroutines,
);

#[test]
fn blocked_selects_park_their_goroutines() {
    let (s1, r1) = bounded::<()>(0);
    let (s2, r2) = unbounded::<()>();
    let senders = std::sync::Mutex::new(Some((s1, s2)));
    scenario::blocked_goroutines_leave_their_workers_free(
        || {
            let mut sel = Select::new();
            let i1 = sel.recv(&r1);
            let i2 = sel.recv(&r2);
            let oper = sel.select();
            match oper.index() {
                i if i == i1 => assert!(oper.recv(&r1).is_err()),
                i if i == i2 => assert!(oper.recv(&r2).is_err()),
                _ => unreachable!(),
            }
        },
        || drop(senders.lock().unwrap().take()),
    );
}
