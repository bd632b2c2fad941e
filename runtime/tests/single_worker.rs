//! Behaviour with GOMAXPROCS = 1: one worker must still let every goroutine
//! make progress while others block, yield or sleep.

use gofer_runtime::{self as gofer, Config};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn one_worker() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        Config::new()
            .max_procs(1)
            .hog_reports(false)
            .apply()
            .expect("configured before first use");
        assert_eq!(gofer::max_procs(), 1);
    });
}

#[test]
fn blocking_lets_other_goroutines_run_on_the_only_worker() {
    one_worker();
    let progress = Arc::new(AtomicUsize::new(0));
    let blocked_done = Arc::new(AtomicBool::new(false));
    let (p, d) = (progress.clone(), blocked_done.clone());
    let blocker = gofer::spawn(move || {
        let seen_before = p.load(Ordering::SeqCst);
        gofer::blocking(|| std::thread::sleep(Duration::from_millis(300)));
        d.store(true, Ordering::SeqCst);
        p.load(Ordering::SeqCst) - seen_before
    });
    let (p, d) = (progress.clone(), blocked_done.clone());
    let worker = gofer::spawn(move || {
        // Runs while the blocker's closure sleeps on a pool thread.
        while !d.load(Ordering::SeqCst) {
            p.fetch_add(1, Ordering::SeqCst);
            gofer::sleep(Duration::from_millis(1));
        }
    });
    let progress_during_block = blocker.join().unwrap();
    worker.join().unwrap();
    assert!(
        progress_during_block >= 10,
        "only {progress_during_block} steps while blocked"
    );
}

#[test]
fn blocking_returns_values_borrows_and_propagates_panics() {
    one_worker();
    let h = gofer::spawn(|| {
        let local = [1, 2, 3];
        let sum = gofer::blocking(|| local.iter().sum::<i32>());
        let panicked = std::panic::catch_unwind(|| gofer::blocking(|| panic!("in pool"))).is_err();
        (sum, panicked)
    });
    assert_eq!(h.join().unwrap(), (6, true));
    // From a plain thread it just runs.
    assert_eq!(gofer::blocking(|| 5), 5);
}

#[test]
fn yielding_goroutines_interleave_on_one_worker() {
    one_worker();
    let turn = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..2)
        .map(|me| {
            let turn = turn.clone();
            gofer::spawn(move || {
                for i in 0..1000 {
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while turn.load(Ordering::SeqCst) != 2 * i + me {
                        assert!(Instant::now() < deadline, "the other goroutine never ran");
                        gofer::yield_now();
                    }
                    turn.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn many_sleepers_share_the_one_worker() {
    one_worker();
    let t = Instant::now();
    let hs: Vec<_> = (0..1000)
        .map(|_| gofer::spawn(|| gofer::sleep(Duration::from_millis(100))))
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    // All 1000 slept concurrently: far less than 1000 x 100 ms.
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn a_goroutine_that_never_blocks_still_yields_at_fairness_points() {
    one_worker();
    // The spinner only ever passes fairness points (as a receiver that
    // always finds a message would); the flag it waits for can only be
    // set by the other goroutine, on the same and only worker.
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    let spinner = gofer::spawn(move || {
        let mut points = 0u64;
        while !f.load(Ordering::SeqCst) {
            gofer::park::consume_budget();
            points += 1;
        }
        points
    });
    let f = flag.clone();
    let setter = gofer::spawn(move || f.store(true, Ordering::SeqCst));
    setter.join().unwrap();
    let points = spinner.join().unwrap();
    assert!(points >= 1, "the setter ran before the spinner started");
}

#[test]
fn a_plain_thread_has_no_budget_to_spend() {
    one_worker();
    // Outside a goroutine a fairness point never yields (nor panics).
    for _ in 0..10_000 {
        gofer::park::consume_budget();
    }
}

/// Two goroutines that yield until `stop` is set: a worker that never runs
/// out of local work, so whatever else it runs it found through the
/// periodic checks of its scheduling loop, not by going idle.
fn busy_pair(stop: &Arc<AtomicBool>) -> Vec<gofer::JoinHandle<()>> {
    (0..2)
        .map(|_| {
            let stop = stop.clone();
            gofer::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop.load(Ordering::SeqCst) {
                    assert!(Instant::now() < deadline, "starved: never stopped");
                    gofer::yield_now();
                }
            })
        })
        .collect()
}

#[test]
fn a_timer_fires_while_the_worker_never_runs_dry() {
    one_worker();
    // The sleeper arms the worker's first timer while yielders keep its
    // queue full: the timer checks must resume then (`add_timer`).
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let driver = gofer::spawn(move || {
        let pair = busy_pair(&s);
        gofer::sleep(Duration::from_millis(20));
        s.store(true, Ordering::SeqCst);
        pair
    });
    for h in driver.join().unwrap() {
        h.join().unwrap();
    }
}

#[test]
fn a_spawn_from_a_thread_runs_while_the_worker_never_runs_dry() {
    one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (s, st) = (stop.clone(), started.clone());
    let driver = gofer::spawn(move || {
        let pair = busy_pair(&s);
        st.store(true, Ordering::SeqCst);
        pair
    });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // From a plain thread: the global queue, which the busy worker only
    // looks at every 61st tick.
    let s = stop.clone();
    gofer::spawn(move || s.store(true, Ordering::SeqCst))
        .join()
        .unwrap();
    for h in driver.join().unwrap() {
        h.join().unwrap();
    }
}

#[test]
fn a_remote_wakeup_runs_while_the_worker_never_runs_dry() {
    use gofer::park::{Task, park};
    one_worker();
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let (s, g) = (stop.clone(), go.clone());
    let parked = gofer::spawn(move || {
        let pair = busy_pair(&s);
        tx.send(Task::current()).unwrap();
        // Woken from a plain thread: through this worker's inbox, while
        // the pair keeps the worker busy.
        while !g.load(Ordering::SeqCst) {
            park();
        }
        s.store(true, Ordering::SeqCst);
        pair
    });
    let task = rx.recv().unwrap();
    go.store(true, Ordering::SeqCst);
    task.unpark();
    for h in parked.join().unwrap() {
        h.join().unwrap();
    }
}
