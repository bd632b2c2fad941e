//! The goroutine (G): its identity, its body and its park permit, plus the
//! one thread-local the runtime reads from goroutine code.

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*, fence};
use crate::park::WaitSlot;
use crate::permit::Permit;
use crate::sched::gfree;
use crate::sched::processor::{Local, current_local};
use crate::stack::Stack;
use corosensei::{Coroutine, Yielder};
use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::panic::Location;
use std::ptr::NonNull;
use std::time::Instant;

/// Why a goroutine handed control back to its worker.
///
/// Small on purpose: corosensei passes values that fit in a register in a
/// register, and anything bigger through memory on every switch (measured:
/// ~21 ns for 64 bytes against ~4 ns for a word). A park's deadline travels
/// in the worker's P instead (`Local::park_deadline`). For the same reason a resume passes
/// `()`: goroutine code never needs its worker after a switch (it never
/// caches thread-local state across one, and re-reads what it needs through
/// the non-inlined accessors below).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Suspend {
    /// `yield_now`: requeue at the back.
    Yield,
    /// Park until unparked: the scheduler commits the permit after the
    /// switch.
    Park,
    /// As `Park`, and also until the deadline the goroutine left in its
    /// worker's `Local::park_deadline` just before it suspended.
    ParkUntil,
}

pub(crate) type Coro = Coroutine<(), Suspend, (), Stack>;
pub(crate) type GYielder = Yielder<(), Suspend>;

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

/// A goroutine's allocation: its scheduling [`Header`] followed by what it
/// runs (`M`, a `Spawned<F, T>`: closure and result slot). `repr(C)` puts
/// the header first, so a pointer to the cell is a pointer to the header
/// and the scheduler can hold goroutines by a thin [`GRef`], like tokio's
/// raw tasks, instead of a fat `Arc<dyn ...>` whose every field access
/// would first look up the alignment in a vtable. Dead cells are recycled
/// through their worker's cache (`sched/gfree.rs`, Go's `gFree`).
#[repr(C)]
pub(crate) struct GCell<M> {
    hdr: Header,
    pub(crate) main: M,
}

/// A goroutine, as the scheduler sees it: its header.
pub(crate) type G = Header;

/// Type-specific operations on a goroutine's cell.
pub(crate) struct Vtable {
    run: unsafe fn(NonNull<Header>),
    abandon: unsafe fn(NonNull<Header>, String),
    dealloc: unsafe fn(NonNull<Header>),
}

struct VtableOf<M>(PhantomData<M>);

impl<M: Main> VtableOf<M> {
    const VTABLE: Vtable = Vtable {
        run: run_main::<M>,
        abandon: abandon_main::<M>,
        dealloc: dealloc_cell::<M>,
    };
}

/// # Safety
/// `h` is the header of a live `GCell<M>`.
unsafe fn run_main<M: Main>(h: NonNull<Header>) {
    // SAFETY: `GCell<M>` is repr(C) with the header first, and the caller
    // guarantees this header belongs to a live `GCell<M>`.
    unsafe { h.cast::<GCell<M>>().as_ref() }.main.run();
}

/// # Safety
/// As `run_main`.
unsafe fn abandon_main<M: Main>(h: NonNull<Header>, why: String) {
    // SAFETY: as in `run_main`.
    unsafe { h.cast::<GCell<M>>().as_ref() }.main.abandon(why);
}

/// Drops a goroutine's cell and recycles its memory (see [`free_cell`]).
///
/// If a drop in the cell panics, the memory is leaked rather than reused.
///
/// # Safety
/// `h` is the header of a `GCell<M>` allocated by [`GRef::new`] whose last
/// reference is gone.
unsafe fn dealloc_cell<M: Main>(h: NonNull<Header>) {
    let cell = h.cast::<GCell<M>>();
    // SAFETY: `GRef::new` initialised the cell, nobody refers to it any
    // more, and the last reference calls this exactly once, so its contents
    // are dropped exactly once.
    unsafe { std::ptr::drop_in_place(cell.as_ptr()) };
    // SAFETY: `alloc_cell` allocated the cell for a `GCell<M>` (`GRef::new`);
    // its contents were just dropped and nothing refers to it.
    unsafe { free_cell(cell.cast(), Layout::new::<GCell<M>>()) };
}

/// Memory for a new `GCell<M>`, uninitialised: for the common sizes, a
/// cell from the spawning worker's cell memory, or off the workers from
/// the global cell lists (`sched/gfree.rs`); else from the global
/// allocator.
fn alloc_cell<M>(local: Option<&Local>) -> NonNull<GCell<M>> {
    let layout = Layout::new::<GCell<M>>();
    if let Some(class) = gfree::class_of(layout) {
        // Never busy here (nothing that spawns runs while it is borrowed);
        // the global lists serve as well if it were.
        return match local.and_then(|l| l.gfree.try_borrow_mut().ok()) {
            Some(mut free) => free.take(class).cast(),
            None => gfree::take_global(class).cast(),
        };
    }
    // SAFETY: `layout` is not zero-sized: every cell holds a `Header`.
    let p = unsafe { std::alloc::alloc(layout) };
    match NonNull::new(p) {
        Some(p) => p.cast(),
        None => std::alloc::handle_alloc_error(layout),
    }
}

/// Gives a dead cell back: to the cell lists of the worker this runs on,
/// to the global cell lists off the workers, or, for the sizes the lists
/// do not serve, to the global allocator.
///
/// # Safety
/// `cell` was allocated by `alloc_cell` for a `GCell` of `layout`, nothing
/// refers to it any more, and its contents have been dropped.
unsafe fn free_cell(cell: NonNull<u8>, layout: Layout) {
    let Some(class) = gfree::class_of(layout) else {
        // SAFETY: `alloc_cell` used the global allocator with exactly
        // `layout` for cells of no class; the cell is unused.
        unsafe { std::alloc::dealloc(cell.as_ptr(), layout) };
        return;
    };
    // Looked up only now, after the contents' drops ran: those may have
    // parked a migratable goroutine that then resumed on another worker.
    match current_local().and_then(|l| l.gfree.try_borrow_mut().ok()) {
        // SAFETY: `alloc_cell` took this cell for this class from some P's
        // lists or the global ones; the caller guarantees it is unused and
        // its contents dropped.
        Some(mut free) => unsafe { free.put(cell, class) },
        // SAFETY: as above.
        None => unsafe { gfree::orphan(cell, class) },
    }
}

/// Everything about a goroutine except what it runs.
pub(crate) struct Header {
    /// References to this cell ([`GRef`]s, including the one a parked
    /// goroutine holds on itself).
    refs: AtomicUsize,
    vtable: &'static Vtable,
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
    /// Scratch state for the wait protocol the goroutine is in.
    pub(crate) wait: WaitSlot,
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

/// Settings a goroutine is created with.
pub(crate) struct Spec {
    pub(crate) id: GoroutineId,
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: usize,
    pub(crate) migratable: bool,
    pub(crate) spawn_site: &'static Location<'static>,
}

/// An owned, counted reference to a goroutine (the `Arc` of goroutines).
pub(crate) struct GRef(NonNull<Header>);

// SAFETY: a `GRef` only hands out `&Header`, which is Send + Sync, and the
// count is atomic; the `Main` inside is Send + Sync by the trait bound.
unsafe impl Send for GRef {}
// SAFETY: as above.
unsafe impl Sync for GRef {}

impl GRef {
    /// Allocates a goroutine running `main`, reusing a free cell of
    /// `local`, the spawning worker's P, if it has one. Also returns a
    /// typed pointer to the cell, valid for as long as some `GRef` to it
    /// lives.
    #[inline]
    pub(crate) fn new<M: Main>(
        spec: Spec,
        main: M,
        local: Option<&Local>,
    ) -> (GRef, NonNull<GCell<M>>) {
        // Memory first, then the cell written straight into it: built the
        // other way round, the whole cell was assembled on the stack and
        // copied over (a `memcpy` of ~60 instructions per spawn).
        let typed = alloc_cell::<M>(local);
        // SAFETY: `alloc_cell` returns memory that is valid for writes of a
        // `GCell<M>`, aligned for it and owned by us (uninitialised, be it
        // fresh or recycled). `write` initialises every field, and nothing
        // reads the old bytes.
        unsafe {
            typed.as_ptr().write(GCell {
                hdr: Header {
                    refs: AtomicUsize::new(1),
                    vtable: &VtableOf::<M>::VTABLE,
                    id: spec.id,
                    name: spec.name,
                    spawn_site: spec.spawn_site,
                    stack_size: spec.stack_size,
                    migratable: spec.migratable,
                    permit: Permit::new(),
                    home: AtomicUsize::new(NO_HOME),
                    timer_seq: AtomicU64::new(0),
                    hog_reported: AtomicBool::new(false),
                    body: UnsafeCell::new(Body::Unstarted),
                    yielder: Cell::new(std::ptr::null()),
                    wait: WaitSlot::default(),
                },
                main,
            })
        };
        (GRef(typed.cast()), typed)
    }

    /// The header's address (stable for the goroutine's life).
    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }

    /// Gives up this reference without decrementing the count.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    /// # Safety
    /// `p` came from [`into_raw`](Self::into_raw) and that reference is
    /// given back exactly once.
    pub(crate) unsafe fn from_raw(p: NonNull<Header>) -> GRef {
        GRef(p)
    }

    /// A new counted reference to the goroutine `h`.
    ///
    /// # Safety
    /// `h` is the header of a goroutine some `GRef` keeps alive for the
    /// duration of this call.
    pub(crate) unsafe fn clone_from(h: &Header) -> GRef {
        h.retain();
        GRef(NonNull::from(h))
    }
}

impl Clone for GRef {
    fn clone(&self) -> GRef {
        self.retain();
        GRef(self.0)
    }
}

impl Drop for GRef {
    fn drop(&mut self) {
        if self.refs.fetch_sub(1, Release) != 1 {
            return;
        }
        // Synchronise with every earlier release of a reference (as Arc).
        fence(Acquire);
        let dealloc = self.vtable.dealloc;
        // SAFETY: this was the last reference; the cell came from `new`.
        unsafe { dealloc(self.0) };
    }
}

impl std::ops::Deref for GRef {
    type Target = Header;

    #[inline]
    fn deref(&self) -> &Header {
        // SAFETY: the cell lives as long as any `GRef` to it.
        unsafe { self.0.as_ref() }
    }
}

impl Header {
    fn retain(&self) {
        // As `Arc`: a count past isize::MAX means leaked references; abort
        // rather than overflow into a use-after-free.
        if self.refs.fetch_add(1, Relaxed) > isize::MAX as usize {
            std::process::abort();
        }
    }

    /// Runs the goroutine's closure (on its own stack).
    pub(crate) fn run_main(&self) {
        // SAFETY: `self` is the header of a live cell built by `GRef::new`
        // with this vtable.
        unsafe { (self.vtable.run)(NonNull::from(self)) }
    }

    /// Reports that the goroutine could not start.
    pub(crate) fn abandon_main(&self, why: String) {
        // SAFETY: as in `run_main`.
        unsafe { (self.vtable.abandon)(NonNull::from(self), why) }
    }

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
    ///
    /// Inlined, as is `yield_now` around it, for the CPU's return-address
    /// predictor. corosensei resumes a goroutine with a `call` into its
    /// stack and suspends it with a `ret` back to the worker, so the
    /// predictor's top entry is right only if the goroutine made no
    /// unmatched return in between. Every frame the goroutine returns
    /// through after a resume, up to its next suspension, is such a return:
    /// two mispredicted returns per switch when `yield_now` was a call of
    /// its own, measured at ~20 ns of a 25 ns yield, against ~5 ns inlined
    /// (GAPS §6). Inlining is as sound as the call was: goroutine code may
    /// keep a thread-local's address across either (the soundness rule,
    /// DESIGN §3), and runtime code reads no thread-local after a switch.
    #[inline]
    pub(crate) fn suspend(&self, why: Suspend) {
        let y = self.yielder.get();
        debug_assert!(!y.is_null());
        // SAFETY: we are running on this goroutine's stack (the caller got
        // `self` from `current_g`), and the yielder lives at the base of that
        // stack for as long as the coroutine exists.
        unsafe { (*y).suspend(why) }
    }

    /// Parks the calling goroutine, which must be `self`.
    ///
    /// The deadline is left in the P of the worker this runs on, which is
    /// the thread that resumed the goroutine and that reads it right after
    /// the switch (it used to live in every goroutine's header: 16 bytes of
    /// each cell, for the few parks that have a deadline).
    #[inline]
    pub(crate) fn suspend_parked(&self, deadline: Option<Instant>) {
        match deadline {
            None => self.suspend(Suspend::Park),
            Some(at) => {
                current_local()
                    .expect("a goroutine runs on a worker")
                    .park_deadline
                    .set(Some(at));
                self.suspend(Suspend::ParkUntil);
            }
        }
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
    // worker holds a `GRef` to it for as long as it runs, which is longer than
    // any use by the goroutine's own code. The 'static lifetime never
    // escapes the goroutine (callers use it within one operation).
    Some(unsafe { p.as_ref() })
}

/// A counted reference to the goroutine running on this thread.
pub(crate) fn current_ref() -> Option<GRef> {
    // SAFETY: the running goroutine is kept alive by its worker's `GRef`.
    current_g().map(|g| unsafe { GRef::clone_from(g) })
}

/// Only the scheduler (on its own stack, which never changes thread) sets
/// this, so it may be inlined.
#[inline]
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
    pub(crate) g: GRef,
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
    current_ref().map(|g| Goroutine { g })
}
