//! `Once` and `OnceLock`: run initialisation exactly once, parking other
//! goroutines that arrive meanwhile.

use crate::loom::atomic::{AtomicU8, Ordering::*};
use crate::loom::const_fn;
use crate::queue::{WaitQueue, wait};
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;

/// Something changed: look again.
const LOOK: usize = 1;

/// Runs a closure exactly once, even if many goroutines ask at the same
/// time; the others park until it is done.
///
/// If the closure panics, the `Once` is left incomplete (not poisoned) and
/// the next caller runs its own closure — std's `OnceLock` rule, applied to
/// `Once` too.
///
/// ```
/// use gofer_sync::Once;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// let hs: Vec<_> = (0..8)
///     .map(|_| gofer_runtime::spawn(|| INIT.call_once(|| { RUNS.fetch_add(1, Ordering::SeqCst); })))
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(RUNS.load(Ordering::SeqCst), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    state: AtomicU8,
    waiters: WaitQueue<()>,
}

impl Once {
    const_fn! {
        /// A `Once` that has not run.
        pub fn new() -> Once {
            Once {
                state: AtomicU8::new(INCOMPLETE),
                waiters: WaitQueue::new(),
            }
        }
    }

    /// Runs `f` if no call has completed yet; otherwise waits for the one
    /// in progress, or returns at once.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.run_or_wait(&mut || (f.take().expect("closure taken twice"))());
    }

    /// Has a call completed?
    pub fn is_completed(&self) -> bool {
        self.state.load(Acquire) == COMPLETE
    }

    fn run_or_wait(&self, f: &mut dyn FnMut()) {
        loop {
            match self
                .state
                .compare_exchange(INCOMPLETE, RUNNING, Acquire, Acquire)
            {
                Ok(_) => {
                    // If `f` panics, the guard resets the state and wakes a
                    // waiter to try its own closure.
                    let guard = Reset(self);
                    f();
                    std::mem::forget(guard);
                    self.finish(COMPLETE);
                    return;
                }
                Err(COMPLETE) => return,
                Err(_) => {
                    let waiters = self.waiters.lock();
                    if self.state.load(Acquire) != RUNNING {
                        continue;
                    }
                    wait(&self.waiters, waiters, (), false, None);
                }
            }
        }
    }

    fn finish(&self, state: u8) {
        let waiters = {
            let mut q = self.waiters.lock();
            self.state.store(state, Release);
            std::mem::take(&mut *q)
        };
        for w in waiters {
            w.grant(LOOK);
        }
    }
}

struct Reset<'a>(&'a Once);

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        self.0.finish(INCOMPLETE);
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}

/// A cell written at most once, whose initialisation parks concurrent
/// callers (goroutines or threads) until it is done — std's `OnceLock`.
///
/// ```
/// use gofer_sync::OnceLock;
///
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let v = CONFIG.get_or_init(|| "loaded".to_string());
/// assert_eq!(v, "loaded");
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceLock<T> {
    once: Once,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the one task that runs the `Once`,
// and only read after `is_completed` (Acquire) observed that write.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: moving the cell moves the value.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> OnceLock<T> {
    const_fn! {
        /// An empty cell.
        pub fn new() -> OnceLock<T> {
            OnceLock {
                once: Once::new(),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }

    /// The value, if initialised.
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: completed means written, and never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Mutable access to the value, if initialised.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: completed means written; `&mut self` is exclusive.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Initialises the cell with `value`; `Err(value)` if it already was.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initialising it with `f` if needed (concurrent callers
    /// park until the one running `f` is done).
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let mut f = Some(f);
        self.once.run_or_wait(&mut || {
            let v = (f.take().expect("closure taken twice"))();
            // SAFETY: only the task running the `Once` writes, once.
            unsafe { (*self.value.get()).write(v) };
        });
        self.get().expect("initialised above")
    }

    /// The value, if initialised, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty.
    pub fn take(&mut self) -> Option<T> {
        if self.once.is_completed() {
            self.once = Once::new();
            // SAFETY: it was initialised, and the state now says it is not,
            // so it will not be read or dropped again.
            Some(unsafe { self.value.get_mut().assume_init_read() })
        } else {
            None
        }
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: initialised, and dropped exactly once here.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}
