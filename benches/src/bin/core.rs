//! Runtime-core micro-benchmarks. Prints, for gofer:
//!
//! * spawn + join of 1,000,000 goroutines (spawned from a goroutine, and
//!   from a plain thread), ns per goroutine;
//! * chained spawn 100,000 deep (each goroutine spawns the next and exits),
//!   ns per link;
//! * yield between 2 goroutines on one worker, ns per yield;
//! * park/unpark ping-pong between 2 goroutines, ns per round trip;
//! * RSS per parked goroutine with 1,000,000 parked (in a child process).
//!
//! Each figure is the median of several runs, with min-max.
//! `--quick` shrinks everything for a smoke test.
//! Usage: `cargo run --release -p gofer-benches --bin core [-- --quick]`.

use gofer::park::{Task, park};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn per_op(t: Instant, ops: usize) -> f64 {
    t.elapsed().as_nanos() as f64 / ops as f64
}

fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| gofer::spawn(|| {})).collect();
    for h in hs {
        h.join().unwrap();
    }
    per_op(t, n)
}

fn chain(n: usize) -> f64 {
    fn link(left: usize, done: Arc<AtomicBool>, me: Task) {
        if left == 0 {
            done.store(true, Ordering::Release);
            me.unpark();
        } else {
            gofer::spawn(move || link(left - 1, done, me));
        }
    }
    let done = Arc::new(AtomicBool::new(false));
    let me = Task::current();
    let t = Instant::now();
    let d = done.clone();
    gofer::spawn(move || link(n, d, me));
    while !done.load(Ordering::Acquire) {
        park();
    }
    per_op(t, n)
}

fn yields(n: usize) -> f64 {
    // Both goroutines are spawned by one goroutine that then waits, so they
    // share its worker: each yield switches to the other.
    gofer::spawn(move || {
        let t = Instant::now();
        let a = gofer::spawn(move || (0..n).for_each(|_| gofer::yield_now()));
        let b = gofer::spawn(move || (0..n).for_each(|_| gofer::yield_now()));
        a.join().unwrap();
        b.join().unwrap();
        per_op(t, 2 * n)
    })
    .join()
    .unwrap()
}

fn ping_pong(n: usize) -> f64 {
    gofer::spawn(move || {
        let turn = Arc::new(AtomicUsize::new(0));
        let me = Task::current();
        let (tx, rx) = std::sync::mpsc::channel();
        let t2 = turn.clone();
        let peer = gofer::spawn(move || {
            tx.send(Task::current()).unwrap();
            for i in 0..n {
                while t2.load(Ordering::Acquire) != 2 * i + 1 {
                    park();
                }
                t2.store(2 * i + 2, Ordering::Release);
                me.unpark();
            }
        });
        let other = loop {
            match rx.try_recv() {
                Ok(t) => break t,
                Err(_) => gofer::yield_now(),
            }
        };
        let t = Instant::now();
        for i in 0..n {
            turn.store(2 * i + 1, Ordering::Release);
            other.unpark();
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                park();
            }
        }
        let ns = per_op(t, n);
        peer.join().unwrap();
        ns
    })
    .join()
    .unwrap()
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

/// In a fresh process: park `n` goroutines, print RSS per goroutine.
fn rss_child(n: usize) {
    let release = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let _handles: Vec<_> = (0..n)
        .map(|_| {
            let (r, p) = (release.clone(), parked.clone());
            gofer::spawn(move || {
                p.fetch_add(1, Ordering::Release);
                while !r.load(Ordering::Acquire) {
                    park();
                }
            })
        })
        .collect();
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
    let per = (rss_kib() - before) as f64 / n as f64;
    println!("{per:.3}");
    std::process::exit(0); // leave the parked goroutines behind
}

fn rss_per_goroutine(n: usize) -> f64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--rss-child", &n.to_string()])
        .output()
        .expect("cannot run the RSS child");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN)
}

fn summary(name: &str, unit: &str, runs: usize, mut f: impl FnMut() -> f64) {
    let mut xs: Vec<f64> = (0..runs).map(|_| f()).collect();
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:<44} {:>9.1} {unit:<14} (min {:.1}, max {:.1}, {runs} runs)",
        xs[runs / 2],
        xs[0],
        xs[runs - 1]
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        rss_child(args[i + 1].parse().unwrap());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // The spawn loops below hold their worker on purpose.
    gofer::Config::new()
        .hog_reports(false)
        .apply()
        .expect("configured before first use");
    let (scale, runs) = if quick { (100, 3) } else { (1, 7) };
    println!("gofer core benchmarks, GOMAXPROCS={}", gofer::max_procs());
    let million = 1_000_000 / scale;
    summary(
        &format!("spawn+join {million} from a goroutine"),
        "ns/goroutine",
        runs,
        || gofer::spawn(move || spawn_join(million)).join().unwrap(),
    );
    summary(
        &format!("spawn+join {million} from a thread"),
        "ns/goroutine",
        runs,
        || spawn_join(million),
    );
    summary(
        &format!("chained spawn {}", 100_000 / scale),
        "ns/link",
        runs,
        || chain(100_000 / scale),
    );
    summary(
        "yield, 2 goroutines on one worker",
        "ns/yield",
        runs,
        || yields(2_000_000 / scale),
    );
    summary(
        "park/unpark ping-pong, 2 goroutines",
        "ns/round trip",
        runs,
        || ping_pong(500_000 / scale),
    );
    let n = 1_000_000 / scale;
    summary(
        &format!("RSS per parked goroutine, {n} parked"),
        "KiB",
        1,
        || rss_per_goroutine(n),
    );
}
