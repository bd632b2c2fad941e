//! The scheduler: the global runtime, how goroutines become runnable, and
//! who gets woken to run them. The worker loop itself is in `worker.rs`,
//! per-worker state in `processor.rs`, the spinning protocol in `idle.rs`.

#[cfg(not(loom))]
pub(crate) mod gfree;
pub(crate) mod idle;
pub(crate) mod parker;
#[cfg(not(loom))]
pub(crate) mod processor;
#[cfg(not(loom))]
pub(crate) mod worker;

#[cfg(not(loom))]
pub(crate) use runtime::*;

#[cfg(not(loom))]
mod runtime {
    use super::idle::Idle;
    use super::parker::Parker;
    use super::processor::{Local, current_local};
    use crate::config::{self, Settings};
    use crate::goroutine::{GRef, Header};
    use crate::permit::Wake;
    use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
    use crossbeam_queue::SegQueue;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};

    /// What other threads may see and touch of a worker.
    pub(crate) struct WorkerShared {
        /// The worker thread sleeps here when it has nothing to run.
        pub(crate) parker: Parker,
        /// Started goroutines homed here, woken by other threads.
        pub(crate) inbox: SegQueue<GRef>,
        /// Steals from this worker's `fresh` queue.
        pub(crate) stealer: Stealer<GRef>,
        /// Bumped on every goroutine switch; sysmon watches it.
        pub(crate) tick: AtomicU64,
        /// The goroutine on CPU, or null in the scheduler or asleep.
        pub(crate) running: AtomicPtr<Header>,
        /// Armed timers in this worker's heap (for deadlock detection).
        pub(crate) timers: AtomicUsize,
        /// Goroutines spawned from / finished on this worker. Written only
        /// by the worker (load + store, no read-modify-write), summed by
        /// `num_goroutines`.
        pub(crate) spawned: AtomicU64,
        pub(crate) exited: AtomicU64,
    }

    impl WorkerShared {
        /// Owner-only increment: the worker is the only writer.
        #[inline]
        pub(crate) fn bump(counter: &AtomicU64) {
            counter.store(counter.load(Relaxed).wrapping_add(1), Release);
        }
    }

    /// The process-wide runtime.
    pub(crate) struct Runtime {
        pub(crate) settings: Settings,
        pub(crate) workers: Box<[WorkerShared]>,
        /// Stealable goroutines submitted from outside the workers.
        pub(crate) injector: Injector<GRef>,
        pub(crate) idle: Idle,
    }

    static RUNTIME: OnceLock<Runtime> = OnceLock::new();

    /// The runtime if it has started, without starting it.
    pub(crate) fn try_runtime() -> Option<&'static Runtime> {
        RUNTIME.get()
    }

    /// The runtime, started on first use.
    #[inline]
    pub(crate) fn runtime() -> &'static Runtime {
        match RUNTIME.get() {
            Some(rt) => rt,
            None => start(),
        }
    }

    /// Has the runtime started?
    pub(crate) fn started() -> bool {
        RUNTIME.get().is_some()
    }

    #[cold]
    fn start() -> &'static Runtime {
        let mut deques = Vec::new();
        let rt = RUNTIME.get_or_init(|| {
            let settings = config::settings();
            let n = settings.max_procs;
            deques = (0..n).map(|_| Deque::new_fifo()).collect::<Vec<_>>();
            let workers = deques
                .iter()
                .enumerate()
                .map(|(i, d): (usize, &Deque<GRef>)| WorkerShared {
                    parker: Parker::for_poll_shard(crate::hooks::poll_shard_of(i)),
                    inbox: SegQueue::new(),
                    stealer: d.stealer(),
                    tick: AtomicU64::new(0),
                    running: AtomicPtr::new(std::ptr::null_mut()),
                    timers: AtomicUsize::new(0),
                    spawned: AtomicU64::new(0),
                    exited: AtomicU64::new(0),
                })
                .collect();
            Runtime {
                settings,
                workers,
                injector: Injector::new(),
                idle: Idle::new(n),
            }
        });
        // Only the thread whose initialiser ran holds the deques, so the
        // threads are spawned exactly once, after RUNTIME is visible.
        if !deques.is_empty() {
            crate::stack::install_overflow_handler();
            for (index, deque) in deques.into_iter().enumerate() {
                std::thread::Builder::new()
                    .name(format!("gofer-worker-{index}"))
                    .spawn(move || super::worker::run(rt, index, deque))
                    .unwrap_or_else(|e| panic!("gofer: cannot start worker thread {index}: {e}"));
            }
            crate::sysmon::start(rt);
        }
        rt
    }

    impl Runtime {
        /// Go's `wakep`: wake one sleeping worker as a spinner if useful.
        pub(crate) fn wakep(&self) {
            if let Some(w) = self.idle.wake_spinner() {
                self.workers[w].parker.unpark();
            }
        }

        /// Takes a batch from the global queue into `local`, returning one.
        pub(crate) fn take_global(&self, local: &Local) -> Option<GRef> {
            loop {
                match local.steal_global(&self.injector) {
                    Steal::Success(g) => return Some(g),
                    Steal::Empty => return None,
                    Steal::Retry => continue,
                }
            }
        }
    }

    /// Queues a goroutine that has never run. It may run on any worker.
    pub(crate) fn submit_new(g: GRef) {
        let rt = runtime();
        match current_local() {
            Some(local) => {
                local.push_fresh(g);
                // The owner is awake and will run it; wake another worker
                // only for parallelism, so no fence is needed here — and
                // only if there is more queued here than the owner runs
                // next (tokio's LIFO-slot rule, Go's wakep-on-surplus).
                // Otherwise a chain of spawns, which only ever has one
                // runnable goroutine, would wake a worker per link for
                // work it cannot use. A burst of spawns still wakes one
                // from the second spawn on; a spawner that holds its worker
                // is covered by sysmon (see `sysmon.rs`).
                if rt.idle.wants_wakeup() && local.has_surplus() {
                    rt.wakep();
                }
            }
            None => {
                rt.injector.push(g);
                if let Some(w) = rt.idle.work_published_remotely() {
                    rt.workers[w].parker.unpark();
                }
            }
        }
    }

    /// Makes a started goroutine runnable. `next`: run it before the rest of
    /// the waker's queue (Go's `runnext`), for communication latency.
    pub(crate) fn ready(g: GRef, next: bool) {
        let home = g.home();
        let local = current_local();
        let g_migratable = g.migratable;
        if let Some(local) = local
            && (g_migratable || local.index == home)
        {
            if next {
                local.push_next(g);
            } else {
                local.push_back(g);
            }
            // A migratable goroutine is stealable work: ask for a thief.
            if g_migratable {
                let rt = runtime();
                if rt.idle.wants_wakeup() {
                    rt.wakep();
                }
            }
            return;
        }
        let rt = runtime();
        if g.migratable {
            rt.injector.push(g);
            if let Some(w) = rt.idle.work_published_remotely() {
                rt.workers[w].parker.unpark();
            }
            return;
        }
        let w = &rt.workers[home];
        w.inbox.push(g);
        w.parker.unpark();
    }

    /// Unparks goroutine `g` (permit semantics). `next`: see [`ready`].
    pub(crate) fn unpark_g(g: &GRef, next: bool) {
        match g.permit.unpark() {
            Wake::Nothing => {}
            Wake::Schedule => {
                // SAFETY: the scheduler kept one reference when it committed
                // the park (`GRef::into_raw` in worker.rs); the PARKED ->
                // EMPTY transition we just won transfers that reference to
                // us, exactly once.
                let owned = unsafe { GRef::from_raw(g.as_ptr()) };
                ready(owned, next);
            }
            Wake::Thread => runtime().workers[g.home()].parker.unpark(),
        }
    }
}
