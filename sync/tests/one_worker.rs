//! Every primitive with all its goroutines on a single worker thread
//! (GOMAXPROCS = 1): a waiter that blocked its thread instead of parking
//! would stop the very goroutine it waits for, and the test would hang
//! (the watchdog turns that into a failure).

#[macro_use]
mod common;

use common::*;
use gofer_chan::{after, select};
use gofer_sync::context::{Context, ContextError};
use gofer_sync::{Barrier, Condvar, Mutex, Once, RwLock, Semaphore, WaitGroup};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

fn one_worker() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gofer_runtime::Config::new()
            .max_procs(1)
            .apply()
            .expect("configured before first use");
    });
    assert_eq!(gofer_runtime::max_procs(), 1);
}

/// Runs `f` in a goroutine on the single worker, under the watchdog.
fn on_one_worker<F: FnOnce() + Send + 'static>(f: F) {
    one_worker();
    watchdog(move || {
        gofer_runtime::spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
}

#[test]
fn mutex_waiters_park_while_the_holder_sleeps() {
    on_one_worker(|| {
        let m = Arc::new(Mutex::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                gofer_runtime::spawn(move || {
                    for _ in 0..50 {
                        let mut g = m.lock();
                        *g += 1;
                        gofer_runtime::yield_now(); // the others queue and park
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock(), 400);
    });
}

#[test]
fn rwlock_readers_and_writers_take_turns() {
    on_one_worker(|| {
        let l = Arc::new(RwLock::new(0));
        let meet = Arc::new(Barrier::new(2));
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let (l, meet) = (l.clone(), meet.clone());
                gofer_runtime::spawn(move || {
                    if i < 2 {
                        let _g = l.read();
                        meet.wait(); // both readers inside at once
                    } else {
                        for _ in 0..20 {
                            let mut g = l.write();
                            *g += 1;
                            gofer_runtime::yield_now();
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*l.read(), 80);
    });
}

#[test]
fn condvar_producer_and_consumer_hand_items_over() {
    on_one_worker(|| {
        let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let consumer = {
            let pair = pair.clone();
            gofer_runtime::spawn(move || {
                let (m, cv) = &*pair;
                let mut got = 0;
                while got < 100 {
                    let mut g = cv.wait_while(m.lock(), |q| q.is_empty());
                    got += g.drain(..).count();
                }
                got
            })
        };
        let (m, cv) = &*pair;
        for i in 0..100 {
            m.lock().push(i);
            cv.notify_one();
            if i % 10 == 0 {
                gofer_runtime::yield_now();
            }
        }
        assert_eq!(consumer.join().unwrap(), 100);
    });
}

#[test]
fn once_waiters_park_while_the_initialiser_sleeps() {
    on_one_worker(|| {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                gofer_runtime::spawn(move || {
                    once.call_once(|| {
                        gofer_runtime::sleep(Duration::from_millis(10));
                        runs.fetch_add(1, SeqCst);
                    });
                    assert_eq!(runs.load(SeqCst), 1);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn barrier_rounds_of_eight_goroutines() {
    on_one_worker(|| {
        let b = Arc::new(Barrier::new(8));
        let leaders = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (b, leaders) = (b.clone(), leaders.clone());
                gofer_runtime::spawn(move || {
                    for _ in 0..10 {
                        if b.wait().is_leader() {
                            leaders.fetch_add(1, SeqCst);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(leaders.load(SeqCst), 10);
    });
}

#[test]
fn semaphore_holders_yield_and_waiters_park() {
    on_one_worker(|| {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                gofer_runtime::spawn(move || {
                    for _ in 0..20 {
                        let _p = sem.acquire();
                        assert!(inside.fetch_add(1, SeqCst) < 2);
                        gofer_runtime::yield_now();
                        inside.fetch_sub(1, SeqCst);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn wait_group_waits_for_goroutines_on_the_same_worker() {
    on_one_worker(|| {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicUsize::new(0));
        for i in 0..16 {
            wg.add(1);
            let (wg, n) = (wg.clone(), n.clone());
            gofer_runtime::spawn(move || {
                gofer_runtime::sleep(Duration::from_micros(100 * (i % 4)));
                n.fetch_add(1, SeqCst);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(n.load(SeqCst), 16);
    });
}

#[test]
fn context_cancel_and_deadline_wake_selects() {
    on_one_worker(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let (timed, _c) = Context::background().with_timeout(Duration::from_millis(20));
        let waiters: Vec<_> = [ctx, timed]
            .into_iter()
            .map(|c| {
                gofer_runtime::spawn(move || {
                    select! {
                        recv(c.done()) -> _ => c.err(),
                        recv(after(LONG)) -> _ => None,
                    }
                })
            })
            .collect();
        gofer_runtime::yield_now();
        cancel.cancel();
        let errs: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(
            errs,
            [
                Some(ContextError::Canceled),
                Some(ContextError::DeadlineExceeded)
            ]
        );
    });
}
