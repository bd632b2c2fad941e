//! One-shot timer channels (`after`, `at`): the behaviours of
//! crossbeam-channel's `tests/after.rs`. Timing is only checked where it
//! is certain: a timer never fires early; upper bounds are generous.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn fires_once_at_its_time(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = after(ms(200));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        sleep(ms(250));
        let fired = r.try_recv().unwrap();
        assert!(fired >= start + ms(200), "fired early");
        assert!(fired <= Instant::now());
        // Only one message, ever.
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        select! {
            recv(r) -> _ => panic!("a spent timer delivered again"),
            default => {}
        }
        select! {
            recv(r) -> _ => panic!("a spent timer delivered again"),
            recv(after(ms(50))) -> _ => {}
        }
    });
}
mode_tests!(fires_once_at_its_time);

#[test]
fn capacity_is_one() {
    for i in 0..10 {
        assert_eq!(after(ms(i)).capacity(), Some(1));
    }
    assert_eq!(at(Instant::now()).capacity(), Some(1));
}

#[test]
fn len_is_one_between_firing_and_receipt() {
    let r = after(ms(200));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
    sleep(ms(250));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (1, false, true));
    r.try_recv().unwrap();
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
}

#[test]
fn try_recv_is_empty_before_and_after_the_one_message() {
    let r = after(ms(300));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    sleep(ms(20));
    // Still early: 20 ms and a bit have passed of 300.
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    sleep(ms(330));
    assert!(r.try_recv().is_ok());
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    sleep(ms(50));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}

fn recv_waits_until_the_time(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = after(ms(50));
        let fired = r.recv().unwrap();
        let now = Instant::now();
        assert!(fired >= start + ms(50), "fired early");
        assert!(fired <= now);
        assert_waited(now - start, ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}
mode_tests!(recv_waits_until_the_time);

fn recv_timeout_times_out_before_then_receives_then_times_out_again(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = after(ms(400));

        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(start.elapsed(), ms(50));

        let fired = r.recv_timeout(LONG).unwrap();
        assert!(fired >= start + ms(400), "fired early");
        assert_waited(start.elapsed(), ms(400));

        // Spent: a receive waits out its whole timeout.
        let spent = Instant::now();
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(spent.elapsed(), ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}
mode_tests!(recv_timeout_times_out_before_then_receives_then_times_out_again);

fn at_delivers_its_instant(mode: Mode) {
    run(mode, || {
        let when = Instant::now() + ms(200);
        let r = at(when);
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(r.recv(), Ok(when));
        assert!(Instant::now() >= when);
        // An instant already past is ready at once.
        let past = Instant::now();
        assert_eq!(at(past).try_recv(), Ok(past));
        assert_eq!(at(past).recv_deadline(Instant::now() + LONG), Ok(past));
    });
}
mode_tests!(at_delivers_its_instant);

#[test]
fn a_duration_too_long_for_the_clock_never_fires() {
    let r = after(Duration::MAX);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
    assert_waited(start.elapsed(), ms(50));
    select! {
        recv(r) -> _ => panic!(),
        default => {}
    }
}

fn two_tasks_racing_for_two_timers_get_one_each(mode: Mode) {
    let r1 = after(ms(50));
    let r2 = after(ms(50));
    let got = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                select! {
                    recv(r1) -> v => assert!(v.is_ok()),
                    recv(r2) -> v => assert!(v.is_ok()),
                }
                got.fetch_add(1, SeqCst);
            });
        }
    });
    assert_eq!(got.load(SeqCst), 2);
    assert_eq!(r1.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r2.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(two_tasks_racing_for_two_timers_get_one_each);

fn one_timer_is_received_by_exactly_one_of_many_tasks(mode: Mode) {
    let r = after(ms(20));
    let got = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..6 {
            sc.spawn(|| {
                if r.recv_timeout(ms(100)).is_ok() {
                    got.fetch_add(1, SeqCst);
                }
            });
        }
    });
    assert_eq!(got.load(SeqCst), 1);
}
all_modes!(one_timer_is_received_by_exactly_one_of_many_tasks);

fn the_earlier_timer_wins_a_select(mode: Mode) {
    run(mode, || {
        select! {
            recv(after(ms(10))) -> _ => {}
            recv(after(LONG)) -> _ => panic!("the later timer won"),
        }
        select! {
            recv(after(LONG)) -> _ => panic!("the later timer won"),
            recv(after(ms(10))) -> _ => {}
        }
    });
}
mode_tests!(the_earlier_timer_wins_a_select);

#[test]
fn default_is_taken_only_while_the_timer_is_pending() {
    for _ in 0..10 {
        select! {
            recv(after(ms(0))) -> _ => {}
            default => panic!("an expired timer was not ready"),
        }
    }
    for _ in 0..10 {
        select! {
            recv(after(LONG)) -> _ => panic!("a pending timer was ready"),
            default => {}
        }
    }
}

fn many_tasks_selecting_over_many_timers_receive_each_once(mode: Mode) {
    const TASKS: usize = 4;
    const COUNT: usize = 200;
    let timers: Vec<_> = (0..COUNT).map(|i| after(ms(i as u64 / 4))).collect();
    let hits = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..TASKS {
            sc.spawn(|| {
                loop {
                    let timeout = after(ms(200));
                    let mut sel = Select::new();
                    for r in &timers {
                        sel.recv(r);
                    }
                    let oper_timeout = sel.recv(&timeout);
                    let oper = sel.select();
                    match oper.index() {
                        i if i == oper_timeout => {
                            oper.recv(&timeout).unwrap();
                            break;
                        }
                        i => {
                            oper.recv(&timers[i]).unwrap();
                            hits.fetch_add(1, SeqCst);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(hits.load(SeqCst), COUNT);
}
all_modes!(many_tasks_selecting_over_many_timers_receive_each_once);

fn many_tasks_waiting_for_readiness_receive_each_timer_once(mode: Mode) {
    const TASKS: usize = 4;
    const COUNT: usize = 200;
    let timers: Vec<_> = (0..COUNT).map(|i| after(ms(i as u64 / 4))).collect();
    let hits = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..TASKS {
            sc.spawn(|| {
                loop {
                    let timeout = after(ms(200));
                    let mut sel = Select::new();
                    for r in &timers {
                        sel.recv(r);
                    }
                    let oper_timeout = sel.recv(&timeout);
                    loop {
                        let i = sel.ready();
                        if i == oper_timeout {
                            timeout.try_recv().unwrap();
                            return;
                        } else if timers[i].try_recv().is_ok() {
                            hits.fetch_add(1, SeqCst);
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(hits.load(SeqCst), COUNT);
}
all_modes!(many_tasks_waiting_for_readiness_receive_each_timer_once);

fn cloning_and_dropping_clones_concurrently_is_safe(mode: Mode) {
    for i in 0..20 {
        let r = after(ms(i % 3));
        let got = AtomicUsize::new(0);
        scope(mode, |sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    let r = r.clone();
                    if r.recv_timeout(ms(10)).is_ok() {
                        got.fetch_add(1, SeqCst);
                    }
                    for _ in 0..20 {
                        drop(r.clone());
                        relax();
                    }
                });
            }
        });
        assert_eq!(got.load(SeqCst), 1, "clones share the one message");
    }
}
all_modes!(cloning_and_dropping_clones_concurrently_is_safe);

#[test]
fn select_chooses_fairly_between_expired_timers() {
    const COUNT: usize = 400;
    for dur in [0, 1] {
        let mut hits = [0usize; 2];
        for _ in 0..COUNT {
            select! {
                recv(after(ms(dur))) -> _ => hits[0] += 1,
                recv(after(ms(dur))) -> _ => hits[1] += 1,
            }
        }
        assert!(hits.iter().all(|&h| h >= COUNT / 4), "{hits:?}");
    }
}

#[test]
fn select_chooses_fairly_between_duplicate_timer_arms() {
    const COUNT: usize = 400;
    for dur in [0, 1] {
        let mut hits = [0usize; 5];
        for _ in 0..COUNT {
            let r = after(ms(dur));
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
}

#[test]
fn waiting_for_a_timer_parks_the_goroutine() {
    let deadline = Instant::now() + ms(600);
    let answered = scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(at(deadline).recv(), Ok(deadline)),
        || {},
    );
    assert!(
        answered < deadline,
        "the ping was answered only once the timers fired: waiting held the workers"
    );
}
