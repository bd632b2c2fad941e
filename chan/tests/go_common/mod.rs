//! Helpers shared by the Go-port test binaries (`golang.rs`,
//! `golang_one_worker.rs`, `stress.rs`): running a role as a goroutine or
//! as an OS thread, hang watchdogs, "does this block?" probes, and
//! drop-counted messages. Also the Go scenarios that more than one binary
//! runs (with two workers, and with every goroutine on one worker).

#![allow(dead_code)]

use gofer_chan::{Receiver, Sender, bounded, select};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where a role of a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A gofer goroutine (`gofer_runtime::spawn`).
    Goroutine,
    /// A plain OS thread (`std::thread::spawn`).
    Thread,
}

pub use Mode::{Goroutine as G, Thread as T};

/// Both modes, for tests that run once per mode.
pub const MODES: [Mode; 2] = [Mode::Goroutine, Mode::Thread];

impl Mode {
    /// Picks goroutine or thread by the parity of `i`, for mixed setups.
    pub fn alternate(i: usize) -> Mode {
        if i.is_multiple_of(2) { G } else { T }
    }

    /// `a` when goroutines, `b` when threads: smaller loop counts for threads.
    pub fn pick<N>(self, goroutine: N, thread: N) -> N {
        match self {
            G => goroutine,
            T => thread,
        }
    }
}

/// A goroutine or a thread, joinable either way.
pub enum Task<R> {
    G(gofer_runtime::JoinHandle<R>),
    T(std::thread::JoinHandle<R>),
}

impl<R> Task<R> {
    /// Waits for the task; re-raises its panic, if it panicked.
    pub fn join(self) -> R {
        let res = match self {
            Task::G(h) => h.join(),
            Task::T(h) => h.join(),
        };
        res.unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    pub fn is_finished(&self) -> bool {
        match self {
            Task::G(h) => h.is_finished(),
            Task::T(h) => h.is_finished(),
        }
    }
}

/// Runs `f` as a goroutine or a thread.
#[track_caller]
pub fn spawn<R, F>(mode: Mode, f: F) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match mode {
        G => Task::G(gofer_runtime::spawn(f)),
        T => Task::T(std::thread::spawn(f)),
    }
}

/// Runs `f` as a goroutine or a thread and waits for it.
#[track_caller]
pub fn run<R, F>(mode: Mode, f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    spawn(mode, f).join()
}

/// Joins every task in order.
pub fn join_all<R>(tasks: Vec<Task<R>>) -> Vec<R> {
    tasks.into_iter().map(Task::join).collect()
}

/// Sleeps the caller, goroutine or thread.
pub fn pause(d: Duration) {
    gofer_runtime::sleep(d)
}

/// How long a peer waits before checking that an operation is still blocked.
pub const BLOCK_PROBE: Duration = Duration::from_millis(50);

/// Upper bound for "never blocks": only a hang comes near it.
pub const NEVER_BLOCKS: Duration = Duration::from_secs(20);

/// Aborts the whole test binary with a message if it is not dropped within
/// `limit`: a hang becomes a named failure instead of a silent timeout.
pub struct Watchdog {
    _cancel: mpsc::Sender<()>,
}

impl Watchdog {
    pub fn new(name: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // Straight to fd 2: `eprintln!` would go to the test's
                // captured output, which the abort throws away.
                let msg = format!(
                    "watchdog: test `{name}` still running after {limit:?} ({} goroutines live): hang; aborting\n",
                    gofer_runtime::num_goroutines()
                );
                let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
                std::process::abort();
            }
        });
        Watchdog { _cancel: tx }
    }
}

/// The default watchdog: a test that is not done after two minutes hangs.
pub fn watchdog(name: &'static str) -> Watchdog {
    Watchdog::new(name, Duration::from_secs(120))
}

/// An operation running in its own task, which the test expects to block.
pub struct Probe<R> {
    done: Arc<AtomicBool>,
    task: Task<R>,
}

/// Starts `op` in a task of the given mode. The caller then checks with
/// [`Probe::assert_blocked`] that it has not completed.
#[track_caller]
pub fn probe<R, F>(mode: Mode, op: F) -> Probe<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let task = spawn(mode, move || {
        let r = op();
        d.store(true, SeqCst);
        r
    });
    Probe { done, task }
}

impl<R> Probe<R> {
    /// Lets the operation run for [`BLOCK_PROBE`] and asserts it has not
    /// completed. (A lower bound only: a correct blocking op never completes.)
    #[track_caller]
    pub fn assert_blocked(&self, what: &str) {
        pause(BLOCK_PROBE);
        assert!(
            !self.done.load(SeqCst),
            "{what}: completed, but should block"
        );
    }

    /// Asserts the operation is still blocked, without waiting first.
    #[track_caller]
    pub fn assert_still_blocked(&self, what: &str) {
        assert!(
            !self.done.load(SeqCst),
            "{what}: completed, but should block"
        );
    }

    /// Waits for the operation to complete (after the test unblocked it).
    pub fn join(self) -> R {
        self.task.join()
    }

    /// Leaves the operation blocked forever (Go's abandoned goroutine).
    pub fn abandon(self) {
        std::mem::forget(self.task);
    }
}

/// Runs `op` in a task of the given mode and asserts that it completes
/// within [`NEVER_BLOCKS`] (a very generous bound: only a hang fails).
#[track_caller]
pub fn assert_completes<R, F>(mode: Mode, what: &str, op: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let p = probe(mode, op);
    let start = Instant::now();
    while !p.done.load(SeqCst) {
        assert!(
            start.elapsed() < NEVER_BLOCKS,
            "{what}: still blocked after {NEVER_BLOCKS:?}, but should never block"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    p.join()
}

/// Counts how many values of a kind were dropped.
#[derive(Clone, Default, Debug)]
pub struct DropCount(Arc<AtomicUsize>);

impl DropCount {
    pub fn new() -> DropCount {
        DropCount::default()
    }
    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A message with an id that counts its own drop.
#[derive(Debug)]
pub struct Msg {
    pub id: u64,
    drops: DropCount,
}

impl Msg {
    pub fn new(id: u64, drops: &DropCount) -> Msg {
        Msg {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, SeqCst);
    }
}

/// Checks that `ids` holds every id in `0..n` exactly once.
#[track_caller]
pub fn assert_exactly_once(mut ids: Vec<u64>, n: u64, what: &str) {
    ids.sort_unstable();
    let mut lost = Vec::new();
    let mut dup = Vec::new();
    let mut it = ids.iter().peekable();
    for want in 0..n {
        let mut seen = 0;
        while it.peek() == Some(&&want) {
            it.next();
            seen += 1;
        }
        match seen {
            0 => lost.push(want),
            1 => {}
            _ => dup.push(want),
        }
    }
    let extra: Vec<u64> = it.copied().collect();
    assert!(
        lost.is_empty() && dup.is_empty() && extra.is_empty(),
        "{what}: {} lost (first {:?}), {} duplicated (first {:?}), {} out of range (first {:?})",
        lost.len(),
        &lost[..lost.len().min(8)],
        dup.len(),
        &dup[..dup.len().min(8)],
        extra.len(),
        &extra[..extra.len().min(8)],
    );
}

// ---------------------------------------------------------------------
// Scenarios run by more than one binary.
// ---------------------------------------------------------------------

/// Go's TestSelfSelect: two tasks select both a send and a receive on the
/// same channel, 1000 times each. On a zero-capacity channel a task must
/// never receive its own value (it cannot pair with itself); nothing may
/// deadlock.
pub fn self_select(cap: usize, modes: [Mode; 2]) {
    const ROUNDS: usize = 1000;
    let (s, r) = bounded::<usize>(cap);
    let tasks: Vec<_> = (0..2usize)
        .map(|p| {
            let (s, r) = (s.clone(), r.clone());
            spawn(modes[p], move || {
                for i in 0..ROUNDS {
                    // Two source orders, as in Go; select! is random anyway.
                    let got = if p == 0 || i.is_multiple_of(2) {
                        select! {
                            send(s, p) -> res => { res.unwrap(); None }
                            recv(r) -> v => Some(v.unwrap()),
                        }
                    } else {
                        select! {
                            recv(r) -> v => Some(v.unwrap()),
                            send(s, p) -> res => { res.unwrap(); None }
                        }
                    };
                    if let Some(v) = got {
                        assert!(
                            cap > 0 || v != p,
                            "task {p} received its own value on an unbuffered channel"
                        );
                    }
                }
            })
        })
        .collect();
    join_all(tasks);
}

/// Go's test/chan/doubleselect.go: a sender selects over four unbuffered
/// channels; four forwarders copy them into one channel; the receiver sees
/// every value exactly once (a select fires only one of its cases).
pub fn double_select(n: usize, sender: Mode, muxes: [Mode; 4], receiver: Mode) {
    let chans: Vec<(Sender<usize>, Receiver<usize>)> = (0..4).map(|_| bounded(0)).collect();
    let (out_s, out_r) = bounded::<usize>(0);
    let senders: Vec<Sender<usize>> = chans.iter().map(|c| c.0.clone()).collect();
    let send_task = spawn(sender, move || {
        let [c1, c2, c3, c4] = &senders[..] else {
            unreachable!()
        };
        for i in 0..n {
            select! {
                send(c1, i) -> r => r.unwrap(),
                send(c2, i) -> r => r.unwrap(),
                send(c3, i) -> r => r.unwrap(),
                send(c4, i) -> r => r.unwrap(),
            }
        }
        for c in &senders {
            assert!(c.close());
        }
    });
    let mux_tasks: Vec<_> = chans
        .into_iter()
        .zip(muxes)
        .map(|((_, r), mode)| {
            let out = out_s.clone();
            spawn(mode, move || {
                for v in r.iter() {
                    out.send(v).unwrap();
                }
            })
        })
        .collect();
    drop(out_s);
    let recv_task = spawn(receiver, move || {
        let mut seen = vec![false; n];
        let mut count = 0;
        for v in out_r.iter() {
            assert!(
                !seen[v],
                "value {v} received twice: a select fired two cases"
            );
            seen[v] = true;
            count += 1;
        }
        count
    });
    send_task.join();
    join_all(mux_tasks);
    assert_eq!(recv_task.join(), n, "values lost");
}

/// Go's test/chan/select6.go (issue 2075): a select that loses on `c1`
/// while being the last waiter in `c1`'s queue must not corrupt the queue;
/// later waiters on `c1` still wake. Repeated `rounds` times.
pub fn select_loser_leaves_queue_intact(rounds: usize, modes: [Mode; 4]) {
    for _ in 0..rounds {
        let (c1s, c1r) = bounded::<bool>(0);
        let (c2s, c2r) = bounded::<bool>(0);
        let (c3s, c3r) = bounded::<bool>(0);
        let r1 = c1r.clone();
        let a = spawn(modes[0], move || {
            r1.recv().unwrap();
        });
        let r1 = c1r.clone();
        let b = spawn(modes[1], move || {
            select! {
                recv(r1) -> _ => panic!("c1 fired in the select: nobody has sent on it yet"),
                recv(c2r) -> v => { assert_eq!(v, Ok(true)); c3s.send(true).unwrap(); }
            }
            r1.recv().unwrap();
        });
        let c = spawn(modes[2], move || c2s.send(true).unwrap());
        let main = spawn(modes[3], move || {
            c3r.recv().unwrap();
            c1s.send(true).unwrap();
            c1s.send(true).unwrap();
        });
        main.join();
        a.join();
        b.join();
        c.join();
    }
}

/// Go's test/chan/goroutines.go: a chain of `n` links, each receiving from
/// its right neighbour and sending to its left, passes one value from end
/// to end (each link adds one, so the value proves every link ran once).
pub fn chain(n: usize, mode_of: impl Fn(usize) -> Mode) -> usize {
    let (leftmost_s, leftmost_r) = bounded::<usize>(0);
    let mut left = leftmost_s;
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (rs, rr) = bounded::<usize>(0);
        let l = left;
        tasks.push(spawn(mode_of(i), move || {
            l.send(rr.recv().unwrap() + 1).unwrap();
        }));
        left = rs;
    }
    left.send(0).unwrap();
    let got = leftmost_r.recv().unwrap();
    join_all(tasks);
    got
}

/// Go's SynchFifo (test/chan/fifo.go): tasks enabled one after another
/// each receive once from a shared unbuffered channel; values arrive in
/// send order.
pub fn synch_fifo(n: usize, mode_of: impl Fn(usize) -> Mode) {
    let (ch_s, ch_r) = bounded::<usize>(0);
    let (start_s, start_r) = bounded::<()>(0);
    let mut input = start_r;
    let mut tasks = Vec::new();
    for i in 0..n {
        let (out_s, out_r) = bounded::<()>(0);
        let (inp, ch) = (input, ch_r.clone());
        tasks.push(spawn(mode_of(i), move || {
            inp.recv().unwrap();
            assert_eq!(ch.recv().unwrap(), i, "unbuffered values out of send order");
            out_s.send(()).unwrap();
        }));
        input = out_r;
    }
    start_s.send(()).unwrap();
    for i in 0..n {
        ch_s.send(i).unwrap();
    }
    input.recv().unwrap();
    join_all(tasks);
}

/// The four channel flavors: `bounded(0)`, `bounded(1)`, `bounded(16)`
/// and `unbounded()` (`None`).
pub const FLAVORS: [Option<usize>; 4] = [Some(0), Some(1), Some(16), None];

/// Makes a channel of the given flavor (`None`: unbounded).
pub fn make<M>(cap: Option<usize>) -> (Sender<M>, Receiver<M>) {
    match cap {
        Some(c) => bounded(c),
        None => gofer_chan::unbounded(),
    }
}

/// Calls `f` until it returns `Some`, pausing ~10 µs and yielding between
/// tries (Go's nonblock.go `sleep()`); fails only after [`NEVER_BLOCKS`].
#[track_caller]
pub fn retry<R>(what: &str, mut f: impl FnMut() -> Option<R>) -> R {
    let start = Instant::now();
    loop {
        if let Some(r) = f() {
            return r;
        }
        assert!(
            start.elapsed() < NEVER_BLOCKS,
            "{what}: still not done after {NEVER_BLOCKS:?}"
        );
        pause(Duration::from_micros(10));
        gofer_runtime::yield_now();
    }
}

/// Go's test/chan/nonblock.go for one element type and capacity: a
/// non-blocking receive on an empty channel takes `default`; a
/// non-blocking send (then receive) retried in a loop eventually succeeds
/// once the peer (running in `peer` mode) blocks on the other end.
pub fn nonblock<V>(cap: usize, value: V, peer: Mode)
where
    V: Clone + PartialEq + std::fmt::Debug + Send + 'static,
{
    let (s, r) = bounded::<V>(cap);
    let (sync_s, sync_r) = bounded::<()>(0);

    select! {
        recv(r) -> _ => panic!("non-blocking receive on an empty channel fired"),
        default => {}
    }
    assert_eq!(r.try_recv(), Err(gofer_chan::TryRecvError::Empty));
    if cap == 0 {
        select! {
            send(s, value.clone()) -> _ => panic!("non-blocking send with no receiver fired"),
            default => {}
        }
    }

    // A receiver arrives: the non-blocking send eventually goes through.
    let (r2, v2, ss) = (r.clone(), value.clone(), sync_s.clone());
    let receiver = spawn(peer, move || {
        assert_eq!(r2.recv().unwrap(), v2);
        ss.send(()).unwrap();
    });
    retry("non-blocking send to a blocked receiver", || {
        select! {
            send(s, value.clone()) -> res => { res.unwrap(); Some(()) }
            default => None,
        }
    });
    sync_r.recv().unwrap();
    receiver.join();

    // A sender arrives: the non-blocking receive eventually goes through.
    let (s2, v2, ss) = (s.clone(), value.clone(), sync_s.clone());
    let sender = spawn(peer, move || {
        s2.send(v2).unwrap();
        ss.send(()).unwrap();
    });
    if cap > 0 {
        sync_r.recv().unwrap();
    }
    let got = retry("non-blocking receive from a blocked sender", || {
        select! {
            recv(r) -> v => Some(v.unwrap()),
            default => None,
        }
    });
    assert_eq!(got, value);
    if cap == 0 {
        sync_r.recv().unwrap();
    }
    sender.join();
}

/// nonblock.go's four element types, unbuffered and with capacity 1.
pub fn nonblock_all_types(peer: Mode) {
    for cap in [0, 1] {
        nonblock(cap, 123i32, peer);
        nonblock(cap, 123_456_789_012i64, peer);
        nonblock(cap, true, peer);
        nonblock(cap, String::from("hello"), peer);
    }
}
