//! A bounded worker pool with a deadline, the way Go does it: a fixed set
//! of worker goroutines fed through a bounded channel, a `WaitGroup` to
//! know when they have all stopped, results gathered under a `Mutex`, and
//! a `context` with a timeout that cancels whatever is still running when
//! the time budget is spent.
//!
//! ```text
//!                      jobs: chan::bounded(WORKERS)
//!   feeder ──────────────┬──> worker 0 ──┐
//!   (sends JOBS jobs)    ├──> worker 1 ──┤   results: sync::Mutex<Vec<Report>>
//!                        ├──> worker 2 ──┼──> main: wg.wait(), then the summary
//!                        └──> worker 3 ──┘
//!
//!   ctx = Context::background().with_timeout(BUDGET)
//!   every blocking step selects on ctx.done() as well
//! ```
//!
//! * The jobs are simulated I/O: each "takes" `cost` (a timer,
//!   `chan::after`, which parks the goroutine), 20-100 ms; every tenth is
//!   a straggler that would take 10 s.
//! * A worker waits for its next job *and* `ctx.done()`; then waits for
//!   its job's work *and* `ctx.done()`. So when the deadline passes, every
//!   worker stops wherever it is: a straggler in flight is reported as
//!   cancelled, a worker waiting for a job simply leaves.
//! * The feeder also selects on `ctx.done()` while it waits for room in
//!   the bounded channel, and stops sending; when it returns, its `Sender`
//!   is dropped, which closes the channel once it is drained.
//! * `main` (a plain thread: everything here works between threads and
//!   goroutines) waits on the `WaitGroup`, calls `cancel` (Go's
//!   `defer cancel()`: it frees the context's timer if all went well), and
//!   prints what happened to every job: done, cancelled in flight, left in
//!   the queue, never sent.
//!
//! Run it: `cargo run --release --example worker_pool` (about one second).

use gofer::chan::{self, Receiver, Sender};
use gofer::context::Context;
use gofer::select_biased;
use gofer::sync::{Mutex, WaitGroup};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
const JOBS: u64 = 48;
const BUDGET: Duration = Duration::from_secs(1);
const STRAGGLER: Duration = Duration::from_secs(10);

struct Job {
    id: u64,
    cost: Duration,
}

/// Job `id`: 20-100 ms of "work", except every tenth, a straggler.
fn job(id: u64) -> Job {
    let cost = if id % 10 == 7 {
        STRAGGLER
    } else {
        Duration::from_millis(20 + (id * 37) % 81)
    };
    Job { id, cost }
}

enum Outcome {
    /// Finished, with its result.
    Done(u64),
    /// The deadline passed while it ran.
    Cancelled,
}

struct Report {
    job: u64,
    worker: usize,
    outcome: Outcome,
    took: Duration,
}

/// Sends the jobs while the context lives. Returns how many it sent; its
/// `Sender` is dropped on return, which closes `jobs` once drained.
fn feeder(ctx: Context, jobs: Sender<Job>) -> u64 {
    let mut sent = 0;
    for id in 0..JOBS {
        // `select_biased!` tries the arms in order: once the context is
        // done, stop even if there is room in the channel.
        select_biased! {
            recv(ctx.done()) -> _ => break,
            send(jobs, job(id)) -> res => match res {
                Ok(()) => sent += 1,
                Err(_) => break, // every worker is gone
            },
        }
    }
    sent
}

/// Takes jobs until the channel is closed and drained or the context is
/// done; every job it takes ends up in `results`, done or cancelled.
fn worker(
    me: usize,
    ctx: Context,
    jobs: Receiver<Job>,
    results: Arc<Mutex<Vec<Report>>>,
    wg: WaitGroup,
) {
    loop {
        // Context first: once the deadline has passed, take no new job
        // even if one is waiting (Go code checks `ctx.Err()` here).
        let job = select_biased! {
            recv(ctx.done()) -> _ => break,
            recv(jobs) -> job => match job {
                Ok(job) => job,
                Err(_) => break, // closed and drained: the feeder is done
            },
        };
        let started = Instant::now();
        // The work itself (here a timer standing in for I/O) races the
        // context: a straggler is abandoned when the deadline passes.
        let outcome = select_biased! {
            recv(ctx.done()) -> _ => Outcome::Cancelled,
            recv(chan::after(job.cost)) -> _ => Outcome::Done(job.id * job.id),
        };
        results.lock().push(Report {
            job: job.id,
            worker: me,
            outcome,
            took: started.elapsed(),
        });
    }
    wg.done();
}

fn main() {
    let start = Instant::now();
    let (ctx, cancel) = Context::background().with_timeout(BUDGET);
    let (jobs_tx, jobs_rx) = chan::bounded::<Job>(WORKERS);
    let results = Arc::new(Mutex::new(Vec::new()));

    let wg = WaitGroup::new();
    for me in 0..WORKERS {
        wg.add(1); // before the goroutine starts, as in Go
        gofer::go!(worker(
            me,
            ctx.clone(),
            jobs_rx.clone(),
            results.clone(),
            wg.clone()
        ));
    }
    let feeder = gofer::go!(feeder(ctx.clone(), jobs_tx));

    wg.wait(); // every worker has stopped
    let stopped = start.elapsed();
    cancel.cancel(); // Go's `defer cancel()`: a no-op if the deadline fired
    let sent = feeder.join().expect("the feeder does not panic");
    let queued = jobs_rx.try_iter().count() as u64;

    let mut reports = std::mem::take(&mut *results.lock());
    reports.sort_by_key(|r| r.job);
    let done: Vec<&Report> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Done(_)))
        .collect();
    let cancelled: Vec<&Report> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Cancelled))
        .collect();
    let checksum: u64 = reports
        .iter()
        .map(|r| match r.outcome {
            Outcome::Done(v) => v,
            Outcome::Cancelled => 0,
        })
        .sum();

    println!(
        "worker pool: {WORKERS} workers, {JOBS} jobs (every tenth a {STRAGGLER:?} straggler), budget {BUDGET:?}"
    );
    println!(
        "  done        {:>2} jobs (sum of results {checksum})",
        done.len()
    );
    println!(
        "  cancelled   {:>2} jobs in flight at the deadline: {}",
        cancelled.len(),
        cancelled
            .iter()
            .map(|r| format!("#{} (worker {}, after {:.0?})", r.job, r.worker, r.took))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  not started {:>2} jobs ({queued} left in the queue, {} never sent)",
        queued + (JOBS - sent),
        JOBS - sent
    );
    for me in 0..WORKERS {
        let mine = done.iter().filter(|r| r.worker == me).count();
        println!("  worker {me}    {mine:>2} done");
    }
    println!(
        "  ctx.err() = {}; all workers stopped after {stopped:.2?}",
        ctx.err().map_or("none".to_string(), |e| e.to_string()),
    );
    // Every job is accounted for exactly once.
    assert_eq!(
        done.len() as u64 + cancelled.len() as u64 + queued + (JOBS - sent),
        JOBS
    );
    assert_eq!(reports.len() as u64, sent - queued);
}
