//! Criterion micro-benchmarks of gofer's hot paths, each measured inside a
//! goroutine: spawn + join, yield, park/unpark, channel send/recv per
//! flavor, and select. Quick to run: `cargo bench -p gofer-benches`
//! (about half a minute). The side-by-side comparison with Go, tokio, may
//! and threads is the runner: `cargo run --release -p gofer-benches`.

use criterion::{Criterion, criterion_group, criterion_main};
use gofer::chan::{self, Receiver, Sender};
use gofer::park::{Task, park};
use gofer::select;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Times `iters` runs of `op` inside one goroutine.
fn in_goroutine(iters: u64, op: impl Fn() + Send + 'static) -> Duration {
    gofer::spawn(move || {
        let t = Instant::now();
        for _ in 0..iters {
            op();
        }
        t.elapsed()
    })
    .join()
    .unwrap()
}

fn spawn(c: &mut Criterion) {
    c.bench_function("spawn + join, one goroutine", |b| {
        b.iter_custom(|iters| in_goroutine(iters, || gofer::spawn(|| {}).join().unwrap()))
    });
}

fn yields(c: &mut Criterion) {
    c.bench_function("yield_now, nothing else runnable", |b| {
        b.iter_custom(|iters| in_goroutine(iters, gofer::yield_now))
    });
}

fn park_unpark(c: &mut Criterion) {
    c.bench_function("park/unpark round trip between 2 goroutines", |b| {
        b.iter_custom(|iters| {
            gofer::spawn(move || {
                // An odd value is the peer's turn, an even one ours.
                let turn = Arc::new(AtomicU64::new(0));
                let me = Task::current();
                let t2 = turn.clone();
                let (tx, rx) = chan::bounded(1);
                let peer = gofer::spawn(move || {
                    tx.send(Task::current()).unwrap();
                    for i in 0..iters {
                        while t2.load(Ordering::Acquire) != 2 * i + 1 {
                            park();
                        }
                        t2.store(2 * i + 2, Ordering::Release);
                        me.unpark();
                    }
                });
                let other = rx.recv().unwrap();
                let t = Instant::now();
                for i in 0..iters {
                    turn.store(2 * i + 1, Ordering::Release);
                    other.unpark();
                    while turn.load(Ordering::Acquire) != 2 * i + 2 {
                        park();
                    }
                }
                let d = t.elapsed();
                peer.join().unwrap();
                d
            })
            .join()
            .unwrap()
        })
    });
}

fn channels(c: &mut Criterion) {
    let mut g = c.benchmark_group("channel");
    g.bench_function("bounded(0) round trip between 2 goroutines", |b| {
        b.iter_custom(|iters| {
            gofer::spawn(move || {
                let (ping_tx, ping_rx) = chan::bounded::<u64>(0);
                let (pong_tx, pong_rx) = chan::bounded::<u64>(0);
                let echo = gofer::spawn(move || {
                    for i in ping_rx {
                        pong_tx.send(i).unwrap();
                    }
                });
                let t = Instant::now();
                for i in 0..iters {
                    ping_tx.send(i).unwrap();
                    black_box(pong_rx.recv().unwrap());
                }
                let d = t.elapsed();
                drop(ping_tx);
                echo.join().unwrap();
                d
            })
            .join()
            .unwrap()
        })
    });
    for (name, make) in [
        (
            "bounded(1) send + recv",
            (|| chan::bounded(1)) as fn() -> (Sender<u64>, Receiver<u64>),
        ),
        ("bounded(1024) send + recv", || chan::bounded(1024)),
        ("unbounded send + recv", chan::unbounded),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (tx, rx) = make();
                in_goroutine(iters, move || {
                    tx.send(black_box(1)).unwrap();
                    black_box(rx.recv().unwrap());
                })
            })
        });
    }
    g.finish();
}

fn selects(c: &mut Criterion) {
    let mut g = c.benchmark_group("select");
    g.bench_function("4-way, one ready (send + select)", |b| {
        b.iter_custom(|iters| {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| chan::bounded::<u64>(1)).unzip();
            in_goroutine(iters, move || {
                txs[2].send(7).unwrap();
                let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
                select! {
                    recv(r0) -> v => black_box(v.unwrap()),
                    recv(r1) -> v => black_box(v.unwrap()),
                    recv(r2) -> v => black_box(v.unwrap()),
                    recv(r3) -> v => black_box(v.unwrap()),
                };
            })
        })
    });
    g.bench_function("4-way with default, nothing ready", |b| {
        b.iter_custom(|iters| {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| chan::bounded::<u64>(0)).unzip();
            let d = in_goroutine(iters, move || {
                let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
                select! {
                    recv(r0) -> _ => unreachable!(),
                    recv(r1) -> _ => unreachable!(),
                    recv(r2) -> _ => unreachable!(),
                    recv(r3) -> _ => unreachable!(),
                    default => {}
                }
            });
            drop(txs);
            d
        })
    });
    g.finish();
}

fn config() -> Criterion {
    // Hot loops hold their worker on purpose.
    let _ = gofer::Config::new().hog_reports(false).apply();
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! {
    name = micro;
    config = config();
    targets = spawn, yields, park_unpark, channels, selects
}
criterion_main!(micro);
