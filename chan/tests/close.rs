//! `Sender::close`, Go's `close(ch)`: later sends fail (from every
//! sender clone), blocked senders and receivers wake, receivers drain
//! what is buffered and then see the channel disconnected, `select!` sees
//! a closed channel as ready, and only the call that closes returns
//! `true`. Every flavor; concurrent tests with threads, goroutines and
//! mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Every channel flavor `close` applies to: unbounded, rendezvous, and
/// buffered with room for one and for several.
const FLAVORS: [Option<usize>; 4] = [None, Some(0), Some(1), Some(4)];

/// The flavors whose senders can block: rendezvous and buffered.
const BLOCKING_SEND_FLAVORS: [usize; 3] = [0, 1, 4];

#[test]
fn close_returns_true_only_for_the_call_that_closes() {
    for cap in FLAVORS {
        let (s, _r) = make::<i32>(cap);
        let s2 = s.clone();
        assert!(s.close(), "{cap:?}");
        assert!(!s.close(), "{cap:?}: second close");
        assert!(!s2.close(), "{cap:?}: close through a clone");
    }
}

#[test]
fn close_after_the_receivers_are_gone_returns_false() {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        drop(r);
        assert!(!s.close(), "{cap:?}");
    }
}

fn concurrent_closes_close_exactly_once(mode: Mode) {
    for cap in FLAVORS {
        let (s, _r) = make::<i32>(cap);
        let closed = AtomicUsize::new(0);
        scope(mode, |sc| {
            for _ in 0..6 {
                let s = s.clone();
                let closed = &closed;
                sc.spawn(move || {
                    if s.close() {
                        closed.fetch_add(1, SeqCst);
                    }
                });
            }
        });
        assert_eq!(closed.load(SeqCst), 1, "{cap:?}");
    }
}
all_modes!(concurrent_closes_close_exactly_once);

#[test]
fn sends_after_close_fail_on_every_clone_and_return_the_message() {
    for cap in FLAVORS {
        let (s, _r) = make::<i32>(cap);
        let s2 = s.clone();
        assert!(s.close());
        for s in [&s, &s2] {
            assert_eq!(s.send(1), Err(SendError(1)), "{cap:?}");
            assert_eq!(s.try_send(2), Err(TrySendError::Disconnected(2)), "{cap:?}");
            assert_eq!(
                s.send_timeout(3, LONG),
                Err(SendTimeoutError::Disconnected(3)),
                "{cap:?}"
            );
            assert_eq!(
                s.send_deadline(4, Instant::now() + LONG),
                Err(SendTimeoutError::Disconnected(4)),
                "{cap:?}"
            );
        }
    }
}

#[test]
fn a_full_closed_channel_reports_disconnected_not_full() {
    let (s, _r) = bounded::<i32>(1);
    s.send(0).unwrap();
    assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
    assert!(s.close());
    assert_eq!(s.try_send(1), Err(TrySendError::Disconnected(1)));
    let start = Instant::now();
    assert_eq!(
        s.send_timeout(2, LONG),
        Err(SendTimeoutError::Disconnected(2))
    );
    assert!(start.elapsed() < LONG, "waited on a closed channel");
}

#[test]
fn receivers_drain_the_buffer_then_see_disconnection() {
    for cap in [None, Some(4)] {
        let (s, r) = make::<i32>(cap);
        let r2 = r.clone();
        s.send(1).unwrap();
        s.send(2).unwrap();
        s.send(3).unwrap();
        assert!(s.close());
        assert_eq!(r.len(), 3, "{cap:?}");
        assert_eq!(r.recv(), Ok(1), "{cap:?}");
        assert_eq!(r2.try_recv(), Ok(2), "{cap:?}");
        assert_eq!(r.recv_timeout(LONG), Ok(3), "{cap:?}");
        assert_eq!(r.recv(), Err(RecvError), "{cap:?}");
        assert_eq!(r2.try_recv(), Err(TryRecvError::Disconnected), "{cap:?}");
        let start = Instant::now();
        assert_eq!(
            r.recv_timeout(LONG),
            Err(RecvTimeoutError::Disconnected),
            "{cap:?}"
        );
        assert!(start.elapsed() < LONG, "waited on a closed channel");
        assert!(r.is_empty());
    }
}

#[test]
fn iter_over_a_closed_channel_yields_the_buffer_then_ends() {
    for cap in [None, Some(4)] {
        let (s, r) = make::<i32>(cap);
        s.send(1).unwrap();
        s.send(2).unwrap();
        s.close();
        assert_eq!(r.iter().collect::<Vec<_>>(), [1, 2], "{cap:?}");
        assert_eq!(r.try_iter().next(), None);
    }
}

#[test]
fn a_closed_rendezvous_channel_fails_receives_at_once() {
    let (s, r) = bounded::<i32>(0);
    assert!(s.close());
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        r.recv_deadline(Instant::now() + LONG),
        Err(RecvTimeoutError::Disconnected)
    );
}

fn close_wakes_a_blocked_receiver(mode: Mode) {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        scope(mode, |sc| {
            let s2 = s.clone();
            sc.spawn(move || {
                sleep(ms(30));
                assert!(s2.close());
            });
            assert_eq!(r.recv(), Err(RecvError), "{cap:?}");
        });
        let (s, r) = make::<i32>(cap);
        scope(mode, |sc| {
            sc.spawn(|| {
                sleep(ms(30));
                assert!(s.close());
            });
            let start = Instant::now();
            assert_eq!(
                r.recv_timeout(LONG),
                Err(RecvTimeoutError::Disconnected),
                "{cap:?}"
            );
            assert!(start.elapsed() < LONG);
        });
    }
}
all_modes!(close_wakes_a_blocked_receiver);

fn close_wakes_every_blocked_receiver(mode: Mode) {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        let woken = AtomicUsize::new(0);
        scope(mode, |sc| {
            for _ in 0..4 {
                let r = r.clone();
                let woken = &woken;
                sc.spawn(move || {
                    assert_eq!(r.recv(), Err(RecvError));
                    woken.fetch_add(1, SeqCst);
                });
            }
            sleep(ms(30));
            assert!(s.clone().close());
        });
        assert_eq!(woken.load(SeqCst), 4, "{cap:?}");
    }
}
all_modes!(close_wakes_every_blocked_receiver);

fn close_wakes_a_blocked_sender_with_its_message(mode: Mode) {
    for cap in BLOCKING_SEND_FLAVORS {
        let (s, r) = bounded::<i32>(cap);
        for i in 0..cap as i32 {
            s.send(i).unwrap();
        }
        scope(mode, |sc| {
            let s2 = s.clone();
            sc.spawn(move || {
                sleep(ms(30));
                assert!(s2.close());
            });
            assert_eq!(s.send(100), Err(SendError(100)), "cap {cap}");
        });
        // What was buffered before the close is still delivered.
        assert_eq!(
            r.try_iter().collect::<Vec<_>>(),
            (0..cap as i32).collect::<Vec<_>>()
        );
        assert_eq!(r.recv(), Err(RecvError));

        let (s, _r) = bounded::<i32>(cap);
        for i in 0..cap as i32 {
            s.send(i).unwrap();
        }
        scope(mode, |sc| {
            sc.spawn(|| {
                sleep(ms(30));
                assert!(s.close());
            });
            assert_eq!(
                s.send_timeout(101, LONG),
                Err(SendTimeoutError::Disconnected(101)),
                "cap {cap}"
            );
        });
    }
}
all_modes!(close_wakes_a_blocked_sender_with_its_message);

fn close_wakes_every_blocked_sender(mode: Mode) {
    for cap in BLOCKING_SEND_FLAVORS {
        let (s, r) = bounded::<usize>(cap);
        for i in 0..cap {
            s.send(i).unwrap();
        }
        let failed = AtomicUsize::new(0);
        scope(mode, |sc| {
            for i in 0..4 {
                let s = s.clone();
                let failed = &failed;
                sc.spawn(move || {
                    assert_eq!(s.send(100 + i), Err(SendError(100 + i)));
                    failed.fetch_add(1, SeqCst);
                });
            }
            sleep(ms(30));
            assert!(s.close());
        });
        assert_eq!(failed.load(SeqCst), 4, "cap {cap}");
        assert_eq!(r.iter().collect::<Vec<_>>(), (0..cap).collect::<Vec<_>>());
    }
}
all_modes!(close_wakes_every_blocked_sender);

#[test]
fn select_sees_a_closed_channel_as_ready() {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        let (_other_s, other_r) = unbounded::<i32>();
        assert!(s.close());
        select! {
            recv(other_r) -> _ => panic!("{cap:?}"),
            recv(r) -> v => assert_eq!(v, Err(RecvError), "{cap:?}"),
            default => panic!("{cap:?}: a closed channel was not ready"),
        }
        select! {
            send(s, 7) -> res => assert_eq!(res, Err(SendError(7)), "{cap:?}"),
            default => panic!("{cap:?}: a closed channel was not ready"),
        }
        let mut sel = Select::new();
        sel.recv(&other_r);
        sel.recv(&r);
        assert_eq!(sel.try_ready(), Ok(1), "{cap:?}");
        let oper = sel.try_select().expect("a closed channel is ready");
        let oper = expect_index(oper, 1);
        assert_eq!(oper.recv(&r), Err(RecvError));
    }
}

#[test]
fn select_drains_a_closed_channel_before_reporting_it() {
    for cap in [None, Some(4)] {
        let (s, r) = make::<i32>(cap);
        s.send(1).unwrap();
        s.send(2).unwrap();
        s.close();
        for want in [Ok(1), Ok(2), Err(RecvError), Err(RecvError)] {
            select! {
                recv(r) -> v => assert_eq!(v, want, "{cap:?}"),
                default => panic!("{cap:?}"),
            }
        }
    }
}

fn close_wakes_a_blocked_select(mode: Mode) {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        let (_quiet_s, quiet_r) = unbounded::<i32>();
        scope(mode, |sc| {
            sc.spawn(|| {
                sleep(ms(30));
                assert!(s.close());
            });
            select! {
                recv(quiet_r) -> _ => panic!(),
                recv(r) -> v => assert_eq!(v, Err(RecvError), "{cap:?}"),
                default(LONG) => panic!("{cap:?}: timed out"),
            }
        });
    }
    for cap in BLOCKING_SEND_FLAVORS {
        let (s, _r) = bounded::<i32>(cap);
        for i in 0..cap as i32 {
            s.send(i).unwrap();
        }
        let (_quiet_s, quiet_r) = unbounded::<i32>();
        scope(mode, |sc| {
            let s2 = s.clone();
            sc.spawn(move || {
                sleep(ms(30));
                assert!(s2.close());
            });
            select! {
                recv(quiet_r) -> _ => panic!(),
                send(s, 9) -> res => assert_eq!(res, Err(SendError(9)), "cap {cap}"),
                default(LONG) => panic!("cap {cap}: timed out"),
            }
        });
    }
}
all_modes!(close_wakes_a_blocked_select);

fn close_wakes_a_blocked_readiness_wait(mode: Mode) {
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        scope(mode, |sc| {
            sc.spawn(|| {
                sleep(ms(30));
                assert!(s.close());
            });
            let mut sel = Select::new();
            sel.recv(&r);
            assert_eq!(sel.ready_timeout(LONG), Ok(0), "{cap:?}");
            assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
        });
    }
}
all_modes!(close_wakes_a_blocked_readiness_wait);

#[test]
fn buffered_messages_of_a_closed_channel_are_dropped_exactly_once() {
    for cap in [None, Some(8)] {
        // Receivers go last.
        let drops = DropCounter::new();
        let (s, r) = make::<Counted>(cap);
        for _ in 0..5 {
            s.send(drops.item()).unwrap();
        }
        s.close();
        r.recv().unwrap();
        r.recv().unwrap();
        assert_eq!(drops.drops(), 2, "{cap:?}");
        drop(s);
        drop(r);
        assert_eq!(drops.drops(), 5, "{cap:?}");

        // Receivers go first, senders still alive.
        let drops = DropCounter::new();
        let (s, r) = make::<Counted>(cap);
        for _ in 0..5 {
            s.send(drops.item()).unwrap();
        }
        s.close();
        drop(r);
        assert_eq!(
            s.send(drops.item()).map_err(|e| drop(e.into_inner())),
            Err(())
        );
        drop(s);
        assert_eq!(drops.drops(), 6, "{cap:?}");
    }
}

fn sends_racing_a_close_lose_and_duplicate_nothing(mode: Mode) {
    const PRODUCERS: usize = 3;
    for cap in FLAVORS {
        for _ in 0..5 {
            let (s, r) = make::<(usize, usize)>(cap);
            let start = Instant::now();
            scope(mode, |sc| {
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let s = s.clone();
                        sc.spawn(move || {
                            let mut i = 0;
                            loop {
                                assert!(
                                    start.elapsed() < LONG,
                                    "the channel was not closed in time: the closer never ran"
                                );
                                match s.send((p, i)) {
                                    Ok(()) => i += 1,
                                    Err(SendError(back)) => {
                                        assert_eq!(
                                            back,
                                            (p, i),
                                            "the failed send returned another message"
                                        );
                                        break i;
                                    }
                                }
                                if i.is_multiple_of(32) {
                                    relax();
                                }
                            }
                        })
                    })
                    .collect();
                let consumer = sc.spawn(|| r.iter().collect::<Vec<_>>());
                sleep(ms(5));
                assert!(s.close());
                let sent: Vec<usize> = producers.into_iter().map(|h| h.join()).collect();
                let received = consumer.join();
                // Each producer's messages arrive once each, in order, and
                // exactly the successful sends arrive.
                let mut next = [0usize; PRODUCERS];
                for (p, i) in received {
                    assert_eq!(
                        i, next[p],
                        "{cap:?}: producer {p} out of order or duplicated"
                    );
                    next[p] += 1;
                }
                assert_eq!(
                    next.to_vec(),
                    sent,
                    "{cap:?}: received vs successfully sent"
                );
            });
        }
    }
}
mode_tests!(sends_racing_a_close_lose_and_duplicate_nothing:
    threads,
    goroutines,
    mixed,
    mixed_rev,
);

#[test]
fn blocked_goroutines_woken_by_close_had_parked() {
    let (s, r) = bounded::<()>(0);
    scenario::blocked_goroutines_leave_their_workers_free(
        || assert_eq!(r.recv(), Err(RecvError)),
        || assert!(s.close()),
    );
}
