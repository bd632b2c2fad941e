//! A FIFO queue of waiting tasks, the one blocking mechanism every
//! primitive in this crate is built on.
//!
//! A waiter enqueues itself (under the queue's lock, after re-checking the
//! condition it waits for) and parks until it is *granted*: whoever wakes
//! it first writes a grant code into the waiter's wait slot — a word that
//! lives in the task itself, so waiting allocates nothing — and then
//! unparks it. Parking has permit semantics and may return spuriously, so
//! a waiter parks in a loop until its slot holds a grant. A waiter that
//! gives up (a timeout) removes itself under the lock, unless it was
//! granted meanwhile. A waker may take waiters out under the lock and
//! grant them after releasing it; a waiter that times out in between
//! finds itself gone from the queue with no grant yet, and waits for that
//! grant rather than return — else the grant would land in its *next*
//! wait.

use crate::loom::atomic::Ordering::*;
use crate::loom::{Mutex, MutexGuard, const_fn};
use gofer_runtime::park::{Task, park, park_deadline};
use std::collections::VecDeque;
use std::time::Instant;

/// Grant codes a waker may hand a waiter (never 0, which means "waiting").
pub(crate) type Grant = usize;

/// One waiting task, and whatever the primitive needs to know about it.
pub(crate) struct Waiter<D> {
    pub(crate) task: Task,
    pub(crate) data: D,
}

impl<D> Waiter<D> {
    /// Wakes the waiter with `grant`. Call with the queue's lock held, or
    /// after removing the waiter under it (then the grant must follow: the
    /// waiter, unable to give up, waits for it).
    pub(crate) fn grant(self, grant: Grant) {
        debug_assert_ne!(grant, 0);
        self.task.wait_slot().state.store(grant, Release);
        self.task.unpark();
    }
}

/// The waiting tasks of one primitive, oldest first.
pub(crate) struct WaitQueue<D> {
    waiters: Mutex<VecDeque<Waiter<D>>>,
}

impl<D> WaitQueue<D> {
    const_fn! {
        pub(crate) fn new() -> WaitQueue<D> {
            WaitQueue {
                waiters: Mutex::new(VecDeque::new()),
            }
        }
    }

    /// Locks the queue. The critical sections are a few pointer moves and
    /// never park, so a std mutex is right here.
    pub(crate) fn lock(&self) -> MutexGuard<'_, VecDeque<Waiter<D>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Enqueues the calling task with `data` (at the back, or at the front
/// for a waiter that already waited and must not lose its turn), releases
/// `guard` (which must lock `queue`), and parks until granted or until
/// `deadline`.
///
/// Returns the grant, or `None` if the deadline passed first — in which
/// case the task is no longer in the queue.
pub(crate) fn wait<D>(
    queue: &WaitQueue<D>,
    mut guard: MutexGuard<'_, VecDeque<Waiter<D>>>,
    data: D,
    front: bool,
    deadline: Option<Instant>,
) -> Option<Grant> {
    let task = Task::current();
    task.wait_slot().state.store(0, Relaxed);
    let waiter = Waiter {
        task: task.clone(),
        data,
    };
    if front {
        guard.push_front(waiter);
    } else {
        guard.push_back(waiter);
    }
    drop(guard);
    loop {
        let grant = task.wait_slot().state.load(Acquire);
        if grant != 0 {
            return Some(grant);
        }
        match deadline {
            None => park(),
            Some(d) if Instant::now() < d => park_deadline(d),
            Some(_) => {
                // Give up, unless a grant raced in: under the lock it is
                // one or the other.
                let mut waiters = queue.lock();
                let grant = task.wait_slot().state.load(Acquire);
                if grant != 0 {
                    return Some(grant);
                }
                let id = task.id();
                if let Some(i) = waiters.iter().position(|w| w.task.id() == id) {
                    waiters.remove(i);
                    return None;
                }
                // Taken out by a waker whose grant is on its way.
                drop(waiters);
                loop {
                    let grant = task.wait_slot().state.load(Acquire);
                    if grant != 0 {
                        return Some(grant);
                    }
                    park();
                }
            }
        }
    }
}
