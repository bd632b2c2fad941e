//! The goroutine (G): its identity, its body and its park permit, plus the
//! one thread-local the runtime reads from goroutine code.

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use crate::permit::Permit;
use crate::sched::processor::Local;
use crate::stack::Stack;
use corosensei::{Coroutine, Yielder};
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Instant;

/// The pointer a worker passes into a goroutine on every resume. Goroutine
/// code never caches thread-local state across a suspension; whatever it
/// needs of its worker after a switch comes back through this value.
#[derive(Clone, Copy)]
pub(crate) struct WorkerRef(#[allow(dead_code)] pub(crate) *const Local);

/// Why a goroutine handed control back to its worker.
pub(crate) enum Suspend {
    /// `yield_now`: requeue at the back.
    Yield,
    /// Park until unparked (or `deadline`): commit the permit after the switch.
    Park { deadline: Option<Instant> },
}

pub(crate) type Coro = Coroutine<WorkerRef, Suspend, (), Stack>;
pub(crate) type GYielder = Yielder<WorkerRef, Suspend>;

/// What a goroutine runs: the user's closure plus the slot its result goes
/// to. It lives inside the goroutine's own allocation (see [`GCell`]).
pub(crate) trait Main: Send + Sync {
    /// Runs the closure on the goroutine's stack; never unwinds. Called at
    /// most once, by the holder of the run right.
    fn run(&self);
    /// The goroutine could not start (no stack): drops the closure and
    /// reports `why` as the panic payload to whoever joins it. Called at
    /// most once, instead of `run`.
    fn abandon(&self, why: String);
}

/// The execution state of a goroutine, owned by whoever holds its run right.
pub(crate) enum Body {
    /// Spawned, never run: no stack yet.
    Unstarted,
    /// Has a stack and a coroutine on it.
    Running(Coro),
    /// Finished (or could not start); the stack went back to the pool.
    Done,
}

/// Home worker of a goroutine that has not run yet.
pub(crate) const NO_HOME: usize = usize::MAX;

/// A goroutine: its scheduling [`Header`] plus its closure and result slot,
/// in one allocation. `M` is the concrete `Spawned<F, T>` at spawn time;
/// everything else sees the unsized [`G`]. Derefs to the header.
pub(crate) struct GCell<M: ?Sized> {
    hdr: Header,
    pub(crate) main: M,
}

/// A goroutine, as the scheduler sees it.
pub(crate) type G = GCell<dyn Main>;

/// Everything about a goroutine except what it runs.
pub(crate) struct Header {
    pub(crate) id: GoroutineId,
    pub(crate) name: Option<Box<str>>,
    pub(crate) spawn_site: &'static Location<'static>,
    pub(crate) stack_size: usize,
    /// Opted in (with `unsafe`) to resuming on any worker after it started.
    pub(crate) migratable: bool,
    pub(crate) permit: Permit,
    /// Worker that started it; a pinned goroutine only ever runs there.
    pub(crate) home: AtomicUsize,
    /// Generation of the goroutine's deadline timer; a timer entry whose
    /// generation is stale is ignored when it fires.
    pub(crate) timer_seq: AtomicU64,
    /// sysmon already reported this goroutine as hogging its worker.
    pub(crate) hog_reported: AtomicBool,
    body: UnsafeCell<Body>,
    /// This goroutine's yielder, on its own stack; set when it starts.
    yielder: Cell<*const GYielder>,
}

// SAFETY: the fields that are not Sync are `body` and `yielder`. `body` is
// only touched by the thread holding the goroutine's run right (it took the
// goroutine from a run queue or is running it); the permit protocol makes
// that right unique. `yielder` is only read by the goroutine itself while it
// runs and written once when it starts, on the same stack. A started,
// non-migratable goroutine's coroutine is only ever resumed on the thread
// that created it (its home worker), which is the rule that makes
// corosensei's `!Send` coroutine sound to hold here; migratable goroutines
// waive that rule through an `unsafe` opt-in whose contract the user accepts.
unsafe impl Sync for Header {}
// SAFETY: as above; moving a goroutine between threads never moves or
// touches the coroutine itself.
unsafe impl Send for Header {}

impl<M: ?Sized> std::ops::Deref for GCell<M> {
    type Target = Header;

    #[inline]
    fn deref(&self) -> &Header {
        &self.hdr
    }
}

impl<M> GCell<M> {
    pub(crate) fn new(
        id: GoroutineId,
        main: M,
        name: Option<Box<str>>,
        stack_size: usize,
        migratable: bool,
        spawn_site: &'static Location<'static>,
    ) -> GCell<M> {
        GCell {
            hdr: Header {
                id,
                name,
                spawn_site,
                stack_size,
                migratable,
                permit: Permit::new(),
                home: AtomicUsize::new(NO_HOME),
                timer_seq: AtomicU64::new(0),
                hog_reported: AtomicBool::new(false),
                body: UnsafeCell::new(Body::Unstarted),
                yielder: Cell::new(std::ptr::null()),
            },
            main,
        }
    }
}

impl Header {
    /// # Safety
    /// The caller holds this goroutine's run right, and does not keep the
    /// reference across a point where it gives that right away.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn body(&self) -> &mut Body {
        // SAFETY: exclusive by the caller's contract.
        unsafe { &mut *self.body.get() }
    }

    /// Called once, on the goroutine's own stack, when it starts.
    pub(crate) fn set_yielder(&self, y: &GYielder) {
        self.yielder.set(y);
    }

    /// Suspends the calling goroutine, which must be `self`.
    pub(crate) fn suspend(&self, why: Suspend) -> WorkerRef {
        let y = self.yielder.get();
        debug_assert!(!y.is_null());
        // SAFETY: we are running on this goroutine's stack (the caller got
        // `self` from `current_g`), and the yielder lives at the base of that
        // stack for as long as the coroutine exists.
        unsafe { (*y).suspend(why) }
    }

    pub(crate) fn home(&self) -> usize {
        self.home.load(Relaxed)
    }
}

thread_local! {
    /// The goroutine running on this thread, or `None` on a scheduler stack
    /// and on plain threads. Set by the worker around every resume.
    static CURRENT: Cell<Option<NonNull<G>>> = const { Cell::new(None) };
}

/// The running goroutine, if the caller is one.
///
/// Not inlined on purpose: LLVM may keep a thread-local's address in a
/// register across a call, and a migrated goroutine would then read the old
/// thread's slot. Behind an opaque call the address is recomputed every time.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    let p = CURRENT.with(|c| c.get())?;
    // SAFETY: CURRENT points at the goroutine running on this thread; its
    // worker holds an Arc to it for as long as it runs, which is longer than
    // any use by the goroutine's own code. The 'static lifetime never
    // escapes the goroutine (callers use it within one operation).
    Some(unsafe { p.as_ref() })
}

/// The reference-counted goroutine running on this thread.
pub(crate) fn current_arc() -> Option<Arc<G>> {
    current_g().map(|g| {
        // SAFETY: `g` came out of an `Arc<G>` that its worker holds while
        // it runs; we add a count for the new handle.
        unsafe {
            Arc::increment_strong_count(g as *const G);
            Arc::from_raw(g as *const G)
        }
    })
}

#[inline(never)]
pub(crate) fn set_current_g(g: Option<NonNull<G>>) {
    CURRENT.with(|c| c.set(g));
}

/// A goroutine's unique id. Ids are never reused within a process; the
/// first goroutine gets 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GoroutineId(NonZeroU64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl GoroutineId {
    /// A fresh id from the global counter.
    pub(crate) fn next() -> GoroutineId {
        GoroutineId::from_counter(NEXT_ID.fetch_add(1, Relaxed))
    }

    /// Reserves `n` consecutive ids (Go hands workers batches of 16 so that
    /// spawning takes no shared read-modify-write most of the time).
    pub(crate) fn reserve(n: u64) -> u64 {
        NEXT_ID.fetch_add(n, Relaxed)
    }

    pub(crate) fn from_counter(id: u64) -> GoroutineId {
        GoroutineId(NonZeroU64::new(id).expect("goroutine id counter overflowed"))
    }

    /// The id as a number.
    ///
    /// ```
    /// let h = gofer_runtime::spawn(|| gofer_runtime::current().unwrap().id());
    /// let id = h.goroutine().id();
    /// assert_eq!(h.join().unwrap(), id);
    /// assert!(id.as_u64() >= 1);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoroutineId({})", self.0)
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A handle to a goroutine: its id and name. The goroutine counterpart of
/// [`std::thread::Thread`].
///
/// ```
/// let h = gofer_runtime::Builder::new()
///     .name("worker")
///     .spawn(|| gofer_runtime::current().unwrap().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.goroutine().name(), Some("worker"));
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Clone)]
pub struct Goroutine {
    pub(crate) g: Arc<G>,
}

impl Goroutine {
    /// The goroutine's id.
    pub fn id(&self) -> GoroutineId {
        self.g.id
    }

    /// The goroutine's name, if it was given one with
    /// [`Builder::name`](crate::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }

    /// Where the goroutine was spawned (`file:line:column`).
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.g.spawn_site
    }
}

impl fmt::Debug for Goroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Goroutine")
            .field("id", &self.g.id)
            .field("name", &self.g.name)
            .finish()
    }
}

/// The goroutine calling this, or `None` on a plain thread.
///
/// ```
/// assert!(gofer_runtime::current().is_none());
/// let h = gofer_runtime::spawn(|| gofer_runtime::current().is_some());
/// assert!(h.join().unwrap());
/// ```
pub fn current() -> Option<Goroutine> {
    current_arc().map(|g| Goroutine { g })
}
