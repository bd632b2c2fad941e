//! The goroutine runtime of [gofer]: G/M/P scheduling of stackful
//! goroutines on OS worker threads, their stacks, parking, timers, the
//! blocking pool and sysmon.
//!
//! Most users want the `gofer` facade crate, which re-exports all of this
//! next to channels and networking. This crate is the part the others block
//! through: [`park`] is the interface channels, sync primitives and the
//! netpoller use to put goroutines (and threads) to sleep.
//!
//! # The design
//!
//! ## G, M and P
//!
//! The vocabulary is Go's (`runtime/proc.go`):
//!
//! * **G** — a goroutine: a closure, and once it first runs, a
//!   [corosensei] coroutine on its own stack. It carries an id, an optional
//!   name, its spawn site, a park permit and its *home*: the worker it
//!   started on (`goroutine.rs`).
//! * **M** — an OS worker thread running a scheduling loop (`sched/worker.rs`).
//! * **P** — the right and the state to run goroutines: a `runnext` slot,
//!   local run queues, a timer heap and a stack cache (`sched/processor.rs`).
//!   There are GOMAXPROCS of them (`GOFER_MAXPROCS`, else the CPU count).
//!
//! In Go an M gives its P away while it sits in a blocking system call, so
//! Ms and Ps are paired dynamically. Here each worker owns one P for life:
//! goroutines do not make blocking system calls on their workers — sockets
//! are non-blocking and park on the netpoller, and everything else goes
//! through [`blocking`], which runs it on a pool thread while the goroutine
//! parks. Fusing M and P removes a layer of handoff without losing
//! anything Go's split buys.
//!
//! ## Where a goroutine may run (soundness)
//!
//! Rust code cannot safely be moved to another OS thread in the middle of
//! a function: LLVM may keep a thread-local's address in a register across
//! a call (measured: code compiled in a library wrote to the old thread's
//! thread-local after the move), and std keeps per-thread state such as
//! the panic count and `thread::current()`. So:
//!
//! * A goroutine that has not started yet is just a `Send` closure and may
//!   run anywhere: idle workers steal those.
//! * Once started, a goroutine resumes only on the thread that started it
//!   (Go's `LockOSThread`, applied to everyone). Wakeups from other threads
//!   go to its home worker's inbox and wake that worker.
//! * Go's full migration is an opt-in with an `unsafe` acknowledgement,
//!   per goroutine ([`Builder::migratable`]) or for all
//!   ([`Config::allow_migration`]); the contract is written there.
//! * The runtime's own code never reads thread-local state on both sides of
//!   a suspension: goroutine code needs nothing of its worker after a
//!   switch (a resume passes `()`), and the two thread-locals the runtime
//!   keeps are read through `#[inline(never)]` accessors, so no caller can
//!   keep a stale address in a register.
//! * A goroutine never suspends while its thread is panicking (it blocks
//!   the thread instead), so std's per-thread panic count stays right.
//!
//! ## Run queues
//!
//! Each P has two local queues, because only some goroutines may move:
//! `fresh`, a crossbeam-deque FIFO of stealable goroutines (unstarted or
//! migratable), and `ready`, an owner-only queue of started goroutines. The
//! scheduler alternates between them. Above both sits `runnext`: a goroutine
//! woken by the running one runs next and inherits the time slice, so a
//! pair that talks over a channel runs back to back on one worker with no
//! queueing in between (at most 8 times in a row, so a chatty pair cannot
//! starve the rest). Spawns from plain threads go to a global queue, which
//! workers check every 61st tick for fairness and whenever their own queues
//! are empty. A worker out of work steals half of a random victim's `fresh`
//! queue.
//!
//! ## Sleeping and waking workers
//!
//! Idle workers sleep on a futex (or in the netpoller, below). Publishing stealable work wakes one
//! sleeper only if no worker is *spinning* (looking for work); a spinner
//! that finds work wakes the next. A goroutine spawned on a worker wakes
//! nobody if it is the only one queued there: its spawner's worker runs it
//! next, and waking a thief per spawn would make a chain of spawns (one
//! runnable goroutine at any time) bounce between workers. A second queued
//! goroutine is surplus and does wake one; behind a spawner that never
//! yields, sysmon wakes one after 10 ms. Lost wakeups are ruled out by the
//! publish → fence → check-spinners / drop-spinning → fence → re-check-queues
//! pairing; `sched/idle.rs` explains it and `loom-tests/` model-checks it.
//!
//! Once the netpoller is in use (`hooks::Poll`), each worker has its own
//! poller shard (an epoll instance holding the sockets its goroutines wait
//! on), looks at it every 61st tick and before it sleeps, and sleeps in it
//! instead of on its futex (Go's `netpoll(delay)` in `findrunnable`): a
//! ready socket then wakes its goroutine's worker directly, and waking
//! that worker for other work goes through the shard's eventfd
//! (`sched/parker.rs`).
//!
//! ## Parking (Go's `gopark`)
//!
//! A goroutine parks by suspending to its worker, and the worker *then*
//! commits the park on the goroutine's permit. An unpark that raced with
//! the switch makes the commit fail and the goroutine simply runs again; an
//! unpark after the commit is the only one that queues it. So a goroutine is
//! never queued twice, never queued while still running, and no wakeup is
//! lost (`permit.rs`, also model-checked). The commit or the unparker that
//! queues the goroutine also consumes its permit, so a woken goroutine
//! resumes without an atomic operation of its own. Parked goroutines keep themselves
//! alive: nothing ever destroys a suspended goroutine, which is what lets
//! channels, `scope` and `blocking` lend out pointers into goroutine
//! stacks.
//!
//! ## Stacks
//!
//! A goroutine gets its stack when it first runs, not when it is spawned:
//! a million queued goroutines cost a million closures. Stacks come from
//! large slab mappings, each stack with a guard page installed by
//! `madvise(MADV_GUARD_INSTALL)` (Linux ≥ 6.13: no extra memory mapping per
//! stack) or by `mprotect` on older kernels, within a budget derived from
//! `vm.max_map_count`. Stacks are pooled per P and globally; sysmon gives
//! idle stacks' memory back with `MADV_DONTNEED`. A goroutine that runs off
//! its stack makes the process abort with a message naming it.
//!
//! ## Goroutine cells
//!
//! A goroutine is one heap cell: header, closure and result slot. Cells of
//! up to 1 KiB come from per-P lists by size class, backed by global lists
//! that long P lists spill to and empty ones refill from (Go's per-P and
//! global `gFree`); only when both are empty is a cell carved from a
//! 256 KiB chunk the P takes from the allocator. A dead cell goes back to
//! the list of the worker it dies on. So no spawn pays for a malloc/free
//! pair or grows glibc's heap a page at a time, cell memory is bounded by
//! the goroutines alive at once, and a chunk goes back to the allocator
//! whole when its worker idles and every cell of it is free
//! (`sched/gfree.rs`).
//!
//! ## Timers
//!
//! A goroutine parking with a deadline gets an entry in its worker's timer
//! heap; the worker fires due entries while scheduling and sleeps until the
//! earliest one when idle. There is no timer thread.
//!
//! ## sysmon
//!
//! A monitor thread reports goroutines that hold their worker for more than
//! 10 ms without yielding (and lets idle workers take the work queued behind
//! them), detects deadlock ("all goroutines are asleep"), and scavenges
//! stack memory. See `sysmon.rs`.
//!
//! [gofer]: https://docs.rs/gofer
//! [corosensei]: https://docs.rs/corosensei

#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod loom;
mod permit;
mod sched;

#[cfg(not(loom))]
mod blocking;
#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod control;
#[cfg(not(loom))]
mod goroutine;
#[doc(hidden)]
pub mod hooks;
#[cfg(not(loom))]
mod join;
#[cfg(not(loom))]
mod macros;
#[cfg(not(loom))]
pub mod park;
#[cfg(loom)]
#[path = "park_loom.rs"]
pub mod park;
#[cfg(not(loom))]
mod scope;
#[cfg(not(loom))]
mod spawn;
#[cfg(not(loom))]
mod stack;
#[cfg(not(loom))]
mod sysmon;
#[cfg(not(loom))]
mod timer;

#[cfg(not(loom))]
pub use crate::{
    blocking::blocking,
    config::{Config, ConfigError},
    control::{sleep, sleep_until, yield_now},
    goroutine::{Goroutine, GoroutineId, current},
    join::JoinHandle,
    scope::{Scope, ScopedJoinHandle, scope},
    spawn::{Builder, num_goroutines, spawn},
};

/// GOMAXPROCS: the number of worker threads running goroutines. Starts the
/// runtime if it is not running yet.
///
/// ```
/// assert!(gofer_runtime::max_procs() >= 1);
/// ```
#[cfg(not(loom))]
pub fn max_procs() -> usize {
    sched::runtime().settings.max_procs
}

/// The protocol types, exported for `loom-tests/` only. Not a public API.
#[cfg(loom)]
#[doc(hidden)]
pub mod __loom {
    pub use crate::permit::{Permit, Wake};
    pub use crate::sched::idle::Idle;
    pub use crate::sched::parker::Parker;
}
