//! Loom models of gofer's wakeup protocols; see `tests/` and `README.md`.
//!
//! The models drive the exact protocol code the runtime runs
//! (`gofer_runtime::__loom`, compiled against loom's atomics and locks under
//! `--cfg loom`). Without `--cfg loom` this crate is empty and its tests
//! compile to nothing, so `cargo test --workspace` is unaffected.
//!
//! Run them with `loom-tests/run.sh` from the workspace root.

/// The preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set: the
/// value crossbeam and tokio run in CI, and the one every model here is
/// sized for (a few seconds each on a 2-core machine).
pub const DEFAULT_MAX_PREEMPTIONS: usize = 2;

/// Explores every interleaving of `model`, like [`loom::model`], then
/// prints how many executions that took and how long, under the calling
/// test's name (visible with `--nocapture` or `RUST_TEST_NOCAPTURE=1`).
///
/// Honours loom's environment variables (`LOOM_MAX_PREEMPTIONS`,
/// `LOOM_MAX_BRANCHES`, ...); the preemption bound defaults to
/// [`DEFAULT_MAX_PREEMPTIONS`] instead of unbounded. With `LOOM_LOG` set it
/// defers to [`loom::model`] itself, which installs the tracing subscriber
/// that prints the failing interleaving (set `LOOM_MAX_PREEMPTIONS` too
/// then: `loom::model` reads only the environment).
#[cfg(loom)]
pub fn check<F>(model: F)
where
    F: Fn() + Sync + Send + 'static,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    // A plain std counter: loom runs every execution on this OS thread, one
    // after the other, and does not need to see this access.
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let counted = move || {
        counter.fetch_add(1, Relaxed);
        model();
    };

    let mut builder = loom::model::Builder::new();
    let bound = *builder
        .preemption_bound
        .get_or_insert(DEFAULT_MAX_PREEMPTIONS);
    let start = std::time::Instant::now();
    if builder.log {
        loom::model(counted);
    } else {
        builder.check(counted);
    }
    let test = std::thread::current();
    eprintln!(
        "loom: {}: {} executions in {:.2?} (preemption bound {bound})",
        test.name().unwrap_or("model"),
        executions.load(Relaxed),
        start.elapsed(),
    );
}

/// How many scheduler turns late the main thread and the spawned threads
/// of a channel model start their part (see [`sweep`]).
#[cfg(loom)]
#[derive(Clone, Copy, Debug)]
pub struct Late {
    main: usize,
    peer: usize,
}

#[cfg(loom)]
impl Late {
    /// Called by the main thread before its part of the model.
    pub fn main(&self) {
        late(self.main);
    }

    /// Called by each spawned thread before its part of the model.
    pub fn peer(&self) {
        late(self.peer);
    }
}

#[cfg(loom)]
fn late(turns: usize) {
    for _ in 0..turns {
        loom::thread::yield_now();
    }
}

/// Checks `model` from several starting schedules: with the main thread
/// `1..=main` turns late (the spawned threads run first), and with the
/// spawned threads `0..=peer` turns late. Each run prints its execution
/// count under `test name [main+m peer+p]`.
#[cfg(loom)]
pub fn sweep<F>(main: usize, peer: usize, model: F)
where
    F: Fn(Late) + Clone + Send + Sync + 'static,
{
    let test = std::thread::current().name().unwrap_or("model").to_owned();
    let starts = (1..=main)
        .map(|m| Late { main: m, peer: 0 })
        .chain((0..=peer).map(|p| Late { main: 0, peer: p }));
    for start in starts {
        let model = model.clone();
        let name = format!("{test} [main+{} peer+{}]", start.main, start.peer);
        // A named thread, so `check` reports which start this was.
        let run = std::thread::Builder::new()
            .name(name)
            .spawn(move || check(move || model(start)))
            .expect("spawn a model thread")
            .join();
        if let Err(panic) = run {
            std::panic::resume_unwind(panic);
        }
    }
}
