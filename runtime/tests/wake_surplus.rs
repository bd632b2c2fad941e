//! A spawn wakes an idle worker only when more than one goroutine is queued
//! on the spawning worker (`submit_new`). The goroutine queued alone behind
//! a spawner that never yields must still get a thief: sysmon wakes one
//! when the spawner has held its worker for 10 ms, with hog reports off too.

use gofer_runtime::{self as gofer, Config};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[test]
fn a_lone_spawn_behind_a_busy_spawner_still_runs_elsewhere() {
    Config::new()
        .max_procs(2)
        .hog_reports(false)
        .apply()
        .expect("configured before first use");
    for _ in 0..5 {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let waited = gofer::spawn(move || {
            // Let the other worker fall asleep (this one wakes by its timer).
            gofer::sleep(Duration::from_millis(20));
            let t = Instant::now();
            drop(gofer::spawn(move || r.store(true, Ordering::Release)));
            // Hold this worker, never yielding, until the other one has
            // taken the spawned goroutine (or give up after 2 s).
            while !ran.load(Ordering::Acquire) && t.elapsed() < Duration::from_secs(2) {
                std::hint::spin_loop();
            }
            t.elapsed()
        })
        .join()
        .unwrap();
        assert!(waited < Duration::from_millis(500), "waited {waited:?}");
    }
}
