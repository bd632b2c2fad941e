//! `Semaphore`: the number of holders never exceeds the permits (checked
//! inside the guarded section), `acquire_many` is served first come first
//! served (a small request does not overtake a large one queued before
//! it), `try_acquire`, `acquire_many_timeout` (gives up after the timeout
//! and does not strand the waiters behind it), `add_permits` and
//! `forget`.

#[macro_use]
mod common;

use common::*;
use gofer_sync::{Mutex, Semaphore};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

fn holders_never_exceed_the_permits(mode: Mode) {
    const PERMITS: usize = 3;
    const TASKS: usize = 12;
    const ITERS: usize = 300;
    let sem = Semaphore::new(PERMITS);
    let inside = AtomicUsize::new(0);
    let max_inside = AtomicUsize::new(0);
    scope(mode, |s| {
        for t in 0..TASKS {
            let (sem, inside, max_inside) = (&sem, &inside, &max_inside);
            s.spawn(move || {
                for i in 0..ITERS {
                    let _p = sem.acquire();
                    let n = inside.fetch_add(1, SeqCst) + 1;
                    assert!(n <= PERMITS, "{n} holders of {PERMITS} permits");
                    max_inside.fetch_max(n, SeqCst);
                    if (i + t) % 10 == 0 {
                        relax();
                    }
                    inside.fetch_sub(1, SeqCst);
                }
            });
        }
    });
    assert_eq!(sem.available_permits(), PERMITS);
    assert!(max_inside.load(SeqCst) <= PERMITS);
}
all_modes!(holders_never_exceed_the_permits);

/// Mixed sizes: each task takes 1..=3 permits of 4; the permits held at
/// once never exceed 4.
fn acquire_many_never_exceeds_the_permits(mode: Mode) {
    let sem = Semaphore::new(4);
    let held = AtomicUsize::new(0);
    scope(mode, |s| {
        for t in 0..6 {
            let (sem, held) = (&sem, &held);
            s.spawn(move || {
                for i in 0..200 {
                    let n = 1 + (t + i) % 3;
                    let p = sem.acquire_many(n);
                    assert_eq!(p.num_permits(), n);
                    let now = held.fetch_add(n, SeqCst) + n;
                    assert!(now <= 4, "{now} permits held of 4");
                    if i % 7 == 0 {
                        relax();
                    }
                    held.fetch_sub(n, SeqCst);
                }
            });
        }
    });
    assert_eq!(sem.available_permits(), 4);
}
all_modes!(acquire_many_never_exceeds_the_permits);

/// FIFO: a request for 3 queues first (only 1 permit is free), then a
/// request for 1 arrives. The free permit must *not* go to the small
/// request; when 2 more permits come, the large request is served first,
/// and the small one when the large one gives its permits back.
fn acquire_many_is_served_in_arrival_order(mode: Mode) {
    let sem = Semaphore::new(1);
    let order = Mutex::new(Vec::new());
    let small_done = AtomicBool::new(false);
    scope(mode, |s| {
        let large = s.spawn(|| {
            let p = sem.acquire_many(3);
            order.lock().push("large");
            sleep(Duration::from_millis(5));
            drop(p);
        });
        // Wait until the large request is queued: from then on a
        // `try_acquire` fails although a permit is free.
        let deadline = Instant::now() + LONG;
        while let Some(p) = sem.try_acquire() {
            drop(p);
            assert!(Instant::now() < deadline, "the large request never queued");
            relax();
        }
        assert_eq!(sem.available_permits(), 1);
        let small = s.spawn(|| {
            let _p = sem.acquire();
            order.lock().push("small");
            small_done.store(true, SeqCst);
        });
        sleep(Duration::from_millis(20));
        assert!(
            !small_done.load(SeqCst),
            "the small request overtook the large one queued before it"
        );
        sem.add_permits(2);
        large.join();
        small.join();
    });
    assert_eq!(*order.lock(), ["large", "small"]);
    assert_eq!(sem.available_permits(), 3);
}
all_modes!(acquire_many_is_served_in_arrival_order);

fn try_acquire_takes_free_permits(mode: Mode) {
    run(mode, || {
        let sem = Semaphore::new(2);
        let a = sem.try_acquire().expect("2 free");
        let b = sem.try_acquire_many(1).expect("1 free");
        assert_eq!(sem.available_permits(), 0);
        // (A failing `try_acquire` is tested in
        // `a_failed_try_acquire_does_not_add_permits`.)
        drop((a, b));
        assert_eq!(sem.available_permits(), 2);
        let both = sem.try_acquire_many(2).expect("2 free again");
        assert_eq!(both.num_permits(), 2);
    });
}
mode_tests!(try_acquire_takes_free_permits);

/// A `try_acquire` that finds too few permits must leave the count alone.
///
/// (The bug this caught, fixed in 70dbde9: `try_acquire_many` ended in
/// `.then_some(SemaphorePermit { .. })`, which builds the permit even when
/// `take` fails; dropping it *added* `n` permits, so every failed
/// `try_acquire` minted one. Now `.then(|| ..)`, as in `RwLock`.)
fn a_failed_try_acquire_does_not_add_permits(mode: Mode) {
    run(mode, || {
        let sem = Semaphore::new(1);
        let p = sem.try_acquire().expect("1 free");
        assert!(sem.try_acquire().is_none());
        assert_eq!(
            sem.available_permits(),
            0,
            "a failed try_acquire added a permit"
        );
        assert!(sem.try_acquire().is_none());
        drop(p);
        assert_eq!(sem.available_permits(), 1);
    });
}
mode_tests!(a_failed_try_acquire_does_not_add_permits:
    threads,
    goroutines,
);

/// While someone waits, `try_acquire` fails even with permits free: it
/// does not overtake the queue.
fn try_acquire_does_not_overtake_a_waiter(mode: Mode) {
    let sem = Semaphore::new(1);
    scope(mode, |s| {
        let waiter = s.spawn(|| sem.acquire_many(2).num_permits());
        let deadline = Instant::now() + LONG;
        while let Some(p) = sem.try_acquire() {
            drop(p);
            assert!(Instant::now() < deadline, "the waiter never queued");
            relax();
        }
        assert_eq!(sem.available_permits(), 1);
        sem.add_permits(1);
        assert_eq!(waiter.join(), 2);
    });
    assert_eq!(sem.available_permits(), 2);
}
all_modes!(try_acquire_does_not_overtake_a_waiter);

fn acquire_many_timeout_gives_up_after_the_timeout(mode: Mode) {
    run(mode, || {
        let sem = Semaphore::new(1);
        let t = Instant::now();
        assert!(
            sem.acquire_many_timeout(2, Duration::from_millis(30))
                .is_none()
        );
        assert_waited(t.elapsed(), Duration::from_millis(30));
        assert_eq!(sem.available_permits(), 1);
        // Nobody is left queued: the fast path works again.
        assert!(sem.try_acquire().is_some());
        let p = sem.acquire_many_timeout(1, LONG).expect("free");
        assert_eq!(p.num_permits(), 1);
    });
}
mode_tests!(acquire_many_timeout_gives_up_after_the_timeout);

/// A large request times out at the front of the queue while a small one
/// waits behind it; the small one must then get the free permit at once
/// (the timed-out waiter re-serves the queue as it leaves), not stay
/// stuck until somebody else releases.
fn a_timed_out_waiter_does_not_strand_the_waiters_behind_it(mode: Mode) {
    let sem = Semaphore::new(1);
    let small_done = AtomicBool::new(false);
    scope(mode, |s| {
        let large = s.spawn(|| {
            sem.acquire_many_timeout(2, Duration::from_millis(50))
                .is_none()
        });
        let deadline = Instant::now() + LONG;
        while let Some(p) = sem.try_acquire() {
            drop(p);
            assert!(Instant::now() < deadline, "the large request never queued");
            relax();
        }
        let small = s.spawn(|| {
            let p = sem.acquire();
            small_done.store(true, SeqCst);
            p.forget(); // keep it: nobody else releases in this test
        });
        assert!(large.join(), "the large request should have timed out");
        small.join();
        assert!(small_done.load(SeqCst));
    });
    assert_eq!(sem.available_permits(), 0);
}
all_modes!(a_timed_out_waiter_does_not_strand_the_waiters_behind_it);

/// A waiter that gets its permits just as its timeout passes either has
/// them or has left the queue: permits are never lost or duplicated.
fn timeouts_racing_releases_lose_no_permits(mode: Mode) {
    const PERMITS: usize = 2;
    let sem = Semaphore::new(PERMITS);
    let got = AtomicUsize::new(0);
    scope(mode, |s| {
        for t in 0..6 {
            let (sem, got) = (&sem, &got);
            s.spawn(move || {
                for i in 0..100 {
                    let timeout = Duration::from_micros(((i * 7 + t * 13) % 200) as u64);
                    if let Some(p) = sem.acquire_many_timeout(1 + (i + t) % 2, timeout) {
                        got.fetch_add(1, SeqCst);
                        if i % 3 == 0 {
                            relax();
                        }
                        drop(p);
                    }
                }
            });
        }
    });
    assert_eq!(sem.available_permits(), PERMITS);
    assert!(got.load(SeqCst) > 0);
}
all_modes!(timeouts_racing_releases_lose_no_permits);

fn add_permits_wakes_waiters(mode: Mode) {
    let sem = Semaphore::new(0);
    scope(mode, |s| {
        let ws: Vec<_> = (0..3).map(|_| s.spawn(|| sem.acquire().forget())).collect();
        sleep(Duration::from_millis(10));
        sem.add_permits(3);
        for w in ws {
            w.join();
        }
    });
    assert_eq!(sem.available_permits(), 0);
}
all_modes!(add_permits_wakes_waiters);

#[test]
fn forget_keeps_the_permits_taken() {
    let sem = Semaphore::new(3);
    sem.acquire().forget();
    assert_eq!(sem.available_permits(), 2);
    sem.acquire_many(2).forget();
    assert_eq!(sem.available_permits(), 0);
    sem.add_permits(1);
    let p = sem.acquire();
    assert_eq!(p.num_permits(), 1);
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn a_static_semaphore_limits_goroutines() {
    static SEM: Semaphore = Semaphore::new(2);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    scope(Mode::Goroutines, |s| {
        for _ in 0..16 {
            s.spawn(|| {
                let _p = SEM.acquire();
                assert!(INSIDE.fetch_add(1, SeqCst) < 2);
                sleep(Duration::from_micros(200));
                INSIDE.fetch_sub(1, SeqCst);
            });
        }
    });
    assert_eq!(SEM.available_permits(), 2);
}
