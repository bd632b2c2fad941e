//! The one place that decides whether atomics and locks come from std or
//! from loom (under `--cfg loom`, so `loom-tests/` can model-check the
//! channel protocols).

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) mod atomic {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};
}

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};
}

/// Locks, ignoring poisoning: no critical section here panics half-way.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A full fence under loom only. Loom models `SeqCst` loads and stores as
/// acquire/release, which would report the store-buffering pairs in
/// `waker.rs` as lost wakeups; the real memory model orders all `SeqCst`
/// accesses in one total order, which is what those pairs rely on. Loom
/// therefore checks this slightly stronger program.
#[inline(always)]
pub(crate) fn loom_fence() {
    #[cfg(loom)]
    atomic::fence(atomic::Ordering::SeqCst);
}
