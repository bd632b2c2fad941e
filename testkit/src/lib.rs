//! Test machinery shared by gofer's crates: run one test body with its
//! tasks as threads, as goroutines, or mixed, so that every blocking
//! operation is checked from both worlds (not a public API; a dev-dependency
//! of `gofer-chan` and `gofer-sync`, whose `tests/common` re-export it and
//! add their own helpers and the `mode_tests!` macro).
//!
//! [`scope`] is shaped like `std::thread::scope`: the body and every task
//! it spawns may borrow from the caller, and all tasks are joined before
//! it returns. In goroutine modes the body itself runs in a goroutine too,
//! so that "the main side" of a test blocks as a goroutine.

use std::panic::resume_unwind;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
pub use std::time::{Duration, Instant};

/// Milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A generous upper bound for anything that should happen "soon": only a
/// hang (or a lost wakeup) takes this long.
pub const LONG: Duration = Duration::from_secs(10);

/// Where the tasks of a test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The body and every spawned task are OS threads.
    Threads,
    /// The body and every spawned task are goroutines.
    Goroutines,
    /// The body is a thread; spawned tasks alternate goroutine, thread,
    /// goroutine, ... (so a "producer, then consumer" pair is goroutine →
    /// thread, and a body talking to one peer talks to a goroutine).
    Mixed,
    /// The body is a goroutine; spawned tasks alternate thread, goroutine,
    /// thread, ... (the reverse of `Mixed`).
    MixedRev,
}

/// What one task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A plain OS thread.
    Thread,
    /// A gofer goroutine.
    Goroutine,
}

impl Mode {
    /// The mode named by a test variant (`threads`, `goroutines`, `mixed`,
    /// `mixed_rev`).
    pub fn from_name(name: &str) -> Mode {
        match name {
            "threads" => Mode::Threads,
            "goroutines" => Mode::Goroutines,
            "mixed" => Mode::Mixed,
            "mixed_rev" => Mode::MixedRev,
            other => panic!("unknown test mode `{other}`"),
        }
    }

    /// What the body of [`scope`] runs as.
    pub fn body(self) -> Kind {
        match self {
            Mode::Threads | Mode::Mixed => Kind::Thread,
            Mode::Goroutines | Mode::MixedRev => Kind::Goroutine,
        }
    }

    /// What the `n`-th task spawned in a scope (from 0) runs as.
    pub fn nth(self, n: usize) -> Kind {
        match self {
            Mode::Threads => Kind::Thread,
            Mode::Goroutines => Kind::Goroutine,
            Mode::Mixed if n.is_multiple_of(2) => Kind::Goroutine,
            Mode::Mixed => Kind::Thread,
            Mode::MixedRev if n.is_multiple_of(2) => Kind::Thread,
            Mode::MixedRev => Kind::Goroutine,
        }
    }
}

/// Is the caller a goroutine?
pub fn in_goroutine() -> bool {
    gofer_runtime::park::in_goroutine()
}

/// Sleeps the calling task (a goroutine parks; a thread sleeps).
pub fn sleep(d: Duration) {
    gofer_runtime::sleep(d)
}

/// One step of a busy loop. Goroutines are not preempted, so a goroutine
/// that polls must let the others of its worker run; a thread yields.
pub fn relax() {
    gofer_runtime::yield_now()
}

/// Checks that a task runs where its mode says it should, then runs it.
fn placed<F: FnOnce() -> T, T>(kind: Kind, f: F) -> impl FnOnce() -> T {
    move || {
        assert_eq!(
            in_goroutine(),
            kind == Kind::Goroutine,
            "the test harness put a task in the wrong place"
        );
        f()
    }
}

/// Before a goroutine joins an OS thread: `std`'s join would block the
/// goroutine's worker (and every goroutine queued on it, possibly the one
/// the thread waits for), so a goroutine polls, parking in between.
fn wait_until_finished(finished: impl Fn() -> bool) {
    if in_goroutine() {
        while !finished() {
            sleep(Duration::from_micros(200));
        }
    }
}

/// A scope to spawn threads and goroutines in; see [`scope`].
pub struct Scope<'o, 'i, 'env: 'o + 'i> {
    mode: Mode,
    threads: &'o std::thread::Scope<'o, 'env>,
    goroutines: &'i gofer_runtime::Scope<'i, 'env>,
    spawned: AtomicUsize,
}

/// A scoped task of either kind.
pub enum Handle<'o, 'i, T> {
    /// A thread.
    Thread(std::thread::ScopedJoinHandle<'o, T>),
    /// A goroutine.
    Goroutine(gofer_runtime::ScopedJoinHandle<'i, T>),
}

impl<T> Handle<'_, '_, T> {
    /// Waits for the task; re-raises its panic, if it panicked.
    pub fn join(self) -> T {
        let r = match self {
            Handle::Thread(h) => {
                wait_until_finished(|| h.is_finished());
                h.join()
            }
            Handle::Goroutine(h) => h.join(),
        };
        r.unwrap_or_else(|p| resume_unwind(p))
    }

    /// Has the task finished?
    pub fn is_finished(&self) -> bool {
        match self {
            Handle::Thread(h) => h.is_finished(),
            Handle::Goroutine(h) => h.is_finished(),
        }
    }
}

impl<'o, 'i, 'env> Scope<'o, 'i, 'env> {
    /// The mode this scope runs in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Spawns the next task, as a thread or a goroutine as the mode says.
    pub fn spawn<F, T>(&self, f: F) -> Handle<'o, 'i, T>
    where
        F: FnOnce() -> T + Send + 'o + 'i,
        T: Send + 'o + 'i,
    {
        let n = self.spawned.fetch_add(1, SeqCst);
        self.spawn_as(self.mode.nth(n), f)
    }

    /// Spawns a task of the given kind, whatever the mode.
    pub fn spawn_as<F, T>(&self, kind: Kind, f: F) -> Handle<'o, 'i, T>
    where
        F: FnOnce() -> T + Send + 'o + 'i,
        T: Send + 'o + 'i,
    {
        match kind {
            Kind::Thread => Handle::Thread(self.threads.spawn(placed(kind, f))),
            Kind::Goroutine => Handle::Goroutine(self.goroutines.spawn(placed(kind, f))),
        }
    }
}

/// Runs `f` with a scope in which it can spawn borrowing threads and
/// goroutines; joins them all before returning. In modes whose body is a
/// goroutine ([`Mode::body`]), `f` itself runs in a goroutine. A panic of
/// the body or of an unjoined task is re-raised.
pub fn scope<'env, F, R>(mode: Mode, f: F) -> R
where
    F: for<'o, 'i> FnOnce(&Scope<'o, 'i, 'env>) -> R + Send,
    R: Send,
{
    std::thread::scope(|threads: &std::thread::Scope<'_, 'env>| {
        gofer_runtime::scope(|goroutines: &gofer_runtime::Scope<'_, 'env>| {
            let sc = Scope {
                mode,
                threads,
                goroutines,
                spawned: AtomicUsize::new(0),
            };
            match mode.body() {
                Kind::Thread => placed(Kind::Thread, || f(&sc))(),
                Kind::Goroutine => gofer_runtime::scope(|body| {
                    body.spawn(placed(Kind::Goroutine, || f(&sc)))
                        .join()
                        .unwrap_or_else(|p| resume_unwind(p))
                }),
            }
        })
    })
}

/// Runs `f` as the body of a scope that spawns nothing: on the test thread
/// or in a goroutine, as `mode` says.
pub fn run<F, R>(mode: Mode, f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    scope(mode, |_| f())
}

/// A `'static` task of either kind, for tests that need one to outlive
/// the code that spawned it.
pub enum StaticHandle<T> {
    /// A thread.
    Thread(std::thread::JoinHandle<T>),
    /// A goroutine.
    Goroutine(gofer_runtime::JoinHandle<T>),
}

impl<T> StaticHandle<T> {
    /// Waits for the task; re-raises its panic, if it panicked.
    pub fn join(self) -> T {
        let r = match self {
            StaticHandle::Thread(h) => {
                wait_until_finished(|| h.is_finished());
                h.join()
            }
            StaticHandle::Goroutine(h) => h.join(),
        };
        r.unwrap_or_else(|p| resume_unwind(p))
    }
}

/// Spawns a `'static` task of the given kind.
pub fn spawn_static<F, T>(kind: Kind, f: F) -> StaticHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match kind {
        Kind::Thread => StaticHandle::Thread(std::thread::spawn(placed(kind, f))),
        Kind::Goroutine => StaticHandle::Goroutine(gofer_runtime::spawn(placed(kind, f))),
    }
}

/// Per-value tally of received messages: checks that every value in
/// `0..n` was received exactly `times` times.
pub struct Tally(Vec<AtomicUsize>);

impl Tally {
    /// A tally for values `0..n`.
    pub fn new(n: usize) -> Tally {
        Tally((0..n).map(|_| AtomicUsize::new(0)).collect())
    }

    /// Records one receipt of `v`.
    pub fn hit(&self, v: usize) {
        self.0[v].fetch_add(1, SeqCst);
    }

    /// Asserts every value was received exactly `times` times.
    pub fn assert_each(&self, times: usize) {
        for (v, c) in self.0.iter().enumerate() {
            let c = c.load(SeqCst);
            assert_eq!(c, times, "value {v} received {c} times, expected {times}");
        }
    }
}

/// Asserts that `elapsed` is not below `at_least` (a timeout never fires
/// early) and below the generous [`LONG`] (it fires at all).
#[track_caller]
pub fn assert_waited(elapsed: Duration, at_least: Duration) {
    assert!(
        elapsed >= at_least,
        "returned after {elapsed:?}, before the {at_least:?} it had to wait"
    );
    assert!(elapsed < LONG, "took {elapsed:?}");
}

/// How long a test may run before [`watchdog`] calls it hung. Far above
/// what any test here needs (the slowest takes about a second in a debug
/// build), so only a hang reaches it.
pub const HANG: Duration = Duration::from_secs(30);

/// Runs `f` on its own thread and waits for it at most [`HANG`]: a panic
/// in `f` is re-raised; a hang fails the test (the stuck thread and its
/// goroutines are leaked) instead of stalling the suite.
#[track_caller]
pub fn watchdog<F: FnOnce() + Send + 'static>(f: F) {
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    let (done, finished) = std::sync::mpsc::channel();
    let body = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = done.send(());
            r
        })
        .expect("spawn a test thread");
    match finished.recv_timeout(HANG) {
        Ok(()) => {
            if let Err(p) = body.join().expect("the test thread catches panics") {
                resume_unwind(p);
            }
        }
        Err(_) => {
            panic!("{name}: still running after {HANG:?}: hung (a lost wakeup or a deadlock)")
        }
    }
}
