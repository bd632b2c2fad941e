//! Goroutine cells are recycled through each worker's free list
//! (`sched/gfree.rs`). A recycled cell must never show a goroutine the
//! previous one's data, and every captured value and result must be
//! dropped exactly once, whether it was joined, detached or dropped in a
//! worker's own drop path. This spawns waves of goroutines of several cell
//! layouts (including one of the same size but a larger alignment) from
//! goroutines, so that most of them run in reused cells.

use gofer_runtime as gofer;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// A value of `N` words, every one equal to its id; counts its drops.
struct Tracked<const N: usize> {
    id: u64,
    words: [u64; N],
}

impl<const N: usize> Tracked<N> {
    fn new(id: u64) -> Self {
        CREATED.fetch_add(1, Relaxed);
        Tracked { id, words: [id; N] }
    }

    /// Panics unless the value is what `new(id)` made.
    fn check(&self, id: u64) {
        assert_eq!(self.id, id, "wrong id");
        assert!(self.words.iter().all(|&w| w == id), "corrupt words");
    }
}

impl<const N: usize> Drop for Tracked<N> {
    fn drop(&mut self) {
        self.check(self.id);
        // Poison, so a later reader of this memory would notice.
        self.id = u64::MAX;
        self.words.fill(u64::MAX - 1);
        DROPPED.fetch_add(1, Relaxed);
    }
}

/// Same size as `Tracked<8>` (64 bytes), larger alignment. As the result
/// of a detached goroutine it is dropped in place, inside the cell, which
/// therefore must be aligned for it.
#[repr(align(64))]
struct Aligned(Tracked<7>);

impl Drop for Aligned {
    fn drop(&mut self) {
        if !(self as *const Aligned as usize).is_multiple_of(64) {
            // A panic here could be swallowed by a worker: abort instead.
            eprintln!("misaligned goroutine cell");
            std::process::abort();
        }
    }
}

/// A goroutine capturing a `Tracked<N>` and returning a `Tracked<R>`; the
/// handle is joined (and the result checked) or dropped (the result then
/// dies with the cell).
fn one<const N: usize, const R: usize>(id: u64, join: bool) -> Option<gofer::JoinHandle<()>> {
    let arg = Tracked::<N>::new(id);
    let h = gofer::spawn(move || {
        arg.check(id);
        Tracked::<R>::new(id + 1)
    });
    join.then(|| {
        gofer::spawn(move || {
            let result = h.join().unwrap();
            result.check(id + 1);
        })
    })
}

/// A detached goroutine whose cell has an over-aligned layout.
fn aligned(id: u64) {
    let arg = Aligned(Tracked::<7>::new(id));
    drop(gofer::spawn(move || {
        arg.0.check(id);
        Aligned(Tracked::<7>::new(id))
    }));
}

/// A value whose drop spawns a goroutine: the drop runs while a cell is
/// being freed, so the free list must not be in use at that moment.
struct SpawnOnDrop(u64);

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let id = self.0;
        let t = Tracked::<3>::new(id);
        drop(gofer::spawn(move || t.check(id)));
        DROPPED.fetch_add(1, Relaxed);
    }
}

/// `one::<K, 0>` with `K = 40 + k % 16`: over the rounds, some of these
/// cells have the size of the aligned goroutine's cell (640 bytes today)
/// but not its alignment, so the free list sees both layouts.
fn sized(k: u64, id: u64) -> Option<gofer::JoinHandle<()>> {
    macro_rules! by_k {
        ($($i:literal => $n:literal)*) => {
            match k % 16 {
                $($i => one::<$n, 0>(id, true),)*
                _ => unreachable!(),
            }
        };
    }
    by_k!(0 => 40 1 => 41 2 => 42 3 => 43 4 => 44 5 => 45 6 => 46 7 => 47
          8 => 48 9 => 49 10 => 50 11 => 51 12 => 52 13 => 53 14 => 54 15 => 55)
}

fn wave(round: u64) {
    let mut handles = Vec::new();
    for i in 0..40u64 {
        let id = (round * 1000 + i) * 4;
        let join = i % 3 != 0;
        handles.extend(match i % 5 {
            0 => one::<0, 0>(id, join),
            1 => one::<3, 1>(id, join),
            2 => one::<17, 40>(id, join),
            3 => one::<8, 64>(id, join),
            _ => one::<200, 2>(id, join),
        });
        if i % 2 == 0 {
            handles.extend(sized(round, id + 2));
            aligned(id);
            CREATED.fetch_add(1, Relaxed);
            let s = SpawnOnDrop(id);
            drop(gofer::spawn(move || std::hint::black_box(&s).0));
        }
    }
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn recycled_cells_keep_values_intact_and_drop_everything_once() {
    gofer::spawn(|| {
        for round in 0..60 {
            wave(round);
        }
    })
    .join()
    .unwrap();
    // Detached goroutines may still run, and finished ones wait in their
    // worker's graveyard until it sweeps (at the latest when it goes idle).
    let deadline = Instant::now() + Duration::from_secs(10);
    while DROPPED.load(SeqCst) != CREATED.load(SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(DROPPED.load(SeqCst), CREATED.load(SeqCst));
    assert!(CREATED.load(SeqCst) > 5_000);
}
