//! Where a goroutine's result goes: the packet shared by the goroutine and
//! its `JoinHandle`, and the handle itself.

use crate::goroutine::{GRef, Goroutine};
use crate::park::{Task, park};
use crate::scope::ScopeData;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::*};
use std::thread;

/// The goroutine finished; `result` is written.
const DONE: u8 = 1;
/// The joiner waits; `waiter` is written.
const WAITING: u8 = 2;
/// The handle was dropped without joining.
const DETACHED: u8 = 4;

/// The result slot of one goroutine, inside the goroutine's allocation.
///
/// One atomic byte of flags coordinates the two parties, the goroutine and
/// its handle, with one read-modify-write each:
///
/// * the goroutine writes `result`, then sets DONE; if WAITING was set it
///   wakes the joiner, and if DETACHED was set it is the last party and
///   cleans up;
/// * a joiner that finds DONE unset writes `waiter` and sets WAITING (by
///   CAS from 0), parks until DONE, takes the result and cleans up;
/// * a handle dropped unjoined sets DETACHED, and cleans up if DONE was
///   already set.
///
/// Cleaning up drops a result nobody took and tells a scope that this
/// goroutine is gone — when both parties are done, not when the allocation
/// is freed, which a stray `Task` clone may delay.
pub(crate) struct Packet<T> {
    state: AtomicU8,
    waiter: UnsafeCell<Option<Task>>,
    result: UnsafeCell<Option<thread::Result<T>>>,
    scope: Option<Arc<ScopeData>>,
}

// SAFETY: `waiter` is written only by the joiner before it publishes
// WAITING (Release) and read only by the finisher after it observes WAITING
// (Acquire); `result` is written only by the finisher before DONE (Release)
// and read only by the joiner after DONE (Acquire), or by the last party in
// `clean_up`, when nobody else can touch it. `T: Send` because the result
// crosses threads.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    pub(crate) fn new(scope: Option<Arc<ScopeData>>) -> Packet<T> {
        Packet {
            state: AtomicU8::new(0),
            waiter: UnsafeCell::new(None),
            result: UnsafeCell::new(None),
            scope,
        }
    }

    /// Goroutine side: stores the outcome, wakes the joiner if it waits,
    /// and cleans up if the handle is gone. Called exactly once.
    pub(crate) fn finish(&self, result: thread::Result<T>) {
        // SAFETY: only the finisher writes `result`, once, before DONE.
        unsafe { *self.result.get() = Some(result) };
        let prev = self.state.fetch_or(DONE, AcqRel);
        if prev & WAITING != 0 {
            // SAFETY: the joiner wrote `waiter` before publishing WAITING,
            // which our AcqRel RMW observed; it never touches it again.
            if let Some(task) = unsafe { (*self.waiter.get()).take() } {
                task.unpark();
            }
        }
        if prev & DETACHED != 0 {
            self.clean_up();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Acquire) & DONE != 0
    }

    /// Handle side: blocks (parks the goroutine or the thread) until
    /// `finish` ran, takes the result and cleans up. Called at most once,
    /// and then the handle must not call [`detach`](Self::detach).
    pub(crate) fn join(&self) -> thread::Result<T> {
        if !self.is_finished() {
            // SAFETY: nobody reads `waiter` before we publish WAITING.
            unsafe { *self.waiter.get() = Some(Task::current()) };
            if self
                .state
                .compare_exchange(0, WAITING, AcqRel, Acquire)
                .is_ok()
            {
                while !self.is_finished() {
                    park();
                }
            } else {
                // Finished meanwhile; the waiter was never looked at.
                // SAFETY: the finisher only reads `waiter` after WAITING.
                unsafe { *self.waiter.get() = None };
            }
        }
        // SAFETY: DONE was observed with Acquire, so the finisher's write is
        // visible, and it never touches `result` again (it saw no DETACHED,
        // so it does not clean up either).
        let result = unsafe { (*self.result.get()).take() }.expect("goroutine result taken twice");
        self.clean_up();
        result
    }

    /// Handle side: the handle is dropped without joining.
    pub(crate) fn detach(&self) {
        if self.state.fetch_or(DETACHED, AcqRel) & DONE != 0 {
            self.clean_up();
        }
    }

    /// Run once, by whichever party is done last.
    fn clean_up(&self) {
        // SAFETY: both parties are done: nobody else touches `result`.
        let result = unsafe { (*self.result.get()).take() };
        // A scoped goroutine's result may borrow from the scope: drop it
        // before telling the scope this goroutine is gone.
        let unhandled_panic = matches!(result, Some(Err(_)));
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(result))).is_err() {
            // The scope could never be told reliably; like std, give up.
            eprintln!("fatal error: gofer: a goroutine's result panicked on drop");
            std::process::abort();
        }
        if let Some(scope) = &self.scope {
            scope.goroutine_done(unhandled_panic);
        }
    }
}

/// An owned permission to join a goroutine (wait for it and take its
/// result). Dropping it detaches the goroutine, which keeps running.
///
/// The goroutine counterpart of [`std::thread::JoinHandle`].
///
/// ```
/// let h = gofer_runtime::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
///
/// // A panic in a goroutine comes back as Err; the runtime lives on.
/// let h = gofer_runtime::spawn(|| -> u8 { panic!("boom") });
/// assert!(h.join().is_err());
/// ```
pub struct JoinHandle<T> {
    inner: JoinInner<T>,
}

/// What both kinds of join handle hold: the goroutine (which keeps the
/// allocation alive) and its result slot inside that allocation.
pub(crate) struct JoinInner<T> {
    goroutine: Goroutine,
    packet: NonNull<Packet<T>>,
}

// SAFETY: `packet` points into the allocation `goroutine` keeps alive, and
// `Packet<T>` is Sync for `T: Send`; the handle itself only moves a result
// of type `T` across threads.
unsafe impl<T: Send> Send for JoinInner<T> {}
// SAFETY: as above; shared access only reads the packet's atomic state.
unsafe impl<T: Send> Sync for JoinInner<T> {}

impl<T> JoinInner<T> {
    /// # Safety
    /// `packet` must point into `g`'s allocation (its `main`).
    pub(crate) unsafe fn new(g: GRef, packet: &Packet<T>) -> JoinInner<T> {
        JoinInner {
            goroutine: Goroutine { g },
            packet: NonNull::from(packet),
        }
    }

    fn packet(&self) -> &Packet<T> {
        // SAFETY: the allocation is kept alive by `self.goroutine` (new's
        // contract).
        unsafe { self.packet.as_ref() }
    }

    pub(crate) fn join(self) -> thread::Result<T> {
        let this = ManuallyDrop::new(self);
        let result = this.packet().join();
        // SAFETY: `this` is never used or dropped again; this moves the
        // goroutine handle out so the allocation is released normally.
        drop(unsafe { std::ptr::read(&this.goroutine) });
        result
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.packet().is_finished()
    }

    pub(crate) fn goroutine(&self) -> &Goroutine {
        &self.goroutine
    }
}

impl<T> Drop for JoinInner<T> {
    fn drop(&mut self) {
        self.packet().detach();
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: JoinInner<T>) -> JoinHandle<T> {
        JoinHandle { inner }
    }

    /// Waits for the goroutine to finish and returns its result: `Ok` with
    /// its return value, or `Err` with the panic payload if it panicked.
    /// Parks the calling goroutine, or blocks the calling thread.
    pub fn join(self) -> thread::Result<T> {
        self.inner.join()
    }

    /// Has the goroutine finished (its result is ready)?
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The goroutine's id and name.
    pub fn goroutine(&self) -> &Goroutine {
        self.inner.goroutine()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", self.goroutine())
            .field("finished", &self.is_finished())
            .finish()
    }
}
