//! A test-and-set lock for short channel critical sections (under
//! `--cfg loom`, loom's mutex, so the models see every interleaving).
//!
//! Taking it is one compare-and-swap and releasing it one plain store;
//! `std`'s mutex needs a read-modify-write for each and asks
//! `thread::panicking()` on the way out (poisoning). The rendezvous flavor
//! takes a lock about twice per message, so that difference is a visible
//! part of a hand-off. The critical sections it guards are a few dozen
//! instructions, never park and never run user code; they may unpark a
//! task, which for a sleeping worker is a system call. A waiter therefore
//! spins a few times and then yields (the holder's thread may have been
//! descheduled, or in a goroutine the holder may be queued behind us).
//!
//! `flavors/small.rs` (bounded(1)'s hand-off) takes the same lock.

#[cfg(not(loom))]
pub(crate) use imp::{Lock, LockGuard};

#[cfg(loom)]
pub(crate) use loom_imp::{Lock, LockGuard};

#[cfg(not(loom))]
mod imp {
    use crate::sync::atomic::{AtomicBool, Ordering::*};
    use crate::utils::Backoff;
    use std::cell::UnsafeCell;

    /// How many times a waiter spins before it starts yielding.
    const SPIN_TRIES: u32 = 7;

    pub(crate) struct Lock<T> {
        locked: AtomicBool,
        data: UnsafeCell<T>,
    }

    // SAFETY: the lock gives one holder at a time access to `data`, so
    // sharing it is sharing a `Mutex<T>`: fine when `T` may move between
    // threads.
    unsafe impl<T: Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        pub(crate) fn new(data: T) -> Self {
            Lock {
                locked: AtomicBool::new(false),
                data: UnsafeCell::new(data),
            }
        }

        #[inline]
        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_err()
            {
                self.lock_slow();
            }
            LockGuard { lock: self }
        }

        /// The data, through a unique borrow: nobody can hold the lock.
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.data.get_mut()
        }

        #[cold]
        fn lock_slow(&self) {
            let backoff = Backoff::new();
            let mut spins = 0;
            loop {
                if !self.locked.load(Relaxed)
                    && self
                        .locked
                        .compare_exchange_weak(false, true, Acquire, Relaxed)
                        .is_ok()
                {
                    return;
                }
                if spins < SPIN_TRIES {
                    spins += 1;
                    backoff.spin();
                } else {
                    backoff.snooze();
                }
            }
        }
    }

    pub(crate) struct LockGuard<'a, T> {
        lock: &'a Lock<T>,
    }

    impl<T> std::ops::Deref for LockGuard<'_, T> {
        type Target = T;
        #[inline]
        fn deref(&self) -> &T {
            // SAFETY: a guard exists only while its holder owns the lock,
            // so nobody else has a reference into `data`.
            unsafe { &*self.lock.data.get() }
        }
    }

    impl<T> std::ops::DerefMut for LockGuard<'_, T> {
        #[inline]
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only
            // reference through this guard.
            unsafe { &mut *self.lock.data.get() }
        }
    }

    impl<T> Drop for LockGuard<'_, T> {
        #[inline]
        fn drop(&mut self) {
            self.lock.locked.store(false, Release);
        }
    }
}

#[cfg(loom)]
mod loom_imp {
    use crate::sync::{Mutex, MutexGuard, lock};

    pub(crate) struct Lock<T>(Mutex<T>);

    pub(crate) type LockGuard<'a, T> = MutexGuard<'a, T>;

    impl<T> Lock<T> {
        pub(crate) fn new(data: T) -> Self {
            Lock(Mutex::new(data))
        }

        pub(crate) fn lock(&self) -> LockGuard<'_, T> {
            lock(&self.0)
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            match self.0.get_mut() {
                Ok(data) => data,
                Err(poisoned) => poisoned.into_inner(),
            }
        }
    }
}
