//! Periodic timer channels (`tick`): the behaviours of crossbeam-channel's
//! `tests/tick.rs`. A tick is delivered no earlier than one period after
//! the previous delivery (or the creation); a slow receiver misses ticks
//! instead of queueing them. Only those certain bounds are asserted.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn fires_after_each_period(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = tick(ms(200));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        sleep(ms(250));
        let fired = r.try_recv().unwrap();
        assert!(fired >= start + ms(200), "ticked early");
        assert!(fired <= Instant::now());
        // The next tick is a period away from now.
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        select! {
            recv(r) -> _ => panic!("ticked twice at once"),
            default => {}
        }
        select! {
            recv(r) -> _ => {}
            recv(tick(LONG)) -> _ => panic!("the slower ticker won"),
        }
    });
}
mode_tests!(fires_after_each_period);

fn missed_ticks_are_not_queued(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = tick(ms(150));

        let t1 = r.recv().unwrap();
        assert!(t1 >= start + ms(150));

        // Sleep through several periods: only one tick is waiting, and it
        // carries its scheduled time, not the time of receipt.
        sleep(ms(500));
        let before = Instant::now();
        let t2 = r.try_recv().unwrap();
        assert!(t2 >= t1 + ms(150));
        assert!(t2 <= before);
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));

        // The next tick comes a period after that receipt.
        let t3 = r.recv().unwrap();
        assert!(t3 >= before + ms(150), "ticked early after a missed run");
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}
mode_tests!(missed_ticks_are_not_queued);

#[test]
fn capacity_is_one() {
    for i in 0..10 {
        assert_eq!(tick(ms(i)).capacity(), Some(1));
    }
}

#[test]
fn len_is_one_between_a_tick_and_its_receipt() {
    let r = tick(ms(200));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
    sleep(ms(250));
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (1, false, true));
    r.try_recv().unwrap();
    assert_eq!((r.len(), r.is_empty(), r.is_full()), (0, true, false));
}

#[test]
fn try_recv_gets_one_tick_per_period_at_most() {
    let r = tick(ms(250));
    assert!(r.try_recv().is_err());
    sleep(ms(20));
    assert!(r.try_recv().is_err());
    sleep(ms(300));
    assert!(r.try_recv().is_ok());
    assert!(r.try_recv().is_err());
    sleep(ms(300));
    assert!(r.try_recv().is_ok());
    assert!(r.try_recv().is_err());
}

fn recv_waits_for_the_next_tick(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = tick(ms(50));
        let fired = r.recv().unwrap();
        let now = Instant::now();
        assert!(fired >= start + ms(50), "ticked early");
        assert!(fired <= now);
        assert_waited(now - start, ms(50));
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    });
}
mode_tests!(recv_waits_for_the_next_tick);

fn recv_timeout_times_out_between_ticks(mode: Mode) {
    run(mode, || {
        let start = Instant::now();
        let r = tick(ms(300));
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(start.elapsed(), ms(50));

        let fired = r.recv_timeout(LONG).unwrap();
        assert!(fired >= start + ms(300), "ticked early");

        let after_first = Instant::now();
        assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
        assert_waited(after_first.elapsed(), ms(50));

        let fired2 = r.recv_timeout(LONG).unwrap();
        assert!(fired2 >= fired + ms(300), "ticked early");
    });
}
mode_tests!(recv_timeout_times_out_between_ticks);

fn two_tasks_share_two_tickers(mode: Mode) {
    let r1 = tick(ms(20));
    let r2 = tick(ms(20));
    scope(mode, |sc| {
        for _ in 0..2 {
            sc.spawn(|| {
                for _ in 0..5 {
                    select! {
                        recv(r1) -> v => assert!(v.is_ok()),
                        recv(r2) -> v => assert!(v.is_ok()),
                    }
                }
            });
        }
    });
}
all_modes!(two_tasks_share_two_tickers);

fn the_faster_ticker_wins_a_select(mode: Mode) {
    run(mode, || {
        select! {
            recv(tick(ms(10))) -> _ => {}
            recv(tick(LONG)) -> _ => panic!("the slower ticker won"),
        }
        select! {
            recv(tick(LONG)) -> _ => panic!("the slower ticker won"),
            recv(tick(ms(10))) -> _ => {}
        }
    });
}
mode_tests!(the_faster_ticker_wins_a_select);

#[test]
fn default_is_taken_only_between_ticks() {
    for _ in 0..10 {
        select! {
            recv(tick(ms(0))) -> _ => {}
            default => panic!("a due tick was not ready"),
        }
    }
    for _ in 0..10 {
        select! {
            recv(tick(LONG)) -> _ => panic!("a tick came early"),
            default => {}
        }
    }
}

fn tasks_selecting_over_shared_tickers_never_get_more_than_the_ticks(mode: Mode) {
    const TASKS: usize = 4;
    let p1 = ms(50);
    let p2 = ms(75);
    let start = Instant::now();
    let r1 = tick(p1);
    let r2 = tick(p2);
    let hits = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..TASKS {
            sc.spawn(|| {
                let timeout = after(ms(300));
                loop {
                    let mut sel = Select::new();
                    let oper1 = sel.recv(&r1);
                    let oper2 = sel.recv(&r2);
                    let oper3 = sel.recv(&timeout);
                    let oper = sel.select();
                    match oper.index() {
                        i if i == oper1 => {
                            oper.recv(&r1).unwrap();
                            hits.fetch_add(1, SeqCst);
                        }
                        i if i == oper2 => {
                            oper.recv(&r2).unwrap();
                            hits.fetch_add(1, SeqCst);
                        }
                        i if i == oper3 => {
                            oper.recv(&timeout).unwrap();
                            break;
                        }
                        _ => unreachable!(),
                    }
                }
            });
        }
    });
    // Each ticker delivers at most one message per period.
    let elapsed = start.elapsed();
    let most =
        (elapsed.as_millis() / p1.as_millis() + elapsed.as_millis() / p2.as_millis()) as usize;
    let hits = hits.load(SeqCst);
    assert!(hits >= 1, "no tick was received in {elapsed:?}");
    assert!(
        hits <= most,
        "{hits} ticks in {elapsed:?}, at most {most} possible"
    );
}
all_modes!(tasks_selecting_over_shared_tickers_never_get_more_than_the_ticks);

fn tasks_waiting_for_readiness_on_shared_tickers_never_get_more_than_the_ticks(mode: Mode) {
    const TASKS: usize = 4;
    let p1 = ms(50);
    let p2 = ms(75);
    let start = Instant::now();
    let r1 = tick(p1);
    let r2 = tick(p2);
    let hits = AtomicUsize::new(0);
    scope(mode, |sc| {
        for _ in 0..TASKS {
            sc.spawn(|| {
                let timeout = after(ms(300));
                'outer: loop {
                    let mut sel = Select::new();
                    sel.recv(&r1);
                    sel.recv(&r2);
                    sel.recv(&timeout);
                    loop {
                        match sel.ready() {
                            0 => {
                                if r1.try_recv().is_ok() {
                                    hits.fetch_add(1, SeqCst);
                                    break;
                                }
                            }
                            1 => {
                                if r2.try_recv().is_ok() {
                                    hits.fetch_add(1, SeqCst);
                                    break;
                                }
                            }
                            2 => {
                                if timeout.try_recv().is_ok() {
                                    break 'outer;
                                }
                            }
                            _ => unreachable!(),
                        }
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let most =
        (elapsed.as_millis() / p1.as_millis() + elapsed.as_millis() / p2.as_millis()) as usize;
    let hits = hits.load(SeqCst);
    assert!(hits >= 1, "no tick was received in {elapsed:?}");
    assert!(
        hits <= most,
        "{hits} ticks in {elapsed:?}, at most {most} possible"
    );
}
all_modes!(tasks_waiting_for_readiness_on_shared_tickers_never_get_more_than_the_ticks);

#[test]
fn select_chooses_fairly_between_due_tickers() {
    const COUNT: usize = 20;
    for dur in [0, 1] {
        let mut hits = [0usize; 2];
        for _ in 0..COUNT {
            let r1 = tick(ms(dur));
            let r2 = tick(ms(dur));
            for _ in 0..COUNT {
                select! {
                    recv(r1) -> _ => hits[0] += 1,
                    recv(r2) -> _ => hits[1] += 1,
                }
            }
        }
        assert!(hits.iter().all(|&h| h >= COUNT * COUNT / 4), "{hits:?}");
    }
}

#[test]
fn select_chooses_fairly_between_duplicate_ticker_arms() {
    const COUNT: usize = 20;
    for dur in [0, 1] {
        let mut hits = [0usize; 5];
        for _ in 0..COUNT {
            let r = tick(ms(dur));
            for _ in 0..COUNT {
                select! {
                    recv(r) -> _ => hits[0] += 1,
                    recv(r) -> _ => hits[1] += 1,
                    recv(r) -> _ => hits[2] += 1,
                    recv(r) -> _ => hits[3] += 1,
                    recv(r) -> _ => hits[4] += 1,
                }
            }
        }
        assert!(hits.iter().all(|&h| h >= COUNT * COUNT / 10), "{hits:?}");
    }
}

#[test]
fn a_period_too_long_for_the_clock_never_ticks() {
    let r = tick(Duration::MAX);
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(r.recv_timeout(ms(50)), Err(RecvTimeoutError::Timeout));
    assert_waited(start.elapsed(), ms(50));
}

#[test]
fn waiting_for_a_tick_parks_the_goroutine() {
    let start = Instant::now();
    let r = tick(ms(600));
    let answered = scenario::blocked_goroutines_leave_their_workers_free(
        || {
            // One of them gets the first tick, the others the next ones;
            // a timeout ends the wait of those left over.
            let _ = r.recv_timeout(ms(700));
        },
        || {},
    );
    assert!(
        answered < start + ms(600),
        "the ping was answered only after a tick: waiting held the workers"
    );
}
