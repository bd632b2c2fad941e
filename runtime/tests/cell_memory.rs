//! Goroutine cells are recycled through per-worker and global lists
//! (`sched/gfree.rs`). Wherever goroutines are spawned and wherever their
//! cells are freed — a plain thread spawning goroutines that die on the
//! workers, a goroutine spawning ones whose handles are dropped on a plain
//! thread — the memory must be reused, not grow with the number of
//! goroutines ever spawned.

use gofer_runtime as gofer;

/// Resident set size of this process, in KiB.
fn rss_kib() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

/// One round of each pattern, `n` goroutines each.
fn round(n: usize) {
    // Spawned by a plain thread, freed wherever the last reference goes.
    let hs: Vec<_> = (0..n as u64).map(|i| gofer::spawn(move || i)).collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i as u64);
    }
    // Spawned by a goroutine, joined by this plain thread.
    let hs = gofer::spawn(move || {
        (0..n as u64)
            .map(|i| gofer::spawn(move || i))
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i as u64);
    }
}

#[test]
fn cell_memory_is_reused_across_spawners_and_freers() {
    const N: usize = 10_000;
    const ROUNDS: usize = 30;
    for _ in 0..3 {
        round(N);
    }
    let before = rss_kib();
    for _ in 0..ROUNDS {
        round(N);
    }
    let grown = rss_kib().saturating_sub(before);
    // 600,000 cells of ~250 bytes would be ~150 MiB if none were reused;
    // a round's worth is ~5 MiB.
    assert!(
        grown < 40 * 1024,
        "RSS grew by {grown} KiB over {} goroutines",
        2 * N * ROUNDS
    );
}
