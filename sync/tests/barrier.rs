//! `Barrier`: nobody leaves a round before all `n` have arrived, exactly
//! one leader per round, several rounds in a row (the barrier resets
//! itself), and the degenerate sizes 0 and 1.

#[macro_use]
mod common;

use common::*;
use gofer_sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// `n` tasks go through `ROUNDS` rounds. Each counts its arrival before
/// waiting and checks after waiting that the whole round arrived; leaders
/// are counted per round.
fn n_tasks_pass_several_rounds_with_one_leader_each(mode: Mode) {
    const N: usize = 8;
    const ROUNDS: usize = 20;
    let barrier = Barrier::new(N);
    let arrived: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    let leaders: Vec<AtomicUsize> = (0..ROUNDS).map(|_| AtomicUsize::new(0)).collect();
    scope(mode, |s| {
        for t in 0..N {
            let (barrier, arrived, leaders) = (&barrier, &arrived, &leaders);
            s.spawn(move || {
                for r in 0..ROUNDS {
                    if (r + t) % 7 == 0 {
                        sleep(Duration::from_micros(300)); // a straggler
                    }
                    arrived[r].fetch_add(1, SeqCst);
                    let res = barrier.wait();
                    assert_eq!(arrived[r].load(SeqCst), N, "left round {r} early");
                    if res.is_leader() {
                        leaders[r].fetch_add(1, SeqCst);
                    }
                }
            });
        }
    });
    for (r, l) in leaders.iter().enumerate() {
        assert_eq!(
            l.load(SeqCst),
            1,
            "round {r} had {} leaders",
            l.load(SeqCst)
        );
    }
}
all_modes!(n_tasks_pass_several_rounds_with_one_leader_each);

/// Two wait, a third completes the round: exactly one of the three is
/// the leader.
fn exactly_one_of_three_is_the_leader(mode: Mode) {
    let barrier = Barrier::new(3);
    scope(mode, |s| {
        let a = s.spawn(|| barrier.wait().is_leader());
        let b = s.spawn(|| barrier.wait().is_leader());
        sleep(Duration::from_millis(20)); // a and b are usually waiting
        let me = barrier.wait().is_leader();
        let (a, b) = (a.join(), b.join());
        assert_eq!([a, b, me].iter().filter(|&&l| l).count(), 1);
    });
}
all_modes!(exactly_one_of_three_is_the_leader);

#[test]
fn barriers_of_zero_and_one_never_wait() {
    for n in [0, 1] {
        let b = Barrier::new(n);
        for _ in 0..3 {
            assert!(b.wait().is_leader());
        }
    }
}
