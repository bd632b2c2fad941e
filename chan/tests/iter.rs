//! Iterating over a receiver: `iter`, `try_iter`, `into_iter` (owned and
//! borrowed) — crossbeam-channel's `tests/iter.rs`, run with threads,
//! goroutines and mixed.

#[macro_use]
mod common;

use common::*;
use gofer_chan::*;

fn iter_ends_when_the_channel_disconnects(mode: Mode) {
    let (s, r) = unbounded::<i32>();
    let (total_s, total_r) = unbounded::<i32>();
    scope(mode, |sc| {
        sc.spawn(move || {
            let mut acc = 0;
            for x in r.iter() {
                acc += x;
            }
            total_s.send(acc).unwrap();
        });
        s.send(3).unwrap();
        s.send(1).unwrap();
        s.send(2).unwrap();
        drop(s);
        assert_eq!(total_r.recv(), Ok(6));
    });
}
all_modes!(iter_ends_when_the_channel_disconnects);

fn breaking_out_of_iter_leaves_the_rest_queued(mode: Mode) {
    let (s, r) = unbounded::<i32>();
    let (count_s, count_r) = unbounded();
    scope(mode, |sc| {
        sc.spawn(|| {
            let mut count = 0;
            for x in r.iter() {
                if count >= 3 {
                    break;
                }
                count += x;
            }
            count_s.send(count).unwrap();
        });
        for _ in 0..4 {
            s.send(2).unwrap();
        }
        assert_eq!(count_r.recv(), Ok(4));
    });
    // Two were taken to reach 4, the third ended the loop; one is left.
    assert_eq!(r.try_recv(), Ok(2));
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
}
all_modes!(breaking_out_of_iter_leaves_the_rest_queued);

fn try_iter_takes_only_what_is_there(mode: Mode) {
    let (request_s, request_r) = unbounded();
    let (response_s, response_r) = unbounded();
    scope(mode, |sc| {
        sc.spawn(move || {
            let mut count = 0;
            loop {
                for x in response_r.try_iter() {
                    count += x;
                    if count == 6 {
                        return;
                    }
                }
                request_s.send(()).unwrap();
                relax();
            }
        });
        for _ in request_r.iter() {
            if response_s.send(2).is_err() {
                break;
            }
        }
    });
}
all_modes!(try_iter_takes_only_what_is_there);

#[test]
fn try_iter_does_not_wait_for_live_senders() {
    let (s, r) = bounded::<i32>(4);
    assert_eq!(r.try_iter().next(), None);
    s.send(1).unwrap();
    s.send(2).unwrap();
    assert_eq!(r.try_iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(r.try_iter().next(), None);
    let (_s0, r0) = bounded::<i32>(0);
    assert_eq!(r0.try_iter().next(), None);
}

#[test]
fn into_iter_of_an_owned_receiver_drains_then_ends() {
    let mut iter = {
        let (s, r) = unbounded::<i32>();
        s.send(1).unwrap();
        s.send(2).unwrap();
        r.into_iter()
    };
    assert_eq!(iter.next(), Some(1));
    assert_eq!(iter.next(), Some(2));
    assert_eq!(iter.next(), None);
    // Fused: it stays ended.
    assert_eq!(iter.next(), None);
}

#[test]
fn into_iter_of_a_borrowed_receiver_drains_then_ends() {
    let (s, r) = unbounded::<i32>();
    s.send(1).unwrap();
    s.send(2).unwrap();
    drop(s);
    let mut iter = (&r).into_iter();
    assert_eq!(iter.next(), Some(1));
    assert_eq!(iter.next(), Some(2));
    assert_eq!(iter.next(), None);
    assert_eq!(iter.next(), None);
    let mut sum = 0;
    for x in &r {
        sum += x;
    }
    assert_eq!(sum, 0);
}

fn iter_over_a_rendezvous_channel_gets_every_message(mode: Mode) {
    let (s, r) = bounded::<usize>(0);
    scope(mode, |sc| {
        sc.spawn(move || {
            for i in 0..1000 {
                s.send(i).unwrap();
            }
        });
        assert!(r.iter().eq(0..1000));
    });
}
all_modes!(iter_over_a_rendezvous_channel_gets_every_message);

fn owned_into_iter_can_move_to_another_task(mode: Mode) {
    let (s, r) = bounded::<usize>(3);
    scope(mode, |sc| {
        let sum = sc.spawn(move || r.into_iter().sum::<usize>());
        for i in 0..100 {
            s.send(i).unwrap();
        }
        drop(s);
        assert_eq!(sum.join(), 4950);
    });
}
all_modes!(owned_into_iter_can_move_to_another_task);
