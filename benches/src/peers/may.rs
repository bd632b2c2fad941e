//! may: stackful coroutines on `set_workers(procs)` worker threads, every
//! party a coroutine, the measuring one included. may's channels are
//! unbounded only (`sync::mpsc`, `sync::mpmc`).

use super::{over, per_op, rss_kib};
use crate::Params;
use may::coroutine::{self, Coroutine, JoinHandle};
use may::sync::{mpmc, mpsc};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Starts a coroutine (what may's `go!` does, with the contract spelt
/// out).
fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may's contract for `spawn`: a coroutine may resume on
    // another worker thread, so it must not hold a thread-local across a
    // point where it can switch (a channel operation, park, yield, socket
    // I/O), and it must fit its stack. The closures passed here touch
    // atomics, may's channels and sockets, `Instant::now` and heap data,
    // hold no thread-local across a switch (the one `println!`, in the
    // server's `announce`, runs before its first switch), and recurse
    // nowhere; a panic ends the whole benchmark child through its panic
    // hook.
    unsafe { coroutine::spawn(f) }
}

mod mutexes {
    super::super::mutex_workloads!(may::sync::Mutex, |m| m.lock().unwrap(), super::go);
}

fn configure(procs: usize) {
    may::config().set_workers(procs);
}

/// Runs `f` in a coroutine and returns its figure.
fn in_coroutine(f: impl FnOnce() -> f64 + Send + 'static) -> f64 {
    go(f).join().unwrap()
}

pub fn run(workload: &str, procs: usize, p: Params) -> Result<f64, String> {
    configure(procs);
    let n = p.n;
    let deadline = Instant::now() + p.budget;
    Ok(match workload {
        "spawn" => in_coroutine(move || spawn_join(n)),
        "chain" => in_coroutine(move || chain(n)),
        "yield" => in_coroutine(move || yields(n, deadline)),
        "park" => in_coroutine(move || park_ping_pong(n, deadline)),
        "pingpong" => in_coroutine(move || ping_pong(n, deadline)),
        "unbounded-1x1" => in_coroutine(move || mpsc_throughput(n, deadline)),
        "unbounded-4x4" => in_coroutine(move || mpmc_throughput(4, 4, n, deadline)),
        "rss-100k" | "rss-1m" => rss(n),
        w => match super::mutex_shape(w) {
            Some((1, _)) => in_coroutine(move || mutexes::uncontended(n, deadline)),
            Some((parties, _)) => in_coroutine(move || mutexes::contended(parties, n, deadline)),
            None => return Err(format!("may: no workload {w}")),
        },
    })
}

fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| go(|| {})).collect();
    for h in hs {
        h.join().unwrap();
    }
    per_op(t, n)
}

fn chain(n: usize) -> f64 {
    fn link(left: usize, done: mpsc::Sender<()>) {
        if left == 0 {
            done.send(()).unwrap();
        } else {
            go(move || link(left - 1, done));
        }
    }
    let (tx, rx) = mpsc::channel();
    let t = Instant::now();
    go(move || link(n, tx));
    rx.recv().unwrap();
    per_op(t, n)
}

fn yields(n: usize, deadline: Instant) -> f64 {
    let t = Instant::now();
    let task = move || {
        let mut done = 0;
        while done < n && !over(done, 1024, deadline) {
            coroutine::yield_now();
            done += 1;
        }
        done
    };
    let a = go(task);
    let b = go(task);
    let total = a.join().unwrap() + b.join().unwrap();
    per_op(t, total)
}

/// Two coroutines hand a turn counter back and forth with park/unpark.
fn park_ping_pong(n: usize, deadline: Instant) -> f64 {
    let turn = Arc::new(AtomicUsize::new(0));
    let me: Coroutine = coroutine::current();
    let t2 = turn.clone();
    let peer = go(move || {
        for i in 0.. {
            loop {
                match t2.load(Ordering::Acquire) {
                    usize::MAX => return,
                    t if t == 2 * i + 1 => break,
                    _ => coroutine::park(),
                }
            }
            t2.store(2 * i + 2, Ordering::Release);
            me.unpark();
        }
    });
    let other = peer.coroutine().clone();
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 16, deadline) {
        turn.store(2 * done + 1, Ordering::Release);
        other.unpark();
        while turn.load(Ordering::Acquire) != 2 * done + 2 {
            coroutine::park();
        }
        done += 1;
    }
    let ns = per_op(t, done);
    turn.store(usize::MAX, Ordering::Release);
    other.unpark();
    peer.join().unwrap();
    ns
}

/// may has no rendezvous channel: two unbounded `sync::mpsc`.
fn ping_pong(n: usize, deadline: Instant) -> f64 {
    let (ping_tx, ping_rx) = mpsc::channel::<usize>();
    let (pong_tx, pong_rx) = mpsc::channel::<usize>();
    let echo = go(move || {
        for i in ping_rx.iter() {
            pong_tx.send(i).unwrap();
        }
    });
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
    ns
}

fn mpsc_throughput(n: usize, deadline: Instant) -> f64 {
    let (tx, rx) = mpsc::channel::<usize>();
    let t = Instant::now();
    let producer = go(move || {
        let mut sent = 0;
        while sent < n && !over(sent, 256, deadline) {
            tx.send(sent).unwrap();
            sent += 1;
        }
        sent
    });
    let consumer = go(move || rx.iter().count());
    let sent = producer.join().unwrap();
    let got = consumer.join().unwrap();
    let ns = per_op(t, got);
    assert_eq!(got, sent, "messages lost or duplicated");
    ns
}

fn mpmc_throughput(producers: usize, consumers: usize, n: usize, deadline: Instant) -> f64 {
    let (tx, rx) = mpmc::channel::<usize>();
    let each = n / producers;
    let t = Instant::now();
    let ps: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            go(move || {
                let mut sent = 0;
                while sent < each && !over(sent, 256, deadline) {
                    tx.send(sent).unwrap();
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    drop(tx);
    let cs: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            go(move || rx.iter().count())
        })
        .collect();
    drop(rx);
    let sent: usize = ps.into_iter().map(|p| p.join().unwrap()).sum();
    let got: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
    let ns = per_op(t, got);
    assert_eq!(got, sent, "messages lost or duplicated");
    ns
}

/// `n` coroutines wait in `recv` on one shared `sync::mpmc` channel; KiB of
/// RSS per coroutine.
fn rss(n: usize) -> f64 {
    let before = crate::child::start_rss();
    let (release, wait) = mpmc::channel::<()>();
    let parked = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let (wait, parked) = (wait.clone(), parked.clone());
        go(move || {
            parked.fetch_add(1, Ordering::Release);
            let _ = wait.recv();
        });
    }
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let per = (rss_kib().saturating_sub(before)) as f64 / n as f64;
    drop(release);
    per
}

/// An echo or HTTP server: the accept loop in a coroutine, a coroutine per
/// connection.
pub fn serve(http: bool, procs: usize) -> Result<(), String> {
    configure(procs);
    go(move || -> Result<(), String> {
        let listener = may::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        crate::child::announce(listener.local_addr())?;
        loop {
            let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            go(move || {
                let _ = conn.set_nodelay(true);
                if http {
                    crate::net::serve_http(conn);
                } else {
                    crate::net::echo(conn);
                }
            });
        }
    })
    .join()
    .map_err(|_| "the accept coroutine panicked".to_string())?
}
