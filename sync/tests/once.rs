//! `Once` and `OnceLock`: the closure runs exactly once however many
//! goroutines and threads race for it (the losers park until it is done
//! and then see its effects), a panicking closure leaves the cell
//! incomplete so the next caller runs its own, and `OnceLock`'s
//! `get_or_init`, `set`, `get`, `get_mut`, `take` and `into_inner`.

#[macro_use]
mod common;

use common::*;
use gofer_sync::{Barrier, Once, OnceLock};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Many tasks call `call_once` at the same moment (released together by a
/// barrier); the closure is slow, so most of them arrive while it runs
/// and must park until it completes. It runs once, and everyone returns
/// after it finished.
fn call_once_runs_exactly_once_under_contention(mode: Mode) {
    const TASKS: usize = 16;
    let once = Once::new();
    let runs = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let start = Barrier::new(TASKS);
    scope(mode, |s| {
        for _ in 0..TASKS {
            s.spawn(|| {
                start.wait();
                once.call_once(|| {
                    runs.fetch_add(1, SeqCst);
                    sleep(Duration::from_millis(20));
                    finished.store(1, SeqCst);
                });
                assert_eq!(
                    finished.load(SeqCst),
                    1,
                    "returned before the closure finished"
                );
                assert!(once.is_completed());
            });
        }
    });
    assert_eq!(runs.load(SeqCst), 1);
}
all_modes!(call_once_runs_exactly_once_under_contention);

#[test]
fn a_static_once_runs_once_across_goroutines() {
    static ONCE: Once = Once::new();
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    scope(Mode::Goroutines, |s| {
        for _ in 0..64 {
            s.spawn(|| {
                ONCE.call_once(|| {
                    RUNS.fetch_add(1, SeqCst);
                })
            });
        }
    });
    assert_eq!(RUNS.load(SeqCst), 1);
    ONCE.call_once(|| unreachable!("already completed"));
}

/// The first closure panics: the `Once` is left incomplete (not poisoned)
/// and the next caller runs its own closure.
fn a_panic_in_the_first_closure_lets_the_next_caller_run(mode: Mode) {
    run(mode, || {
        let once = Once::new();
        let r = catch_unwind(AssertUnwindSafe(|| {
            once.call_once(|| panic!("deliberate panic in call_once"))
        }));
        assert!(r.is_err());
        assert!(!once.is_completed());
        let mut ran = false;
        once.call_once(|| ran = true);
        assert!(ran);
        assert!(once.is_completed());
    });
}
mode_tests!(a_panic_in_the_first_closure_lets_the_next_caller_run);

/// Tasks parked behind a closure that panics are woken, and one of them
/// runs its own closure.
fn waiters_behind_a_panicking_closure_are_woken_and_one_runs(mode: Mode) {
    let once = Once::new();
    let runs = AtomicUsize::new(0);
    let (started_s, started_r) = gofer_chan::bounded(0);
    scope(mode, |s| {
        let first = s.spawn(|| {
            catch_unwind(AssertUnwindSafe(|| {
                once.call_once(|| {
                    started_s.send(()).unwrap();
                    sleep(Duration::from_millis(20)); // the others queue
                    panic!("deliberate panic with waiters queued");
                })
            }))
            .is_err()
        });
        started_r.recv().unwrap();
        let others: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    once.call_once(|| {
                        runs.fetch_add(1, SeqCst);
                    })
                })
            })
            .collect();
        for o in others {
            o.join();
        }
        assert!(first.join());
    });
    assert_eq!(runs.load(SeqCst), 1);
    assert!(once.is_completed());
}
all_modes!(waiters_behind_a_panicking_closure_are_woken_and_one_runs);

/// `get_or_init` from many tasks at once: one initialiser runs, everyone
/// gets the same value (the same address).
fn get_or_init_initialises_once_and_everyone_sees_the_value(mode: Mode) {
    const TASKS: usize = 12;
    let cell = OnceLock::new();
    let inits = AtomicUsize::new(0);
    let start = Barrier::new(TASKS);
    let addrs: Vec<usize> = scope(mode, |s| {
        let hs: Vec<_> = (0..TASKS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let v = cell.get_or_init(|| {
                        inits.fetch_add(1, SeqCst);
                        sleep(Duration::from_millis(10));
                        String::from("initialised")
                    });
                    assert_eq!(v, "initialised");
                    v as *const String as usize
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join()).collect()
    });
    assert_eq!(inits.load(SeqCst), 1);
    assert!(addrs.iter().all(|&a| a == addrs[0]));
    assert_eq!(cell.get().map(String::as_str), Some("initialised"));
}
all_modes!(get_or_init_initialises_once_and_everyone_sees_the_value);

fn a_panicking_initialiser_leaves_the_cell_empty(mode: Mode) {
    run(mode, || {
        let cell = OnceLock::new();
        let r = catch_unwind(AssertUnwindSafe(|| {
            cell.get_or_init(|| -> u32 { panic!("deliberate panic in get_or_init") })
        }));
        assert!(r.is_err());
        assert_eq!(cell.get(), None);
        assert_eq!(*cell.get_or_init(|| 3), 3);
    });
}
mode_tests!(a_panicking_initialiser_leaves_the_cell_empty);

#[test]
fn set_get_take_and_into_inner() {
    let mut cell = OnceLock::new();
    assert_eq!(cell.get(), None);
    assert_eq!(cell.get_mut(), None);
    assert_eq!(cell.set(1), Ok(()));
    assert_eq!(cell.set(2), Err(2));
    assert_eq!(cell.get(), Some(&1));
    *cell.get_mut().unwrap() += 10;
    assert_eq!(cell.get(), Some(&11));
    assert_eq!(*cell.get_or_init(|| unreachable!()), 11);
    assert_eq!(cell.take(), Some(11));
    assert_eq!(cell.get(), None);
    assert_eq!(cell.take(), None);
    assert_eq!(cell.set(5), Ok(()));
    assert_eq!(cell.into_inner(), Some(5));
    assert_eq!(OnceLock::<u8>::new().into_inner(), None);
}

/// `set` racing `set`: exactly one wins, the others get their value back.
fn racing_sets_exactly_one_wins(mode: Mode) {
    let cell = OnceLock::new();
    let results: Vec<Result<(), usize>> = scope(mode, |s| {
        let cell = &cell;
        let hs: Vec<_> = (0..8).map(|i| s.spawn(move || cell.set(i))).collect();
        hs.into_iter().map(|h| h.join()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let winner = *cell.get().unwrap();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(()) => assert_eq!(i, winner),
            Err(v) => assert_eq!(*v, i),
        }
    }
}
all_modes!(racing_sets_exactly_one_wins);

/// Values are dropped exactly once: by `take`, by `into_inner`'s caller,
/// or with the cell.
#[test]
fn the_value_is_dropped_exactly_once() {
    use std::sync::Arc;
    let drops = Arc::new(());
    {
        let cell = OnceLock::new();
        let _ = cell.set(drops.clone());
        assert_eq!(Arc::strong_count(&drops), 2);
    }
    assert_eq!(Arc::strong_count(&drops), 1);
    let mut cell = OnceLock::new();
    let _ = cell.set(drops.clone());
    let taken = cell.take();
    drop(cell);
    assert_eq!(Arc::strong_count(&drops), 2);
    drop(taken);
    assert_eq!(Arc::strong_count(&drops), 1);
}
