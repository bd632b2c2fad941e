//! Giving up the worker for a while: `yield_now`, `sleep`, `sleep_until`.

use crate::goroutine::{Suspend, current_g};
use crate::park::park_deadline;
use std::time::{Duration, Instant};

/// Lets other goroutines run: the caller goes to the back of its worker's
/// run queue (Go's `runtime.Gosched`). On a plain thread, yields the CPU.
///
/// ```
/// let h = gofer_runtime::spawn(|| {
///     for _ in 0..3 {
///         gofer_runtime::yield_now();
///     }
///     "done"
/// });
/// assert_eq!(h.join().unwrap(), "done");
/// ```
// Inlined into the caller on purpose (see `Header::suspend`).
#[inline]
pub fn yield_now() {
    match current_g() {
        Some(g) if !std::thread::panicking() => {
            g.suspend(Suspend::Yield);
        }
        _ => std::thread::yield_now(),
    }
}

/// Puts the caller to sleep for at least `dur`. A goroutine parks (its
/// worker runs others meanwhile) and is woken by its worker's timer heap;
/// a plain thread sleeps.
///
/// ```
/// use std::time::{Duration, Instant};
/// let h = gofer_runtime::spawn(|| {
///     let t = Instant::now();
///     gofer_runtime::sleep(Duration::from_millis(5));
///     t.elapsed()
/// });
/// assert!(h.join().unwrap() >= Duration::from_millis(5));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        // Further away than the clock can count: forever.
        None => loop {
            sleep_until(Instant::now() + Duration::from_secs(1 << 32));
        },
    }
}

/// Puts the caller to sleep until `deadline` (returns at once if it has
/// passed).
pub fn sleep_until(deadline: Instant) {
    if current_g().is_some() {
        while Instant::now() < deadline {
            park_deadline(deadline);
        }
    } else if let Some(left) = deadline.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
}
