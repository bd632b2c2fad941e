//! The loom double of [`park`](crate::park): the same interface over loom
//! threads, so the crates that block through it (`gofer-chan`,
//! `gofer-sync`) can model-check their protocols. Each loom thread is a
//! task with a slot parker (loom's mutex and condvar: loom's own
//! `thread::park` cannot model an unpark sent while holding a lock).
//! Loom has no clock, so deadlines are ignored: a deadline park is a park.
//! Every loom thread counts as a goroutine, so spin-waits that yield on a
//! goroutine yield to loom at every step, which keeps models small.

use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Identity of a loom thread.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskId(usize);

/// See `gofer_runtime::park::WaitSlot`.
#[derive(Debug, Default)]
pub struct WaitSlot {
    /// The outcome of the current wait; 0 while undecided.
    pub state: AtomicUsize,
    /// A pointer a waker hands to the waiting task.
    pub packet: AtomicPtr<()>,
}

impl WaitSlot {
    /// Resets the slot at the start of a wait.
    pub fn reset(&self) {
        self.state.store(0, Release);
        self.packet.store(std::ptr::null_mut(), Release);
    }
}

struct Inner {
    id: TaskId,
    notified: Mutex<bool>,
    cond: Condvar,
    wait: WaitSlot,
}

/// A loom thread as a task.
#[derive(Clone)]
pub struct Task(Arc<Inner>);

loom::thread_local! {
    static CURRENT: Task = Task(Arc::new(Inner {
        id: TaskId(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
        notified: Mutex::new(false),
        cond: Condvar::new(),
        wait: WaitSlot::default(),
    }));
}

// Ids only need to be distinct; loom runs every execution on one OS thread.
static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

impl Task {
    /// The calling loom thread.
    pub fn current() -> Task {
        CURRENT.with(|t| t.clone())
    }

    /// Runs `f` with the calling loom thread's task.
    pub fn with_current<R>(f: impl FnOnce(&Task) -> R) -> R {
        f(&Task::current())
    }

    /// Parks the calling loom thread, which must be this task (checked:
    /// a model in which a channel parks another task's handle fails).
    ///
    /// # Safety
    /// As the real `Task::park_current`: `self` is the calling task.
    pub unsafe fn park_current(&self, _deadline: Option<Instant>) {
        assert!(
            CURRENT.with(|t| Arc::ptr_eq(&t.0, &self.0)),
            "park_current: not the calling task's handle"
        );
        park_task(self);
    }

    /// Makes the permit available.
    pub fn unpark(&self) {
        *self.0.notified.lock().unwrap() = true;
        self.0.cond.notify_one();
    }

    /// The task's identity.
    pub fn id(&self) -> TaskId {
        self.0.id
    }

    /// The task's wait slot.
    pub fn wait_slot(&self) -> &WaitSlot {
        &self.0.wait
    }
}

/// Parks the calling loom thread until its permit is available.
pub fn park() {
    park_task(&Task::current());
}

fn park_task(me: &Task) {
    let mut n = me.0.notified.lock().unwrap();
    while !*n {
        n = me.0.cond.wait(n).unwrap();
    }
    *n = false;
}

/// Loom has no clock: a deadline park is an ordinary park.
pub fn park_deadline(_deadline: Instant) {
    park()
}

/// Loom has no clock: a timed park is an ordinary park.
pub fn park_timeout(_timeout: Duration) {
    park()
}

/// The calling loom thread's id.
pub fn current_task_id() -> TaskId {
    CURRENT.with(|t| t.id())
}

/// Every loom thread counts as a goroutine (see the module docs).
pub fn in_goroutine() -> bool {
    true
}

/// Loom threads have no budget (see the real `consume_budget`).
pub fn consume_budget() {}

/// One spin-wait step: a loom yield.
pub fn relax() {
    loom::thread::yield_now();
}
