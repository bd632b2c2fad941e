//! The park/unpark interface that channels and I/O block through.

use gofer_runtime::park::{Task, current_task_id, in_goroutine, park, park_deadline, park_timeout};
use gofer_runtime::{self as gofer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn an_unpark_before_the_park_is_not_lost() {
    let h = gofer::spawn(|| {
        Task::current().unpark();
        park(); // returns at once: the permit is there
        true
    });
    assert!(h.join().unwrap());
    Task::current().unpark();
    park();
}

#[test]
fn a_goroutine_wakes_a_thread_and_a_thread_wakes_a_goroutine() {
    let flag = Arc::new(AtomicBool::new(false));
    let main = Task::current();
    let (tx, rx) = std::sync::mpsc::channel();
    let f = flag.clone();
    let h = gofer::spawn(move || {
        tx.send(Task::current()).unwrap();
        while !f.load(Ordering::Acquire) {
            park();
        }
        main.unpark();
        "woken"
    });
    let g = rx.recv().unwrap();
    assert!(g.is_goroutine());
    std::thread::sleep(Duration::from_millis(10));
    flag.store(true, Ordering::Release);
    g.unpark();
    park(); // until the goroutine unparks us (or spuriously)
    assert_eq!(h.join().unwrap(), "woken");
}

/// Many goroutines ping-pong a counter through park/unpark; every wakeup
/// must arrive, else this hangs.
#[test]
fn park_unpark_ping_pong_between_goroutines_loses_nothing() {
    const ROUNDS: usize = 20_000;
    let turn = Arc::new(AtomicUsize::new(0));
    let tasks: Arc<Mutex<Vec<Task>>> = Arc::new(Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for me in 0..2 {
        let turn = turn.clone();
        let tasks = tasks.clone();
        hs.push(gofer::spawn(move || {
            tasks.lock().unwrap().push(Task::current());
            while tasks.lock().unwrap().len() < 2 {
                gofer::yield_now();
            }
            let peer = tasks
                .lock()
                .unwrap()
                .iter()
                .find(|t| t.id() != current_task_id())
                .unwrap()
                .clone();
            for i in 0..ROUNDS {
                while turn.load(Ordering::Acquire) != 2 * i + me {
                    park();
                }
                turn.store(2 * i + me + 1, Ordering::Release);
                peer.unpark();
            }
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(turn.load(Ordering::SeqCst), 2 * ROUNDS);
}

#[test]
fn park_deadline_returns_after_the_deadline_in_a_goroutine_and_a_thread() {
    let h = gofer::spawn(|| {
        let t = Instant::now();
        let deadline = t + Duration::from_millis(30);
        while Instant::now() < deadline {
            park_deadline(deadline);
        }
        t.elapsed()
    });
    assert!(h.join().unwrap() >= Duration::from_millis(30));
    let t = Instant::now();
    park_timeout(Duration::from_millis(20));
    // A thread park may return early only spuriously; with nobody
    // unparking it, it sleeps (almost always) the whole time.
    let _ = t.elapsed();
}

#[test]
fn a_stale_deadline_timer_does_not_disturb_a_later_park() {
    // Park with a deadline, get woken early, then park indefinitely: the
    // old timer firing later may only cause a spurious return, which the
    // loop absorbs, and the final unpark still arrives.
    let flag = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let f = flag.clone();
    let h = gofer::spawn(move || {
        tx.send(Task::current()).unwrap();
        park_deadline(Instant::now() + Duration::from_millis(30));
        while !f.load(Ordering::Acquire) {
            park();
        }
    });
    let t = rx.recv().unwrap();
    t.unpark();
    std::thread::sleep(Duration::from_millis(60));
    flag.store(true, Ordering::Release);
    t.unpark();
    h.join().unwrap();
}

#[test]
fn task_ids_distinguish_goroutines_from_threads() {
    let here = current_task_id();
    assert!(!here.is_goroutine());
    assert!(!in_goroutine());
    assert_eq!(here, current_task_id());
    let (a, b) = gofer::spawn(|| (current_task_id(), in_goroutine()))
        .join()
        .unwrap();
    assert!(a.is_goroutine());
    assert!(b);
    assert_ne!(a, here);
    let other = std::thread::spawn(current_task_id).join().unwrap();
    assert_ne!(other, here);
}

/// Two goroutines on the same worker are different tasks (a channel pairs
/// tasks, not threads).
#[test]
fn goroutines_sharing_a_worker_have_different_task_ids() {
    let hs: Vec<_> = (0..64)
        .map(|_| gofer::spawn(|| (std::thread::current().id(), current_task_id())))
        .collect();
    let mut seen: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    seen.sort_by_key(|(t, _)| format!("{t:?}"));
    let same_thread = seen.windows(2).any(|w| w[0].0 == w[1].0);
    assert!(same_thread, "64 goroutines on few workers share a thread");
    let mut ids: Vec<_> = seen.iter().map(|(_, id)| id.as_u64()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 64);
}

/// A goroutine that parks while unwinding (a `Drop` that waits) must not
/// switch stacks: std's panic count is per thread. It blocks its worker
/// instead, and is still woken by an ordinary unpark.
#[test]
fn a_goroutine_parking_while_it_unwinds_blocks_its_thread_and_is_woken() {
    struct WaitOnDrop(Arc<AtomicBool>, std::sync::mpsc::Sender<Task>);
    impl Drop for WaitOnDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            self.1.send(Task::current()).unwrap();
            while !self.0.load(Ordering::Acquire) {
                park();
            }
        }
    }
    let flag = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let f = flag.clone();
    let h = gofer::spawn(move || {
        let _guard = WaitOnDrop(f, tx);
        panic!("unwinding through a parking drop");
    });
    let task = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(!h.is_finished(), "the drop is still waiting");
    flag.store(true, Ordering::Release);
    task.unpark();
    assert!(h.join().is_err());
    // Other goroutines run normally and see no panic in progress.
    assert!(!gofer::spawn(std::thread::panicking).join().unwrap());
}
