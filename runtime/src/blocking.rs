//! `gofer::blocking`: run code that blocks its OS thread (file I/O, DNS,
//! FFI, heavy computation) on a pool thread while the goroutine parks, so
//! its worker keeps running other goroutines.
//!
//! The pool grows on demand up to 512 threads and lets a thread go after
//! 10 s idle (tokio's numbers). Jobs live on the calling goroutine's stack:
//! the goroutine cannot go anywhere until the job is done, so the closure
//! may borrow from it.

use crate::park::{Task, park};
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::thread;
use std::time::Duration;

const MAX_THREADS: usize = 512;
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Runs `f` where blocking is harmless, and returns its result.
///
/// From a goroutine, `f` runs on a pool thread and the goroutine parks
/// until it returns; other goroutines keep running on the worker
/// meanwhile. From a plain thread, `f` just runs. A panic in `f` resumes
/// in the caller.
///
/// ```
/// let h = gofer_runtime::spawn(|| {
///     gofer_runtime::blocking(|| std::fs::metadata("/").is_ok())
/// });
/// assert!(h.join().unwrap());
/// ```
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    if !crate::park::in_goroutine() {
        return f();
    }
    let job = Job {
        f: UnsafeCell::new(Some(f)),
        result: UnsafeCell::new(None),
        done: AtomicBool::new(false),
        task: Task::current(),
    };
    let erased: *const (dyn Run + '_) = &job;
    // SAFETY: only the lifetime is erased. `job` lives on this goroutine's
    // stack, and this function does not return (nor can the goroutine be
    // dropped: parked goroutines are never destroyed) until `done` is set,
    // which is the pool's last access to the job.
    let erased: *const (dyn Run + 'static) = unsafe { std::mem::transmute(erased) };
    if !pool().submit(JobPtr(erased)) {
        // No pool thread can be started: run it here rather than hang. The
        // worker blocks, which is what the caller had without gofer.
        let f = job.f.into_inner().expect("job not taken");
        return f();
    }
    while !job.done.load(Acquire) {
        park();
    }
    IN_FLIGHT.fetch_sub(1, SeqCst);
    // SAFETY: `done` (Acquire) orders the pool's write of `result` before
    // this read, and the pool no longer touches the job.
    match unsafe { (*job.result.get()).take() } {
        Some(Ok(r)) => r,
        Some(Err(payload)) => resume_unwind(payload),
        None => unreachable!("blocking job finished without a result"),
    }
}

/// Blocking calls currently running on the pool (deadlock detection must
/// not fire while one could still wake a goroutine).
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn in_flight() -> usize {
    IN_FLIGHT.load(SeqCst)
}

struct Job<F, R> {
    f: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<thread::Result<R>>>,
    done: AtomicBool,
    task: Task,
}

trait Run {
    /// Runs the job. Called once, by one pool thread.
    fn run(&self);
}

impl<F: FnOnce() -> R + Send, R: Send> Run for Job<F, R> {
    fn run(&self) {
        // SAFETY: the submitting goroutine does not touch `f` or `result`
        // until `done`; only this pool thread runs the job.
        let f = unsafe { (*self.f.get()).take() }.expect("blocking job run twice");
        let result = catch_unwind(AssertUnwindSafe(f));
        // SAFETY: as above.
        unsafe { *self.result.get() = Some(result) };
        // Clone the task first: once `done` is set the job may vanish.
        let task = self.task.clone();
        self.done.store(true, Release);
        task.unpark();
    }
}

struct JobPtr(*const (dyn Run + 'static));

// SAFETY: the pointee is `Job<F, R>` with `F: Send, R: Send`; its
// goroutine waits for it, so it is valid until `run` sets `done`.
unsafe impl Send for JobPtr {}

struct Pool {
    tx: Sender<JobPtr>,
    rx: Receiver<JobPtr>,
    threads: AtomicUsize,
    idle: AtomicUsize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = unbounded();
        Pool {
            tx,
            rx,
            threads: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
        }
    })
}

/// Number of threads in the blocking pool (sysmon counts them as known).
pub(crate) fn pool_threads() -> usize {
    match POOL_STARTED.load(Relaxed) {
        false => 0,
        true => pool().threads.load(SeqCst),
    }
}

static POOL_STARTED: AtomicBool = AtomicBool::new(false);

impl Pool {
    /// Queues a job, first making sure some thread will run it. `false`
    /// (job not queued) if the pool has no thread and cannot start one.
    fn submit(&'static self, job: JobPtr) -> bool {
        POOL_STARTED.store(true, Relaxed);
        if self.idle.load(SeqCst) == 0 && !self.grow() && self.threads.load(SeqCst) == 0 {
            return false;
        }
        IN_FLIGHT.fetch_add(1, SeqCst);
        self.tx
            .send(job)
            .expect("the blocking pool's queue never closes");
        true
    }

    /// Starts one more pool thread, up to the limit; `false` if none was
    /// started.
    fn grow(&'static self) -> bool {
        let n = self.threads.fetch_add(1, SeqCst);
        if n >= MAX_THREADS {
            // Enough threads; the job waits for one of them.
            self.threads.fetch_sub(1, SeqCst);
            return false;
        }
        let spawned = thread::Builder::new()
            .name("gofer-blocking".into())
            .spawn(move || self.serve());
        match spawned {
            Ok(_) => true,
            Err(e) => {
                self.threads.fetch_sub(1, SeqCst);
                eprintln!("gofer: cannot start a blocking-pool thread: {e}");
                false
            }
        }
    }

    fn serve(&self) {
        loop {
            self.idle.fetch_add(1, SeqCst);
            let job = self.rx.recv_timeout(KEEP_ALIVE);
            self.idle.fetch_sub(1, SeqCst);
            match job {
                // SAFETY: see `JobPtr`: the job is alive until it is done.
                Ok(JobPtr(job)) => unsafe { (*job).run() },
                Err(_) => {
                    // Idle for KEEP_ALIVE: leave, unless a job slipped in.
                    if self.rx.is_empty() {
                        self.threads.fetch_sub(1, SeqCst);
                        return;
                    }
                }
            }
        }
    }
}
