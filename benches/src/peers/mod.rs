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

include!("chan_workloads.rs");

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
