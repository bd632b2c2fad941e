//! `RwLock`: many readers or one writer, parking goroutines.
//!
//! The state word holds a reader count, a writer bit and a "queued" bit.
//! Uncontended, every lock and unlock is one atomic operation. Once anyone
//! queues, arrivals queue too (no barging), and whoever releases the lock
//! last hands it over in arrival order: to the writer at the front, or to
//! every reader at the front up to the next writer, all at once. Neither
//! readers nor writers can starve.

use crate::loom::atomic::{AtomicUsize, Ordering::*};
use crate::loom::const_fn;
use crate::queue::{WaitQueue, Waiter, wait};
use gofer_runtime::park::consume_budget;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};

const WRITER: usize = 1;
const QUEUED: usize = 2;
const READER: usize = 4;

/// The waiter owns the lock when it wakes.
const HANDED: usize = 1;

/// A reader-writer lock that parks the calling goroutine while it waits (a
/// plain thread blocks). Fair: waiters are served in arrival order,
/// consecutive readers together.
///
/// ```
/// use gofer_sync::RwLock;
///
/// let lock = RwLock::new(vec![1, 2]);
/// {
///     let a = lock.read();
///     let b = lock.read(); // readers share
///     assert_eq!(a.len() + b.len(), 4);
/// }
/// lock.write().push(3);
/// assert_eq!(*lock.read(), [1, 2, 3]);
/// ```
pub struct RwLock<T: ?Sized> {
    state: AtomicUsize,
    /// `true` for a writer.
    queue: WaitQueue<bool>,
    data: UnsafeCell<T>,
}

// SAFETY: as std's RwLock: moving it needs `T: Send`, sharing it hands out
// `&T` to several readers at once, so `T: Send + Sync`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to a [`RwLock`]; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

/// Exclusive access to a [`RwLock`]; releases it when dropped.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: a read guard hands out `&T` only.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: a write guard hands out `&T`/`&mut T` to its holder.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    const_fn! {
        /// An unlocked lock holding `value`.
        pub fn new(value: T) -> RwLock<T> {
            RwLock {
                state: AtomicUsize::new(0),
                queue: WaitQueue::new(),
                data: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds or waits for it.
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        consume_budget();
        if !self.try_read_fast() {
            self.lock_slow(false);
        }
        RwLockReadGuard { lock: self }
    }

    /// Locks for reading if that can be done right now.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.try_read_fast().then(|| RwLockReadGuard { lock: self })
    }

    fn try_read_fast(&self) -> bool {
        let mut s = self.state.load(Relaxed);
        loop {
            if s & (WRITER | QUEUED) != 0 {
                return false;
            }
            let next = s
                .checked_add(READER)
                .expect("too many readers of one RwLock");
            match self.state.compare_exchange_weak(s, next, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Locks for writing, waiting until nobody else holds it.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        consume_budget();
        if self
            .state
            .compare_exchange(0, WRITER, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow(true);
        }
        RwLockWriteGuard { lock: self }
    }

    /// Locks for writing if that can be done right now.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .compare_exchange(0, WRITER, Acquire, Relaxed)
            .is_ok()
            .then(|| RwLockWriteGuard { lock: self })
    }

    /// Mutable access without locking: `&mut self` proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[cold]
    fn lock_slow(&self, writer: bool) {
        loop {
            let waiters = self.queue.lock();
            // Under the queue lock, acquire if free and nobody is queued
            // (arrival order is kept once anyone waits)...
            let s = self.state.load(Relaxed);
            if waiters.is_empty() {
                let free = if writer {
                    s & !QUEUED == 0
                } else {
                    s & WRITER == 0
                };
                if free {
                    let add = if writer { WRITER } else { READER };
                    if self
                        .state
                        .compare_exchange(s, (s & !QUEUED) + add, Acquire, Relaxed)
                        .is_ok()
                    {
                        return;
                    }
                    continue;
                }
            }
            // ...else queue. QUEUED makes releasers look at the queue.
            if self
                .state
                .compare_exchange(s, s | QUEUED, Relaxed, Relaxed)
                .is_err()
            {
                continue; // changed since we looked (maybe released): look again
            }
            if wait(&self.queue, waiters, writer, false, None) == Some(HANDED) {
                return;
            }
        }
    }

    fn read_unlock(&self) {
        let s = self.state.fetch_sub(READER, Release);
        if s & QUEUED != 0 && (s & !(WRITER | QUEUED)) == READER {
            self.release_slow();
        }
    }

    fn write_unlock(&self) {
        if self
            .state
            .compare_exchange(WRITER, 0, Release, Relaxed)
            .is_err()
        {
            self.state.fetch_and(!WRITER, Release);
            self.release_slow();
        }
    }

    /// The lock may have become free with waiters queued: hand it over.
    #[cold]
    fn release_slow(&self) {
        let mut waiters = self.queue.lock();
        let s = self.state.load(Relaxed);
        if s & WRITER != 0 || s >= READER {
            return; // someone holds it again; they will hand it over
        }
        let granted = take_next(&mut waiters);
        if granted.is_empty() {
            self.state.fetch_and(!QUEUED, Relaxed);
            return;
        }
        let queued = if waiters.is_empty() { 0 } else { QUEUED };
        let held = if granted[0].data {
            WRITER
        } else {
            granted.len() * READER
        };
        self.state.store(held | queued, Release);
        for w in granted {
            w.grant(HANDED);
        }
    }
}

/// The next group to serve: the writer at the front, or every reader
/// before the next writer.
fn take_next(waiters: &mut VecDeque<Waiter<bool>>) -> Vec<Waiter<bool>> {
    let mut group = Vec::new();
    match waiters.front() {
        None => {}
        Some(w) if w.data => group.extend(waiters.pop_front()),
        Some(_) => {
            while waiters.front().is_some_and(|w| !w.data) {
                group.extend(waiters.pop_front());
            }
        }
    }
    group
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: readers share the data; no writer holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the writer holds the lock exclusively.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the writer holds the lock exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}
