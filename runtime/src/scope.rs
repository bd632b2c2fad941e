//! Scoped goroutines: spawn goroutines that borrow from the caller's stack,
//! all joined before `scope` returns. Shaped exactly like
//! [`std::thread::scope`].

use crate::goroutine::Goroutine;
use crate::join::JoinInner;
use crate::park::{Task, park};
use crate::spawn::{Builder, Spawned};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::thread;

/// Bookkeeping shared by a scope and its goroutines' packets.
pub(crate) struct ScopeData {
    running: AtomicUsize,
    a_goroutine_panicked: AtomicBool,
    owner: Task,
}

impl ScopeData {
    /// Called from a scoped goroutine's packet when it is dropped, i.e.
    /// after its result (which may borrow from the scope) is gone.
    pub(crate) fn goroutine_done(&self, panicked: bool) {
        if panicked {
            self.a_goroutine_panicked.store(true, Relaxed);
        }
        if self.running.fetch_sub(1, Release) == 1 {
            self.owner.unpark();
        }
    }
}

/// A scope to spawn scoped goroutines in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance over 'scope, so the scope cannot be shrunk.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// Creates a scope for spawning goroutines that may borrow non-`'static`
/// data. Every goroutine spawned in the scope is joined before `scope`
/// returns, whether or not its handle was joined.
///
/// If `f` panics, or a goroutine panicked and was not joined, `scope`
/// panics after all goroutines have finished — as `std::thread::scope`.
///
/// ```
/// let mut data = vec![1, 2, 3];
/// let mut x = 0;
/// gofer_runtime::scope(|s| {
///     s.spawn(|| println!("borrowed: {data:?}"));
///     s.spawn(|| x += data[0] + data[2]);
/// });
/// data.push(4);
/// assert_eq!(x, 4);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            a_goroutine_panicked: AtomicBool::new(false),
            owner: Task::current(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    while scope.data.running.load(Acquire) != 0 {
        park();
    }
    match result {
        Err(e) => resume_unwind(e),
        Ok(_) if scope.data.a_goroutine_panicked.load(Relaxed) => {
            panic!("a scoped goroutine panicked")
        }
        Ok(r) => r,
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a goroutine that may borrow anything that outlives the scope.
    ///
    /// # Panics
    ///
    /// If no stack can be had for it; see [`Builder::spawn_scoped`].
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match Builder::new().spawn_scoped(self, f) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }
}

impl Builder {
    /// Spawns a scoped goroutine with this builder's settings.
    ///
    /// ```
    /// let v = vec![1, 2, 3];
    /// gofer_runtime::scope(|s| {
    ///     let h = gofer_runtime::Builder::new()
    ///         .name("summer")
    ///         .spawn_scoped(s, || v.iter().sum::<i32>())
    ///         .unwrap();
    ///     assert_eq!(h.join().unwrap(), 6);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`].
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        scope.data.running.fetch_add(1, Relaxed);
        let (g, cell) = match self.build(
            Spawned::new(f, Some(scope.data.clone())),
            Location::caller(),
        ) {
            Ok(g) => g,
            Err(e) => {
                scope.data.goroutine_done(false);
                return Err(e);
            }
        };
        // `GRef` erases the closure's type, lifetime included. That is sound
        // because everything the closure borrows lives for 'scope, and
        // `scope()` does not return before both parties are done with this
        // goroutine's packet, which happens after the closure and its
        // result are gone; parked goroutines are never destroyed, so the
        // closure cannot be torn down early either. What may outlive the
        // scope is the allocation (a stray `Task` clone keeps it), holding
        // only an emptied closure slot and result slot, which are dropped
        // without being read.
        //
        // SAFETY: `cell` is `g`'s allocation, alive while `g` is; the packet
        // pointer is only used by the handle, which holds a clone of `g`.
        let inner = unsafe { JoinInner::new(g.clone(), &cell.as_ref().main.packet) };
        crate::sched::submit_new(g);
        Ok(ScopedJoinHandle {
            inner,
            scope: PhantomData,
        })
    }
}

/// An owned permission to join a scoped goroutine.
pub struct ScopedJoinHandle<'scope, T> {
    inner: JoinInner<T>,
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine; `Err` with the payload if it panicked.
    pub fn join(self) -> thread::Result<T> {
        self.inner.join()
    }

    /// Has the goroutine finished?
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The goroutine's id and name.
    pub fn goroutine(&self) -> &Goroutine {
        self.inner.goroutine()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("goroutine", self.goroutine())
            .finish()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Relaxed))
            .finish()
    }
}
