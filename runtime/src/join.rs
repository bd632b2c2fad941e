//! Where a goroutine's result goes: the packet shared by the goroutine and
//! its `JoinHandle`, and the handle itself.

use crate::goroutine::{GCell, Goroutine};
use crate::park::{Task, park};
use crate::scope::ScopeData;
use std::cell::UnsafeCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering::*};
use std::thread;

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// The result slot of one goroutine, inside the goroutine's allocation.
///
/// `state` goes RUNNING -> (WAITING ->) DONE. The joiner stores its task in
/// `waiter` and then moves RUNNING -> WAITING; the goroutine writes `result`
/// and swaps in DONE, and if it replaced WAITING it unparks the waiter.
///
/// Two parties use the packet: the goroutine and its handle. When both are
/// done with it (`parties` reaches zero) the result, if nobody took it, is
/// dropped and a scope is told that this goroutine is gone — then and not
/// when the allocation is freed, which a stray `Task` clone may delay.
pub(crate) struct Packet<T> {
    state: AtomicU8,
    parties: AtomicU8,
    waiter: UnsafeCell<Option<Task>>,
    result: UnsafeCell<Option<thread::Result<T>>>,
    scope: Option<Arc<ScopeData>>,
}

// SAFETY: `waiter` is written only by the joiner before it publishes
// WAITING (Release) and read only by the finisher after it observes WAITING
// (Acquire); `result` is written only by the finisher before DONE (Release)
// and read only by the joiner after DONE (Acquire), or by the last party in
// `release`, when nobody else can touch it. `T: Send` because the result
// crosses threads.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    pub(crate) fn new(scope: Option<Arc<ScopeData>>) -> Packet<T> {
        Packet {
            state: AtomicU8::new(RUNNING),
            parties: AtomicU8::new(2),
            waiter: UnsafeCell::new(None),
            result: UnsafeCell::new(None),
            scope,
        }
    }

    /// Goroutine side: stores the outcome, wakes the joiner if it waits,
    /// and leaves. Called exactly once.
    pub(crate) fn finish(&self, result: thread::Result<T>) {
        // SAFETY: only the finisher writes `result`, once, before DONE.
        unsafe { *self.result.get() = Some(result) };
        if self.state.swap(DONE, AcqRel) == WAITING {
            // SAFETY: the joiner wrote `waiter` before publishing WAITING,
            // which our AcqRel swap observed; it never touches it again.
            if let Some(task) = unsafe { (*self.waiter.get()).take() } {
                task.unpark();
            }
        }
        self.release();
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Acquire) == DONE
    }

    /// Handle side: blocks (parks the goroutine or the thread) until
    /// `finish` ran, then takes the result. Called at most once.
    pub(crate) fn wait(&self) -> thread::Result<T> {
        if self.state.load(Acquire) != DONE {
            // SAFETY: nobody reads `waiter` before we publish WAITING.
            unsafe { *self.waiter.get() = Some(Task::current()) };
            if self
                .state
                .compare_exchange(RUNNING, WAITING, AcqRel, Acquire)
                .is_ok()
            {
                while self.state.load(Acquire) != DONE {
                    park();
                }
            } else {
                // Finished meanwhile; the waiter was never looked at.
                // SAFETY: the finisher only reads `waiter` after WAITING.
                unsafe { *self.waiter.get() = None };
            }
        }
        // SAFETY: DONE was observed with Acquire, so the finisher's write is
        // visible, and it does not touch `result` again; the handle has not
        // released its party yet, so `release` cannot run concurrently.
        unsafe { (*self.result.get()).take() }.expect("goroutine result taken twice")
    }

    /// One party is done with the packet; the last one cleans up.
    pub(crate) fn release(&self) {
        if self.parties.fetch_sub(1, AcqRel) != 1 {
            return;
        }
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

/// Typed access to the result slot of a goroutine, whatever its closure.
pub(crate) trait Joinable<T>: Send + Sync {
    fn packet(&self) -> &Packet<T>;
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
    pub(crate) packet: Arc<GCell<dyn Joinable<T>>>,
    pub(crate) goroutine: Goroutine,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish and returns its result: `Ok` with
    /// its return value, or `Err` with the panic payload if it panicked.
    /// Parks the calling goroutine, or blocks the calling thread.
    pub fn join(self) -> thread::Result<T> {
        self.packet.main.packet().wait()
    }

    /// Has the goroutine finished (its result is ready)?
    pub fn is_finished(&self) -> bool {
        self.packet.main.packet().is_finished()
    }

    /// The goroutine's id and name.
    pub fn goroutine(&self) -> &Goroutine {
        &self.goroutine
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.packet.main.packet().release();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("goroutine", &self.goroutine)
            .field("finished", &self.is_finished())
            .finish()
    }
}
