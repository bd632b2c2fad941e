//! The workloads and the peers that run them: what is measured, in which
//! unit, with which parameters, and how each peer writes it (or why it
//! cannot).

use std::fmt;

/// A runtime (or library) that runs the workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Gofer,
    Go,
    Tokio,
    May,
    Threads,
}

impl Peer {
    pub const ALL: [Peer; 5] = [Peer::Gofer, Peer::Go, Peer::Tokio, Peer::May, Peer::Threads];

    /// The name used on the command line and in child arguments.
    pub fn id(self) -> &'static str {
        match self {
            Peer::Gofer => "gofer",
            Peer::Go => "go",
            Peer::Tokio => "tokio",
            Peer::May => "may",
            Peer::Threads => "threads",
        }
    }

    pub fn from_id(s: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.id() == s)
    }

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Peer::Gofer => "gofer",
            Peer::Go => "Go",
            Peer::Tokio => "tokio",
            Peer::May => "may",
            Peer::Threads => "std threads",
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a workload is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A child process per peer and run prints the figure.
    Micro,
    /// Same, and the figure is memory: fewer runs, longer time-out.
    Rss,
    /// A TCP echo server child per peer and run, driven by the runner's
    /// client: `conns` connections, round trips (`stream == false`) or a
    /// bulk stream each way.
    Echo { stream: bool },
    /// An HTTP/1.1 keep-alive server child driven by `wrk`.
    Http,
}

/// Does a peer run a workload, and how?
#[derive(Clone, Copy, Debug)]
pub enum Support {
    /// Yes; the text (maybe empty) says how, where it differs from the
    /// obvious: shown next to the peer's name.
    Yes(&'static str),
    /// No; the text says why.
    No(&'static str),
}

/// One workload.
pub struct Workload {
    /// Command-line name; also passed to children.
    pub id: &'static str,
    /// Title; `{n}` is replaced by the size.
    pub title: &'static str,
    /// Unit of the figure.
    pub unit: &'static str,
    /// Throughputs: higher is better. Everything else: lower is better.
    pub higher_better: bool,
    pub kind: Kind,
    /// Size of a full run (operations, tasks or connections).
    pub n: usize,
    /// Size of a `--quick` run.
    pub quick_n: usize,
    /// Runs per peer in a full run (a `--quick` run does 2).
    pub runs: usize,
    /// What was measured, in a sentence, for the report.
    pub what: &'static str,
    pub peers: [(Peer, Support); 5],
}

impl Workload {
    pub fn title_for(&self, n: usize) -> String {
        self.title.replace("{n}", &group_digits(n))
    }
}

/// 1000000 → "1,000,000".
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

use Peer::*;
use Support::{No, Yes};

const NO_SPAWN_THREADS: Support =
    No("an OS thread per task at this count is not a sensible baseline");
const MAY_NO_BOUNDED: Support = No("may has no bounded channel (its channels are unbounded)");
const MAY_SELECT: Support = No(
    "may's select! runs every arm in a coroutine of its own and can consume a message from a losing arm (see research/may.md §6): not comparable",
);

/// Throughput rows: the same peers for every flavor, with flavor-specific
/// notes.
const fn throughput(
    id: &'static str,
    title: &'static str,
    n: usize,
    go: Support,
    tokio: Support,
    may: Support,
) -> Workload {
    Workload {
        id,
        title,
        unit: "ns/msg",
        higher_better: false,
        kind: Kind::Micro,
        n,
        quick_n: n / 100,
        runs: 5,
        what: "producers send a counter, consumers receive until the channel is closed; ns per message received, every message counted",
        peers: [
            (Gofer, Yes("")),
            (Go, go),
            (Tokio, tokio),
            (May, may),
            (Threads, Yes("crossbeam-channel")),
        ],
    }
}

/// Every workload, in report order.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            id: "spawn",
            title: "spawn + join {n} empty tasks",
            unit: "ns/task",
            higher_better: false,
            kind: Kind::Micro,
            n: 1_000_000,
            quick_n: 10_000,
            runs: 5,
            what: "one task spawns n empty tasks, keeping their handles, then joins them all",
            peers: [
                (Gofer, Yes("")),
                (Go, Yes("sync.WaitGroup (Go has no join handle)")),
                (Tokio, Yes("")),
                (May, Yes("")),
                (Threads, NO_SPAWN_THREADS),
            ],
        },
        Workload {
            id: "chain",
            title: "chained spawn, {n} deep",
            unit: "ns/link",
            higher_better: false,
            kind: Kind::Micro,
            n: 100_000,
            quick_n: 1_000,
            runs: 5,
            what: "each task spawns the next and exits; the last one signals the first over a channel",
            peers: [
                (Gofer, Yes("")),
                (Go, Yes("")),
                (Tokio, Yes("oneshot at the end")),
                (May, Yes("")),
                (Threads, NO_SPAWN_THREADS),
            ],
        },
        Workload {
            id: "yield",
            title: "yield, 2 tasks yielding up to {n} times each",
            unit: "ns/yield",
            higher_better: false,
            kind: Kind::Micro,
            n: 2_000_000,
            quick_n: 20_000,
            runs: 5,
            what: "two tasks spawned together each yield in a loop; ns per yield (total yields / wall time)",
            peers: [
                (Gofer, Yes("")),
                (Go, Yes("runtime.Gosched")),
                (Tokio, Yes("task::yield_now")),
                (May, Yes("")),
                (Threads, Yes("std::thread::yield_now (sched_yield)")),
            ],
        },
        Workload {
            id: "park",
            title: "park/unpark ping-pong, {n} round trips",
            unit: "ns/round trip",
            higher_better: false,
            kind: Kind::Micro,
            n: 500_000,
            quick_n: 5_000,
            runs: 5,
            what: "two tasks hand a turn back and forth by waking each other",
            peers: [
                (Gofer, Yes("park::park / Task::unpark")),
                (
                    Go,
                    Yes("closest: a pair of chan struct{} of capacity 1 (Go has no park API)"),
                ),
                (Tokio, Yes("closest: a pair of sync::Notify")),
                (May, Yes("coroutine::park / Coroutine::unpark")),
                (Threads, Yes("std::thread::park / Thread::unpark")),
            ],
        },
        Workload {
            id: "pingpong",
            title: "unbuffered channel ping-pong, {n} round trips",
            unit: "ns/round trip",
            higher_better: false,
            kind: Kind::Micro,
            n: 200_000,
            quick_n: 2_000,
            runs: 5,
            what: "two tasks, two rendezvous channels: send a counter, wait for it back",
            peers: [
                (Gofer, Yes("bounded(0)")),
                (Go, Yes("make(chan int)")),
                (
                    Tokio,
                    Yes("mpsc::channel(1): tokio has no rendezvous channel"),
                ),
                (
                    May,
                    Yes("sync::mpsc (unbounded): may has no rendezvous channel"),
                ),
                (Threads, Yes("crossbeam bounded(0)")),
            ],
        },
        throughput(
            "bounded1-1x1",
            "bounded(1) throughput, 1 → 1, {n} messages",
            1_000_000,
            Yes(""),
            Yes("mpsc::channel(1)"),
            MAY_NO_BOUNDED,
        ),
        throughput(
            "bounded1-4x4",
            "bounded(1) throughput, 4 → 4, {n} messages",
            1_000_000,
            Yes(""),
            Yes(
                "async-channel bounded(1): tokio's mpsc has one consumer, its docs point to async-channel",
            ),
            MAY_NO_BOUNDED,
        ),
        throughput(
            "bounded1024-1x1",
            "bounded(1024) throughput, 1 → 1, {n} messages",
            4_000_000,
            Yes(""),
            Yes("mpsc::channel(1024)"),
            MAY_NO_BOUNDED,
        ),
        throughput(
            "bounded1024-4x4",
            "bounded(1024) throughput, 4 → 4, {n} messages",
            4_000_000,
            Yes(""),
            Yes("async-channel bounded(1024)"),
            MAY_NO_BOUNDED,
        ),
        throughput(
            "unbounded-1x1",
            "unbounded throughput, 1 → 1, {n} messages",
            4_000_000,
            No("Go has no unbounded channel"),
            Yes("mpsc::unbounded_channel"),
            Yes("sync::mpsc"),
        ),
        throughput(
            "unbounded-4x4",
            "unbounded throughput, 4 → 4, {n} messages",
            4_000_000,
            No("Go has no unbounded channel"),
            Yes("async-channel unbounded"),
            Yes("sync::mpmc"),
        ),
        Workload {
            id: "select4",
            title: "4-way select, unbuffered, 4 senders → 1 selecting receiver, {n} messages",
            unit: "ns/msg",
            higher_better: false,
            kind: Kind::Micro,
            n: 400_000,
            quick_n: 4_000,
            runs: 5,
            what: "4 senders each on its own rendezvous channel, one receiver selecting over the 4",
            peers: [
                (Gofer, Yes("select!")),
                (Go, Yes("select")),
                (Tokio, Yes("tokio::select! over 4 mpsc::channel(1)")),
                (May, MAY_SELECT),
                (Threads, Yes("crossbeam select!")),
            ],
        },
        Workload {
            id: "select-default",
            title: "select over 4 empty channels with a default arm, {n} selects",
            unit: "ns/select",
            higher_better: false,
            kind: Kind::Micro,
            n: 4_000_000,
            quick_n: 40_000,
            runs: 5,
            what: "nothing is ever ready (the senders are alive): the default arm runs every time",
            peers: [
                (Gofer, Yes("select! with default")),
                (Go, Yes("select with default")),
                (
                    Tokio,
                    Yes(
                        "biased tokio::select! whose last arm is future::ready(()) (select! has no default arm)",
                    ),
                ),
                (May, MAY_SELECT),
                (Threads, Yes("crossbeam select! with default")),
            ],
        },
        mutex(
            "mutex-uncontended",
            "mutex, uncontended: 1 task, {n} lock + unlock",
            10_000_000,
            "one task locks and unlocks a mutex around a counter increment in a loop; ns per lock + unlock, the count checked",
            Yes("std::sync::Mutex, on the main thread"),
        ),
        mutex(
            "mutex-contended",
            "mutex, contended: 4 tasks, {n} lock + unlock in all",
            4_000_000,
            "4 tasks each increment one shared counter under the mutex n/4 times; ns per lock + unlock over all of them, the final count checked exact",
            Yes("std::sync::Mutex, 4 threads"),
        ),
        mutex_parking_lot(
            "mutex-uncontended-parking_lot",
            "mutex, uncontended: 1 task, {n} lock + unlock (std threads: parking_lot)",
            10_000_000,
            "mutex-uncontended again, the std-threads peer with parking_lot's mutex in place of std's (gofer runs again, for the ratio)",
            Yes("parking_lot::Mutex, on the main thread"),
        ),
        mutex_parking_lot(
            "mutex-contended-parking_lot",
            "mutex, contended: 4 tasks, {n} lock + unlock in all (std threads: parking_lot)",
            4_000_000,
            "mutex-contended again, the std-threads peer with parking_lot's mutex in place of std's (gofer runs again, for the ratio)",
            Yes("parking_lot::Mutex, 4 threads"),
        ),
        rss("rss-100k", 100_000, 1_000),
        rss("rss-1m", 1_000_000, 10_000),
        Workload {
            id: "echo-rtt-1",
            title: "TCP echo round trip, 1 connection, 64-byte messages",
            unit: "µs/round trip",
            higher_better: false,
            kind: Kind::Echo { stream: false },
            n: 1,
            quick_n: 1,
            runs: 3,
            what: "one connection sends 64 bytes and waits for them back, in a loop",
            peers: echo_peers(),
        },
        Workload {
            id: "echo-rtt-1000",
            title: "TCP echo round trip, {n} connections, one 64-byte message in flight each",
            unit: "µs/round trip",
            higher_better: false,
            kind: Kind::Echo { stream: false },
            n: 1_000,
            quick_n: 10,
            runs: 3,
            what: "every connection sends 64 bytes and waits for them back, in a loop; mean latency (round trips per second = connections / latency)",
            peers: echo_peers(),
        },
        Workload {
            id: "echo-stream-1",
            title: "TCP echo throughput, 1 connection streaming",
            unit: "MB/s",
            higher_better: true,
            kind: Kind::Echo { stream: true },
            n: 1,
            quick_n: 1,
            runs: 3,
            what: "the client writes 16 KiB chunks, keeping up to 64 KiB in flight, and reads the echo concurrently; MB/s echoed",
            peers: echo_peers(),
        },
        Workload {
            id: "echo-stream-1000",
            title: "TCP echo throughput, {n} connections streaming",
            unit: "MB/s",
            higher_better: true,
            kind: Kind::Echo { stream: true },
            n: 1_000,
            quick_n: 10,
            runs: 3,
            what: "every connection writes 16 KiB chunks, keeping up to 64 KiB in flight, and reads the echo concurrently; total MB/s echoed (the window keeps 1,000 connections within the kernel's TCP memory)",
            peers: echo_peers(),
        },
        Workload {
            id: "http",
            title: "HTTP/1.1 hello, keep-alive, wrk -t1 -c{n}",
            unit: "req/s",
            higher_better: true,
            kind: Kind::Http,
            n: 100,
            quick_n: 10,
            runs: 3,
            what: "wrk on one thread against a minimal keep-alive server that answers \"Hello, World!\"",
            peers: [
                (Gofer, Yes("examples/http_hello.rs's logic (httparse)")),
                (Go, Yes("net/http: a full HTTP stack")),
                (
                    Tokio,
                    Yes("the same hand-written logic, async (httparse, not hyper)"),
                ),
                (
                    May,
                    Yes("the same hand-written logic (httparse) on may::net"),
                ),
                (Threads, Yes("the same logic, a thread per connection")),
            ],
        },
    ]
}

/// The tokio peer of the mutex workloads.
const TOKIO_MUTEX: Support = Yes(
    "tokio::sync::Mutex, lock().await: the async mutex, which can be held across an .await (tokio's docs suggest std's Mutex when it never is)",
);

/// A mutex workload: every peer's own mutex; the std-threads peer with
/// `threads` (std's lock).
const fn mutex(
    id: &'static str,
    title: &'static str,
    n: usize,
    what: &'static str,
    threads: Support,
) -> Workload {
    Workload {
        id,
        title,
        unit: "ns/lock",
        higher_better: false,
        kind: Kind::Micro,
        n,
        quick_n: n / 100,
        runs: 5,
        what,
        peers: [
            (Gofer, Yes("gofer::sync::Mutex")),
            (Go, Yes("sync.Mutex")),
            (Tokio, TOKIO_MUTEX),
            (May, Yes("may::sync::Mutex")),
            (Threads, threads),
        ],
    }
}

/// A mutex workload again with parking_lot's lock for the std-threads
/// peer (a workload has one row per peer): gofer runs again, for the
/// ratio; the other peers are in the std-lock workload of the same shape.
const fn mutex_parking_lot(
    id: &'static str,
    title: &'static str,
    n: usize,
    what: &'static str,
    threads: Support,
) -> Workload {
    const SAME: Support = No(
        "measured in the workload of the same name without -parking_lot: only the std-threads lock differs here",
    );
    let mut w = mutex(id, title, n, what, threads);
    w.peers = [
        (Gofer, Yes("gofer::sync::Mutex")),
        (Go, SAME),
        (Tokio, SAME),
        (May, SAME),
        (Threads, threads),
    ];
    w
}

const fn rss(id: &'static str, n: usize, quick_n: usize) -> Workload {
    Workload {
        id,
        title: "memory: RSS per parked task, {n} parked",
        unit: "KiB/task",
        higher_better: false,
        kind: Kind::Rss,
        n,
        quick_n,
        runs: 3,
        what: "a fresh process spawns n tasks that each wait on one shared signal; (VmRSS once all wait - VmRSS at process start, before the runtime) / n, so start-up pools count too (Go: from main, after its runtime started)",
        peers: [
            (Gofer, Yes("waiting in recv on a shared channel")),
            (Go, Yes("waiting in <-done on a shared channel")),
            (Tokio, Yes("waiting on a shared sync::Notify")),
            (May, Yes("waiting in recv on a shared sync::mpmc channel")),
            (Threads, NO_SPAWN_THREADS),
        ],
    }
}

const fn echo_peers() -> [(Peer, Support); 5] {
    [
        (Gofer, Yes("gofer::net, a goroutine per connection")),
        (
            Go,
            Yes("net, a goroutine per connection, a read/write loop"),
        ),
        (Tokio, Yes("tokio::net, a task per connection")),
        (May, Yes("may::net, a coroutine per connection")),
        (Threads, Yes("std::net, a thread per connection")),
    ]
}
