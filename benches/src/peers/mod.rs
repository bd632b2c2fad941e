//! The workloads, written once per peer the way that peer's users write
//! them. Every function returns its figure in the workload's unit (see
//! `spec.rs`). The channel workloads of gofer and of crossbeam-channel on
//! std threads share one text (`chan_workloads!`), since gofer's channels
//! have crossbeam-channel's API; likewise the mutex workloads of gofer,
//! may and std threads (`mutex_workloads!`), whose mutexes have std's
//! shape.

pub mod gofer;
pub mod may;
pub mod threads;
pub mod tokio;

use std::time::Instant;

/// Nanoseconds per operation since `t`.
pub fn per_op(t: Instant, ops: usize) -> f64 {
    t.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

/// Has the run's time budget run out? Looks at the clock every `every`
/// operations only, and never before the first `every` are done (so a
/// child that starts late on a busy machine still measures something).
pub fn over(i: usize, every: usize, deadline: Instant) -> bool {
    i > 0 && i.is_multiple_of(every) && Instant::now() >= deadline
}

/// This process's resident set, in KiB (`VmRSS` in /proc/self/status).
pub fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `(capacity, producers, consumers)` of a throughput workload id such as
/// `bounded1024-4x4` (capacity `None`: unbounded).
pub fn throughput_shape(id: &str) -> Option<(Option<usize>, usize, usize)> {
    let (flavor, shape) = id.split_once('-')?;
    let cap = match flavor {
        "unbounded" => None,
        f => Some(f.strip_prefix("bounded")?.parse().ok()?),
    };
    let (p, c) = shape.split_once('x')?;
    Some((cap, p.parse().ok()?, c.parse().ok()?))
}

/// The channel workloads for a crossbeam-channel-shaped module: `$chan`
/// has `bounded`/`unbounded`, `$select` is its `select!`, `$spawn` starts
/// a party (goroutine or thread) and returns a handle whose `join()`
/// gives a `std::thread::Result`.
macro_rules! chan_workloads {
    ($chan:path, $select:path, $spawn:path) => {
        use super::{over, per_op};
        use std::time::Instant;
        use $chan::{bounded, unbounded};
        use $select as select;

        /// Round trips over two zero-capacity channels.
        pub fn ping_pong(n: usize, deadline: Instant) -> f64 {
            let (ping_tx, ping_rx) = bounded::<usize>(0);
            let (pong_tx, pong_rx) = bounded::<usize>(0);
            let echo = $spawn(move || {
                for i in ping_rx {
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

        /// Up to `n` messages from `producers` to `consumers` over one
        /// channel (`cap: None` is unbounded); every message counted.
        pub fn throughput(
            cap: Option<usize>,
            producers: usize,
            consumers: usize,
            n: usize,
            deadline: Instant,
        ) -> f64 {
            let (tx, rx) = match cap {
                Some(c) => bounded::<usize>(c),
                None => unbounded::<usize>(),
            };
            let each = n / producers;
            let t = Instant::now();
            let ps: Vec<_> = (0..producers)
                .map(|_| {
                    let tx = tx.clone();
                    $spawn(move || {
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
                    $spawn(move || rx.iter().count())
                })
                .collect();
            drop(rx);
            let sent: usize = ps.into_iter().map(|p| p.join().unwrap()).sum();
            let got: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
            let ns = per_op(t, got);
            assert_eq!(got, sent, "messages lost or duplicated");
            ns
        }

        /// One selecting receiver, 4 senders each on its own zero-capacity
        /// channel. The senders' originals stay alive until the receiver
        /// is done (a disconnected channel counts as ready); dropping the
        /// receivers stops the senders.
        pub fn select4(n: usize, deadline: Instant) -> f64 {
            let each = n / 4;
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| bounded::<usize>(0)).unzip();
            let t = Instant::now();
            let senders: Vec<_> = txs
                .iter()
                .map(|tx| {
                    let tx = tx.clone();
                    $spawn(move || (0..each).take_while(|&i| tx.send(i).is_ok()).count())
                })
                .collect();
            let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
            let mut got = 0;
            while got < 4 * each && !over(got, 16, deadline) {
                select! {
                    recv(r0) -> v => v.unwrap(),
                    recv(r1) -> v => v.unwrap(),
                    recv(r2) -> v => v.unwrap(),
                    recv(r3) -> v => v.unwrap(),
                };
                got += 1;
            }
            let ns = per_op(t, got);
            drop(rxs);
            let sent: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
            drop(txs);
            assert_eq!(got, sent, "messages lost or duplicated");
            ns
        }

        /// `select!` with a `default` arm over 4 empty zero-capacity
        /// channels whose senders are alive: nothing is ever ready.
        pub fn select_default(n: usize, deadline: Instant) -> f64 {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| bounded::<u8>(0)).unzip();
            let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
            let t = Instant::now();
            let mut done = 0;
            while done < n && !over(done, 256, deadline) {
                select! {
                    recv(r0) -> _ => unreachable!(),
                    recv(r1) -> _ => unreachable!(),
                    recv(r2) -> _ => unreachable!(),
                    recv(r3) -> _ => unreachable!(),
                    default => {}
                }
                done += 1;
            }
            let ns = per_op(t, done);
            drop(txs);
            ns
        }
    };
}

pub(crate) use chan_workloads;

/// The mutex workloads for a std-shaped mutex: `$mutex` is the type
/// (`Mutex<usize>` is built with `new`), `|$m| $lock` takes the lock of
/// `$m: &$mutex<usize>` and gives the guard, `$spawn` starts a party
/// (goroutine, coroutine or thread) whose handle's `join()` gives a
/// `std::thread::Result`.
macro_rules! mutex_workloads {
    ($mutex:path, |$m:ident| $lock:expr, $spawn:path) => {
        use super::{over, per_op};
        use std::sync::Arc;
        use std::time::Instant;
        use $mutex as Mutex;

        /// One increment of the counter under the lock.
        #[inline]
        fn incr(mutex: &Mutex<usize>) {
            let $m = mutex;
            *$lock += 1;
        }

        /// One party locks and unlocks around an increment, up to `n`
        /// times; ns per lock + unlock.
        pub fn uncontended(n: usize, deadline: Instant) -> f64 {
            let counter = Mutex::new(0usize);
            let t = Instant::now();
            let mut done = 0;
            while done < n && !over(done, 1024, deadline) {
                incr(&counter);
                done += 1;
            }
            let ns = per_op(t, done);
            let $m = &counter;
            assert_eq!(*$lock, done, "increments lost");
            ns
        }

        /// `parties` parties each increment one shared counter under the
        /// lock up to `n / parties` times; ns per lock + unlock, the
        /// count checked exactly.
        pub fn contended(parties: usize, n: usize, deadline: Instant) -> f64 {
            let counter = Arc::new(Mutex::new(0usize));
            let each = n / parties;
            let t = Instant::now();
            let hs: Vec<_> = (0..parties)
                .map(|_| {
                    let counter = counter.clone();
                    $spawn(move || {
                        let mut done = 0;
                        while done < each && !over(done, 256, deadline) {
                            incr(&counter);
                            done += 1;
                        }
                        done
                    })
                })
                .collect();
            let done: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
            let ns = per_op(t, done);
            let $m = &*counter;
            assert_eq!(*$lock, done, "increments lost or duplicated");
            ns
        }
    };
}

pub(crate) use mutex_workloads;

/// `(parties, lock)` of a mutex workload id: `mutex-uncontended` is one
/// party, `mutex-contended` four; a `-parking_lot` suffix asks the
/// std-threads peer for parking_lot's lock.
pub fn mutex_shape(id: &str) -> Option<(usize, bool)> {
    let (shape, parking_lot) = match id.strip_suffix("-parking_lot") {
        Some(s) => (s, true),
        None => (id, false),
    };
    match shape {
        "mutex-uncontended" => Some((1, parking_lot)),
        "mutex-contended" => Some((4, parking_lot)),
        _ => None,
    }
}
