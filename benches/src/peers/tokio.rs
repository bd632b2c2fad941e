//! tokio: the multi-thread runtime with `worker_threads(procs)` and every
//! driver enabled (as `#[tokio::main]` does); each workload is driven from
//! inside a spawned task, the analogue of Go's main goroutine.

use super::{over, per_op, rss_kib};
use crate::Params;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

fn runtime(procs: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(procs)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

pub fn run(workload: &str, procs: usize, p: Params) -> Result<f64, String> {
    let rt = runtime(procs)?;
    let n = p.n;
    let deadline = Instant::now() + p.budget;
    if workload.starts_with("rss") {
        return Ok(rt.block_on(rss(n)));
    }
    let workload = workload.to_string();
    rt.block_on(async move {
        tokio::spawn(async move {
            Ok(match workload.as_str() {
                "spawn" => spawn_join(n).await,
                "chain" => chain(n).await,
                "yield" => yields(n, deadline).await,
                "park" => notify_ping_pong(n, deadline).await,
                "pingpong" => ping_pong(n, deadline).await,
                "select4" => select4(n, deadline).await,
                "select-default" => select_default(n, deadline).await,
                w => match (super::throughput_shape(w), super::mutex_shape(w)) {
                    (Some((cap, 1, 1)), _) => mpsc_throughput(cap, n, deadline).await,
                    (Some((cap, ps, cs)), _) => mpmc_throughput(cap, ps, cs, n, deadline).await,
                    (_, Some((1, _))) => mutex_uncontended(n, deadline).await,
                    (_, Some((parties, _))) => mutex_contended(parties, n, deadline).await,
                    _ => return Err(format!("tokio: no workload {w}")),
                },
            })
        })
        .await
        .map_err(|e| e.to_string())?
    })
}

async fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    let hs: Vec<_> = (0..n).map(|_| tokio::spawn(async {})).collect();
    for h in hs {
        h.await.unwrap();
    }
    per_op(t, n)
}

fn link(left: usize, done: oneshot::Sender<()>) {
    if left == 0 {
        done.send(()).unwrap();
    } else {
        tokio::spawn(async move { link(left - 1, done) });
    }
}

async fn chain(n: usize) -> f64 {
    let (tx, rx) = oneshot::channel();
    let t = Instant::now();
    tokio::spawn(async move { link(n, tx) });
    rx.await.unwrap();
    per_op(t, n)
}

async fn yields(n: usize, deadline: Instant) -> f64 {
    async fn task(n: usize, deadline: Instant) -> usize {
        let mut done = 0;
        while done < n && !over(done, 1024, deadline) {
            tokio::task::yield_now().await;
            done += 1;
        }
        done
    }
    let t = Instant::now();
    let a = tokio::spawn(task(n, deadline));
    let b = tokio::spawn(task(n, deadline));
    let total = a.await.unwrap() + b.await.unwrap();
    per_op(t, total)
}

/// Two tasks wake each other through a pair of `Notify` (which keeps a
/// permit when nobody waits, like unpark).
async fn notify_ping_pong(n: usize, deadline: Instant) -> f64 {
    let (ping, pong) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let rounds = Arc::new(AtomicUsize::new(0));
    let (ping2, pong2, rounds2) = (ping.clone(), pong.clone(), rounds.clone());
    let peer = tokio::spawn(async move {
        loop {
            ping2.notified().await;
            if rounds2.load(Ordering::Acquire) == usize::MAX {
                return;
            }
            pong2.notify_one();
        }
    });
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 16, deadline) {
        ping.notify_one();
        pong.notified().await;
        done += 1;
    }
    let ns = per_op(t, done);
    rounds.store(usize::MAX, Ordering::Release);
    ping.notify_one();
    peer.await.unwrap();
    ns
}

/// tokio has no rendezvous channel: two `mpsc::channel(1)`.
async fn ping_pong(n: usize, deadline: Instant) -> f64 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
    let echo = tokio::spawn(async move {
        while let Some(i) = ping_rx.recv().await {
            pong_tx.send(i).await.unwrap();
        }
    });
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 16, deadline) {
        ping_tx.send(done).await.unwrap();
        assert_eq!(pong_rx.recv().await.unwrap(), done);
        done += 1;
    }
    let ns = per_op(t, done);
    drop(ping_tx);
    echo.await.unwrap();
    ns
}

/// 1 → 1 over tokio's own mpsc.
async fn mpsc_throughput(cap: Option<usize>, n: usize, deadline: Instant) -> f64 {
    let t = Instant::now();
    let (producer, consumer) = match cap {
        Some(c) => {
            let (tx, mut rx) = mpsc::channel::<usize>(c);
            let p = tokio::spawn(async move {
                let mut sent = 0;
                while sent < n && !over(sent, 256, deadline) {
                    tx.send(sent).await.unwrap();
                    sent += 1;
                }
                sent
            });
            let c = tokio::spawn(async move {
                let mut got = 0;
                while rx.recv().await.is_some() {
                    got += 1;
                }
                got
            });
            (p, c)
        }
        None => {
            let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
            let p = tokio::spawn(async move {
                let mut sent = 0;
                while sent < n && !over(sent, 256, deadline) {
                    tx.send(sent).unwrap();
                    sent += 1;
                }
                sent
            });
            let c = tokio::spawn(async move {
                let mut got = 0;
                while rx.recv().await.is_some() {
                    got += 1;
                }
                got
            });
            (p, c)
        }
    };
    let sent = producer.await.unwrap();
    let got = consumer.await.unwrap();
    let ns = per_op(t, got);
    assert_eq!(got, sent, "messages lost or duplicated");
    ns
}

/// Many → many: tokio's mpsc has one consumer; its docs point to
/// `async-channel` for this.
async fn mpmc_throughput(
    cap: Option<usize>,
    producers: usize,
    consumers: usize,
    n: usize,
    deadline: Instant,
) -> f64 {
    let (tx, rx) = match cap {
        Some(c) => async_channel::bounded::<usize>(c),
        None => async_channel::unbounded::<usize>(),
    };
    let each = n / producers;
    let t = Instant::now();
    let ps: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut sent = 0;
                while sent < each && !over(sent, 256, deadline) {
                    tx.send(sent).await.unwrap();
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
            tokio::spawn(async move {
                let mut got = 0;
                while rx.recv().await.is_ok() {
                    got += 1;
                }
                got
            })
        })
        .collect();
    drop(rx);
    let mut sent = 0;
    for p in ps {
        sent += p.await.unwrap();
    }
    let mut got = 0;
    for c in cs {
        got += c.await.unwrap();
    }
    let ns = per_op(t, got);
    assert_eq!(got, sent, "messages lost or duplicated");
    ns
}

/// `tokio::select!` (random branch order, like Go) over 4 `channel(1)`.
async fn select4(n: usize, deadline: Instant) -> f64 {
    let each = n / 4;
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| mpsc::channel::<usize>(1)).unzip();
    let t = Instant::now();
    let senders: Vec<_> = txs
        .iter()
        .map(|tx| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut sent = 0;
                while sent < each && tx.send(sent).await.is_ok() {
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let mut got = 0;
    {
        let [r0, r1, r2, r3] = &mut rxs[..] else {
            unreachable!()
        };
        while got < 4 * each && !over(got, 16, deadline) {
            tokio::select! {
                v = r0.recv() => v.unwrap(),
                v = r1.recv() => v.unwrap(),
                v = r2.recv() => v.unwrap(),
                v = r3.recv() => v.unwrap(),
            };
            got += 1;
        }
    }
    let ns = per_op(t, got);
    // A message already buffered in a channel when the receiver goes was
    // sent but never received.
    let buffered: usize = rxs.iter().map(|r| r.len()).sum();
    drop(rxs);
    let mut sent = 0;
    for s in senders {
        sent += s.await.unwrap();
    }
    drop(txs);
    assert_eq!(got + buffered, sent, "messages lost or duplicated");
    ns
}

/// tokio's `select!` has no default arm: a `biased;` select whose last
/// arm is always ready.
async fn select_default(n: usize, deadline: Instant) -> f64 {
    let (txs, mut rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| mpsc::channel::<u8>(1)).unzip();
    let [r0, r1, r2, r3] = &mut rxs[..] else {
        unreachable!()
    };
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 256, deadline) {
        tokio::select! {
            biased;
            _ = r0.recv() => unreachable!(),
            _ = r1.recv() => unreachable!(),
            _ = r2.recv() => unreachable!(),
            _ = r3.recv() => unreachable!(),
            _ = std::future::ready(()) => {}
        }
        done += 1;
    }
    let ns = per_op(t, done);
    drop(txs);
    ns
}

/// One task locks `tokio::sync::Mutex` (the async mutex) and unlocks it
/// around an increment, up to `n` times.
async fn mutex_uncontended(n: usize, deadline: Instant) -> f64 {
    let counter = Mutex::new(0usize);
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 1024, deadline) {
        *counter.lock().await += 1;
        done += 1;
    }
    let ns = per_op(t, done);
    assert_eq!(*counter.lock().await, done, "increments lost");
    ns
}

/// `parties` tasks each increment one shared counter under a
/// `tokio::sync::Mutex` up to `n / parties` times; the count checked
/// exactly.
async fn mutex_contended(parties: usize, n: usize, deadline: Instant) -> f64 {
    let counter = Arc::new(Mutex::new(0usize));
    let each = n / parties;
    let t = Instant::now();
    let hs: Vec<_> = (0..parties)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut done = 0;
                while done < each && !over(done, 256, deadline) {
                    *counter.lock().await += 1;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for h in hs {
        done += h.await.unwrap();
    }
    let ns = per_op(t, done);
    assert_eq!(*counter.lock().await, done, "increments lost or duplicated");
    ns
}

/// `n` tasks wait on one shared `Notify`; KiB of RSS per task.
async fn rss(n: usize) -> f64 {
    let before = crate::child::start_rss();
    let release = Arc::new(Notify::new());
    let parked = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let (release, parked) = (release.clone(), parked.clone());
        tokio::spawn(async move {
            let wait = release.notified();
            parked.fetch_add(1, Ordering::Release);
            wait.await;
        });
    }
    while parked.load(Ordering::Acquire) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    (rss_kib().saturating_sub(before)) as f64 / n as f64
}

/// An echo or HTTP server: the accept loop in a task, a task per
/// connection.
pub fn serve(http: bool, procs: usize) -> Result<(), String> {
    let rt = runtime(procs)?;
    rt.block_on(async move {
        tokio::spawn(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| e.to_string())?;
            crate::child::announce(listener.local_addr())?;
            loop {
                let (conn, _) = listener
                    .accept()
                    .await
                    .map_err(|e| format!("accept: {e}"))?;
                tokio::spawn(async move {
                    let _ = conn.set_nodelay(true);
                    if http {
                        crate::net::serve_http_async(conn).await;
                    } else {
                        crate::net::echo_async(conn).await;
                    }
                });
            }
        })
        .await
        .map_err(|e| e.to_string())?
    })
}
