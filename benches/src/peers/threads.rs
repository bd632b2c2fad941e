//! std threads, with crossbeam-channel for the channel workloads and
//! std's or parking_lot's mutex for the mutex workloads: the baseline
//! every M:N runtime is measured against. The runner pins the child to 1
//! or 2 CPUs with `taskset` in place of a worker count.

use super::{over, per_op};
use crate::Params;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

mod chans {
    super::super::chan_workloads!(
        crossbeam_channel,
        crossbeam_channel::select,
        std::thread::spawn
    );
}

mod std_mutex {
    super::super::mutex_workloads!(std::sync::Mutex, |m| m.lock().unwrap(), std::thread::spawn);
}

mod parking_lot_mutex {
    super::super::mutex_workloads!(parking_lot::Mutex, |m| m.lock(), std::thread::spawn);
}

pub fn run(workload: &str, p: Params) -> Result<f64, String> {
    let n = p.n;
    let deadline = Instant::now() + p.budget;
    Ok(match workload {
        "yield" => yields(n, deadline),
        "park" => park_ping_pong(n, deadline),
        "pingpong" => chans::ping_pong(n, deadline),
        "select4" => chans::select4(n, deadline),
        "select-default" => chans::select_default(n, deadline),
        w => match (super::throughput_shape(w), super::mutex_shape(w)) {
            (Some((cap, ps, cs)), _) => chans::throughput(cap, ps, cs, n, deadline),
            // The uncontended workload runs on the main thread.
            (_, Some((1, false))) => std_mutex::uncontended(n, deadline),
            (_, Some((1, true))) => parking_lot_mutex::uncontended(n, deadline),
            (_, Some((parties, false))) => std_mutex::contended(parties, n, deadline),
            (_, Some((parties, true))) => parking_lot_mutex::contended(parties, n, deadline),
            _ => return Err(format!("threads: no workload {w}")),
        },
    })
}

fn yields(n: usize, deadline: Instant) -> f64 {
    let t = Instant::now();
    let task = move || {
        let mut done = 0;
        while done < n && !over(done, 1024, deadline) {
            std::thread::yield_now();
            done += 1;
        }
        done
    };
    let a = std::thread::spawn(task);
    let b = std::thread::spawn(task);
    let total = a.join().unwrap() + b.join().unwrap();
    per_op(t, total)
}

/// Two threads hand a turn counter back and forth with park/unpark.
fn park_ping_pong(n: usize, deadline: Instant) -> f64 {
    let turn = Arc::new(AtomicUsize::new(0));
    let me = std::thread::current();
    let t2 = turn.clone();
    let peer = std::thread::spawn(move || {
        for i in 0.. {
            loop {
                match t2.load(Ordering::Acquire) {
                    usize::MAX => return,
                    t if t == 2 * i + 1 => break,
                    _ => std::thread::park(),
                }
            }
            t2.store(2 * i + 2, Ordering::Release);
            me.unpark();
        }
    });
    let other = peer.thread().clone();
    let t = Instant::now();
    let mut done = 0;
    while done < n && !over(done, 16, deadline) {
        turn.store(2 * done + 1, Ordering::Release);
        other.unpark();
        while turn.load(Ordering::Acquire) != 2 * done + 2 {
            std::thread::park();
        }
        done += 1;
    }
    let ns = per_op(t, done);
    turn.store(usize::MAX, Ordering::Release);
    other.unpark();
    peer.join().unwrap();
    ns
}

/// An echo or HTTP server: a thread per connection.
pub fn serve(http: bool) -> Result<(), String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    crate::child::announce(listener.local_addr())?;
    loop {
        let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        std::thread::spawn(move || {
            let _ = conn.set_nodelay(true);
            if http {
                crate::net::serve_http(conn);
            } else {
                crate::net::echo(conn);
            }
        });
    }
}
