//! `Semaphore`: a counted set of permits, handed out in arrival order.

use crate::loom::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::loom::const_fn;
use crate::queue::{WaitQueue, wait};
use gofer_runtime::park::consume_budget;
use std::fmt;
use std::time::{Duration, Instant};

/// The waiter was handed the permits it asked for.
const HANDED: usize = 1;

/// A counting semaphore that parks goroutines (and blocks threads) until
/// enough permits are free.
///
/// Permits are served first come, first served: once someone waits, new
/// requests queue behind it even if enough permits are free for them, so a
/// large request is never starved by a stream of small ones.
///
/// ```
/// use gofer_sync::Semaphore;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let sem = Arc::new(Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let hs: Vec<_> = (0..8)
///     .map(|_| {
///         let (sem, inside) = (sem.clone(), inside.clone());
///         gofer_runtime::spawn(move || {
///             let _permit = sem.acquire();
///             assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///             gofer_runtime::yield_now();
///             inside.fetch_sub(1, Ordering::SeqCst);
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// ```
pub struct Semaphore {
    /// Free permits (only changed with the queue's lock held, or by the
    /// lock-free fast path while nobody waits).
    permits: AtomicUsize,
    /// How many permits each waiter wants.
    waiters: WaitQueue<usize>,
    /// Somebody waits (mirrors `!waiters.is_empty()`): the lock-free fast
    /// path must not overtake them.
    queued: AtomicBool,
}

/// Permits held from a [`Semaphore`]; given back when dropped.
#[must_use = "the permits are given back as soon as this is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl Semaphore {
    const_fn! {
        /// A semaphore with `permits` free permits.
        pub fn new(permits: usize) -> Semaphore {
            Semaphore {
                permits: AtomicUsize::new(permits),
                waiters: WaitQueue::new(),
                queued: AtomicBool::new(false),
            }
        }
    }

    /// Free permits right now.
    pub fn available_permits(&self) -> usize {
        self.permits.load(Acquire)
    }

    /// Takes one permit, waiting for it.
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting until they are free.
    pub fn acquire_many(&self, n: usize) -> SemaphorePermit<'_> {
        self.acquire_until(n, None)
            .expect("a wait without a deadline timed out")
    }

    /// Takes `n` permits, waiting at most `timeout`.
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        self.acquire_until(n, Instant::now().checked_add(timeout))
    }

    /// Takes one permit if one is free and nobody waits.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody waits.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        if self.queued.load(Acquire) {
            return None;
        }
        self.take(n).then(|| SemaphorePermit { sem: self, n })
    }

    /// Takes `n` permits if there are enough.
    fn take(&self, n: usize) -> bool {
        let mut p = self.permits.load(Acquire);
        loop {
            if p < n {
                return false;
            }
            match self
                .permits
                .compare_exchange_weak(p, p - n, AcqRel, Acquire)
            {
                Ok(_) => return true,
                Err(now) => p = now,
            }
        }
    }

    fn acquire_until(&self, n: usize, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        consume_budget();
        // Uncontended: one compare-and-swap, no lock.
        if !self.queued.load(Acquire) && self.take(n) {
            return Some(SemaphorePermit { sem: self, n });
        }
        let waiters = self.waiters.lock();
        if waiters.is_empty() && self.take(n) {
            return Some(SemaphorePermit { sem: self, n });
        }
        self.queued.store(true, Release);
        if wait(&self.waiters, waiters, n, false, deadline).is_none() {
            // We left the queue: whoever was behind us may be servable now.
            self.add_permits(0);
            return None;
        }
        Some(SemaphorePermit { sem: self, n })
    }

    /// Adds `n` permits, handing them to waiters in arrival order.
    pub fn add_permits(&self, n: usize) {
        let mut waiters = self.waiters.lock();
        self.permits.fetch_add(n, AcqRel);
        while let Some(front) = waiters.front() {
            let want = front.data;
            if !self.take(want) {
                break;
            }
            let w = waiters.pop_front().expect("front exists");
            w.grant(HANDED);
        }
        self.queued.store(!waiters.is_empty(), Release);
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken for good (they are not given back).
    pub fn forget(self) {
        std::mem::forget(self);
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(self.n);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("n", &self.n)
            .finish()
    }
}
