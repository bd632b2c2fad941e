//! Small helpers: backing off in spin loops, and the per-thread random
//! numbers `select` shuffles with.

use crate::rt;
use std::cell::Cell;
use std::num::Wrapping;

/// Step-wise backoff for spin loops that wait on another task.
///
/// On a plain thread it spins, doubling each time, and after a few steps
/// yields the CPU, like crossbeam's. In a goroutine spinning is waste — the
/// task being waited for may be queued on this very worker — so every step
/// yields to the scheduler, and fewer steps are tried before parking.
pub(crate) struct Backoff {
    step: Cell<u32>,
    /// Are we in a goroutine? Asked (a thread-local lookup, not inlined)
    /// only once we actually wait: most operations that create a
    /// `Backoff` never do, and asking up front cost ~10% of a send.
    goroutine: Cell<Option<bool>>,
}

const SPIN_LIMIT: u32 = 6;
const YIELD_LIMIT: u32 = 10;
const GOROUTINE_LIMIT: u32 = 3;

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff {
            step: Cell::new(0),
            goroutine: Cell::new(None),
        }
    }

    fn in_goroutine(&self) -> bool {
        match self.goroutine.get() {
            Some(g) => g,
            None => {
                let g = rt::in_goroutine();
                self.goroutine.set(Some(g));
                g
            }
        }
    }

    /// After a failed compare-and-swap: a short busy spin, never a yield
    /// (the other party is in the middle of a few instructions).
    pub(crate) fn spin(&self) {
        let step = self.step.get().min(SPIN_LIMIT);
        for _ in 0..1u32 << step {
            std::hint::spin_loop();
        }
        if self.step.get() <= SPIN_LIMIT {
            self.step.set(self.step.get() + 1);
        }
    }

    /// While waiting for another task to make progress.
    pub(crate) fn snooze(&self) {
        let step = self.step.get();
        if step <= SPIN_LIMIT && !self.in_goroutine() {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
        } else {
            rt::relax();
        }
        if step <= YIELD_LIMIT {
            self.step.set(step + 1);
        }
    }

    /// Time to stop spinning and park.
    pub(crate) fn is_completed(&self) -> bool {
        let limit = if self.in_goroutine() {
            GOROUTINE_LIMIT
        } else {
            YIELD_LIMIT
        };
        self.step.get() > limit
    }
}

thread_local! {
    static RNG: Cell<Wrapping<u32>> = const { Cell::new(Wrapping(0)) };
}

/// A random number in `0..n`, from a per-thread xorshift generator.
#[cfg_attr(loom, allow(dead_code))]
///
/// Read and written within one call (never across a park), so a goroutine
/// that moves between threads at most switches generators.
pub(crate) fn random_below(n: u32) -> u32 {
    RNG.with(|rng| {
        let mut x = rng.get();
        if x.0 == 0 {
            // Seed from the cell's address: distinct per thread, never 0.
            x = Wrapping((rng as *const _ as usize as u32) | 1) * Wrapping(0x9e37_79b9);
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rng.set(x);
        // Lemire's multiply-shift reduction to 0..n.
        ((x.0 as u64 * n as u64) >> 32) as u32
    })
}

/// Shuffles `v` uniformly (Fisher-Yates). Under loom it does nothing: the
/// thread-local generator is outside loom's control, so a shuffle would
/// make executions irreproducible; models see the biased order instead.
#[cfg(loom)]
pub(crate) fn shuffle<T: Copy>(_v: &mut [T]) {}

/// Every order of 3 and of 4 items, by rank.
#[cfg(not(loom))]
static ORDERS3: [[u8; 3]; 6] = orders::<3, 6>();
#[cfg(not(loom))]
static ORDERS4: [[u8; 4]; 24] = orders::<4, 24>();

/// The `F = N!` orders of `0..N`, the order of rank `k` decoded from `k`'s
/// factorial-base digits (each digit picks one of the items left).
#[cfg(not(loom))]
const fn orders<const N: usize, const F: usize>() -> [[u8; N]; F] {
    let mut out = [[0u8; N]; F];
    let mut k = 0;
    while k < F {
        let mut items = [0u8; N];
        let mut i = 0;
        while i < N {
            items[i] = i as u8;
            i += 1;
        }
        let mut left = N;
        let mut rest = k;
        // (left - 1)! for the first digit.
        let mut weight = F / N;
        let mut i = 0;
        while i < N {
            let d = rest / weight;
            rest %= weight;
            out[k][i] = items[d];
            let mut j = d;
            while j + 1 < left {
                items[j] = items[j + 1];
                j += 1;
            }
            left -= 1;
            if left > 1 {
                weight /= left;
            }
            i += 1;
        }
        k += 1;
    }
    out
}

/// Shuffles `v` uniformly.
///
/// Every `select!` shuffles its arms, so the common small cases take one
/// random number and one table lookup, and move each arm once; a
/// Fisher-Yates pass (a random number and a swap per arm) cost `select4`
/// about 100 instructions per message.
#[cfg(not(loom))]
pub(crate) fn shuffle<T: Copy>(v: &mut [T]) {
    let len = v.len();
    match len {
        0 | 1 => return,
        2 => {
            if random_below(2) == 1 {
                v.swap(0, 1);
            }
            return;
        }
        3 => return permute(v, &ORDERS3),
        4 => return permute(v, &ORDERS4),
        _ => {}
    }
    for i in 1..len {
        let j = random_below(i as u32 + 1) as usize;
        v.swap(i, j);
    }
}

/// Rearranges `v` (of length `N`) into one of `orders`, picked uniformly.
#[cfg(not(loom))]
#[inline]
fn permute<T: Copy, const N: usize>(v: &mut [T], orders: &[[u8; N]]) {
    let order = &orders[random_below(orders.len() as u32) as usize];
    let was: [T; N] = std::array::from_fn(|i| v[i]);
    for (slot, &from) in v.iter_mut().zip(order) {
        *slot = was[from as usize];
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::shuffle;
    use std::collections::HashMap;

    /// Every order of 4 arms comes out equally often (`select!`'s uniform
    /// choice among ready arms rests on it).
    #[test]
    fn shuffle_makes_every_order_equally_likely() {
        let mut counts = HashMap::new();
        let rounds = 240_000;
        for _ in 0..rounds {
            let mut v = [0u8, 1, 2, 3];
            shuffle(&mut v);
            *counts.entry(v).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 24, "some orders never came out");
        let expected = rounds / 24;
        for (order, n) in counts {
            // One standard deviation is ~100 (1 %); allow 10 %.
            assert!(
                n.abs_diff(expected) < expected / 10,
                "order {order:?} came out {n} times, expected ~{expected}"
            );
        }
    }

    /// Every order of 3 arms too (they take the other table), and the
    /// table of 4 holds each order once.
    #[test]
    fn shuffle_of_three_makes_every_order_equally_likely() {
        let mut counts = HashMap::new();
        let rounds = 60_000;
        for _ in 0..rounds {
            let mut v = [0u8, 1, 2];
            shuffle(&mut v);
            *counts.entry(v).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 6, "some orders never came out");
        for (order, n) in counts {
            assert!(
                n.abs_diff(rounds / 6) < rounds / 60,
                "order {order:?} came out {n} times"
            );
        }
        let distinct: std::collections::HashSet<_> = super::ORDERS4.iter().collect();
        assert_eq!(distinct.len(), 24);
    }

    /// Every position of a long select can move.
    #[test]
    fn shuffle_of_many_moves_every_position() {
        let mut moved = [false; 20];
        for _ in 0..1000 {
            let mut v: Vec<usize> = (0..20).collect();
            shuffle(&mut v);
            for (i, &x) in v.iter().enumerate() {
                moved[i] |= x != i;
            }
        }
        assert!(moved.iter().all(|&m| m));
    }
}
