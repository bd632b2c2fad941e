//! Scenarios whose outcome is the process's exit status and stderr: stack
//! overflow, deadlock, hog reports, the stack budget. Each runs in a child
//! process (this binary re-executed with `GOFER_SCENARIO` set).

use gofer_runtime::park::{Task, park};
use gofer_runtime::{self as gofer, Builder};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn main() {
    if let Ok(scenario) = std::env::var("GOFER_SCENARIO") {
        child(&scenario);
        return;
    }
    let mut failed = 0;
    for (name, check) in CHECKS {
        let t = Instant::now();
        match std::panic::catch_unwind(check) {
            Ok(()) => println!("test {name} ... ok ({:?})", t.elapsed()),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} crash scenario(s) failed");
        std::process::exit(1);
    }
}

type Check = (&'static str, fn());

const CHECKS: &[Check] = &[
    (
        "stack_overflow_names_the_goroutine_and_aborts",
        stack_overflow_names_the_goroutine_and_aborts,
    ),
    (
        "deadlock_in_join_is_reported_and_exits_2",
        deadlock_in_join_is_reported_and_exits_2,
    ),
    (
        "deadlock_between_goroutines_is_reported",
        deadlock_between_goroutines_is_reported,
    ),
    (
        "a_sleeping_goroutine_is_not_a_deadlock",
        a_sleeping_goroutine_is_not_a_deadlock,
    ),
    (
        "a_foreign_thread_that_may_wake_is_not_a_deadlock",
        a_foreign_thread_that_may_wake_is_not_a_deadlock,
    ),
    (
        "a_blocking_call_is_not_a_deadlock",
        a_blocking_call_is_not_a_deadlock,
    ),
    (
        "a_hogging_goroutine_is_reported_once",
        a_hogging_goroutine_is_reported_once,
    ),
    (
        "stack_budget_exhaustion_is_a_clear_error",
        stack_budget_exhaustion_is_a_clear_error,
    ),
];

fn run(scenario: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("GOFER_SCENARIO", scenario);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run child")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stack_overflow_names_the_goroutine_and_aborts() {
    let out = run("overflow", &[]);
    let err = stderr(&out);
    assert!(
        err.contains(") has overflowed its stack of 64 KiB") && err.contains("(deep)"),
        "{err}"
    );
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{err}");
}

fn deadlock_in_join_is_reported_and_exits_2() {
    let out = run("deadlock_join", &[]);
    let err = stderr(&out);
    assert!(
        err.contains("fatal error: all goroutines are asleep - deadlock!"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
}

fn deadlock_between_goroutines_is_reported() {
    let out = run("deadlock_cycle", &[]);
    let err = stderr(&out);
    assert!(
        err.contains("all goroutines are asleep - deadlock!"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2), "{err}");
}

fn a_sleeping_goroutine_is_not_a_deadlock() {
    let out = run("sleeper", &[]);
    let err = stderr(&out);
    assert!(!err.contains("deadlock"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn a_foreign_thread_that_may_wake_is_not_a_deadlock() {
    let out = run("foreign_waker", &[]);
    let err = stderr(&out);
    assert!(!err.contains("deadlock"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn a_blocking_call_is_not_a_deadlock() {
    let out = run("blocking_call", &[]);
    let err = stderr(&out);
    assert!(!err.contains("deadlock"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

fn a_hogging_goroutine_is_reported_once() {
    let out = run("hog", &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("has run for").count(), 1, "{err}");
    assert!(
        err.contains("(hog), spawned at runtime/tests/crash.rs:"),
        "{err}"
    );
    assert!(err.contains("without yielding"), "{err}");
}

fn stack_budget_exhaustion_is_a_clear_error() {
    let out = run(
        "budget",
        &[
            ("GOFER_STACK_GUARD", "mprotect"),
            ("GOFER_MAX_STACK_MAPPINGS", "200"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("spawn error: ") && err.contains("vm.max_map_count"),
        "{err}"
    );
    assert!(err.contains("go! panicked: "), "{err}");
}

// ---- children ---------------------------------------------------------

fn child(scenario: &str) {
    match scenario {
        "overflow" => {
            fn recurse(n: u64) -> u64 {
                let pad = std::hint::black_box([n; 64]);
                if pad[7] == u64::MAX {
                    return 0; // never: black_box hides that from the compiler
                }
                recurse(pad[3] + 1) + pad[5]
            }
            let h = Builder::new()
                .name("deep")
                .stack_size(64 << 10)
                .spawn(|| recurse(0))
                .unwrap();
            let _ = h.join();
            unreachable!("the overflow must abort the process");
        }
        "deadlock_join" => {
            let h = gofer::spawn(|| {
                loop {
                    park(); // nobody will ever unpark this goroutine
                }
            });
            h.join().unwrap();
        }
        "deadlock_cycle" => {
            // Each goroutine waits for the other to finish.
            let (tx, rx) = std::sync::mpsc::channel::<gofer::JoinHandle<()>>();
            let a = gofer::spawn(move || {
                let b: gofer::JoinHandle<()> = rx.recv().unwrap();
                b.join().unwrap();
            });
            let a_task = a.goroutine().clone();
            let b = gofer::spawn(move || {
                let _ = a_task;
                loop {
                    park();
                }
            });
            tx.send(b).unwrap();
            a.join().unwrap();
        }
        "sleeper" => {
            gofer::spawn(|| gofer::sleep(Duration::from_millis(400)))
                .join()
                .unwrap();
        }
        "foreign_waker" => {
            let (tx, rx) = std::sync::mpsc::channel::<Task>();
            let h = gofer::spawn(move || {
                tx.send(Task::current()).unwrap();
                park();
            });
            let g = rx.recv().unwrap();
            // A plain thread that gofer knows nothing about wakes it later.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(400));
                g.unpark();
            });
            h.join().unwrap();
        }
        "blocking_call" => {
            gofer::spawn(|| gofer::blocking(|| std::thread::sleep(Duration::from_millis(400))))
                .join()
                .unwrap();
        }
        "hog" => {
            let h = Builder::new()
                .name("hog")
                .spawn(|| {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_millis(100) {
                        std::hint::spin_loop();
                    }
                })
                .unwrap();
            h.join().unwrap();
        }
        "budget" => {
            // 200 mappings = 100 guarded stacks; park 150 goroutines.
            let mut tasks = Vec::new();
            let mut error = None;
            for _ in 0..150 {
                match Builder::new().spawn(park) {
                    Ok(h) => tasks.push(h),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            eprintln!("spawn error: {}", error.expect("the budget must run out"));
            let r = std::panic::catch_unwind(|| gofer::go!(|| ()));
            let msg = r.unwrap_err();
            let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("go! panicked: {msg}");
            std::process::exit(0);
        }
        other => panic!("unknown scenario {other}"),
    }
}
