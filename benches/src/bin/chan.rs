//! Channel micro-benchmarks: `gofer::chan` between goroutines, side by side
//! with crossbeam-channel between OS threads running the same workloads.
//!
//! * unbuffered (zero-capacity) ping-pong between two parties, ns per
//!   round trip — for gofer also with both goroutines placed on one worker
//!   thread, and on two (a started goroutine never changes threads, so
//!   where the two partners first ran decides what every hand-off costs);
//! * throughput of `bounded(1)`, `(2)`, `(4)`, `(8)`, `(16)`, `(1024)` and `unbounded()` with 1
//!   producer and 1 consumer, and with 4 and 4, ns per message;
//! * a 4-way `select!` over 4 unbuffered channels, fed by 4 senders, ns per
//!   message received;
//! * a `select!` over 4 empty channels with a `default` arm, ns per select.
//!
//! Each figure is the median of several runs, with min and max. The gofer
//! side runs every party in a goroutine; the crossbeam side in a std
//! thread. Every run stops after its operation count or its time budget,
//! whichever comes first, and a watchdog exits with an error if one run
//! takes minutes, so the program always ends. `--quick` shrinks
//! everything for a smoke test.
//! Usage: `cargo run --release -p gofer-benches --bin chan [-- --quick]`;
//! `CHAN_BENCH_ONLY='bounded(&gofer|ping'` runs only the rows whose name
//! contains all `&`-joined parts of one `|`-separated alternative.

use std::sync::Mutex;
use std::time::{Duration, Instant};

fn per_op(t: Instant, ops: usize) -> f64 {
    t.elapsed().as_nanos() as f64 / ops as f64
}

/// Has the run's time budget run out? Looks at the clock every `every`
/// operations: rarely in a tight loop, often where one operation may take
/// milliseconds.
fn over(i: usize, every: usize, deadline: Instant) -> bool {
    i.is_multiple_of(every) && Instant::now() >= deadline
}

// The workloads, written once for both libraries and shared with the
// runner (`peers/chan_workloads.rs`). Every run does `n` operations or
// stops at `deadline`, whichever comes first, and is timed over the
// operations it did: a slow configuration gives a slow figure, not a
// stalled benchmark.
include!("../peers/chan_workloads.rs");

mod go {
    chan_workloads!(gofer::chan, gofer::select, gofer::spawn);
}

mod cb {
    chan_workloads!(
        crossbeam_channel,
        crossbeam_channel::select,
        std::thread::spawn
    );
}

/// Unbuffered ping-pong between two goroutines placed on one worker
/// thread (`split == false`) or on two. A started goroutine never changes
/// threads, so the placement found at the start holds for the whole run;
/// a placement that comes out wrong is retried. `None`: not achieved.
fn go_ping_pong_placed(n: usize, deadline: Instant, split: bool) -> Option<f64> {
    use gofer::chan::bounded;
    for _attempt in 0..100 {
        let (ping_tx, ping_rx) = bounded::<usize>(0);
        let (pong_tx, pong_rx) = bounded::<usize>(0);
        let (where_tx, where_rx) = bounded(1);
        let echo = gofer::spawn(move || {
            where_tx.send(std::thread::current().id()).unwrap();
            for i in ping_rx {
                pong_tx.send(i).unwrap();
            }
        });
        if split {
            // Hold this worker, without yielding, until another worker has
            // started `echo` (or give up and let it run here).
            let give_up = Instant::now() + Duration::from_millis(50);
            while where_rx.is_empty() && Instant::now() < give_up {
                std::hint::spin_loop();
            }
        }
        let echo_thread = where_rx.recv().unwrap();
        if (echo_thread != std::thread::current().id()) == split {
            let t = Instant::now();
            let mut done = 0;
            while done < n && !over(done, 16, deadline) {
                ping_tx.send(done).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), done);
                done += 1;
            }
            let ns = per_op(t, done);
            drop(ping_tx);
            echo.join().unwrap();
            return Some(ns);
        }
        drop(ping_tx);
        echo.join().unwrap();
    }
    None
}

/// Runs `f` in a goroutine (so that every party of a gofer workload is a
/// goroutine, the measuring one included) and returns its figure.
fn in_goroutine(f: impl FnOnce() -> f64 + Send + 'static) -> f64 {
    gofer::spawn(f).join().unwrap()
}

/// The benchmark running now, for the watchdog.
static CURRENT: Mutex<Option<(String, Instant)>> = Mutex::new(None);

/// No benchmark run may take longer than this: past it the watchdog names
/// the culprit and exits non-zero, so a hang fails CI instead of stalling it.
const WATCHDOG: Duration = Duration::from_secs(120);

fn start_watchdog() {
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if let Some((name, since)) = &*CURRENT.lock().unwrap()
                && since.elapsed() > WATCHDOG
            {
                eprintln!(
                    "chan bench: one run of `{name}` has taken over {WATCHDOG:?}; giving up (a hang?)"
                );
                std::process::exit(2);
            }
        }
    });
}

fn summary(name: &str, unit: &str, runs: usize, mut f: impl FnMut() -> f64) {
    // `CHAN_BENCH_ONLY='a&b|c'`: run only the rows whose name contains
    // both a and b, or c.
    if let Ok(only) = std::env::var("CHAN_BENCH_ONLY")
        && !only
            .split('|')
            .any(|alt| alt.split('&').all(|pat| name.contains(pat)))
    {
        return;
    }
    let mut xs: Vec<f64> = (0..runs)
        .map(|_| {
            *CURRENT.lock().unwrap() = Some((name.to_string(), Instant::now()));
            f()
        })
        .collect();
    *CURRENT.lock().unwrap() = None;
    xs.sort_by(f64::total_cmp); // NaN (a run that could not be set up) last
    println!(
        "{name:<44} {:>9.1} {unit:<14} (min {:.1}, max {:.1}, {runs} runs)",
        xs[runs / 2],
        xs[0],
        xs[runs - 1]
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // The select-with-default loop never blocks, and the placement trick
    // in `go_ping_pong_placed` spins: both hold their worker on purpose.
    gofer::Config::new()
        .hog_reports(false)
        .apply()
        .expect("configured before first use");
    start_watchdog();
    // Operations per run are divided by `scale`; every run also stops at
    // its time budget.
    let (scale, runs, budget) = if quick {
        (100, 3, Duration::from_millis(200))
    } else {
        (1, 7, Duration::from_secs(1))
    };
    let procs = gofer::max_procs();
    println!(
        "gofer chan benchmarks, GOMAXPROCS={procs}; gofer on goroutines, crossbeam-channel on std threads"
    );
    println!("each run: the operations shown, or {budget:?}, whichever ends first\n");
    let deadline = move || Instant::now() + budget;

    let n = 200_000 / scale;
    summary(
        &format!("unbuffered ping-pong x{n}, gofer"),
        "ns/round trip",
        runs,
        || in_goroutine(move || go::ping_pong(n, deadline())),
    );
    for (split, label) in [(false, "one worker"), (true, "two workers")] {
        if split && procs < 2 {
            continue;
        }
        summary(
            &format!("  gofer, both goroutines on {label}"),
            "ns/round trip",
            runs,
            || in_goroutine(move || go_ping_pong_placed(n, deadline(), split).unwrap_or(f64::NAN)),
        );
    }
    summary(
        &format!("unbuffered ping-pong x{n}, crossbeam"),
        "ns/round trip",
        runs,
        || cb::ping_pong(n, deadline()),
    );

    for (label, cap, msgs) in [
        ("bounded(1)", Some(1), 1_000_000),
        ("bounded(2)", Some(2), 2_000_000),
        ("bounded(4)", Some(4), 2_000_000),
        ("bounded(8)", Some(8), 2_000_000),
        ("bounded(16)", Some(16), 2_000_000),
        ("bounded(1024)", Some(1024), 4_000_000),
        ("unbounded", None, 4_000_000),
    ] {
        for (p, c) in [(1, 1), (4, 4)] {
            let n = msgs / scale;
            summary(
                &format!("{label} {p}p/{c}c x{n}, gofer"),
                "ns/msg",
                runs,
                || in_goroutine(move || go::throughput(cap, p, c, n, deadline())),
            );
            summary(
                &format!("{label} {p}p/{c}c x{n}, crossbeam"),
                "ns/msg",
                runs,
                || cb::throughput(cap, p, c, n, deadline()),
            );
        }
    }

    let n = 400_000 / scale;
    summary(
        &format!("4-way select, unbuffered x{n}, gofer"),
        "ns/msg",
        runs,
        || in_goroutine(move || go::select4(n, deadline())),
    );
    summary(
        &format!("4-way select, unbuffered x{n}, crossbeam"),
        "ns/msg",
        runs,
        || cb::select4(n, deadline()),
    );

    let n = 4_000_000 / scale;
    summary(
        &format!("select, 4 empty + default x{n}, gofer"),
        "ns/select",
        runs,
        || in_goroutine(move || go::select_default(n, deadline())),
    );
    summary(
        &format!("select, 4 empty + default x{n}, crossbeam"),
        "ns/select",
        runs,
        || cb::select_default(n, deadline()),
    );
}
