//! P: the per-worker scheduling state — `runnext`, the local run queues,
//! the timer heap, the stack cache and the cache of free goroutine cells
//! (`gfree.rs`).
//!
//! A worker owns one P for life (see the crate docs for why M and P are
//! fused here). The P lives on its worker thread's stack and is reached
//! through a thread-local pointer, by the worker's scheduler loop and by
//! goroutines running on that worker — never concurrently, because a
//! goroutine only runs while the scheduler loop is suspended inside
//! `resume`. Interior mutability is therefore `Cell`/`RefCell`, and no
//! `RefCell` borrow is ever held across a resume.
//!
//! Two local queues, because only goroutines that have not started may move
//! between workers:
//! * `fresh`: a crossbeam-deque FIFO of stealable goroutines (not started,
//!   or opted in to migration); idle workers steal half of it.
//! * `ready`: started goroutines pinned to this worker; only the owner pops.
//!
//! The scheduler alternates between them, so neither starves the other —
//! except that while some worker is idle or spinning, it favours started
//! goroutines and leaves unstarted ones in the stealable queue a little
//! longer: where a goroutine first runs is where it lives, so that is the
//! moment load is balanced.

use crate::goroutine::{GRef, GoroutineId};
use crate::sched::gfree::GFree;
use crate::sched::{Runtime, WorkerShared};
use crate::stack::StackCache;
use crate::sysmon::Graveyard;
use crate::timer::Timers;
use crossbeam_deque::Worker as Deque;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::Ordering::*;
use std::time::Instant;

/// How many times in a row a goroutine may run from `runnext` (inheriting
/// the time slice) before it goes to the back of the queue. Keeps a
/// ping-ponging pair from starving everything else on its worker.
const RUNNEXT_STREAK: u32 = 8;

/// Every this many ticks, take one goroutine from the global queue first
/// and look at the netpoller (Go's 61: prime, so it does not alias with
/// periodic workloads).
const GLOBAL_QUEUE_INTERVAL: u64 = 61;

/// While other workers could steal, start an unstarted goroutine ahead of
/// started ones only every this many ticks.
const FRESH_INTERVAL_WHILE_STEALABLE: u64 = 8;

/// Goroutine ids a worker reserves at a time.
const ID_BATCH: u64 = 16;

/// Every this many ticks, check timers even if there is local work.
const TIMER_CHECK_INTERVAL: u64 = 16;

/// The scheduling state of one worker.
pub(crate) struct Local {
    pub(crate) index: usize,
    runnext: Cell<Option<GRef>>,
    runnext_streak: Cell<u32>,
    ready: RefCell<VecDeque<GRef>>,
    pub(crate) fresh: Deque<GRef>,
    timers: RefCell<Timers>,
    pub(crate) stacks: RefCell<StackCache>,
    /// Free goroutine cells, for the next spawns on this worker.
    pub(crate) gfree: RefCell<GFree>,
    pub(crate) graveyard: RefCell<Graveyard>,
    pub(crate) tick: Cell<u64>,
    /// What is left of the running goroutine's fairness budget (see
    /// `park::consume_budget`); refilled before each run.
    pub(crate) budget: Cell<u32>,
    rng: Cell<u64>,
    pub(crate) spinning: Cell<bool>,
    /// A batch of reserved goroutine ids: next and end.
    ids: Cell<(u64, u64)>,
}

impl Local {
    pub(crate) fn new(index: usize, fresh: Deque<GRef>) -> Local {
        Local {
            index,
            runnext: Cell::new(None),
            runnext_streak: Cell::new(0),
            ready: RefCell::new(VecDeque::with_capacity(256)),
            fresh,
            timers: RefCell::new(Timers::new()),
            stacks: RefCell::new(StackCache::new()),
            gfree: RefCell::new(GFree::new()),
            graveyard: RefCell::new(Graveyard::new()),
            tick: Cell::new(0),
            budget: Cell::new(0),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 32)),
            spinning: Cell::new(false),
            ids: Cell::new((0, 0)),
        }
    }

    /// Queues a runnable goroutine at the back.
    pub(crate) fn push_back(&self, g: GRef) {
        if g.migratable {
            self.fresh.push(g);
        } else {
            self.ready.borrow_mut().push_back(g);
        }
    }

    /// Makes `g` run next; the goroutine it displaces goes to the back.
    pub(crate) fn push_next(&self, g: GRef) {
        if let Some(old) = self.runnext.replace(Some(g)) {
            self.push_back(old);
        }
    }

    /// The next goroutine from this worker's own queues (and, every 61st
    /// tick, the global queue), or `None` if they are all empty.
    pub(crate) fn pop(&self, rt: &Runtime) -> Option<GRef> {
        let tick = self.tick.get();
        if tick.is_multiple_of(TIMER_CHECK_INTERVAL) {
            self.run_timers(rt);
        }
        if tick.is_multiple_of(GLOBAL_QUEUE_INTERVAL) {
            // A worker that never runs out of goroutines would otherwise
            // see its sockets' events only from the netpoller's 10 ms
            // fallback (tokio polls its driver on the same beat).
            crate::hooks::poll_now(crate::hooks::poll_shard_of(self.index));
            if let Some(g) = rt.take_global(self) {
                return Some(g);
            }
        }
        if let Some(g) = self.runnext.take() {
            let streak = self.runnext_streak.get();
            if streak < RUNNEXT_STREAK {
                self.runnext_streak.set(streak + 1);
                return Some(g);
            }
            self.push_back(g);
        }
        self.runnext_streak.set(0);
        self.drain_inbox(&rt.workers[self.index]);
        let mut ready = self.ready.borrow_mut();
        // A goroutine's first run decides where it lives for good, so while
        // another worker could steal, leave unstarted goroutines queued for
        // it and run the started ones (starting one now and then, so they
        // never starve); otherwise alternate evenly.
        let fresh_first = if rt.idle.thieves_about() {
            tick.is_multiple_of(FRESH_INTERVAL_WHILE_STEALABLE)
        } else {
            tick & 1 == 1
        };
        if fresh_first {
            self.fresh.pop().or_else(|| ready.pop_front())
        } else {
            ready.pop_front().or_else(|| self.fresh.pop())
        }
    }

    /// Moves goroutines woken by other threads into the ready queue.
    fn drain_inbox(&self, shared: &WorkerShared) {
        if shared.inbox.is_empty() {
            return;
        }
        let mut ready = self.ready.borrow_mut();
        while let Some(g) = shared.inbox.pop() {
            ready.push_back(g);
        }
    }

    /// Anything runnable in this worker's own queues or inbox?
    pub(crate) fn has_work(&self, shared: &WorkerShared) -> bool {
        self.has_runnext()
            || !self.ready.borrow().is_empty()
            || !self.fresh.is_empty()
            || !shared.inbox.is_empty()
    }

    /// Is more than one goroutine queued here, i.e. work beyond what this
    /// worker will run next? Only then is waking a thief worth a wakeup.
    /// (`runnext` and `ready` are not stealable, but whatever is queued in
    /// them delays the stealable goroutines behind it.)
    pub(crate) fn has_surplus(&self) -> bool {
        self.fresh.len() + usize::from(self.has_runnext()) + self.ready.borrow().len() > 1
    }

    /// Is a goroutine waiting in `runnext`? (`Cell` has no peek: take the
    /// slot and put it back.)
    fn has_runnext(&self) -> bool {
        let next = self.runnext.take();
        let has_next = next.is_some();
        self.runnext.set(next);
        has_next
    }

    /// Arms a deadline timer for `g`, which is about to park on this worker.
    pub(crate) fn add_timer(&self, rt: &Runtime, at: Instant, g: GRef) {
        let mut timers = self.timers.borrow_mut();
        timers.add(at, g);
        rt.workers[self.index].timers.store(timers.len(), Relaxed);
    }

    /// Fires due timers; returns how many goroutines they woke.
    pub(crate) fn run_timers(&self, rt: &Runtime) -> usize {
        if self.timers.borrow().is_empty() {
            return 0;
        }
        let now = Instant::now();
        // Collect first: waking a goroutine may re-enter this P's queues,
        // and must not do so while the timer heap is borrowed.
        let mut due = Vec::new();
        let fired = {
            let mut timers = self.timers.borrow_mut();
            let n = timers.fire_due(now, |g| due.push(g));
            rt.workers[self.index].timers.store(timers.len(), Relaxed);
            n
        };
        for g in due {
            crate::sched::unpark_g(&g, false);
        }
        fired
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow().next_deadline()
    }

    /// An id for a goroutine spawned here, from this worker's batch.
    pub(crate) fn next_goroutine_id(&self) -> GoroutineId {
        let (mut next, mut end) = self.ids.get();
        if next == end {
            next = GoroutineId::reserve(ID_BATCH);
            end = next + ID_BATCH;
        }
        self.ids.set((next + 1, end));
        GoroutineId::from_counter(next)
    }

    /// A xorshift step: cheap randomness for victim selection.
    pub(crate) fn random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}

thread_local! {
    static CURRENT_LOCAL: Cell<*const Local> = const { Cell::new(std::ptr::null()) };
}

/// The P of the worker this code runs on, or `None` off the workers.
///
/// Not inlined, for the same reason as `goroutine::current_g`.
#[inline(never)]
pub(crate) fn current_local() -> Option<&'static Local> {
    let p = CURRENT_LOCAL.with(|c| c.get());
    // SAFETY: a non-null pointer was set by `set_current_local` from the
    // worker loop, whose `Local` lives on that thread's stack for the rest
    // of the process (the loop never returns).
    unsafe { p.as_ref() }
}

pub(crate) fn set_current_local(local: &Local) {
    CURRENT_LOCAL.with(|c| c.set(local));
}
