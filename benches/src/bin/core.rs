//! Runtime-core micro-benchmarks: prints ns per operation.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| gofer::spawn(|| {})).collect();
    for h in hs {
        h.join().unwrap();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn chain(n: usize) -> f64 {
    fn link(left: usize, done: Arc<AtomicBool>, me: gofer::park::Task) {
        if left == 0 {
            done.store(true, Ordering::Release);
            me.unpark();
        } else {
            gofer::spawn(move || link(left - 1, done, me));
        }
    }
    let done = Arc::new(AtomicBool::new(false));
    let me = gofer::park::Task::current();
    let t = Instant::now();
    let d = done.clone();
    gofer::spawn(move || link(n, d, me));
    while !done.load(Ordering::Acquire) {
        gofer::park::park();
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

fn yields(n: usize) -> f64 {
    let t = Instant::now();
    let a = gofer::spawn(move || {
        for _ in 0..n {
            gofer::yield_now()
        }
    });
    let b = gofer::spawn(move || {
        for _ in 0..n {
            gofer::yield_now()
        }
    });
    a.join().unwrap();
    b.join().unwrap();
    t.elapsed().as_nanos() as f64 / (2 * n) as f64
}

fn ping_pong(n: usize) -> f64 {
    // Two goroutines alternate through an atomic turn + park/unpark.
    let turn = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let h = gofer::spawn(move || {
        let me = gofer::park::Task::current();
        let (ttx, trx) = std::sync::mpsc::channel::<gofer::park::Task>();
        let turn2 = turn.clone();
        let peer = gofer::spawn(move || {
            let me2 = gofer::park::Task::current();
            ttx.send(me2).unwrap();
            for i in 0..n {
                while turn2.load(Ordering::Acquire) != 2 * i + 1 {
                    gofer::park::park();
                }
                turn2.store(2 * i + 2, Ordering::Release);
                me.unpark();
            }
        });
        let other = loop {
            if let Ok(t) = trx.try_recv() {
                break t;
            }
            gofer::yield_now();
        };
        for i in 0..n {
            turn.store(2 * i + 1, Ordering::Release);
            other.unpark();
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                gofer::park::park();
            }
        }
        peer.join().unwrap();
    });
    h.join().unwrap();
    t.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    println!("GOMAXPROCS={}", gofer::max_procs());
    for _ in 0..3 {
        println!(
            "spawn+join 1M:     {:8.1} ns/goroutine",
            spawn_join(1_000_000 / scale)
        );
        println!("chained spawn 100k:{:8.1} ns/link", chain(100_000 / scale));
        println!(
            "yield (2 gs):      {:8.1} ns/yield",
            yields(1_000_000 / scale)
        );
        println!(
            "park/unpark pp:    {:8.1} ns/round trip",
            ping_pong(200_000 / scale)
        );
    }
}
