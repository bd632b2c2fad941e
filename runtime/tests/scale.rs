//! Many goroutines parked at once. CI runs the 200,000 form; the 1,000,000
//! form is `#[ignore]`d here and shown by `examples/tour.rs`.

use gofer_runtime::park::{Task, park};
use gofer_runtime::{self as gofer};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Parks `n` goroutines at once, checks memory and mappings, wakes them all.
fn park_many(n: usize) {
    // RSS is per process: never measure two of these at once.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let release = Arc::new(AtomicBool::new(false));
    let arrived = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Task>();
    let rss0 = rss_bytes();
    let maps0 = map_count();
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (release, arrived, tx) = (release.clone(), arrived.clone(), tx.clone());
            gofer::spawn(move || {
                tx.send(Task::current()).unwrap();
                drop(tx);
                arrived.fetch_add(1, Ordering::Release);
                while !release.load(Ordering::Acquire) {
                    park();
                }
            })
        })
        .collect();
    drop(tx);
    let tasks: Vec<Task> = rx.iter().take(n).collect();
    while arrived.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    // Give the last ones time to actually suspend.
    std::thread::sleep(Duration::from_millis(50));
    let spawned_in = t.elapsed();
    let live = gofer::num_goroutines();
    let rss = rss_bytes().saturating_sub(rss0);
    let maps = map_count().saturating_sub(maps0);
    println!(
        "{n} parked goroutines in {spawned_in:?}: {:.0} B RSS each (handles and tasks included), +{maps} mappings, {live} live",
        rss as f64 / n as f64
    );
    assert!(live >= n, "{live} live goroutines, expected at least {n}");
    assert!(maps < 1000, "{maps} new mappings for {n} stacks");
    assert!(
        rss / n < 10 * 1024,
        "{} bytes per parked goroutine",
        rss / n
    );

    release.store(true, Ordering::Release);
    for task in &tasks {
        task.unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    println!("woke and joined all in {:?}", t.elapsed() - spawned_in);
}

#[test]
fn two_hundred_thousand_goroutines_park_at_once() {
    park_many(200_000);
}

#[test]
#[ignore = "needs ~5 GiB and tens of seconds; run with --ignored"]
fn a_million_goroutines_park_at_once() {
    park_many(1_000_000);
}
