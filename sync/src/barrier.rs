//! `Barrier`: wait until `n` goroutines have all arrived.

use crate::queue::{WaitQueue, wait};
use std::fmt;

const RELEASED: usize = 1;

/// Lets `n` goroutines (or threads) wait until all of them have arrived,
/// then releases them together; reusable for the next round. Shaped like
/// std's `Barrier`.
///
/// ```
/// use gofer_sync::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(4));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let b = barrier.clone();
///         gofer_runtime::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    /// Arrivals in the current round (guarded by the queue's lock).
    state: crate::loom::Mutex<usize>,
    waiters: WaitQueue<()>,
}

/// Returned by [`Barrier::wait`]: exactly one waiter per round is the leader.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Was this the last goroutine to arrive (the one that released the
    /// others)?
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` and `1` never wait).
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: crate::loom::Mutex::new(0),
            waiters: WaitQueue::new(),
        }
    }

    /// Waits until `n` parties are waiting, then releases them all.
    pub fn wait(&self) -> BarrierWaitResult {
        let waiters = self.waiters.lock();
        let mut arrived = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *arrived += 1;
        if *arrived < self.n {
            drop(arrived);
            wait(&self.waiters, waiters, (), false, None);
            return BarrierWaitResult(false);
        }
        *arrived = 0;
        drop(arrived);
        let mut waiters = waiters;
        for w in std::mem::take(&mut *waiters) {
            w.grant(RELEASED);
        }
        BarrierWaitResult(true)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
