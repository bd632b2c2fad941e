//! gofer: every party is a goroutine, the measuring one included (like
//! Go's main goroutine); blocking code written plainly.

use super::{over, per_op, rss_kib};
use crate::Params;
use gofer::chan;
use gofer::park::{Task, park};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod chans {
    super::super::chan_workloads!(gofer::chan, gofer::select, gofer::spawn);
}

mod mutexes {
    super::super::mutex_workloads!(gofer::sync::Mutex, |m| m.lock(), gofer::spawn);
}

fn configure(procs: usize) -> Result<(), String> {
    // Several workloads hold their worker on purpose (spawn loops, the
    // select-with-default loop): no hog reports.
    gofer::Config::new()
        .max_procs(procs)
        .hog_reports(false)
        .apply()
        .map_err(|e| format!("gofer config: {e:?}"))
}

/// Runs `f` in a goroutine and returns its figure.
fn in_goroutine(f: impl FnOnce() -> f64 + Send + 'static) -> f64 {
    gofer::spawn(f).join().unwrap()
}

pub fn run(workload: &str, procs: usize, p: Params) -> Result<f64, String> {
    configure(procs)?;
    let n = p.n;
    let deadline = Instant::now() + p.budget;
    Ok(match workload {
        "spawn" => in_goroutine(move || spawn_join(n)),
        "chain" => in_goroutine(move || chain(n)),
        "yield" => in_goroutine(move || yields(n, deadline)),
        "park" => in_goroutine(move || park_ping_pong(n, deadline)),
        "pingpong" => in_goroutine(move || chans::ping_pong(n, deadline)),
        "select4" => in_goroutine(move || chans::select4(n, deadline)),
        "select-default" => in_goroutine(move || chans::select_default(n, deadline)),
        "rss-100k" | "rss-1m" => rss(n),
        w => match (super::throughput_shape(w), super::mutex_shape(w)) {
            (Some((cap, ps, cs)), _) => {
                in_goroutine(move || chans::throughput(cap, ps, cs, n, deadline))
            }
            (_, Some((1, _))) => in_goroutine(move || mutexes::uncontended(n, deadline)),
            (_, Some((parties, _))) => {
                in_goroutine(move || mutexes::contended(parties, n, deadline))
            }
            _ => return Err(format!("gofer: no workload {w}")),
        },
    })
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
    fn link(left: usize, done: chan::Sender<()>) {
        if left == 0 {
            done.send(()).unwrap();
        } else {
            gofer::spawn(move || link(left - 1, done));
        }
    }
    let (tx, rx) = chan::bounded(1);
    let t = Instant::now();
    gofer::spawn(move || link(n, tx));
    rx.recv().unwrap();
    per_op(t, n)
}

fn yields(n: usize, deadline: Instant) -> f64 {
    let t = Instant::now();
    let task = move || {
        let mut done = 0;
        while done < n && !over(done, 1024, deadline) {
            gofer::yield_now();
            done += 1;
        }
        done
    };
    let a = gofer::spawn(task);
    let b = gofer::spawn(task);
    let total = a.join().unwrap() + b.join().unwrap();
    per_op(t, total)
}

/// Two goroutines hand a turn counter back and forth with park/unpark.
fn park_ping_pong(n: usize, deadline: Instant) -> f64 {
    let turn = Arc::new(AtomicUsize::new(0));
    let me = Task::current();
    let (tx, rx) = chan::bounded(1);
    let t2 = turn.clone();
    let peer = gofer::spawn(move || {
        tx.send(Task::current()).unwrap();
        for i in 0.. {
            loop {
                match t2.load(Ordering::Acquire) {
                    usize::MAX => return,
                    t if t == 2 * i + 1 => break,
                    _ => park(),
                }
            }
            t2.store(2 * i + 2, Ordering::Release);
            me.unpark();
        }
    });
    let other = rx.recv().unwrap();
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 16, deadline) {
        turn.store(2 * done + 1, Ordering::Release);
        other.unpark();
        while turn.load(Ordering::Acquire) != 2 * done + 2 {
            park();
        }
        done += 1;
    }
    let ns = per_op(t, done);
    turn.store(usize::MAX, Ordering::Release);
    other.unpark();
    peer.join().unwrap();
    ns
}

/// In this fresh process: `n` goroutines wait in `recv` on one shared
/// channel; KiB of RSS per goroutine.
fn rss(n: usize) -> f64 {
    let before = crate::child::start_rss();
    let (release, wait) = chan::bounded::<()>(0);
    let parked = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let (wait, parked) = (wait.clone(), parked.clone());
        gofer::spawn(move || {
            parked.fetch_add(1, Ordering::Release);
            let _ = wait.recv();
        });
    }
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let per = (rss_kib().saturating_sub(before)) as f64 / n as f64;
    drop(release); // the process exits right after; nothing is joined
    per
}

/// An echo or HTTP server: the accept loop in a goroutine, a goroutine
/// per connection.
pub fn serve(http: bool, procs: usize) -> Result<(), String> {
    use gofer::net::TcpListener;
    configure(procs)?;
    gofer::spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        crate::child::announce(listener.local_addr())?;
        loop {
            let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            gofer::spawn(move || {
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
    .map_err(|_| "the accept goroutine panicked".to_string())?
}
