//! Scoped goroutines: borrowing, joining at the end, panic propagation.

use gofer_runtime as gofer;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn scoped_goroutines_borrow_and_mutate_the_callers_data() {
    let mut counts = vec![0u64; 8];
    let input: Vec<u64> = (0..8).collect();
    gofer::scope(|s| {
        for (slot, x) in counts.iter_mut().zip(&input) {
            s.spawn(move || *slot = x * 10);
        }
    });
    assert_eq!(counts, vec![0, 10, 20, 30, 40, 50, 60, 70]);
}

#[test]
fn scope_waits_for_unjoined_goroutines() {
    let done = AtomicUsize::new(0);
    gofer::scope(|s| {
        for _ in 0..50 {
            s.spawn(|| {
                gofer::sleep(Duration::from_millis(5));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 50);
}

#[test]
fn scope_returns_the_closures_value_and_handles_join() {
    let v = [1, 2, 3];
    let total = gofer::scope(|s| {
        let a = s.spawn(|| v.iter().sum::<i32>());
        let b = s.spawn(|| v.len());
        a.join().unwrap() + b.join().unwrap() as i32
    });
    assert_eq!(total, 9);
}

#[test]
fn a_scope_inside_a_goroutine_parks_only_that_goroutine() {
    let r = gofer::spawn(|| {
        let mut xs = [0u32; 4];
        gofer::scope(|s| {
            for (i, x) in xs.iter_mut().enumerate() {
                s.spawn(move || {
                    gofer::yield_now();
                    *x = i as u32 + 1;
                });
            }
        });
        xs.iter().sum::<u32>()
    });
    assert_eq!(r.join().unwrap(), 10);
}

#[test]
fn an_unjoined_panicking_goroutine_makes_the_scope_panic_after_all_finish() {
    let finished = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        gofer::scope(|s| {
            s.spawn(|| panic!("scoped boom"));
            s.spawn(|| {
                gofer::sleep(Duration::from_millis(20));
                finished.fetch_add(1, Ordering::SeqCst);
            });
        })
    }));
    let err = r.unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"a scoped goroutine panicked")
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the scope joined everything first"
    );
}

#[test]
fn a_joined_panic_does_not_make_the_scope_panic() {
    let caught = gofer::scope(|s| {
        let h = s.spawn(|| panic!("handled"));
        h.join().is_err()
    });
    assert!(caught);
}

#[test]
fn a_panic_in_the_scope_closure_propagates_after_joining() {
    let finished = AtomicUsize::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        gofer::scope(|s| {
            s.spawn(|| {
                gofer::sleep(Duration::from_millis(20));
                finished.fetch_add(1, Ordering::SeqCst);
            });
            panic!("closure boom");
        })
    }));
    assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"closure boom"));
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn scoped_results_that_borrow_are_dropped_before_the_scope_ends() {
    struct Loud<'a>(&'a AtomicUsize);
    impl Drop for Loud<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = AtomicUsize::new(0);
    gofer::scope(|s| {
        for _ in 0..10 {
            // Handles dropped unjoined: results are dropped by the runtime.
            s.spawn(|| Loud(&drops));
        }
    });
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}
