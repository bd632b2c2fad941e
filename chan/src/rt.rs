//! Everything the channels need from the runtime, in one place: the current
//! task, parking with an optional deadline, unparking, and a spin step.
//!
//! Normally this is `gofer_runtime::park`: a goroutine parks by suspending
//! (its worker runs other goroutines), a plain thread parks its thread.
//! Under `--cfg loom` it is a small double with the same shape, built on
//! loom's mutex and condvar (one "slot parker" per loom thread; loom's own
//! `thread::park` cannot model an unpark sent while holding a lock), so
//! `loom-tests/` can model-check the channel protocols themselves.

#[cfg(not(loom))]
pub(crate) use gofer_runtime::park::{
    Task, TaskId, WaitSlot, current_task_id, park, park_deadline,
};

/// One step of a spin-wait on another task: a goroutine yields to its
/// scheduler (the task it waits for may need this very worker), a thread
/// yields the CPU.
#[cfg(not(loom))]
pub(crate) fn relax() {
    gofer_runtime::park::relax()
}

/// Sleeps the calling task until `deadline`, or forever.
#[cfg(not(loom))]
pub(crate) fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => gofer_runtime::sleep_until(d),
        None => loop {
            park();
        },
    }
}

/// Is the caller a goroutine?
#[cfg(not(loom))]
pub(crate) fn in_goroutine() -> bool {
    gofer_runtime::park::in_goroutine()
}

#[cfg(loom)]
pub(crate) use self::mock::*;

#[cfg(loom)]
mod mock {
    use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
    use loom::sync::{Arc, Condvar, Mutex};

    /// Identity of a loom thread.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct TaskId(usize);

    /// The loom double of `gofer_runtime::park::WaitSlot`.
    #[derive(Debug, Default)]
    pub struct WaitSlot {
        pub state: AtomicUsize,
        pub packet: AtomicPtr<()>,
    }

    impl WaitSlot {
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
            id: TaskId(NEXT.fetch_add(1, Relaxed)),
            notified: Mutex::new(false),
            cond: Condvar::new(),
            wait: WaitSlot::default(),
        }));
    }

    // A plain std atomic: ids only need to be distinct, and loom runs every
    // execution on one OS thread.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

    impl Task {
        pub fn current() -> Task {
            CURRENT.with(|t| t.clone())
        }

        pub fn with_current<R>(f: impl FnOnce(&Task) -> R) -> R {
            f(&Task::current())
        }

        pub fn unpark(&self) {
            *self.0.notified.lock().unwrap() = true;
            self.0.cond.notify_one();
        }

        pub fn id(&self) -> TaskId {
            self.0.id
        }

        pub fn wait_slot(&self) -> &WaitSlot {
            &self.0.wait
        }
    }

    pub fn park() {
        let me = Task::current();
        let mut n = me.0.notified.lock().unwrap();
        while !*n {
            n = me.0.cond.wait(n).unwrap();
        }
        *n = false;
    }

    /// Loom has no clock: a deadline park is an ordinary park.
    pub fn park_deadline(_deadline: std::time::Instant) {
        park()
    }

    pub fn relax() {
        loom::thread::yield_now();
    }

    pub fn sleep_until(_deadline: Option<std::time::Instant>) {
        park()
    }

    /// Every loom thread counts as a goroutine, so spin-waits yield at
    /// every step: that keeps models small (loom explores each spin).
    pub fn in_goroutine() -> bool {
        true
    }

    pub fn current_task_id() -> TaskId {
        CURRENT.with(|t| t.id())
    }
}
