//! The one place that decides where synchronisation primitives come from.
//!
//! Under `--cfg loom` the protocol modules (the goroutine permit, the worker
//! parker, the idle/spinning protocol) are compiled against loom's mocked
//! atomics and locks so `loom-tests/` can model-check the exact code the
//! runtime runs. Everything else imports from here too, so switching is a
//! single edit rather than a hunt through the crate.

#[cfg(not(loom))]
pub(crate) mod sync {
    pub(crate) use std::sync::{Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use std::sync::atomic::{
            AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

#[cfg(loom)]
pub(crate) mod sync {
    pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

    pub(crate) mod atomic {
        pub(crate) use loom::sync::atomic::{
            AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
        };
    }
}

/// Locks a mutex, ignoring poisoning: the runtime's critical sections never
/// panic half-way through an update, so the data is always consistent.
pub(crate) fn lock<T>(m: &sync::Mutex<T>) -> sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
