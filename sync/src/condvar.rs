//! `Condvar`: wait for a condition while holding a [`Mutex`].

use crate::loom::const_fn;
use crate::mutex::MutexGuard;
use crate::queue::{WaitQueue, wait};
use std::fmt;
use std::time::{Duration, Instant};

const NOTIFIED: usize = 1;

/// A condition variable that parks goroutines (and blocks threads), for
/// use with [`Mutex`](crate::Mutex). Waiters are woken in the order they
/// started waiting. As with std's, a wait may also end spuriously, so wait
/// in a loop — or use [`wait_while`](Condvar::wait_while).
///
/// ```
/// use gofer_sync::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// gofer_runtime::spawn(move || {
///     *p.0.lock() = true;
///     p.1.notify_one();
/// });
/// let (lock, cv) = &*pair;
/// let ready = cv.wait_while(lock.lock(), |ready| !*ready);
/// assert!(*ready);
/// ```
pub struct Condvar {
    queue: WaitQueue<()>,
}

/// Whether a timed wait timed out.
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Did the wait end because the timeout passed?
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    const_fn! {
        /// A condition variable nobody waits on.
        pub fn new() -> Condvar {
            Condvar {
                queue: WaitQueue::new(),
            }
        }
    }

    /// Releases the lock, waits for a notification, and locks again.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait_until_inner(guard, None).0
    }

    /// Waits until `condition` is false, re-checking after every wakeup.
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`.
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = Instant::now().checked_add(timeout);
        self.wait_until_inner(guard, deadline)
    }

    /// Like [`wait_while`](Condvar::wait_while), giving up after
    /// `timeout` (then the condition may still hold).
    pub fn wait_timeout_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = Instant::now().checked_add(timeout);
        while condition(&mut *guard) {
            let (g, timed_out) = self.wait_until_inner(guard, deadline);
            guard = g;
            if timed_out.timed_out() {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    fn wait_until_inner<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = MutexGuard::mutex(&guard);
        // Enqueue before unlocking: a notifier needs the mutex to change
        // the condition, so it cannot notify between our unlock and our
        // enqueue.
        let waiters = self.queue.lock();
        drop(guard);
        let granted = wait(&self.queue, waiters, (), false, deadline).is_some();
        (mutex.lock(), WaitTimeoutResult(!granted))
    }

    /// Wakes the longest waiter, if any.
    pub fn notify_one(&self) {
        if let Some(w) = self.queue.lock().pop_front() {
            w.grant(NOTIFIED);
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let waiters = std::mem::take(&mut *self.queue.lock());
        for w in waiters {
            w.grant(NOTIFIED);
        }
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Condvar { .. }")
    }
}
