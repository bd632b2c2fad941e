//! Per-worker deadline timers.
//!
//! A goroutine that parks with a deadline gets an entry in the heap of the
//! worker it parks on; nothing else exists for it — no timer thread, no
//! per-timer allocation beyond the heap slot. The worker fires due entries
//! while it schedules and, when idle, sleeps exactly until the earliest one.
//! A million sleeping goroutines therefore cost a million heap entries and
//! wake nothing but their own workers, each at its own deadline.
//!
//! Cancellation is lazy, as in Go: when a goroutine's park returns it bumps
//! its `timer_seq`, which turns its entry stale; a stale entry is skipped
//! when it comes due, and the heap is compacted when stale entries could
//! make up more than half of it.

use crate::goroutine::GRef;
use std::cmp::Ordering as Cmp;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering::*;
use std::time::Instant;

struct Entry {
    at: Instant,
    seq: u64,
    g: GRef,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.g.timer_seq.load(Acquire) == self.seq
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Cmp> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Cmp {
        other.at.cmp(&self.at)
    }
}

/// A min-heap of goroutine deadlines owned by one worker.
pub(crate) struct Timers {
    heap: BinaryHeap<Entry>,
    /// Heap size after the last compaction; compaction runs when the heap
    /// has doubled since, which keeps it amortised O(1) per insertion.
    compacted_len: usize,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: BinaryHeap::new(),
            compacted_len: 64,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Arms a timer for `g`'s current park.
    pub(crate) fn add(&mut self, at: Instant, g: GRef) {
        let seq = g.timer_seq.load(Acquire);
        self.heap.push(Entry { at, seq, g });
        if self.heap.len() >= 2 * self.compacted_len {
            self.heap.retain(Entry::is_live);
            self.compacted_len = self.heap.len().max(64);
        }
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.at)
    }

    /// Pops every entry due at `now` and hands each live one's goroutine to
    /// `fire`. Returns how many fired.
    pub(crate) fn fire_due(&mut self, now: Instant, mut fire: impl FnMut(GRef)) -> usize {
        let mut fired = 0;
        while let Some(top) = self.heap.peek() {
            if top.at > now {
                break;
            }
            let Some(e) = self.heap.pop() else { break };
            if e.is_live() {
                fired += 1;
                fire(e.g);
            }
        }
        fired
    }
}
