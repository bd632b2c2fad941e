//! A pipeline with fan-out, fan-in and cancellation, the way Go does it
//! (<https://go.dev/blog/pipelines>): goroutines connected by channels, a
//! `select!` at every blocking step, and a `done` channel that is closed to
//! tell every stage to stop.
//!
//! ```text
//!              ┌─> worker 0 ─┐
//! generator ───┼─> worker 1 ─┼──> merger ──> main (collects for 200 ms)
//!   (jobs)     ├─> worker 2 ─┤   (results)
//!              └─> worker 3 ─┘
//! ```
//!
//! * The generator sends candidate numbers on one unbuffered `jobs` channel.
//! * Fan-out: four workers receive from that same channel — each number
//!   goes to exactly one of them — and test it for primality.
//! * Fan-in: the merger waits on all four workers' result channels at once
//!   with `select!` and forwards whatever comes first.
//! * `main` collects results under a time budget: a `select!` with a
//!   `recv(chan::after(..))` arm, Go's `time.After`.
//! * Shutdown: `main` calls `done.close()` — Go's `close(done)`. Nothing is
//!   ever sent on `done`, but a receive on a closed channel is always ready,
//!   so every `select!` that has a `recv(done)` arm wakes up and returns,
//!   wherever it is blocked. Each goroutine reports what it did.
//!
//! Run it: `cargo run --release --example pipeline`.

use gofer::chan::{self, Receiver, Sender};
use gofer::select;
use std::time::{Duration, Instant};

const WORKERS: usize = 4;
const BUDGET: Duration = Duration::from_millis(200);
/// Where the candidates start: big enough that testing one is real work,
/// small enough that it takes well under a millisecond (a goroutine that
/// computes for long without blocking holds its worker thread).
const FIRST: u64 = 1_000_000_000;

/// Sends FIRST, FIRST+1, ... on `jobs` until `done` is closed. Returns how
/// many it sent.
fn generator(jobs: Sender<u64>, done: Receiver<()>) -> u64 {
    let mut sent = 0;
    for n in FIRST.. {
        select! {
            send(jobs, n) -> res => match res {
                Ok(()) => sent += 1,
                Err(_) => break, // every worker is gone
            },
            recv(done) -> _ => break,
        }
    }
    sent
}

/// Takes numbers from `jobs`, sends the primes among them on `out`.
/// Returns how many numbers it tested.
fn worker(jobs: Receiver<u64>, out: Sender<u64>, done: Receiver<()>) -> u64 {
    let mut tested = 0;
    loop {
        let n = select! {
            recv(jobs) -> n => match n {
                Ok(n) => n,
                Err(_) => return tested, // the generator is gone
            },
            recv(done) -> _ => return tested,
        };
        tested += 1;
        if is_prime(n) {
            // Blocking on `out` must not outlive `done` either.
            select! {
                send(out, n) -> res => if res.is_err() { return tested }, // no merger
                recv(done) -> _ => return tested,
            }
        }
    }
}

/// Fan-in: forwards every worker's results to `merged`.
/// Returns how many it forwarded.
fn merger(ins: [Receiver<u64>; WORKERS], merged: Sender<u64>, done: Receiver<()>) -> u64 {
    let [a, b, c, d] = ins;
    let mut forwarded = 0;
    loop {
        // Whichever worker has a result first; `select!` picks at random
        // among the ready ones, so no worker is favoured.
        // (A worker that has stopped disconnects its channel, which makes
        // its arm ready with an `Err`: after `done` that can win the race.)
        let prime = select! {
            recv(a) -> p => p,
            recv(b) -> p => p,
            recv(c) -> p => p,
            recv(d) -> p => p,
            recv(done) -> _ => return forwarded,
        };
        let Ok(prime) = prime else { return forwarded };
        select! {
            send(merged, prime) -> res => match res {
                Ok(()) => forwarded += 1,
                Err(_) => return forwarded, // main is gone
            },
            recv(done) -> _ => return forwarded,
        }
    }
}

/// Trial division by 2 and the odd numbers up to √n.
fn is_prime(n: u64) -> bool {
    if n < 4 {
        return n >= 2;
    }
    !n.is_multiple_of(2)
        && (3..)
            .step_by(2)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn main() {
    let start = Instant::now();
    // `done` carries no values: it exists to be closed.
    let (done, done_rx) = chan::bounded::<()>(0);
    let (jobs_tx, jobs_rx) = chan::bounded::<u64>(0);
    let (merged_tx, merged) = chan::bounded::<u64>(0);

    let generator = gofer::go!(generator(jobs_tx, done_rx.clone()));
    let mut outs = Vec::new();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (out_tx, out_rx) = chan::bounded::<u64>(0);
            outs.push(out_rx);
            gofer::go!(worker(jobs_rx.clone(), out_tx, done_rx.clone()))
        })
        .collect();
    drop(jobs_rx); // the workers hold their own
    let outs: [Receiver<u64>; WORKERS] = outs.try_into().unwrap();
    let merger = gofer::go!(merger(outs, merged_tx, done_rx));

    // `main` is a plain thread, not a goroutine: channels and `select!`
    // work between threads and goroutines alike (the thread blocks where a
    // goroutine would park).
    //
    // Collect primes until the budget runs out. `after` is created once,
    // outside the loop: it fires BUDGET after now, however many results
    // arrive meanwhile.
    let deadline = chan::after(BUDGET);
    let mut primes = Vec::new();
    loop {
        select! {
            recv(merged) -> p => primes.push(p.expect("the merger runs until `done` closes")),
            recv(deadline) -> _ => break,
        }
    }

    // close(done): every goroutine's `select!` sees it and returns.
    let stop = Instant::now();
    done.close();
    let sent = generator.join().unwrap();
    let tested: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let forwarded = merger.join().unwrap();
    let stopped = stop.elapsed();

    primes.sort_unstable();
    println!("pipeline: 1 generator -> {WORKERS} workers -> 1 merger -> main, for {BUDGET:?}");
    println!("  generator sent      {sent} numbers from {FIRST}");
    println!(
        "  workers tested      {} ({})",
        tested.iter().sum::<u64>(),
        tested
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" + ")
    );
    println!("  merger forwarded    {forwarded} primes");
    if let (Some(first), Some(last)) = (primes.first(), primes.last()) {
        println!(
            "  main received       {} primes, from {first} to {last}",
            primes.len()
        );
    } else {
        println!("  main received       no primes");
    }
    println!(
        "  close(done) stopped all {} goroutines in {stopped:.2?}; total {:.2?}",
        2 + WORKERS,
        start.elapsed()
    );
    // Every hand-off is a rendezvous, so the counts must agree exactly.
    assert_eq!(sent, tested.iter().sum::<u64>());
    assert_eq!(primes.len() as u64, forwarded);
}
