//! `never()`, Go's nil channel: the behaviours of crossbeam-channel's
//! `tests/never.rs`. It never delivers, never disconnects, and switches a
//! `select!` arm off.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;

#[test]
fn select_arm_on_never_is_never_chosen() {
    select! {
        recv(never::<i32>()) -> _ => panic!(),
        default => {}
    }
}

#[test]
fn never_switches_an_optional_arm_off() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    s.send(2).unwrap();
    let off = never();

    let mut maybe = Some(&r);
    select! {
        recv(maybe.unwrap_or(&off)) -> v => assert_eq!(v, Ok(1)),
        default => panic!(),
    }
    maybe = None;
    select! {
        recv(maybe.unwrap_or(&off)) -> _ => panic!(),
        default => {}
    }
    assert_eq!(r.try_recv(), Ok(2));
}

fn replacing_a_ticker_with_never_stops_it(mode: Mode) {
    run(mode, || {
        let mut r = tick(ms(10));
        let mut step = 0;
        loop {
            select! {
                recv(r) -> _ => step += 1,
                default(ms(300)) => break,
            }
            if step == 5 {
                r = never();
            }
        }
        assert_eq!(step, 5);
    });
}
mode_tests!(replacing_a_ticker_with_never_stops_it);

#[test]
fn capacity_is_zero() {
    assert_eq!(never::<i32>().capacity(), Some(0));
}

#[test]
fn len_is_zero_and_it_is_both_empty_and_full() {
    let r = never::<i32>();
    assert_eq!(r.len(), 0);
    assert!(r.is_empty());
    assert!(r.is_full());
}

#[test]
fn try_recv_is_always_empty_never_disconnected() {
    let r = never::<i32>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    sleep(ms(20));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.try_iter().next(), None);
}

fn recv_timeout_waits_the_whole_timeout(mode: Mode) {
    run(mode, || {
        let r = never::<i32>();
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
mode_tests!(recv_timeout_waits_the_whole_timeout);

fn select_on_never_alone_waits_for_its_timeout(mode: Mode) {
    run(mode, || {
        let r = never::<i32>();
        let start = Instant::now();
        select! {
            recv(r) -> _ => panic!(),
            default(ms(50)) => {}
        }
        assert_waited(start.elapsed(), ms(50));
        let mut sel = Select::new();
        sel.recv(&r);
        assert!(sel.try_select().is_err());
        assert_eq!(sel.ready_timeout(ms(20)), Err(ReadyTimeoutError));
    });
}
mode_tests!(select_on_never_alone_waits_for_its_timeout);

fn never_does_not_keep_a_select_from_other_channels(mode: Mode) {
    let (s, r) = bounded::<i32>(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            sleep(ms(20));
            s.send(3).unwrap();
        });
        select! {
            recv(never::<i32>()) -> _ => panic!(),
            recv(r) -> v => assert_eq!(v, Ok(3)),
        }
    });
}
all_modes!(never_does_not_keep_a_select_from_other_channels);

#[test]
fn waiting_on_never_parks_the_goroutine() {
    let deadline = Instant::now() + ms(600);
    let answered = scenario::blocked_goroutines_leave_their_workers_free(
        || {
            assert_eq!(
                never::<()>().recv_deadline(deadline),
                Err(RecvTimeoutError::Timeout)
            )
        },
        || {},
    );
    assert!(
        answered < deadline,
        "the ping was answered only after the deadline: waiting held the workers"
    );
}
