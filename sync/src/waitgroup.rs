//! `WaitGroup`: Go's `sync.WaitGroup` — wait for a set of goroutines.

use crate::loom::atomic::{AtomicIsize, Ordering::*};
use crate::queue::{WaitQueue, wait};
use std::fmt;
use std::sync::Arc;

const DONE: usize = 1;

/// Waits for a collection of goroutines (or threads) to finish, Go-style:
/// [`add`](WaitGroup::add) before starting each, [`done`](WaitGroup::done)
/// when each finishes, [`wait`](WaitGroup::wait) until the count is zero.
/// Clones share one counter, so a clone can be moved into each goroutine.
///
/// ```
/// use gofer_sync::WaitGroup;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let wg = WaitGroup::new();
/// let sum = Arc::new(AtomicUsize::new(0));
/// for i in 1..=10 {
///     wg.add(1);
///     let (wg, sum) = (wg.clone(), sum.clone());
///     gofer_runtime::spawn(move || {
///         sum.fetch_add(i, Ordering::Relaxed);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(sum.load(Ordering::Relaxed), 55);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

struct Inner {
    count: AtomicIsize,
    waiters: WaitQueue<()>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            count: AtomicIsize::new(0),
            waiters: WaitQueue::new(),
        }
    }
}

impl WaitGroup {
    /// A wait group with a count of zero.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the count; when it reaches
    /// zero, every waiter wakes.
    ///
    /// # Panics
    ///
    /// If the count would go negative (more `done`s than `add`s), as Go's
    /// does.
    pub fn add(&self, delta: isize) {
        let before = self.inner.count.fetch_add(delta, AcqRel);
        let after = before + delta;
        if after < 0 {
            panic!("gofer::sync::WaitGroup: negative counter ({after})");
        }
        if after == 0 && delta != 0 {
            // Wake under the lock: a waiter that saw a non-zero count is
            // either queued already or re-checks after we release it.
            let waiters = {
                let mut q = self.inner.waiters.lock();
                if self.inner.count.load(Acquire) != 0 {
                    return; // a new round began: its waiters are not ours
                }
                std::mem::take(&mut *q)
            };
            for w in waiters {
                w.grant(DONE);
            }
        }
    }

    /// Decrements the count by one.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits until the count is zero (returns at once if it is).
    pub fn wait(&self) {
        loop {
            if self.inner.count.load(Acquire) == 0 {
                return;
            }
            let waiters = self.inner.waiters.lock();
            if self.inner.count.load(Acquire) == 0 {
                return;
            }
            if wait(&self.inner.waiters, waiters, (), false, None) == Some(DONE) {
                return;
            }
        }
    }

    /// The current count.
    pub fn count(&self) -> isize {
        self.inner.count.load(Acquire)
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
