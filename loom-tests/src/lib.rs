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
