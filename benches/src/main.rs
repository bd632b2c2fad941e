//! The side-by-side benchmark runner: every workload for gofer and, in the
//! same run, for each peer that is available — Go (the program in
//! `benches/go/`, built with the `go` toolchain if installed), tokio, may,
//! and crossbeam-channel on std threads.
//!
//! ```text
//! cargo run --release -p gofer-benches -- [--quick] [WORKLOAD...]
//!     [--peers gofer,go,tokio,may,threads] [--procs 1,2] [--runs N] [--out FILE.md]
//! cargo run --release -p gofer-benches -- --list
//! ```
//!
//! * Each measurement runs in a fresh child process per peer and run (this
//!   binary re-executed with `--child ...`, or the Go binary), so memory,
//!   GOMAXPROCS and any global state start clean; the child prints one
//!   `RESULT <value>` line.
//! * A workload's peers run alternately, round by round (A B C A B C ...),
//!   so drift on a shared machine hits every peer alike; every figure is
//!   the median of the runs, with min-max.
//! * Network workloads start a server child per run (`--serve ...`) and
//!   drive it from one client written once (`net.rs`), the same for every
//!   server; HTTP uses `wrk` if it is installed.
//! * Every workload runs with 1 and 2 workers (GOMAXPROCS, tokio
//!   `worker_threads`, may `set_workers`; std threads are pinned to 1 or 2
//!   CPUs with `taskset`).
//!
//! Output: one table per workload on stdout, and the whole report as
//! markdown in `BENCHMARKS.md` plus a chart of the ratios in
//! `benches/ratios.svg` (a full, unfiltered run), or under `target/` for
//! `--quick` and filtered runs (or `--out`). `--quick` is a smoke test of
//! the harness: tiny sizes, seconds; a missing peer is skipped, never an
//! error. The runner exits non-zero only when a gofer run fails.

mod child;
mod net;
mod peers;
mod report;
mod runner;
mod spec;

use std::time::Duration;

/// Parameters of one measurement, the same for every peer.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Operations (or tasks, or connections) of the workload.
    pub n: usize,
    /// Each run stops after `n` operations or this long, whichever comes
    /// first, and is timed over the operations it did.
    pub budget: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => child::child_main(&args[1..]),
        Some("--serve") => child::serve_main(&args[1..]),
        _ => runner::runner_main(&args),
    }
}
