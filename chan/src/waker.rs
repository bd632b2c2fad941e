//! Wait lists: who is blocked on a channel, and how to wake them.
//!
//! A [`Waker`] holds two lists of entries, each an operation id plus the
//! waiting task's context. The lock-free flavors (array, list) wait on
//! `Waker`s. The zero-capacity flavor (`flavors/zero.rs`) keeps its own
//! intrusive lists and uses a `Waker` only for its observers; `bounded(1)`'s
//! hand-off (`flavors/small.rs`) keeps its own waiter list, with packets
//! and borrowed contexts, and uses [`Entry`] for its observers. *Selectors*
//! are tasks blocked in a send, receive or select that want one of their
//! operations completed; *observers* are tasks in `Select::ready` that only
//! want to hear that something became ready.
//! [`SyncWaker`] wraps a `Waker` in a mutex plus an `is_empty` flag read
//! without the lock, so that a send or receive with nobody to wake takes no
//! lock at all.

use crate::context::Context;
use crate::select::{Operation, Selected};
use crate::sync::atomic::{AtomicBool, Ordering::*};
use crate::sync::{Mutex, lock, loom_fence};
use std::collections::VecDeque;

/// One waiting task, registered for one operation.
pub(crate) struct Entry {
    pub(crate) oper: Operation,
    pub(crate) cx: Context,
}

impl Entry {
    /// Wakes the waiter this entry belongs to.
    pub(crate) fn wake(&self) {
        self.cx.unpark();
    }
}

/// The wait lists of one side of a channel. Not synchronised.
pub(crate) struct Waker {
    /// FIFO: the longest waiter is picked first.
    selectors: VecDeque<Entry>,
    observers: Vec<Entry>,
}

impl Waker {
    pub(crate) fn new() -> Waker {
        Waker {
            selectors: VecDeque::new(),
            observers: Vec::new(),
        }
    }

    pub(crate) fn register(&mut self, oper: Operation, cx: &Context) {
        self.selectors.push_back(Entry {
            oper,
            cx: cx.clone(),
        });
    }

    /// Removes the entry for `oper`, if it is still there (a peer that
    /// selected it has already removed it).
    pub(crate) fn unregister(&mut self, oper: Operation) -> Option<Entry> {
        let i = self.selectors.iter().position(|e| e.oper == oper)?;
        if i == 0 {
            self.selectors.pop_front()
        } else {
            self.selectors.remove(i)
        }
    }

    /// Picks the first waiter whose wait is still undecided and decides it
    /// for its operation. Entries of
    /// tasks already decided elsewhere are skipped (they will unregister
    /// themselves).
    ///
    /// The caller never meets its own entry here: a task lists entries
    /// only while it is in a wait (registering the arms of a select, which
    /// does not pick), and unlists them all before it picks again. So no
    /// identity check is needed, and none is made (it cost a thread-local
    /// lookup per pick).
    ///
    /// The waiter is *not* woken: the caller does that with
    /// [`Entry::wake`] once the waiter has something to wake up to (Go's
    /// order: copy, then ready), so that the woken task never has to spin
    /// waiting for its peer.
    pub(crate) fn try_select(&mut self) -> Option<Entry> {
        let i = self
            .selectors
            .iter()
            .position(|e| e.cx.try_select(Selected::Operation(e.oper)).is_ok())?;
        // Almost always the front: the longest waiter.
        let entry = if i == 0 {
            self.selectors.pop_front()?
        } else {
            self.selectors.remove(i)?
        };
        Some(entry)
    }

    pub(crate) fn watch(&mut self, oper: Operation, cx: &Context) {
        self.observers.push(Entry {
            oper,
            cx: cx.clone(),
        });
    }

    pub(crate) fn unwatch(&mut self, oper: Operation) {
        self.observers.retain(|e| e.oper != oper);
    }

    /// Tells every observer that something became ready.
    #[inline]
    pub(crate) fn notify(&mut self) {
        // Called on every wait of a rendezvous; observers are rare, and
        // a call just to find none measured ~17 instructions.
        if !self.observers.is_empty() {
            self.notify_observers();
        }
    }

    #[cold]
    fn notify_observers(&mut self) {
        for entry in self.observers.drain(..) {
            if entry.cx.try_select(Selected::Operation(entry.oper)).is_ok() {
                entry.cx.unpark();
            }
        }
    }

    /// Wakes every waiter with `Disconnected`. Their entries stay: each
    /// waiter unregisters itself.
    pub(crate) fn disconnect(&mut self) {
        for entry in &self.selectors {
            if entry.cx.try_select(Selected::Disconnected).is_ok() {
                entry.cx.unpark();
            }
        }
        self.notify();
    }

    fn is_empty(&self) -> bool {
        self.selectors.is_empty() && self.observers.is_empty()
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        debug_assert!(self.selectors.is_empty(), "a channel died with waiters");
        debug_assert!(self.observers.is_empty(), "a channel died with observers");
    }
}

/// A [`Waker`] behind a mutex, with a lock-free emptiness check.
///
/// The check is half of a store-buffering pair: a waiter stores
/// `is_empty = false` (under the lock) and then re-checks the channel; a
/// peer changes the channel and then loads `is_empty`. Both sides use
/// `SeqCst` accesses — on the channel state too — so at least one of them
/// sees the other: the peer finds the waiter, or the waiter finds the
/// change and does not sleep.
pub(crate) struct SyncWaker {
    inner: Mutex<Waker>,
    is_empty: AtomicBool,
}

impl SyncWaker {
    pub(crate) fn new() -> SyncWaker {
        SyncWaker {
            inner: Mutex::new(Waker::new()),
            is_empty: AtomicBool::new(true),
        }
    }

    pub(crate) fn register(&self, oper: Operation, cx: &Context) {
        let mut inner = lock(&self.inner);
        inner.register(oper, cx);
        self.is_empty.store(inner.is_empty(), SeqCst);
        loom_fence();
    }

    pub(crate) fn unregister(&self, oper: Operation) -> Option<Entry> {
        let mut inner = lock(&self.inner);
        let entry = inner.unregister(oper);
        self.is_empty.store(inner.is_empty(), SeqCst);
        entry
    }

    /// Wakes one selector and every observer, if anybody waits.
    #[inline]
    pub(crate) fn notify(&self) {
        loom_fence();
        if !self.is_empty.load(SeqCst) {
            self.notify_slow();
        }
    }

    #[cold]
    fn notify_slow(&self) {
        let mut inner = lock(&self.inner);
        if !self.is_empty.load(SeqCst) {
            if let Some(entry) = inner.try_select() {
                // Buffered flavors hand nothing over: wake it to retry.
                entry.wake();
            }
            inner.notify();
            self.is_empty.store(inner.is_empty(), SeqCst);
        }
    }

    pub(crate) fn watch(&self, oper: Operation, cx: &Context) {
        let mut inner = lock(&self.inner);
        inner.watch(oper, cx);
        self.is_empty.store(inner.is_empty(), SeqCst);
        loom_fence();
    }

    pub(crate) fn unwatch(&self, oper: Operation) {
        let mut inner = lock(&self.inner);
        inner.unwatch(oper);
        self.is_empty.store(inner.is_empty(), SeqCst);
    }

    /// Wakes everybody with `Disconnected`.
    pub(crate) fn disconnect(&self) {
        let mut inner = lock(&self.inner);
        inner.disconnect();
        self.is_empty.store(inner.is_empty(), SeqCst);
    }
}

impl Drop for SyncWaker {
    fn drop(&mut self) {
        debug_assert!(self.is_empty.load(SeqCst), "a channel died with waiters");
    }
}
