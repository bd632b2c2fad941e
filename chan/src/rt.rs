//! Everything the channels need from the runtime, in one place: the current
//! task, parking with an optional deadline, unparking, a spin step, and the
//! fairness budget that blocking operations spend.
//!
//! It is `gofer_runtime::park`: a goroutine parks by suspending (its worker
//! runs other goroutines), a plain thread parks its thread. Under
//! `--cfg loom` the runtime exports a loom double with the same shape, so
//! `loom-tests/` can model-check the channel protocols themselves.

pub(crate) use gofer_runtime::park::{Task, WaitSlot, consume_budget, in_goroutine, park, relax};

/// Sleeps the calling task until `deadline`, or forever.
#[cfg(not(loom))]
pub(crate) fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => gofer_runtime::sleep_until(d),
        None => loop {
            park();
        },
    }
}

/// Loom has no clock: sleeping is parking (only ever woken by the end of
/// the model).
#[cfg(loom)]
pub(crate) fn sleep_until(_deadline: Option<std::time::Instant>) {
    park()
}
