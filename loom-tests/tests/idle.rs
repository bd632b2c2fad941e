//! Models of the idle-worker (spinning-M) protocol: the real `Idle`
//! (`runtime/src/sched/idle.rs`) and the real worker `Parker`s, driven by a
//! small but faithful copy of the worker loop in `sched/worker.rs`
//! (`find_runnable`, `found`, `steal`, `work_visible`, `sleep`) and of the
//! publishers in `sched/mod.rs` (`submit_new`, `wakep`).
//!
//! Two workers run goroutines ("items") from their own stealable queue
//! (`fresh`) and a global queue; the model's main thread is a plain thread
//! submitting items to the global queue. When every item has run, the
//! worker that ran the last one sets a shutdown flag and unparks everyone so
//! the model can end (the real workers never exit).
//!
//! If a property here failed, the runtime would:
//! * lose a wakeup: work sits in a queue while every worker sleeps (loom
//!   reports a deadlock: both workers parked, the main thread in `join`).
//!   This is what the publish -> fence -> check-spinners /
//!   drop-spinning -> fence -> re-check-queues pairing exists to prevent;
//! * run a goroutine twice or never (the per-item run counters).
//!
//! Faithfulness notes:
//! * A queue is a loom `Mutex<VecDeque>` for its items plus an atomic length
//!   that `is_empty` (and the empty fast path of `pop`) reads without the
//!   lock, as crossbeam's `Injector::is_empty` / `Stealer::is_empty` read
//!   the queue's indices. With only a lock, every re-check would
//!   synchronise through the lock and the fences would go untested.
//! * With one or two items in a queue, crossbeam's `steal_batch_and_pop`
//!   moves nothing besides the one item it returns ((len+1)/2 taken from an
//!   `Injector`, (len-1)/2 extra from a `Stealer`), so `pop` is exact here.
//! * Not modelled: the inbox/`ready` queue of started goroutines (targeted
//!   wakeups unpark the home worker directly; see `permit.rs`/`parker.rs`),
//!   `runnext`, timers, the 61st-tick global check and steal retries.
#![cfg(loom)]

use gofer_runtime::__loom::{Idle, Parker};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::check;
use std::collections::VecDeque;

const WORKERS: usize = 2;

/// A run queue; see the module docs.
struct Queue {
    items: Mutex<VecDeque<usize>>,
    len: AtomicUsize,
}

impl Queue {
    fn new() -> Queue {
        Queue {
            items: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    fn push(&self, item: usize) {
        let mut items = self.items.lock().unwrap();
        items.push_back(item);
        self.len.store(items.len(), Release);
    }

    fn pop(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let mut items = self.items.lock().unwrap();
        let item = items.pop_front();
        self.len.store(items.len(), Release);
        item
    }

    fn is_empty(&self) -> bool {
        self.len.load(Acquire) == 0
    }
}

/// What a model's items do.
#[derive(Clone, Copy)]
enum Items {
    /// `n` items submitted by the main thread; each just runs.
    Remote(usize),
    /// One item submitted by the main thread, which spawns a second one
    /// from its worker (into that worker's own `fresh` queue).
    RemoteThenLocalSpawn,
}

impl Items {
    fn remote(self) -> usize {
        match self {
            Items::Remote(n) => n,
            Items::RemoteThenLocalSpawn => 1,
        }
    }

    fn total(self) -> usize {
        match self {
            Items::Remote(n) => n,
            Items::RemoteThenLocalSpawn => 2,
        }
    }
}

/// The runtime: `sched::Runtime` cut down to what the protocol touches.
struct Rt {
    idle: Idle,
    parkers: [Parker; WORKERS],
    fresh: [Queue; WORKERS],
    global: Queue,
    items: Items,
    /// `runs[i]`: how many times item `i` ran.
    runs: Vec<AtomicUsize>,
    done: AtomicUsize,
    shutdown: AtomicBool,
}

impl Rt {
    fn new(items: Items) -> Rt {
        Rt {
            idle: Idle::new(WORKERS),
            parkers: [Parker::new(), Parker::new()],
            fresh: [Queue::new(), Queue::new()],
            global: Queue::new(),
            items,
            runs: (0..items.total()).map(|_| AtomicUsize::new(0)).collect(),
            done: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
        }
    }

    /// `Runtime::wakep`.
    fn wakep(&self) {
        if let Some(w) = self.idle.wake_spinner() {
            self.parkers[w].unpark();
        }
    }

    /// `submit_new` from a plain thread: global queue, fence, wake.
    fn submit_remote(&self, item: usize) {
        self.global.push(item);
        if let Some(w) = self.idle.work_published_remotely() {
            self.parkers[w].unpark();
        }
    }

    /// `submit_new` from worker `me`: its own queue, no fence; a wakeup
    /// only buys parallelism since `me` is awake and will run the item.
    fn submit_local(&self, me: usize, item: usize) {
        self.fresh[me].push(item);
        if self.idle.wants_wakeup() {
            self.wakep();
        }
    }

    /// Worker `me` runs `item`.
    fn run(&self, me: usize, item: usize) {
        assert_eq!(
            self.runs[item].fetch_add(1, Relaxed),
            0,
            "item {item} ran twice"
        );
        if let Items::RemoteThenLocalSpawn = self.items
            && item == 0
        {
            self.submit_local(me, 1);
        }
        if self.done.fetch_add(1, AcqRel) + 1 == self.items.total() {
            self.shutdown.store(true, Release);
            for p in &self.parkers {
                p.unpark();
            }
        }
    }
}

/// One worker thread: `worker.rs::run` with the shutdown exit added.
fn worker(rt: &Rt, me: usize) {
    let mut spinning = false;
    while let Some(item) = find_runnable(rt, me, &mut spinning) {
        rt.run(me, item);
    }
}

/// `worker.rs::find_runnable`; `None` once the model shuts down.
fn find_runnable(rt: &Rt, me: usize, spinning: &mut bool) -> Option<usize> {
    loop {
        if rt.shutdown.load(Acquire) {
            return None;
        }
        if let Some(item) = rt.fresh[me].pop() {
            return Some(found(rt, spinning, item));
        }
        if let Some(item) = rt.global.pop() {
            return Some(found(rt, spinning, item));
        }
        if !*spinning && rt.idle.try_spin() {
            *spinning = true;
        }
        if *spinning && let Some(item) = steal(rt, me) {
            return Some(found(rt, spinning, item));
        }
        sleep(rt, me, spinning);
    }
}

/// `worker.rs::found`.
fn found(rt: &Rt, spinning: &mut bool, item: usize) -> usize {
    if std::mem::replace(spinning, false) && rt.idle.stop_spinning() {
        rt.wakep();
    }
    item
}

/// `worker.rs::steal`: the other workers' `fresh` queues, then global.
fn steal(rt: &Rt, me: usize) -> Option<usize> {
    (0..WORKERS)
        .filter(|&victim| victim != me)
        .find_map(|victim| rt.fresh[victim].pop())
        .or_else(|| rt.global.pop())
}

/// `worker.rs::work_visible`.
fn work_visible(rt: &Rt, me: usize) -> bool {
    !rt.fresh[me].is_empty()
        || !rt.global.is_empty()
        || (0..WORKERS).any(|i| i != me && !rt.fresh[i].is_empty())
}

/// `worker.rs::sleep`.
fn sleep(rt: &Rt, me: usize, spinning: &mut bool) {
    let was_spinning = std::mem::replace(spinning, false);
    rt.idle.sleep(me, was_spinning);
    if work_visible(rt, me) {
        let handed_off = rt.idle.woke(me);
        let own = !rt.fresh[me].is_empty();
        if handed_off {
            *spinning = true;
        } else if !own {
            rt.idle.force_spin();
            *spinning = true;
        }
        return;
    }
    rt.parkers[me].park(None::<()>);
    *spinning = rt.idle.woke(me);
}

/// Two workers and the main thread submitting `items`; checks that every
/// item runs exactly once and that the model ends (no lost wakeup).
fn model(items: Items) {
    let rt = Arc::new(Rt::new(items));
    let workers: Vec<_> = (0..WORKERS)
        .map(|me| {
            let rt = rt.clone();
            thread::spawn(move || worker(&rt, me))
        })
        .collect();
    for item in 0..items.remote() {
        rt.submit_remote(item);
    }
    for w in workers {
        w.join().unwrap();
    }
    for (item, runs) in rt.runs.iter().enumerate() {
        let runs = runs.load(Relaxed);
        assert_eq!(runs, 1, "item {item} ran {runs} times");
    }
}

#[test]
fn a_remote_submission_wakes_a_sleeping_worker() {
    check(|| model(Items::Remote(1)));
}

#[test]
fn two_remote_submissions_each_run_exactly_once() {
    check(|| model(Items::Remote(2)));
}

#[test]
fn work_a_worker_publishes_locally_is_run_by_its_owner_or_stolen() {
    check(|| model(Items::RemoteThenLocalSpawn));
}
