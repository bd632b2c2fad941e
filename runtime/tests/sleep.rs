//! Sleeping goroutines: never early, in deadline order, and cheap.

use gofer_runtime as gofer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn sleep_never_returns_early() {
    let hs: Vec<_> = [1u64, 5, 10, 20, 40]
        .into_iter()
        .map(|ms| {
            gofer::spawn(move || {
                let t = Instant::now();
                gofer::sleep(Duration::from_millis(ms));
                (ms, t.elapsed())
            })
        })
        .collect();
    for h in hs {
        let (ms, took) = h.join().unwrap();
        assert!(
            took >= Duration::from_millis(ms),
            "slept {took:?} < {ms} ms"
        );
        // Generous upper bound: the machine is shared and noisy.
        assert!(
            took < Duration::from_millis(ms) + Duration::from_secs(2),
            "slept {took:?} for {ms} ms"
        );
    }
}

#[test]
fn sleepers_wake_in_deadline_order() {
    // 60 ms apart: far more than scheduling noise, so order is reliable.
    let order = Arc::new(Mutex::new(Vec::new()));
    let hs: Vec<_> = [4u64, 1, 3, 0, 2]
        .into_iter()
        .map(|slot| {
            let order = order.clone();
            gofer::spawn(move || {
                gofer::sleep(Duration::from_millis(20 + 60 * slot));
                order.lock().unwrap().push(slot);
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[test]
fn ten_thousand_sleepers_all_wake_about_on_time() {
    let t = Instant::now();
    let hs: Vec<_> = (0..10_000u64)
        .map(|i| gofer::spawn(move || gofer::sleep(Duration::from_millis(50 + i % 50))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(99));
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn sleep_zero_and_sleep_until_the_past_return_at_once() {
    let h = gofer::spawn(|| {
        gofer::sleep(Duration::ZERO);
        gofer::sleep_until(Instant::now() - Duration::from_millis(1));
        1
    });
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn sleep_on_a_plain_thread_sleeps_the_thread() {
    let t = Instant::now();
    gofer::sleep(Duration::from_millis(10));
    assert!(t.elapsed() >= Duration::from_millis(10));
}
