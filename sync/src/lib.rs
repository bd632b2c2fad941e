//! Goroutine-aware synchronisation — the `sync` and `context` of [gofer].
//!
//! A goroutine that takes a `std::sync::Mutex` held by another goroutine on
//! the same worker blocks that worker: the holder can never run to release
//! it. The primitives here park the waiting goroutine instead (and block a
//! plain thread), so goroutines and threads can share them freely:
//! [`Mutex`], [`RwLock`], [`Condvar`], [`Once`], [`OnceLock`], [`Barrier`]
//! shaped like std's; [`WaitGroup`] and [`Semaphore`] from Go and tokio;
//! and [`context`], Go's cancellation tree.
//!
//! ```
//! use gofer_sync::{Mutex, WaitGroup};
//! use std::sync::Arc;
//!
//! let wg = WaitGroup::new();
//! let total = Arc::new(Mutex::new(0u64));
//! for i in 0..100 {
//!     wg.add(1);
//!     let (wg, total) = (wg.clone(), total.clone());
//!     gofer_runtime::spawn(move || {
//!         *total.lock() += i;
//!         wg.done();
//!     });
//! }
//! wg.wait();
//! assert_eq!(*total.lock(), 4950);
//! ```
//!
//! # How they work
//!
//! Each primitive keeps its state in one atomic word, so the uncontended
//! path is a single compare-and-swap — no system call, no scheduler call.
//! When a task must wait it joins a FIFO queue (`queue.rs`) and parks; the
//! task that releases the primitive *grants* the first waiter by writing
//! into the waiter's own wait slot (a word in the task itself, so waiting
//! allocates nothing) and unparking it.
//!
//! Fairness is deliberate, per primitive:
//! * [`Mutex`] follows Go's `sync.Mutex`: woken waiters compete with new
//!   arrivals (throughput), but a waiter that has waited more than 1 ms is
//!   handed the lock directly (bounded unfairness, no starvation).
//! * [`RwLock`], [`Semaphore`] and [`Condvar`] serve waiters in arrival
//!   order, consecutive readers together, so neither side can starve.
//!
//! There is no poisoning (parking_lot's choice rather than std's): a
//! goroutine that panics while holding a lock releases it on unwinding,
//! and its panic is already reported through its `JoinHandle`; Go has no
//! poisoning either.
//!
//! [gofer]: https://docs.rs/gofer

#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod barrier;
mod condvar;
#[cfg(not(loom))]
pub mod context;
mod loom;
mod mutex;
mod once;
mod queue;
mod rwlock;
mod semaphore;
mod waitgroup;

pub use crate::barrier::{Barrier, BarrierWaitResult};
pub use crate::condvar::{Condvar, WaitTimeoutResult};
pub use crate::mutex::{Mutex, MutexGuard};
pub use crate::once::{Once, OnceLock};
pub use crate::rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use crate::semaphore::{Semaphore, SemaphorePermit};
pub use crate::waitgroup::WaitGroup;
