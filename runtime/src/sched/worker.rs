//! M: the worker thread loop — find a goroutine, run it until it suspends,
//! act on why it suspended, repeat; sleep when there is nothing to find.

use super::Runtime;
use super::processor::{Local, set_current_local};
use crate::goroutine::{Body, GRef, GYielder, Suspend, set_current_g};
use corosensei::{Coroutine, CoroutineResult};
use crossbeam_deque::{Steal, Worker as Deque};
use std::sync::atomic::Ordering::*;

/// Body of worker thread `index`. Never returns: workers live as long as
/// the process.
pub(crate) fn run(rt: &'static Runtime, index: usize, fresh: Deque<GRef>) {
    crate::stack::ensure_altstack();
    let local = Local::new(rt, index, fresh);
    set_current_local(&local);
    loop {
        let g = find_runnable(rt, &local);
        execute(&local, g);
    }
}

/// Runs `g` until it suspends or finishes.
fn execute(local: &Local, g: GRef) {
    let tick = local.tick.get().wrapping_add(1);
    local.tick.set(tick);
    let shared = local.shared();
    shared.tick.store(tick, Relaxed);

    // SAFETY: `g` came out of a run queue, which hands out the run right;
    // we keep `body` only until the goroutine is given away below.
    let body = unsafe { g.body() };
    if let Body::Unstarted = body {
        if !start(local, &g, body) {
            crate::spawn::goroutine_exited(shared);
            return;
        }
    } else if g.migratable {
        g.home.store(local.index, Relaxed);
    }
    let Body::Running(co) = body else {
        unreachable!("goroutine {} scheduled after it finished", g.id)
    };

    shared.running.store(g.as_ptr().as_ptr(), Relaxed);
    local.budget.set(crate::park::BUDGET);
    set_current_g(Some(g.as_ptr()));
    // `Main::run` catches every panic, so an unwind out of `resume` is a
    // runtime bug; the guard turns it into an abort (free when not taken).
    let guard = AbortOnUnwind;
    let result = co.resume(());
    std::mem::forget(guard);
    set_current_g(None);
    shared.running.store(std::ptr::null_mut(), Relaxed);

    match result {
        CoroutineResult::Yield(Suspend::Yield) => local.push_back(g),
        CoroutineResult::Yield(why @ (Suspend::Park | Suspend::ParkUntil)) => {
            if why == Suspend::ParkUntil {
                let at = local.park_deadline.take();
                local.add_timer(at.expect("ParkUntil leaves its deadline"), g.clone());
            }
            if g.permit.commit() {
                // Parked. The reference we hold now belongs to whoever wins
                // the permit's PARKED -> EMPTY exchange (see `unpark_g`);
                // until then the goroutine keeps itself alive, as Go's do.
                let _ = g.into_raw();
            } else {
                // Unparked during the switch; the commit took the permit.
                local.push_back(g);
            }
        }
        CoroutineResult::Return(()) => {
            let Body::Running(co) = std::mem::replace(body, Body::Done) else {
                unreachable!()
            };
            let stack = co.into_stack();
            stack.clear_owner();
            local.stacks.borrow_mut().put(stack);
            crate::spawn::goroutine_exited(shared);
            local.graveyard.borrow_mut().bury(g);
        }
    }
}

/// Aborts the process if dropped during unwinding.
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        eprintln!("fatal error: gofer: a goroutine unwound into its scheduler");
        std::process::abort();
    }
}

/// Gives `g` a stack and a coroutine. On failure the goroutine is finished
/// with an error for its joiner and `false` is returned.
fn start(local: &Local, g: &GRef, body: &mut Body) -> bool {
    let stack = match local.stacks.borrow_mut().get(g.stack_size) {
        Ok(stack) => stack,
        Err(e) => {
            let why = format!("goroutine {} could not start: {e}", g.id);
            eprintln!("gofer: {why}");
            *body = Body::Done;
            g.abandon_main(why);
            return false;
        }
    };
    debug_assert!(stack.usable_size() >= g.stack_size);
    // SAFETY: the name lives in `g`, which outlives the goroutine's run;
    // the owner is cleared before the stack goes back to the cache.
    unsafe { stack.set_owner(g.id.as_u64(), g.name.as_deref()) };
    g.home.store(local.index, Relaxed);
    let gp = g.as_ptr();
    let co = Coroutine::with_stack(stack, move |y: &GYielder, (): ()| {
        // SAFETY: the worker resuming us holds a `GRef` for as long as this
        // goroutine runs, so `gp` is valid here.
        let g = unsafe { gp.as_ref() };
        g.set_yielder(y);
        g.run_main();
    });
    *body = Body::Running(co);
    true
}

/// Finds the next goroutine to run, sleeping until there is one.
fn find_runnable(rt: &Runtime, local: &Local) -> GRef {
    loop {
        if let Some(g) = local.pop(rt) {
            return found(rt, local, g);
        }
        if local.run_timers() > 0 {
            continue;
        }
        if let Some(g) = rt.take_global(local) {
            return found(rt, local, g);
        }
        if !local.spinning.get() && rt.idle.try_spin() {
            local.spinning.set(true);
        }
        if local.spinning.get()
            && let Some(g) = steal(rt, local)
        {
            return found(rt, local, g);
        }
        // Before sleeping, look for ready I/O ourselves: whatever it wakes
        // may well be homed on this worker.
        if crate::hooks::poll_now(crate::hooks::poll_shard_of(local.index)) > 0 {
            continue;
        }
        sleep(rt, local);
    }
}

/// A spinner that found work stops spinning and, if it was the last one,
/// wakes another so that the remaining work gets a thief too.
fn found(rt: &Runtime, local: &Local, g: GRef) -> GRef {
    if local.spinning.replace(false) && rt.idle.stop_spinning() {
        rt.wakep();
    }
    g
}

/// Steals half of some other worker's stealable queue (victims in random
/// order), or a batch from the global queue.
fn steal(rt: &Runtime, local: &Local) -> Option<GRef> {
    let n = rt.workers.len();
    for _ in 0..4 {
        let mut retry = false;
        let start = local.random() as usize % n;
        for i in 0..n {
            let victim = (start + i) % n;
            if victim == local.index {
                continue;
            }
            match local.steal_from(&rt.workers[victim].stealer) {
                Steal::Success(g) => return Some(g),
                Steal::Retry => retry = true,
                Steal::Empty => {}
            }
        }
        if let Some(g) = rt.take_global(local) {
            return Some(g);
        }
        if !retry {
            return None;
        }
    }
    None
}

/// Is there work this worker could take, anywhere?
fn work_visible(rt: &Runtime, local: &Local) -> bool {
    local.has_work()
        || !rt.injector.is_empty()
        || rt
            .workers
            .iter()
            .enumerate()
            .any(|(i, w)| i != local.index && !w.stealer.is_empty())
}

/// Registers as idle, re-checks every queue, then sleeps until woken or
/// until this worker's next timer is due.
fn sleep(rt: &Runtime, local: &Local) {
    let was_spinning = local.spinning.replace(false);
    rt.idle.sleep(local.index, was_spinning);
    if work_visible(rt, local) {
        let handed_off = rt.idle.woke(local.index);
        let own = local.has_work();
        if handed_off {
            local.spinning.set(true);
        } else if !own {
            rt.idle.force_spin();
            local.spinning.set(true);
        }
        return;
    }
    local.graveyard.borrow_mut().sweep();
    // Idle time is when whole chunks of goroutine cells go back to the
    // allocator (see `gfree.rs`).
    local.gfree.borrow_mut().trim();
    let parker = &local.shared().parker;
    // Sleep in the netpoller, so that a socket turning ready wakes this
    // worker directly (see `hooks::Poll`); unless the shard watches no
    // socket, or a worker sharing it (past `MAX_POLL_SHARDS` workers)
    // sleeps there already.
    let shard = crate::hooks::poll_shard_of(local.index);
    match crate::hooks::poll() {
        Some(poll) if (poll.watching)(shard) && crate::hooks::try_take_poll_role(shard) => {
            parker.park_polling(local.next_deadline(), poll);
            crate::hooks::release_poll_role(shard);
        }
        _ => parker.park(local.next_deadline()),
    }
    let handed_off = rt.idle.woke(local.index);
    local.spinning.set(handed_off);
}
