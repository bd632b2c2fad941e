//! A tour of gofer. Run it with `cargo run --release --example tour`.
//!
//! Part 1 — goroutines: spawn a million, park them all at once, wake and
//! join them, and look at what it cost.
//! (`--quick` runs 100,000 instead.)

use gofer::park::{Task, park};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "gofer tour — {} worker threads (GOMAXPROCS)\n",
        gofer::max_procs()
    );
    basics();
    million(if quick { 100_000 } else { 1_000_000 });
}

fn basics() {
    println!("== goroutines");
    // `go!` takes a closure, or a call whose arguments are evaluated here.
    fn fib(n: u64) -> u64 {
        if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
    }
    let h = gofer::go!(fib(30));
    println!("fib(30) computed in a goroutine: {}", h.join().unwrap());

    // A panicking goroutine gives an Err to whoever joins it; nothing else
    // is affected.
    let bad = gofer::go!(name = "doomed", || -> () { panic!("on purpose") });
    println!("a panicking goroutine joined as: {:?}", bad.join().is_err());

    // Scoped goroutines borrow from the caller.
    let words = ["stackful", "goroutines", "for", "rust"];
    let mut lens = [0; 4];
    gofer::scope(|s| {
        for (w, l) in words.iter().zip(lens.iter_mut()) {
            s.spawn(move || *l = w.len());
        }
    });
    println!("lengths computed by scoped goroutines: {lens:?}");

    // Blocking work runs on a pool thread while the goroutine parks.
    let h =
        gofer::go!(|| gofer::blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0)));
    println!(
        "entries in . (read in gofer::blocking): {}\n",
        h.join().unwrap()
    );
}

/// Parked goroutines wait here until it opens.
struct Gate {
    open: AtomicBool,
    waiters: Mutex<Vec<Task>>,
}

impl Gate {
    fn wait(&self) {
        {
            let mut w = self.waiters.lock().unwrap();
            if self.open.load(Ordering::Acquire) {
                return;
            }
            w.push(Task::current());
        }
        while !self.open.load(Ordering::Acquire) {
            park();
        }
    }

    fn open(&self) {
        self.open.store(true, Ordering::Release);
        for t in self.waiters.lock().unwrap().drain(..) {
            t.unpark();
        }
    }
}

fn million(n: usize) {
    println!("== {n} goroutines parked at once");
    let gate = Arc::new(Gate {
        open: AtomicBool::new(false),
        waiters: Mutex::new(Vec::with_capacity(n)),
    });
    let arrived = Arc::new(AtomicUsize::new(0));
    let rss0 = rss_kib();
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (gate, arrived) = (gate.clone(), arrived.clone());
            gofer::go!(move || {
                arrived.fetch_add(1, Ordering::Relaxed);
                gate.wait();
            })
        })
        .collect();
    while arrived.load(Ordering::Relaxed) < n || gate.waiters.lock().unwrap().len() < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    let spawned = t.elapsed();
    let rss = rss_kib().saturating_sub(rss0);
    println!(
        "spawned and parked: {spawned:.2?} ({:.0} ns per goroutine)",
        spawned.as_nanos() as f64 / n as f64
    );
    println!("live goroutines:    {}", gofer::num_goroutines());
    println!(
        "memory:             {} MiB RSS, {:.2} KiB per parked goroutine (stack page, goroutine, handle)",
        rss / 1024,
        rss as f64 / n as f64
    );
    let t = Instant::now();
    gate.open();
    for h in handles {
        h.join().unwrap();
    }
    println!("woken and joined:   {:.2?}", t.elapsed());
}

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
