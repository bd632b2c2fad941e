//! The blocking interface every gofer primitive is built on: park the
//! current task, unpark a task from anywhere, know who "current" is.
//!
//! A *task* is whatever is running: a goroutine, or a plain OS thread that
//! called into gofer. Parking a goroutine suspends it and frees its worker
//! for other goroutines; parking a thread blocks the thread. Both have the
//! same permit semantics (like [`std::thread::park`]):
//!
//! * [`Task::unpark`] makes a permit available; a later or concurrent park
//!   consumes it and returns at once, so an unpark that races with a park is
//!   never lost. Permits do not accumulate: many unparks before a park make
//!   one permit.
//! * A park may also return spuriously, so callers loop on their condition:
//!
//! ```
//! use gofer_runtime::park::{park, Task};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! let flag = Arc::new(AtomicBool::new(false));
//! let me = Task::current();
//! let f = flag.clone();
//! let h = gofer_runtime::spawn(move || {
//!     f.store(true, Ordering::Release);
//!     me.unpark();
//! });
//! while !flag.load(Ordering::Acquire) {
//!     park();
//! }
//! h.join().unwrap();
//! ```
//!
//! Unparking never runs the woken task inline and never blocks, so it may
//! be called while holding a lock. The identity of a task
//! ([`current_task_id`]) is the goroutine, not the thread: two goroutines
//! that share a worker thread are different tasks.

use crate::goroutine::{G, GRef, current_g, current_ref};
use crate::sched::parker::Parker;
use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

/// Identity of a task: a goroutine id, or a distinct id for each OS thread
/// that uses gofer. Never reused within a process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskId(u64);

/// Thread task ids have the top bit set; goroutine ids never do.
const THREAD_ID_BIT: u64 = 1 << 63;

impl TaskId {
    /// Is this the id of a goroutine (rather than of an OS thread)?
    pub fn is_goroutine(self) -> bool {
        self.0 & THREAD_ID_BIT == 0
    }

    /// The raw id.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_goroutine() {
            write!(f, "goroutine {}", self.0)
        } else {
            write!(f, "thread task {}", self.0 & !THREAD_ID_BIT)
        }
    }
}

/// Per-task state for wait protocols, in the task itself so that waiting
/// allocates nothing (Go keeps the same in its G: `selectDone`, `param`).
///
/// A task waits in at most one primitive at a time, so one slot suffices;
/// the primitive that starts a wait owns both words until the wait is over
/// and resets them when it starts. `gofer-chan` uses `state` as the select
/// word (0 = still waiting; whoever moves it away from 0 with a CAS decides
/// how the wait ends) and `packet` to hand a message pointer to the waiter.
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

/// A plain thread as a task.
struct ThreadTask {
    id: TaskId,
    parker: Parker,
    wait: WaitSlot,
    /// Counted in `PARKED_THREADS` right now. Whoever clears it takes the
    /// thread out of the count: the unparker, as soon as it hands over the
    /// permit — not the thread itself once it runs again, which on a
    /// starved machine can be many milliseconds later, long enough for
    /// sysmon to see a woken thread as still blocked and call a deadlock.
    counted: AtomicBool,
}

impl ThreadTask {
    fn new() -> ThreadTask {
        ThreadTask {
            id: TaskId(THREAD_ID_BIT | NEXT_THREAD_TASK.fetch_add(1, Relaxed)),
            parker: Parker::new(),
            wait: WaitSlot::default(),
            counted: AtomicBool::new(false),
        }
    }
}

static NEXT_THREAD_TASK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD_TASK: Arc<ThreadTask> = Arc::new(ThreadTask::new());
    /// The task of a thread whose `THREAD_TASK` is already destroyed (a
    /// thread-local destructor that blocks on a channel, say). Const and
    /// without a destructor, so it stays readable through the teardown.
    static LATE_TASK: Cell<*const ThreadTask> = const { Cell::new(std::ptr::null()) };
}

/// The calling thread's task.
fn thread_task() -> Arc<ThreadTask> {
    THREAD_TASK
        .try_with(Arc::clone)
        .unwrap_or_else(|_| late_task())
}

/// The calling thread's task once `THREAD_TASK` is gone: one per thread,
/// made on first use. It must be the same task every time: the task a
/// channel lists (`Task::with_current`) is the one `park_thread` must park
/// on, or the peer's unpark goes to a task nobody parks on and the wait
/// hangs (found in review: a destructor's `recv_timeout` slept to its
/// deadline with the message there). Its one reference is leaked: the
/// thread is exiting, and handles the peers still hold keep their own.
fn late_task() -> Arc<ThreadTask> {
    LATE_TASK.with(|late| {
        let mut p = late.get();
        if p.is_null() {
            p = Arc::into_raw(Arc::new(ThreadTask::new()));
            late.set(p);
        }
        // SAFETY: `p` came from `Arc::into_raw` above (on this thread) and
        // that reference is never given back, so the task is alive; the
        // new handle takes a count of its own.
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    })
}

/// A handle to a task that can unpark it from any thread.
#[derive(Clone)]
pub struct Task(Inner);

#[derive(Clone)]
enum Inner {
    Goroutine(GRef),
    Thread(Arc<ThreadTask>),
}

impl Task {
    /// The calling task: the running goroutine, or the calling thread.
    pub fn current() -> Task {
        match current_ref() {
            Some(g) => Task(Inner::Goroutine(g)),
            None => Task(Inner::Thread(thread_task())),
        }
    }

    /// Runs `f` with a handle to the calling task, borrowed: cheaper than
    /// [`current`](Task::current) (no reference count is touched) when the
    /// handle is only needed for the duration of the call. `f` may clone
    /// it to keep one.
    ///
    /// ```
    /// use gofer_runtime::park::{Task, current_task_id};
    /// let id = Task::with_current(|t| t.id());
    /// assert_eq!(id, current_task_id());
    /// ```
    ///
    /// Inlined, with `f` called from one place, so that a wait loop in `f`
    /// can be inlined into its caller as well (see
    /// [`park_current`](Task::park_current)).
    #[inline]
    pub fn with_current<R>(f: impl FnOnce(&Task) -> R) -> R {
        let task = match current_g() {
            // SAFETY: the running goroutine is kept alive by its worker for
            // as long as it runs, which covers this call; a borrowed `Lent`
            // never gives back the count it did not take.
            Some(g) => Lent::borrowed(Task(Inner::Goroutine(unsafe {
                GRef::from_raw(NonNull::from(g))
            }))),
            None => Lent::thread(),
        };
        f(&task.task)
    }

    /// Parks the calling task, which this handle must be, until its permit
    /// is available (then consumes it) or `deadline` has passed: [`park`]
    /// and [`park_deadline`] for a caller that holds its own handle, such
    /// as a wait loop inside [`with_current`](Task::with_current). May
    /// return spuriously.
    ///
    /// Two things make it cheaper than [`park`] in a loop that waits on
    /// some condition. It does not look up the current task again (a
    /// thread-local access that is not inlined, see `goroutine::current_g`).
    /// And it is inlined, so a goroutine's switch sits in its caller's
    /// frame: corosensei resumes a goroutine with a `call` and suspends it
    /// with a `ret`, and every frame the goroutine returns through between
    /// a resume and its next suspension costs a mispredicted return
    /// (GAPS §6). `park` itself stays a call: inlined everywhere it is
    /// used, it made spawn + join costlier (GAPS §7).
    ///
    /// # Safety
    ///
    /// `self` is a handle to the calling task: the one `with_current` lent
    /// to this call, or a clone of it or of [`Task::current`] taken by this
    /// same task. For a goroutine, parking suspends the coroutine the
    /// handle names, through the yielder on that coroutine's stack; called
    /// with another goroutine's handle, it would switch away from a stack
    /// that is not the one running.
    #[inline]
    pub unsafe fn park_current(&self, deadline: Option<Instant>) {
        debug_assert!(
            match (&self.0, current_g()) {
                (Inner::Goroutine(g), Some(cur)) => std::ptr::eq::<G>(&**g, cur),
                (Inner::Thread(_), None) => true,
                _ => false,
            },
            "park_current: not the calling task's handle"
        );
        match &self.0 {
            Inner::Goroutine(g) => park_goroutine(g, deadline),
            Inner::Thread(t) => park_thread_task(t, deadline),
        }
    }

    /// Makes the task's permit available, waking it if it is parked.
    /// Never blocks and never runs the task inline.
    pub fn unpark(&self) {
        match &self.0 {
            Inner::Goroutine(g) => crate::sched::unpark_g(g, true),
            Inner::Thread(t) => {
                t.parker.unpark();
                t.uncount();
            }
        }
    }

    /// The task's identity.
    pub fn id(&self) -> TaskId {
        match &self.0 {
            Inner::Goroutine(g) => TaskId(g.id.as_u64()),
            Inner::Thread(t) => t.id,
        }
    }

    /// Is the task a goroutine?
    pub fn is_goroutine(&self) -> bool {
        matches!(self.0, Inner::Goroutine(_))
    }

    /// The task's [`WaitSlot`].
    pub fn wait_slot(&self) -> &WaitSlot {
        match &self.0 {
            Inner::Goroutine(g) => &g.wait,
            Inner::Thread(t) => &t.wait,
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Task").field(&self.id()).finish()
    }
}

/// The handle [`Task::with_current`] lends: borrowed (the reference it
/// stands for is never given back), or, while thread-locals are torn
/// down, a fresh one of its own, dropped with it.
struct Lent {
    task: ManuallyDrop<Task>,
    owned: bool,
}

impl Lent {
    /// A handle whose reference count was not taken for it.
    #[inline]
    fn borrowed(task: Task) -> Lent {
        Lent {
            task: ManuallyDrop::new(task),
            owned: false,
        }
    }

    /// The calling thread's task.
    #[cold]
    #[inline(never)]
    fn thread() -> Lent {
        THREAD_TASK
            .try_with(|t| {
                // SAFETY: the thread-local `Arc` outlives the call of
                // `with_current` on this thread.
                Lent::borrowed(Task(Inner::Thread(unsafe {
                    Arc::from_raw(Arc::as_ptr(t))
                })))
            })
            // Thread-locals are being torn down: the thread's late task,
            // the one `park` parks on too.
            .unwrap_or_else(|_| Lent {
                task: ManuallyDrop::new(Task(Inner::Thread(late_task()))),
                owned: true,
            })
    }
}

impl Drop for Lent {
    #[inline]
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: an owned handle, dropped once, here.
            unsafe { ManuallyDrop::drop(&mut self.task) }
        }
    }
}

/// The calling task's id (goroutine id inside a goroutine).
pub fn current_task_id() -> TaskId {
    match current_g() {
        Some(g) => TaskId(g.id.as_u64()),
        None => thread_task().id,
    }
}

/// Is the caller a goroutine?
pub fn in_goroutine() -> bool {
    current_g().is_some()
}

/// Parks the current task until its permit is available (then consumes
/// it). May return spuriously.
pub fn park() {
    park_inner(None)
}

/// Like [`park`], but also returns once `deadline` has passed.
pub fn park_deadline(deadline: Instant) {
    park_inner(Some(deadline))
}

/// Like [`park`], but also returns after `timeout`.
pub fn park_timeout(timeout: Duration) {
    park_inner(Instant::now().checked_add(timeout))
}

fn park_inner(deadline: Option<Instant>) {
    match current_g() {
        Some(g) => park_goroutine(g, deadline),
        None => park_thread(deadline),
    }
}

/// Parks goroutine `g`, which must be the caller.
///
/// `#[inline]` so that [`Task::park_current`] puts the switch straight
/// into its caller's wait loop (see there); [`park`] keeps it behind one
/// out-of-line call, `park_inner`, as before.
#[inline]
fn park_goroutine(g: &G, deadline: Option<Instant>) {
    if g.permit.try_take() {
        return;
    }
    if let Some(d) = deadline
        && Instant::now() >= d
    {
        return;
    }
    if std::thread::panicking() {
        // A goroutine must not switch stacks while it unwinds: std keeps
        // the panic count per OS thread, and other goroutines on this
        // worker would see `panicking() == true` (and poison mutexes).
        // Block the worker thread instead, until unparked.
        return park_blocking_thread(g, deadline);
    }
    // Resumes with the permit consumed (see `permit.rs`).
    g.suspend_parked(deadline);
    if deadline.is_some() {
        // Turns this park's timer entry stale.
        g.timer_seq.fetch_add(1, Release);
    }
}

#[cold]
#[inline(never)]
fn park_blocking_thread(g: &G, deadline: Option<Instant>) {
    let parker = &crate::sched::runtime().workers[g.home()].parker;
    if !g.permit.commit_blocking() {
        g.permit.after_wake();
        return;
    }
    loop {
        parker.park(deadline);
        if !g.permit.cancel_blocking() {
            g.permit.after_wake();
            return;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        if !g.permit.commit_blocking() {
            g.permit.after_wake();
            return;
        }
    }
}

/// Plain threads blocked indefinitely in a gofer park right now: sysmon's
/// deadlock check knows they cannot be what wakes anybody.
static PARKED_THREADS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn parked_threads() -> usize {
    PARKED_THREADS.load(SeqCst)
}

fn park_thread(deadline: Option<Instant>) {
    park_thread_task(&thread_task(), deadline)
}

/// Parks the calling thread, whose task `task` must be.
#[inline(never)]
fn park_thread_task(task: &ThreadTask, deadline: Option<Instant>) {
    if deadline.is_none() {
        // Count first, then mark: an unparker only uncounts a marked
        // thread, so the count never goes below the truth.
        PARKED_THREADS.fetch_add(1, SeqCst);
        task.counted.store(true, SeqCst);
        task.parker.park(None);
        task.uncount();
    } else {
        task.parker.park(deadline);
    }
}

impl ThreadTask {
    /// Takes the thread out of `PARKED_THREADS`, if it is in (once).
    fn uncount(&self) {
        if self.counted.swap(false, SeqCst) {
            PARKED_THREADS.fetch_sub(1, SeqCst);
        }
    }
}

/// How many [`consume_budget`] calls one run of a goroutine may make
/// before it is made to yield.
pub(crate) const BUDGET: u32 = 128;

/// A fairness point: call it at the start of every operation that *may*
/// block — a channel send or receive, a lock, a socket read — and never in
/// one that promises not to (`try_*`).
///
/// Goroutines are not preempted, so one whose operations never have to
/// wait (a receiver that always finds a message, a reader whose socket
/// always has data) would otherwise keep its worker from every goroutine
/// homed there for as long as that lasts. Each run of a goroutine gets a
/// budget of 128 such operations; the call that finds it spent yields
/// first, and the next run starts afresh (tokio's coop budget, in place of
/// Go's preemption). Yielding here is safe exactly because the operation
/// could have parked anyway. A plain thread has no budget.
#[inline]
pub fn consume_budget() {
    if let Some(local) = crate::sched::processor::current_local() {
        let left = local.budget.get();
        if left > 0 {
            local.budget.set(left - 1);
        } else {
            budget_spent();
        }
    }
}

/// The yield of a spent budget, out of line: inlined into every channel
/// operation, the switch made each of them save and restore all
/// callee-saved registers (it clobbers them), once per 128 calls used.
#[cold]
#[inline(never)]
fn budget_spent() {
    if current_g().is_some() {
        crate::yield_now();
    }
}

/// One step of a spin-wait on another task's progress. In a goroutine it
/// yields to the scheduler (the task being waited for may need this very
/// worker); on a thread it yields the CPU.
pub fn relax() {
    if in_goroutine() {
        crate::yield_now();
    } else {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handle `with_current` lends parks its own task, in a goroutine
    /// and on a plain thread, and an unpark through a clone of it wakes it.
    #[test]
    fn park_current_parks_the_lent_handle_and_unpark_wakes_it() {
        fn wait_for(flag: &AtomicBool) {
            Task::with_current(|me| {
                while !flag.load(Acquire) {
                    // SAFETY: `me` is the handle lent to this very task.
                    unsafe { me.park_current(None) };
                }
            })
        }
        let in_goroutine = crate::spawn(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let (f, me) = (flag.clone(), Task::current());
            let waker = crate::spawn(move || {
                f.store(true, Release);
                me.unpark();
            });
            wait_for(&flag);
            waker.join().unwrap();
        });
        in_goroutine.join().unwrap();

        let flag = Arc::new(AtomicBool::new(false));
        let (f, me) = (flag.clone(), Task::current());
        let waker = std::thread::spawn(move || {
            f.store(true, Release);
            me.unpark();
        });
        wait_for(&flag);
        waker.join().unwrap();
        // A deadline in the past returns at once.
        Task::with_current(|me| {
            // SAFETY: as above.
            unsafe { me.park_current(Some(Instant::now())) }
        });
    }

    /// sysmon's deadlock check counts threads parked in gofer; one that
    /// has been unparked must leave the count at once, not when the OS
    /// gets round to running it again (on a starved machine, a false
    /// "all goroutines are asleep" otherwise).
    #[test]
    fn an_unparked_thread_leaves_the_parked_count_before_it_runs() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            tx.send(Task::current()).unwrap();
            park();
        });
        let task = rx.recv().unwrap();
        let Inner::Thread(t) = &task.0 else {
            unreachable!("a plain thread's task")
        };
        // (The global count is shared with other tests; the flag is this
        // thread's share of it.)
        while !t.counted.load(SeqCst) {
            std::thread::yield_now();
        }
        task.unpark();
        assert!(!t.counted.load(SeqCst), "still counted until it runs");
        sleeper.join().unwrap();
        assert!(!t.counted.load(SeqCst));
    }
}
