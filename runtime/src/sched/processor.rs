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
//! `RefCell` borrow is ever held across a resume. The queues on the
//! scheduling hot path avoid even `RefCell`'s flag: `ready` is a ring of
//! `Cell` slots (`Ring`).
//!
//! Two local queues, because only goroutines that have not started may move
//! between workers:
//! * `fresh`: a crossbeam-deque FIFO of stealable goroutines (not started,
//!   or opted in to migration); idle workers steal half of it.
//! * `ready`: started goroutines pinned to this worker; only the owner pops.
//!   Remote wakeups reach it through the worker's inbox, drained on every
//!   pass that gets past `runnext`.
//!
//! The scheduler alternates between them, so neither starves the other —
//! except that while some worker is idle or spinning, it favours started
//! goroutines and leaves unstarted ones in the stealable queue a little
//! longer: where a goroutine first runs is where it lives, so that is the
//! moment load is balanced.
//!
//! A pass of `pop` is meant to cost a handful of loads when the next
//! goroutine is at hand (a yield spends ~135 instructions in all): the
//! every-16th/61st-tick checks are one compare against a precomputed tick,
//! and a `fresh` queue known to be empty is not popped.

use crate::goroutine::{GRef, GoroutineId};
use crate::sched::gfree::GFree;
use crate::sched::{Runtime, WorkerShared};
use crate::stack::StackCache;
use crate::sysmon::Graveyard;
use crate::timer::Timers;
use crossbeam_deque::{Injector, Steal, Stealer, Worker as Deque};
use std::cell::{Cell, RefCell, UnsafeCell};
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
    /// This worker's shared half, `rt.workers[index]`, kept here so the hot
    /// path does not index (and bounds-check) the worker table every pass.
    shared: &'static WorkerShared,
    runnext: Cell<Option<GRef>>,
    runnext_streak: Cell<u32>,
    ready: Ring<GRef>,
    fresh: Deque<GRef>,
    /// `false` only while `fresh` is certainly empty. Every path that adds
    /// to `fresh` runs on this worker and sets it (other workers only ever
    /// take from it), and it is cleared only by a pop here that found the
    /// queue empty; so when it reads `false`, popping would find nothing and
    /// the scheduler skips the call (GAPS §6: a yield paid for a pop of the
    /// empty queue on every other pass).
    fresh_maybe: Cell<bool>,
    /// The tick at or after which `pop` next runs its periodic checks
    /// (timers every 16th tick, global queue and netpoller every 61st):
    /// one compare on the hot path instead of two divisions.
    next_check: Cell<u64>,
    timers: RefCell<Timers>,
    pub(crate) stacks: RefCell<StackCache>,
    /// Goroutine cell memory: free cells by size class, and the chunks
    /// new ones are carved from.
    pub(crate) gfree: RefCell<GFree>,
    pub(crate) graveyard: RefCell<Graveyard>,
    pub(crate) tick: Cell<u64>,
    /// The deadline of the park the running goroutine is suspending for
    /// (`Suspend::ParkUntil`): set by the goroutine just before the switch,
    /// taken by this worker's loop just after, on this thread.
    pub(crate) park_deadline: Cell<Option<Instant>>,
    /// What is left of the running goroutine's fairness budget (see
    /// `park::consume_budget`); refilled before each run.
    pub(crate) budget: Cell<u32>,
    rng: Cell<u64>,
    pub(crate) spinning: Cell<bool>,
    /// A batch of reserved goroutine ids: next and end.
    ids: Cell<(u64, u64)>,
}

impl Local {
    pub(crate) fn new(rt: &'static Runtime, index: usize, fresh: Deque<GRef>) -> Local {
        Local {
            index,
            shared: &rt.workers[index],
            runnext: Cell::new(None),
            runnext_streak: Cell::new(0),
            ready: Ring::with_capacity(256),
            fresh,
            fresh_maybe: Cell::new(false),
            next_check: Cell::new(0),
            timers: RefCell::new(Timers::new()),
            stacks: RefCell::new(StackCache::new()),
            gfree: RefCell::new(GFree::new()),
            graveyard: RefCell::new(Graveyard::new()),
            tick: Cell::new(0),
            park_deadline: Cell::new(None),
            budget: Cell::new(0),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 32)),
            spinning: Cell::new(false),
            ids: Cell::new((0, 0)),
        }
    }

    /// This worker's shared half.
    #[inline]
    pub(crate) fn shared(&self) -> &'static WorkerShared {
        self.shared
    }

    /// Queues a goroutine that any worker may run (unstarted, or opted in
    /// to migration) in the stealable queue.
    #[inline]
    pub(crate) fn push_fresh(&self, g: GRef) {
        self.fresh.push(g);
        self.fresh_maybe.set(true);
    }

    /// Steals a batch from `stealer` (another worker's stealable queue, or
    /// the global one) into this worker's stealable queue, returning one.
    #[inline]
    pub(crate) fn steal_from(&self, stealer: &Stealer<GRef>) -> Steal<GRef> {
        let got = stealer.steal_batch_and_pop(&self.fresh);
        // The batch beyond the one returned landed in `fresh`.
        self.fresh_maybe.set(true);
        got
    }

    /// As [`steal_from`](Self::steal_from), from the global queue.
    #[inline]
    pub(crate) fn steal_global(&self, injector: &Injector<GRef>) -> Steal<GRef> {
        let got = injector.steal_batch_and_pop(&self.fresh);
        self.fresh_maybe.set(true);
        got
    }

    /// Queues a runnable goroutine at the back.
    #[inline]
    pub(crate) fn push_back(&self, g: GRef) {
        if g.migratable {
            self.push_fresh(g);
        } else {
            self.ready.push(g);
        }
    }

    /// Makes `g` run next; the goroutine it displaces goes to the back.
    #[inline]
    pub(crate) fn push_next(&self, g: GRef) {
        if let Some(old) = self.runnext.replace(Some(g)) {
            self.push_back(old);
        }
    }

    /// The next goroutine from this worker's own queues (and, every 61st
    /// tick, the global queue), or `None` if they are all empty.
    ///
    /// What is checked when, and why nothing starves or is missed:
    /// * timers every 16th tick and the global queue and netpoller every
    ///   61st, as before, counted by `next_check` (`periodic`); and all of
    ///   them whenever the local queues run dry (`find_runnable`);
    /// * `runnext` first, at most [`RUNNEXT_STREAK`] times in a row;
    /// * the inbox on every pass that gets past `runnext`, so a remote
    ///   wakeup waits at most for the streak;
    /// * `fresh` and `ready` alternately (favouring `ready` while thieves are
    ///   about), where a `fresh` known to be empty is simply not asked.
    #[inline]
    pub(crate) fn pop(&self, rt: &Runtime) -> Option<GRef> {
        let tick = self.tick.get();
        if tick >= self.next_check.get()
            && let Some(g) = self.periodic(rt, tick)
        {
            return Some(g);
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
        if !self.shared.inbox.is_empty() {
            self.drain_inbox();
        }
        if !self.fresh_maybe.get() {
            return self.ready.pop();
        }
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
            self.pop_fresh().or_else(|| self.ready.pop())
        } else {
            self.ready.pop().or_else(|| self.pop_fresh())
        }
    }

    /// Pops the stealable queue, noting when it turned out empty.
    #[inline]
    fn pop_fresh(&self) -> Option<GRef> {
        let g = self.fresh.pop();
        if g.is_none() {
            self.fresh_maybe.set(false);
        }
        g
    }

    /// The checks `pop` makes every so many ticks: due timers every 16th
    /// (while any timer is armed here), the netpoller and one goroutine
    /// from the global queue every 61st. Sets `next_check` to the next tick
    /// that needs either; `add_timer` brings it forward when the first
    /// timer is armed.
    #[cold]
    #[inline(never)]
    fn periodic(&self, rt: &Runtime, tick: u64) -> Option<GRef> {
        if tick.is_multiple_of(TIMER_CHECK_INTERVAL) {
            self.run_timers();
        }
        let next_global = next_multiple_after(tick, GLOBAL_QUEUE_INTERVAL);
        self.next_check.set(if self.timers.borrow().is_empty() {
            next_global
        } else {
            next_global.min(next_multiple_after(tick, TIMER_CHECK_INTERVAL))
        });
        if tick.is_multiple_of(GLOBAL_QUEUE_INTERVAL) {
            // A worker that never runs out of goroutines would otherwise
            // see its sockets' events only from the netpoller's 10 ms
            // fallback (tokio polls its driver on the same beat).
            crate::hooks::poll_now(crate::hooks::poll_shard_of(self.index));
            return rt.take_global(self);
        }
        None
    }

    /// Moves goroutines woken by other threads into the ready queue.
    #[cold]
    fn drain_inbox(&self) {
        while let Some(g) = self.shared.inbox.pop() {
            self.ready.push(g);
        }
    }

    /// Anything runnable in this worker's own queues or inbox?
    pub(crate) fn has_work(&self) -> bool {
        self.has_runnext()
            || !self.ready.is_empty()
            || !self.fresh.is_empty()
            || !self.shared.inbox.is_empty()
    }

    /// Is more than one goroutine queued here, i.e. work beyond what this
    /// worker will run next? Only then is waking a thief worth a wakeup.
    /// (`runnext` and `ready` are not stealable, but whatever is queued in
    /// them delays the stealable goroutines behind it.)
    pub(crate) fn has_surplus(&self) -> bool {
        self.fresh.len() + usize::from(self.has_runnext()) + self.ready.len() > 1
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
    pub(crate) fn add_timer(&self, at: Instant, g: GRef) {
        let mut timers = self.timers.borrow_mut();
        timers.add(at, g);
        self.shared.timers.store(timers.len(), Relaxed);
        // With no timer armed, `periodic` stopped counting towards the
        // timer checks; resume them on the usual beat.
        let next_timer_check = next_multiple_after(self.tick.get(), TIMER_CHECK_INTERVAL);
        if next_timer_check < self.next_check.get() {
            self.next_check.set(next_timer_check);
        }
    }

    /// Fires due timers; returns how many goroutines they woke.
    pub(crate) fn run_timers(&self) -> usize {
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
            self.shared.timers.store(timers.len(), Relaxed);
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

/// The smallest multiple of `n` greater than `tick`.
fn next_multiple_after(tick: u64, n: u64) -> u64 {
    (tick / n + 1) * n
}

/// `ready`: a growable FIFO ring of started goroutines that only the owning
/// worker touches (it replaced a `RefCell<VecDeque>`, whose borrow flag
/// cost a check and two stores on every push and pop of a yield).
///
/// The slots are `Cell`s, so pushing and popping needs only a shared
/// reference to the slot array; the one `unsafe` is the access to the array
/// itself, which `grow` replaces.
struct Ring<T> {
    /// Power-of-two many slots; those from `head` up to `tail` (wrapping
    /// counters, masked) hold goroutines, the others `None`.
    slots: UnsafeCell<Box<[Cell<Option<T>>]>>,
    head: Cell<usize>,
    tail: Cell<usize>,
}

impl<T> Ring<T> {
    fn with_capacity(cap: usize) -> Ring<T> {
        Ring {
            slots: UnsafeCell::new(Self::empty_slots(cap.next_power_of_two())),
            head: Cell::new(0),
            tail: Cell::new(0),
        }
    }

    fn empty_slots(n: usize) -> Box<[Cell<Option<T>>]> {
        (0..n).map(|_| Cell::new(None)).collect()
    }

    #[inline]
    fn slots(&self) -> &[Cell<Option<T>>] {
        // SAFETY: `Ring` is `!Sync` (it holds `Cell`s), so only this thread
        // reaches it. The only write to `slots` is in `grow`, which runs
        // when no reference returned by this function is alive: every
        // caller uses it within its own body, calls nothing that could
        // reach this ring meanwhile (only `Cell` accesses and moves of
        // values, which run no code: no `T` is dropped while a reference
        // is held), and `push` calls `grow` before it takes its reference.
        unsafe { &*self.slots.get() }
    }

    #[inline]
    fn len(&self) -> usize {
        self.tail.get().wrapping_sub(self.head.get())
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.head.get() == self.tail.get()
    }

    #[inline]
    fn push(&self, g: T) {
        if self.len() == self.slots().len() {
            self.grow();
        }
        let slots = self.slots();
        let tail = self.tail.get();
        let old = slots[tail & (slots.len() - 1)].replace(Some(g));
        debug_assert!(old.is_none());
        // A slot past `tail` is empty, so there is nothing to drop (for a
        // `GRef`, no reference count to touch).
        std::mem::forget(old);
        self.tail.set(tail.wrapping_add(1));
    }

    #[inline]
    fn pop(&self) -> Option<T> {
        let head = self.head.get();
        if head == self.tail.get() {
            return None;
        }
        let slots = self.slots();
        self.head.set(head.wrapping_add(1));
        slots[head & (slots.len() - 1)].take()
    }

    /// Doubles the slot array, keeping the order.
    #[cold]
    #[inline(never)]
    fn grow(&self) {
        let bigger = Self::empty_slots(self.slots().len() * 2);
        let old = self.slots();
        let (head, len) = (self.head.get(), self.len());
        for (i, slot) in bigger.iter().enumerate().take(len) {
            slot.set(old[head.wrapping_add(i) & (old.len() - 1)].take());
        }
        // SAFETY: see `slots`: no reference to the array is alive here
        // (`old` is not used past this point); the old array now holds only
        // `None`s, so dropping it runs no `GRef` drop.
        unsafe { *self.slots.get() = bigger };
        self.head.set(0);
        self.tail.set(len);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_fifo_across_growth_and_wraparound() {
        let ring = Ring::with_capacity(4);
        let mut expect = std::collections::VecDeque::new();
        let mut next = 0u32;
        // Interleave pushes and pops so the live range wraps before each
        // growth, then drain.
        for round in 0..6 {
            for _ in 0..(3 + round * 3) {
                ring.push(Box::new(next));
                expect.push_back(next);
                next += 1;
            }
            for _ in 0..2 {
                assert_eq!(ring.pop().map(|b| *b), expect.pop_front());
            }
            assert_eq!(ring.len(), expect.len());
        }
        while let Some(want) = expect.pop_front() {
            assert_eq!(ring.pop().map(|b| *b), Some(want));
        }
        assert!(ring.is_empty());
        assert_eq!(ring.pop(), None);
    }

    #[test]
    fn next_multiple_after_is_strictly_after() {
        assert_eq!(next_multiple_after(0, 16), 16);
        assert_eq!(next_multiple_after(15, 16), 16);
        assert_eq!(next_multiple_after(16, 16), 32);
        assert_eq!(next_multiple_after(60, 61), 61);
        assert_eq!(next_multiple_after(61, 61), 122);
    }
}
