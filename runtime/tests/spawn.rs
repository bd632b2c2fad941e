//! Spawning and joining goroutines, from goroutines and from threads.

use gofer_runtime::{self as gofer, Builder, go};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn join_returns_the_goroutines_value() {
    let h = gofer::spawn(|| 40 + 2);
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn ten_thousand_goroutines_from_a_thread_all_run_once() {
    let count = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..10_000u64)
        .map(|i| {
            let c = count.clone();
            gofer::spawn(move || {
                c.fetch_add(1, Ordering::Relaxed);
                i
            })
        })
        .collect();
    let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, 10_000 * 9_999 / 2);
    assert_eq!(count.load(Ordering::Relaxed), 10_000);
}

#[test]
fn goroutines_spawn_and_join_goroutines() {
    let h = gofer::spawn(|| {
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                gofer::spawn(move || {
                    gofer::yield_now();
                    i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(h.join().unwrap(), 4950);
}

/// A tree of 100,000 goroutines, each spawning its children and joining them.
#[test]
fn hundred_thousand_nested_spawns() {
    fn tree(depth: u32, fanout: u64) -> u64 {
        if depth == 0 {
            return 1;
        }
        let hs: Vec<_> = (0..fanout)
            .map(|_| gofer::spawn(move || tree(depth - 1, fanout)))
            .collect();
        1 + hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    }
    // 1 + 10 + 100 + 1000 + 10000 + 100000 goroutines (depth 5, fanout 10).
    let n = gofer::spawn(|| tree(5, 10)).join().unwrap();
    assert_eq!(n, 111_111);
}

#[test]
fn chained_spawns_one_hundred_thousand_deep() {
    fn link(left: u32) -> u32 {
        if left == 0 {
            return 0;
        }
        // Spawn the next link and exit without waiting: only a chain of
        // handles keeps the result.
        let next = gofer::spawn(move || link(left - 1));
        1 + next.join().unwrap()
    }
    assert_eq!(gofer::spawn(|| link(10_000)).join().unwrap(), 10_000);
}

#[test]
fn a_panicking_goroutine_gives_err_and_others_go_on() {
    let seven = std::hint::black_box(7);
    let bad = gofer::spawn(move || -> u32 { panic!("boom {seven}") });
    let good = gofer::spawn(|| 5);
    let err = bad.join().unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("boom 7")
    );
    assert_eq!(good.join().unwrap(), 5);
    // The runtime still works afterwards.
    assert_eq!(gofer::spawn(|| 6).join().unwrap(), 6);
}

#[test]
fn a_thread_can_join_a_goroutine_spawned_by_another_thread() {
    let h = std::thread::spawn(|| gofer::spawn(|| "from afar"))
        .join()
        .unwrap();
    assert_eq!(
        std::thread::spawn(move || h.join().unwrap())
            .join()
            .unwrap(),
        "from afar"
    );
}

#[test]
fn dropping_the_handle_detaches_the_goroutine() {
    let (tx, rx) = std::sync::mpsc::channel();
    drop(gofer::spawn(move || tx.send(1).unwrap()));
    assert_eq!(rx.recv().unwrap(), 1);
}

#[test]
fn builder_names_and_sizes_goroutines() {
    let h = Builder::new()
        .name("sized")
        .stack_size(1 << 20)
        .spawn(|| {
            // Use most of a 1 MiB stack.
            let big = [7u8; 900 << 10];
            std::hint::black_box(&big)[12345] as usize
                + gofer::current().unwrap().name().unwrap().len()
        })
        .unwrap();
    assert_eq!(h.goroutine().name(), Some("sized"));
    assert_eq!(h.join().unwrap(), 7 + 5);
}

#[test]
fn builder_rejects_impossible_stack_sizes() {
    let e = Builder::new().stack_size(0).spawn(|| ()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("stack size"), "{e}");
    let e = Builder::new()
        .stack_size(usize::MAX)
        .spawn(|| ())
        .unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
}

#[test]
fn is_finished_turns_true_after_the_goroutine_ends() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let h = gofer::spawn(move || {
        let _ = rx.recv();
    });
    assert!(!h.is_finished());
    drop(tx);
    while !h.is_finished() {
        std::thread::yield_now();
    }
    h.join().unwrap();
}

#[test]
fn goroutine_ids_are_unique_and_current_matches() {
    let hs: Vec<_> = (0..100)
        .map(|_| gofer::spawn(|| gofer::current().unwrap().id()))
        .collect();
    let mut ids = Vec::new();
    for h in hs {
        let expected = h.goroutine().id();
        let got = h.join().unwrap();
        assert_eq!(got, expected);
        ids.push(got);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert!(
        gofer::current().is_none(),
        "a test thread is not a goroutine"
    );
}

#[test]
fn num_goroutines_counts_parked_goroutines() {
    use gofer::park::{Task, park};
    use std::sync::atomic::AtomicBool;
    // Other tests run in this process too: only a lower bound is certain.
    let release = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel::<Task>();
    let hs: Vec<_> = (0..50)
        .map(|_| {
            let (release, tx) = (release.clone(), tx.clone());
            gofer::spawn(move || {
                tx.send(Task::current()).unwrap();
                while !release.load(Ordering::Acquire) {
                    park();
                }
            })
        })
        .collect();
    let tasks: Vec<Task> = rx.iter().take(50).collect();
    assert!(gofer::num_goroutines() >= 50, "{}", gofer::num_goroutines());
    release.store(true, Ordering::Release);
    tasks.iter().for_each(Task::unpark);
    for h in hs {
        h.join().unwrap();
    }
}

fn square(x: u64) -> u64 {
    x * x
}

mod nested {
    pub fn add(a: u64, b: u64) -> u64 {
        a + b
    }
}

struct Server {
    base: u64,
}

impl Server {
    fn handle(self, x: u64) -> u64 {
        self.base + x
    }
}

#[test]
fn go_macro_accepts_closures_calls_and_options() {
    let x = 5;
    let a = go!(move || x + 1);
    let b = go!(|| 2);
    let c = go!(square(3));
    let d = go!(nested::add(2, 3));
    let srv = Server { base: 100 };
    let e = go!(srv.handle(1));
    let f = go!(name = "opt", stack_size = 64 << 10, move || gofer::current(
    )
    .unwrap()
    .name()
    .map(String::from));
    let g = go!(name = "call", square(4));
    assert_eq!(a.join().unwrap(), 6);
    assert_eq!(b.join().unwrap(), 2);
    assert_eq!(c.join().unwrap(), 9);
    assert_eq!(d.join().unwrap(), 5);
    assert_eq!(e.join().unwrap(), 101);
    assert_eq!(f.join().unwrap().as_deref(), Some("opt"));
    assert_eq!(g.goroutine().name(), Some("call"));
    assert_eq!(g.join().unwrap(), 16);
}

#[test]
fn go_macro_evaluates_call_arguments_in_the_caller_in_order() {
    let order = std::sync::Mutex::new(Vec::new());
    let arg = |i: u64| {
        order.lock().unwrap().push((i, gofer::current().is_some()));
        i
    };
    let h = go!(nested::add(arg(1), arg(2)));
    assert_eq!(h.join().unwrap(), 3);
    assert_eq!(*order.lock().unwrap(), vec![(1, false), (2, false)]);
}

#[test]
fn spawn_site_points_at_the_caller() {
    let h = gofer::spawn(|| ());
    assert!(h.goroutine().spawn_site().file().ends_with("spawn.rs"));
    let line = line!() - 2;
    assert_eq!(h.goroutine().spawn_site().line(), line);
    let h2 = go!(|| ());
    assert_eq!(h2.goroutine().spawn_site().line(), line!() - 1);
}
