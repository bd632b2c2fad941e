//! `RwLock`: readers share it (two readers meet at a rendezvous *inside*
//! their read sections, which deadlocks unless both hold it at once),
//! writers are exclusive (atomic counters checked inside every section),
//! readers queued behind a writer are let in together, a writer is not
//! starved by a stream of readers, `try_read`/`try_write`, and
//! `get_mut`/`into_inner`. Some of these tests caught bugs, fixed in
//! 70dbde9; their docs say which.

#[macro_use]
mod common;

use common::*;
use gofer_sync::{Barrier, RwLock};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

fn two_readers_hold_the_lock_at_once(mode: Mode) {
    let lock = RwLock::new(5);
    let meet = Barrier::new(2);
    scope(mode, |s| {
        for _ in 0..2 {
            s.spawn(|| {
                let g = lock.read();
                meet.wait(); // both readers inside, or a deadlock
                assert_eq!(*g, 5);
            });
        }
    });
}
all_modes!(two_readers_hold_the_lock_at_once);

fn four_readers_hold_the_lock_at_once(mode: Mode) {
    let lock = RwLock::new(());
    let meet = Barrier::new(4);
    scope(mode, |s| {
        for _ in 0..4 {
            s.spawn(|| {
                let _g = lock.read();
                meet.wait();
            });
        }
    });
}
all_modes!(four_readers_hold_the_lock_at_once);

/// Readers and writers hammer one lock; inside each section the counters
/// say who else is inside: a writer sees nobody, a reader sees no writer.
fn a_writer_never_overlaps_a_reader_or_another_writer(mode: Mode) {
    const TASKS: usize = 6;
    const ITERS: usize = 3_000;
    let lock = RwLock::new(0usize);
    let readers = AtomicUsize::new(0);
    let writers = AtomicUsize::new(0);
    let max_readers = AtomicUsize::new(0);
    scope(mode, |s| {
        for t in 0..TASKS {
            let (lock, readers, writers, max_readers) = (&lock, &readers, &writers, &max_readers);
            s.spawn(move || {
                for i in 0..ITERS {
                    if (i + t) % 3 == 0 {
                        let mut g = lock.write();
                        assert_eq!(writers.fetch_add(1, SeqCst), 0, "two writers");
                        assert_eq!(readers.load(SeqCst), 0, "a writer with a reader");
                        *g += 1;
                        if i % 50 == 0 {
                            relax();
                        }
                        assert_eq!(readers.load(SeqCst), 0, "a writer with a reader");
                        writers.fetch_sub(1, SeqCst);
                    } else {
                        let g = lock.read();
                        let n = readers.fetch_add(1, SeqCst) + 1;
                        max_readers.fetch_max(n, SeqCst);
                        assert_eq!(writers.load(SeqCst), 0, "a reader with a writer");
                        let _ = *g;
                        if i % 50 == 0 {
                            relax();
                        }
                        assert_eq!(writers.load(SeqCst), 0, "a reader with a writer");
                        readers.fetch_sub(1, SeqCst);
                    }
                }
            });
        }
    });
    let writes: usize = (0..TASKS)
        .map(|t| (0..ITERS).filter(|i| (i + t) % 3 == 0).count())
        .sum();
    assert_eq!(lock.into_inner(), writes);
}
mode_tests!(a_writer_never_overlaps_a_reader_or_another_writer:
    threads,
    goroutines,
    mixed,
    mixed_rev,
);

/// A writer arrives while readers keep the lock read-held, each new reader
/// arriving before the previous one leaves: with barging readers it would
/// never get in. Only completion is asserted.
fn a_writer_is_not_starved_by_a_stream_of_readers(mode: Mode) {
    const READERS: usize = 4;
    let lock = RwLock::new(0usize);
    let written = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    scope(mode, |s| {
        for _ in 0..READERS {
            s.spawn(|| {
                while !written.load(SeqCst) {
                    let g = lock.read();
                    reads.fetch_add(1, SeqCst);
                    relax(); // overlap with the other readers
                    drop(g);
                }
            });
        }
        while reads.load(SeqCst) < 500 {
            relax();
        }
        *lock.write() += 1;
        written.store(true, SeqCst);
    });
    assert_eq!(lock.into_inner(), 1);
}
mode_tests!(a_writer_is_not_starved_by_a_stream_of_readers:
    threads,
    goroutines,
    mixed,
    mixed_rev,
);

/// Readers that queue behind a held write lock are let in together when
/// it is released (they meet at a rendezvous inside their sections).
fn readers_queued_behind_a_writer_are_let_in_together(mode: Mode) {
    let lock = RwLock::new(0);
    let meet = Barrier::new(3);
    let (locked_s, locked_r) = gofer_chan::bounded(0);
    let (release_s, release_r) = gofer_chan::bounded::<()>(0);
    scope(mode, |s| {
        s.spawn(|| {
            let mut g = lock.write();
            locked_s.send(()).unwrap();
            release_r.recv().unwrap();
            *g = 1;
        });
        locked_r.recv().unwrap();
        for _ in 0..3 {
            s.spawn(|| {
                let g = lock.read();
                meet.wait();
                assert_eq!(*g, 1);
            });
        }
        // Give the readers time to queue (if they have not, they simply
        // read after the writer: the test still holds).
        sleep(Duration::from_millis(20));
        release_s.send(()).unwrap();
    });
}
all_modes!(readers_queued_behind_a_writer_are_let_in_together);

/// A writer queued behind a reader blocks *new* readers (arrival order):
/// `try_read` fails while the writer waits, though only readers hold it.
/// (This test also caught the failed-`try_read` bug of
/// [`a_failed_try_read_leaves_a_write_lock_intact`]: that released the
/// body's read lock and let the writer in while the body still read.)
fn a_queued_writer_keeps_new_readers_out(mode: Mode) {
    let lock = RwLock::new(0);
    let (wrote_s, wrote_r) = gofer_chan::bounded(1);
    scope(mode, |s| {
        let g = lock.read();
        s.spawn(|| {
            *lock.write() += 1;
            wrote_s.send(()).unwrap();
        });
        // Wait until the writer has queued: from then on `try_read` fails.
        let deadline = Instant::now() + LONG;
        while lock.try_read().is_some() {
            assert!(Instant::now() < deadline, "the writer never queued");
            relax();
        }
        sleep(Duration::from_millis(10));
        assert!(
            wrote_r.try_recv().is_err(),
            "the writer got in past a reader"
        );
        drop(g);
        wrote_r.recv().unwrap();
        assert_eq!(*lock.read(), 1);
    });
}
mode_tests!(a_queued_writer_keeps_new_readers_out:
    threads,
    goroutines,
);

fn try_read_succeeds_and_try_write_fails_while_another_task_reads(mode: Mode) {
    let lock = RwLock::new(0);
    let (held_s, held_r) = gofer_chan::bounded(0);
    let (release_s, release_r) = gofer_chan::bounded::<()>(0);
    scope(mode, |s| {
        // Free: both succeed.
        assert!(lock.try_write().is_some());
        assert!(lock.try_read().is_some());
        let reader = s.spawn(|| {
            let _g = lock.read();
            held_s.send(()).unwrap();
            release_r.recv().unwrap();
        });
        held_r.recv().unwrap();
        assert!(lock.try_write().is_none());
        assert!(lock.try_read().is_some());
        assert!(lock.try_write().is_none());
        release_s.send(()).unwrap();
        reader.join();
        *lock.try_write().expect("free again") += 1;
        assert_eq!(*lock.read(), 1);
    });
}
all_modes!(try_read_succeeds_and_try_write_fails_while_another_task_reads);

/// While another task writes, `try_write` fails — and must leave that
/// task's lock held.
///
/// (The bug this caught, fixed in 70dbde9: `try_write` ended in
/// `.then_some(RwLockWriteGuard { lock: self })`, and `bool::then_some`
/// evaluates its argument first, so a failed attempt built a guard and
/// dropped it, releasing the *other* task's write lock. Now `.then(|| ..)`.)
fn a_failed_try_write_leaves_another_tasks_write_lock_held(mode: Mode) {
    let lock = RwLock::new(0);
    let (held_s, held_r) = gofer_chan::bounded(0);
    let (release_s, release_r) = gofer_chan::bounded::<()>(0);
    scope(mode, |s| {
        let writer = s.spawn(|| {
            let mut g = lock.write();
            held_s.send(()).unwrap();
            release_r.recv().unwrap();
            *g = 9;
        });
        held_r.recv().unwrap();
        assert!(lock.try_write().is_none());
        assert!(
            lock.try_write().is_none(),
            "the failed try_write released the writer's lock"
        );
        release_s.send(()).unwrap();
        writer.join();
        assert_eq!(*lock.read(), 9);
    });
}
mode_tests!(a_failed_try_write_leaves_another_tasks_write_lock_held:
    threads,
    goroutines,
    mixed,
);

/// While a write lock is held, `try_read` fails — and must leave the lock
/// as it was. (The same eager `then_some` once dropped a read guard here:
/// `read_unlock` subtracted a reader from a state that had none, after
/// which the lock admitted readers and writers at will. Fixed in 70dbde9.)
fn a_failed_try_read_leaves_a_write_lock_intact(mode: Mode) {
    run(mode, || {
        let lock = RwLock::new(0);
        let mut w = lock.write();
        assert!(lock.try_read().is_none());
        assert!(
            lock.try_read().is_none(),
            "the failed try_read corrupted the lock"
        );
        assert!(lock.try_write().is_none());
        *w = 1;
        drop(w);
        assert_eq!(*lock.try_write().expect("free"), 1);
    });
}
mode_tests!(a_failed_try_read_leaves_a_write_lock_intact:
    threads,
    goroutines,
);

#[test]
fn get_mut_and_into_inner_see_every_write() {
    let mut lock = RwLock::new(Vec::new());
    scope(Mode::Mixed, |s| {
        for i in 0..4 {
            let lock = &lock;
            s.spawn(move || lock.write().push(i));
        }
    });
    lock.get_mut().sort();
    assert_eq!(*lock.get_mut(), [0, 1, 2, 3]);
    assert_eq!(lock.into_inner(), [0, 1, 2, 3]);
}

/// Eight tasks hammer the lock with writes and reads for 2 s (on threads,
/// more than there are cores, so the OS preempts them anywhere): a release
/// racing a waiter's enqueue must not be lost.
///
/// (The bug this caught, fixed in 70dbde9: `lock_slow` decided "not free"
/// from a load under the queue lock, then set QUEUED with a `fetch_or`
/// without re-checking, so an unlock in between released without looking
/// at the queue and the waiter parked on a free lock: every later locker
/// queued behind it and all hung, here in 3 runs of 4. `lock_slow` now
/// sets QUEUED with a `compare_exchange` from the state it checked.)
fn a_release_racing_a_waiters_enqueue_is_not_lost(mode: Mode) {
    let lock = RwLock::new(0usize);
    let stop = Instant::now() + Duration::from_secs(2);
    scope(mode, |s| {
        for t in 0..8 {
            let lock = &lock;
            s.spawn(move || {
                while Instant::now() < stop {
                    if t % 2 == 0 {
                        *lock.write() += 1;
                    } else {
                        let _ = *lock.read();
                    }
                }
            });
        }
    });
}
mode_tests!(a_release_racing_a_waiters_enqueue_is_not_lost:
    threads,
    mixed,
);
