//! `Mutex`: a lock that parks goroutines (and blocks threads).
//!
//! Uncontended, `lock` and `unlock` are one compare-and-swap each: no
//! system call, no scheduler call. Under contention it follows Go's
//! `sync.Mutex`:
//!
//! * **Normal mode.** `unlock` wakes the longest waiter, which then
//!   *competes* for the lock with tasks that are just arriving (and are
//!   already running, so they often win: that is good for throughput). A
//!   waiter that loses goes back to the *front* of the queue.
//! * **Starvation mode.** Once the waiter at the front has waited more
//!   than 1 ms, `unlock` hands the lock directly to it, and arrivals queue
//!   behind instead of barging. So no waiter waits much longer than
//!   everybody ahead of it takes with the lock — unfairness is bounded.
//!
//! There is no poisoning (as in parking_lot): a goroutine that panics with
//! the lock held releases it on unwinding, and the next owner sees the
//! data as it was left. Go has no poisoning either, and a panicking
//! goroutine already reports through its `JoinHandle`.

use crate::loom::atomic::{AtomicU8, Ordering::*};
use crate::loom::const_fn;
use crate::queue::{WaitQueue, wait};
use gofer_runtime::park::{consume_budget, relax};
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
#[cfg(not(loom))]
use std::time::{Duration, Instant};

const LOCKED: u8 = 1;
/// Some task is (or is about to be) in the queue: unlock must look.
const QUEUED: u8 = 2;

/// Woken to compete for the lock.
const WOKEN: usize = 1;
/// Handed the lock: the waiter owns it when it wakes.
const HANDED: usize = 2;

/// A waiter that has waited this long gets the lock handed to it.
#[cfg(not(loom))]
const STARVATION: Duration = Duration::from_millis(1);

/// When a waiter began to wait, to tell whether it is starving.
///
/// Under loom the clock is replaced by something the model controls (real
/// time would make executions differ on replay): a waiter starves once it
/// has been woken and lost the lock to a barging locker.
#[derive(Clone, Copy)]
struct Arrival {
    #[cfg(not(loom))]
    at: Instant,
    #[cfg(loom)]
    losses: u32,
}

impl Arrival {
    fn now() -> Arrival {
        Arrival {
            #[cfg(not(loom))]
            at: Instant::now(),
            #[cfg(loom)]
            losses: 0,
        }
    }

    /// The same waiter, after it was woken and lost the lock again.
    fn lost(self) -> Arrival {
        #[cfg(loom)]
        return Arrival {
            losses: self.losses + 1,
        };
        #[cfg(not(loom))]
        self
    }

    fn is_starving(&self) -> bool {
        #[cfg(loom)]
        return self.losses > 0;
        #[cfg(not(loom))]
        return self.at.elapsed() >= STARVATION;
    }
}

/// A mutual-exclusion lock that parks the calling goroutine while another
/// holds it (a plain thread blocks).
///
/// ```
/// use gofer_sync::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let c = counter.clone();
///         gofer_runtime::spawn(move || {
///             for _ in 0..100 {
///                 *c.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 1000);
/// ```
pub struct Mutex<T: ?Sized> {
    state: AtomicU8,
    queue: WaitQueue<Arrival>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one task at a time access to `data`; moving it
// between threads needs `T: Send`, as for std's mutex.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above: `&Mutex` only hands out exclusive access.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Proof of holding a [`Mutex`]; unlocks when dropped.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: a guard gives `&T`/`&mut T`; sharing it needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    const_fn! {
        /// An unlocked mutex holding `value`.
        pub fn new(value: T) -> Mutex<T> {
            Mutex {
                state: AtomicU8::new(0),
                queue: WaitQueue::new(),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, waiting (parking the goroutine) until the lock is free.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        consume_budget();
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard { mutex: self }
    }

    /// Locks if the lock is free right now.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let mut s = self.state.load(Relaxed);
        loop {
            if s & LOCKED != 0 {
                return None;
            }
            match self
                .state
                .compare_exchange_weak(s, s | LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return Some(MutexGuard { mutex: self }),
                Err(now) => s = now,
            }
        }
    }

    /// Is the lock held right now? (A hint: it may change at once.)
    pub fn is_locked(&self) -> bool {
        self.state.load(Relaxed) & LOCKED != 0
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[cold]
    fn lock_slow(&self) {
        let mut spins = 0;
        let mut arrival: Option<Arrival> = None;
        let mut woken = false;
        loop {
            let s = self.state.load(Relaxed);
            if s & LOCKED == 0 {
                if self
                    .state
                    .compare_exchange_weak(s, s | LOCKED, Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            // A couple of polite retries before queueing: the holder is
            // often just about to unlock. In a goroutine each retry lets the
            // holder run, if it is waiting for this very worker.
            if spins < 2 && s & QUEUED == 0 && !woken {
                spins += 1;
                relax();
                continue;
            }
            let guard = self.queue.lock();
            // Re-check under the queue lock: an unlock that ran before we
            // set QUEUED did not look at the queue.
            let s = self.state.fetch_or(QUEUED, Relaxed) | QUEUED;
            if s & LOCKED == 0 {
                if guard.is_empty() {
                    self.state.fetch_and(!QUEUED, Relaxed);
                }
                drop(guard);
                continue;
            }
            let since = match arrival {
                // A waiter that was woken and lost the race goes back to
                // the front, keeping its original arrival time.
                Some(a) => a.lost(),
                None => Arrival::now(),
            };
            arrival = Some(since);
            match wait(&self.queue, guard, since, woken, None) {
                Some(HANDED) => return,
                _ => woken = true,
            }
        }
    }

    /// Unlocks; the guard's drop calls this.
    #[inline]
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Release, Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut waiters = self.queue.lock();
        let Some(first) = waiters.pop_front() else {
            // QUEUED was stale (its waiter got the lock another way).
            self.state.store(0, Release);
            return;
        };
        let still_queued = if waiters.is_empty() { 0 } else { QUEUED };
        if first.data.is_starving() {
            // Starvation mode: hand over; the lock stays LOCKED.
            self.state.store(LOCKED | still_queued, Release);
            first.grant(HANDED);
        } else {
            // Normal mode: release and let the waiter compete. It keeps
            // QUEUED set while it runs, so that the next unlock looks.
            self.state.store(QUEUED, Release);
            first.grant(WOKEN);
        }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, exclusively.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Condvar`).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
