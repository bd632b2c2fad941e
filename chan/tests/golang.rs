//! Go's own channel tests, ported as behaviour (not code) to `gofer_chan`:
//! test/chan/{doubleselect, fifo, goroutines, nonblock, select, select2,
//! select3, select4, select6, select7, sieve1, sieve2, zerosize}.go and,
//! from runtime/chan_test.go, TestChan (capacities 0..20), the non-blocking
//! select races, TestSelfSelect, TestSelectStress, TestSelectFairness,
//! TestPseudoRandomSend, TestMultiConsumer and TestSelectDuplicateChannel.
//!
//! Each test runs with goroutines (the natural Go mapping, on two workers:
//! GOMAXPROCS=2), again with OS threads, and rendezvous tests also with
//! goroutines and threads on the two ends. Where gofer's documented
//! semantics differ from Go's, gofer's are pinned: a send on a closed
//! channel returns `Err` (Go panics); a `select!` send arm's value is
//! evaluated only if that arm is chosen (Go evaluates all of them); a
//! disconnected channel's arm is ready and yields `Err`; `never()` is the
//! nil channel for receive arms, and a send arm is "disabled" by pointing it
//! at a channel nobody receives from (there is no nil `Sender`).

mod go_common;

use go_common::*;
use gofer_chan::{
    Receiver, RecvError, Select, SendError, Sender, TryRecvError, TrySendError, bounded, never,
    select, unbounded,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::*};
use std::sync::{Once, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

// ---------------------------------------------------------------------
// Test set-up: two workers, a watchdog, and the allocation counter that
// select2 reads (tests share the process, so select2 runs alone).
// ---------------------------------------------------------------------

/// Counts live heap bytes and allocations, for the select2 port.
struct CountingAlloc;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments and
// only adds relaxed counter updates, so `System`'s guarantees carry over.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Every test holds this shared; the memory test holds it exclusively.
static EXCLUSIVE: RwLock<()> = RwLock::new(());
static CONFIG: Once = Once::new();

fn configure() {
    CONFIG.call_once(|| {
        // Go runs these tests at GOMAXPROCS=2 (doubleselect.go sets it).
        // Hog reports off: on a loaded machine the OS preempting a worker
        // looks like a hog to sysmon, and the reports are only noise here.
        gofer_runtime::Config::new()
            .max_procs(2)
            .hog_reports(false)
            .apply()
            .expect("configure the runtime before it starts");
    });
}

struct Setup {
    _watchdog: Watchdog,
    _shared: RwLockReadGuard<'static, ()>,
}

/// Configures the runtime (once), arms a watchdog, and takes the shared
/// side of the memory test's lock.
fn setup(name: &'static str) -> Setup {
    configure();
    Setup {
        _shared: EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner()),
        _watchdog: watchdog(name),
    }
}

struct SetupAlone {
    _watchdog: Watchdog,
    _alone: RwLockWriteGuard<'static, ()>,
}

/// Like [`setup`], but waits until no other test of this binary runs.
fn setup_alone(name: &'static str) -> SetupAlone {
    configure();
    SetupAlone {
        _alone: EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner()),
        _watchdog: watchdog(name),
    }
}

/// A send arm pointed at this is never ready: the nil channel of a send
/// arm. (Keep the receiver alive, or the arm would be ready with `Err`.)
fn nil_sender<M>() -> (Sender<M>, Receiver<M>) {
    bounded(0)
}

// ---------------------------------------------------------------------
// test/chan/doubleselect.go
// ---------------------------------------------------------------------

#[test]
fn doubleselect_only_one_case_fires_goroutines() {
    let _s = setup("doubleselect_only_one_case_fires_goroutines");
    assert_eq!(gofer_runtime::max_procs(), 2);
    double_select(20_000, G, [G; 4], G);
}

#[test]
fn doubleselect_only_one_case_fires_threads() {
    let _s = setup("doubleselect_only_one_case_fires_threads");
    double_select(4_000, T, [T; 4], T);
}

#[test]
fn doubleselect_only_one_case_fires_mixed() {
    let _s = setup("doubleselect_only_one_case_fires_mixed");
    double_select(4_000, G, [T, G, T, G], T);
    double_select(4_000, T, [G, T, G, T], G);
}

// ---------------------------------------------------------------------
// test/chan/fifo.go
// ---------------------------------------------------------------------

fn asynch_fifo() {
    let (s, r) = bounded(10);
    for i in 0..10 {
        s.send(i).unwrap();
    }
    for i in 0..10 {
        assert_eq!(r.recv(), Ok(i), "buffered channel out of FIFO order");
    }
    let (s, r) = unbounded();
    for i in 0..1000 {
        s.send(i).unwrap();
    }
    assert_eq!(
        r.try_iter().collect::<Vec<_>>(),
        (0..1000).collect::<Vec<_>>()
    );
}

#[test]
fn buffered_channel_is_fifo() {
    let _s = setup("buffered_channel_is_fifo");
    for mode in MODES {
        run(mode, asynch_fifo);
    }
}

#[test]
fn unbuffered_values_arrive_in_send_order_goroutines() {
    let _s = setup("unbuffered_values_arrive_in_send_order_goroutines");
    run(G, || synch_fifo(100, |_| G));
}

#[test]
fn unbuffered_values_arrive_in_send_order_threads() {
    let _s = setup("unbuffered_values_arrive_in_send_order_threads");
    synch_fifo(10, |_| T);
}

#[test]
fn unbuffered_values_arrive_in_send_order_mixed() {
    let _s = setup("unbuffered_values_arrive_in_send_order_mixed");
    run(G, || synch_fifo(20, Mode::alternate));
    synch_fifo(20, Mode::alternate);
}

// ---------------------------------------------------------------------
// test/chan/goroutines.go
// ---------------------------------------------------------------------

#[test]
fn chain_of_10000_goroutines_passes_one_value() {
    let _s = setup("chain_of_10000_goroutines_passes_one_value");
    assert_eq!(run(G, || chain(10_000, |_| G)), 10_000);
}

#[test]
fn chain_of_threads_passes_one_value() {
    let _s = setup("chain_of_threads_passes_one_value");
    assert_eq!(chain(100, |_| T), 100);
}

#[test]
fn chain_of_goroutines_and_threads_passes_one_value() {
    let _s = setup("chain_of_goroutines_and_threads_passes_one_value");
    assert_eq!(chain(200, Mode::alternate), 200);
    assert_eq!(
        run(G, || chain(200, |i| if i.is_multiple_of(10) {
            T
        } else {
            G
        })),
        200
    );
}

// ---------------------------------------------------------------------
// test/chan/nonblock.go
// ---------------------------------------------------------------------

#[test]
fn nonblocking_ops_take_default_then_succeed_once_peer_blocks() {
    let _s = setup("nonblocking_ops_take_default_then_succeed_once_peer_blocks");
    for me in MODES {
        for peer in MODES {
            run(me, move || nonblock_all_types(peer));
        }
    }
}

// ---------------------------------------------------------------------
// test/chan/select.go
// ---------------------------------------------------------------------

/// Sends on `a` and `b` (cap 1) through one select with a `default`, until
/// the default fires; returns how many sends went through. Each send arm
/// computes its value with `value()`; an arm is disabled when `None`.
fn send_until_default(
    a: Option<&Sender<u32>>,
    b: Option<&Sender<u32>>,
    value: &dyn Fn() -> u32,
) -> u32 {
    let (nil, _keep) = nil_sender::<u32>();
    let (mut a, mut b) = (a.unwrap_or(&nil), b.unwrap_or(&nil));
    let never_ready = never::<u32>();
    let mut sent = 0;
    loop {
        select! {
            send(a, value()) -> r => { r.unwrap(); sent += 1; a = &nil; }
            recv(never_ready) -> _ => panic!("a never() arm was chosen"),
            send(b, value()) -> r => { r.unwrap(); sent += 1; b = &nil; }
            default => return sent,
        }
    }
}

fn select_send_arms(mode: Mode) {
    run(mode, || {
        for _ in 0..50 {
            let evaluated = Cell::new(0u32);
            let shift = Cell::new(0u32);
            let value = || {
                evaluated.set(evaluated.get() + 1);
                let v = 1 << shift.get();
                shift.set(shift.get() + 1);
                v
            };
            let (sa, ra) = bounded::<u32>(1);
            let (sb, rb) = bounded::<u32>(1);

            assert_eq!(send_until_default(Some(&sa), Some(&sb), &value), 2);
            assert_eq!(ra.recv().unwrap() | rb.recv().unwrap(), 1 | 2);
            assert_eq!(send_until_default(Some(&sa), None, &value), 1);
            assert_eq!(ra.recv(), Ok(4));
            assert_eq!(send_until_default(None, Some(&sb), &value), 1);
            assert_eq!(rb.recv(), Ok(8));
            // Go evaluates every send value of every select: 10. gofer
            // evaluates a send arm's value only when the arm is chosen.
            assert_eq!(
                evaluated.get(),
                4,
                "send values evaluated for unchosen arms"
            );

            // Both full: default, and no value is computed.
            sa.send(0).unwrap();
            sb.send(0).unwrap();
            assert_eq!(send_until_default(Some(&sa), Some(&sb), &value), 0);
            assert_eq!(evaluated.get(), 4);
        }
    });
}

#[test]
fn select_send_values_evaluated_only_when_chosen_and_nil_arms_never_fire() {
    let _s = setup("select_send_values_evaluated_only_when_chosen_and_nil_arms_never_fire");
    for mode in MODES {
        select_send_arms(mode);
    }
}

fn note<'a, C>(log: &RefCell<Vec<u32>>, n: u32, chan: &'a C) -> &'a C {
    log.borrow_mut().push(n);
    chan
}

#[test]
fn select_evaluates_channel_operands_once_in_source_order() {
    let _s = setup("select_evaluates_channel_operands_once_in_source_order");
    for mode in MODES {
        run(mode, || {
            let (_s1, r1) = bounded::<u32>(1); // alive: a disconnected arm is ready
            let (s2, r2) = bounded::<u32>(1);
            let (s3, r3) = bounded::<u32>(1);
            for round in 0..100u32 {
                let log = RefCell::new(Vec::new());
                if round.is_multiple_of(2) {
                    s3.send(7).unwrap();
                }
                select! {
                    recv(note(&log, 1, &r1)) -> _ => panic!("r1 was empty"),
                    send(note(&log, 2, &s2), { log.borrow_mut().push(20); round }) -> res => {
                        res.unwrap();
                        assert_eq!(r2.recv(), Ok(round));
                    }
                    recv(note(&log, 3, &r3)) -> v => assert_eq!(v, Ok(7)),
                    default => panic!("the send arm was ready"),
                }
                let log = log.into_inner();
                assert_eq!(&log[..3], [1, 2, 3], "channel operands out of order");
                match log.len() {
                    3 => assert!(s2.is_empty(), "the send happened without its value"),
                    4 => assert_eq!(log[3], 20),
                    _ => panic!("operands evaluated more than once: {log:?}"),
                }
                let _ = r3.try_recv();
            }
        });
    }
}

// ---------------------------------------------------------------------
// test/chan/select2.go
// ---------------------------------------------------------------------

/// Receives `n` values from `c` through a select that also waits on an
/// always-empty channel.
fn select_receiver(c: &Receiver<u64>, dummy: &Receiver<u64>, n: usize) {
    for _ in 0..n {
        select! {
            recv(c) -> v => assert_eq!(v, Ok(1)),
            recv(dummy) -> _ => panic!("the dummy channel fired"),
        }
    }
}

fn select_loop_memory(mode: Mode, n: usize) -> (isize, usize) {
    let (cs, cr) = bounded::<u64>(0);
    let (_ds, dr) = bounded::<u64>(0);
    let sender = spawn(mode, move || {
        for _ in 0..2 * n {
            cs.send(1).unwrap();
        }
    });
    let measure = spawn(mode, move || {
        select_receiver(&cr, &dr, n); // warm-up
        let (live, allocs) = (LIVE_BYTES.load(SeqCst), ALLOCATIONS.load(SeqCst));
        select_receiver(&cr, &dr, n);
        (
            LIVE_BYTES.load(SeqCst) - live,
            ALLOCATIONS.load(SeqCst) - allocs,
        )
    });
    let grown = measure.join();
    sender.join();
    grown
}

#[test]
fn select_loop_does_not_grow_memory() {
    let _s = setup_alone("select_loop_does_not_grow_memory");
    for (mode, n) in [(G, 5_000), (T, 5_000)] {
        let (grown, allocs) = select_loop_memory(mode, n);
        eprintln!("select2 {mode:?}: {n} selects: live heap {grown:+} bytes, {allocs} allocations");
        // Go allows 110 kB of growth over 100,000 selects. Fewer selects
        // here (a goroutine pair on two workers of a loaded 2-core machine
        // pays an OS wakeup per rendezvous), with the same bound: a leak of
        // 22 bytes per select (a wait-list entry) exceeds it.
        assert!(
            grown < 110_000,
            "{mode:?}: live heap grew by {grown} bytes over {n} selects ({allocs} allocations)"
        );
    }
}

// ---------------------------------------------------------------------
// test/chan/select3.go: the blocking-semantics matrix
// ---------------------------------------------------------------------

fn blocking_matrix(mode: Mode) {
    // --- Operations that always block. ---
    let mut forever: Vec<(&str, Probe<()>)> = Vec::new();
    forever.push((
        "recv on never()",
        probe(mode, || {
            let _ = never::<i32>().recv();
        }),
    ));
    forever.push((
        "select! with one never() arm",
        probe(mode, || select! { recv(never::<i32>()) -> _ => {} }),
    ));
    forever.push((
        "select! with only never() arms",
        probe(mode, || {
            select! {
                recv(never::<i32>()) -> _ => {}
                recv(never::<String>()) -> _ => {}
            }
        }),
    ));
    forever.push(("empty select! {}", probe(mode, || select! {})));

    let (s0, r0) = bounded::<i32>(0);
    let (s0b, r0b) = bounded::<i32>(0);
    let (s1, r1) = bounded::<i32>(1);
    let (su, ru) = unbounded::<i32>();
    s1.send(0).unwrap(); // now full
    let recv0 = {
        let r = r0b.clone();
        probe(mode, move || r.recv())
    };
    let recvu = {
        let r = ru.clone();
        probe(mode, move || select! { recv(r) -> v => v })
    };
    let send0 = {
        let s = s0.clone();
        probe(mode, move || s.send(5))
    };
    let send1 = {
        let s = s1.clone();
        probe(mode, move || select! { send(s, 6) -> res => res })
    };
    let (ss, sr) = bounded::<i32>(0);
    let self_pair = {
        let (s, r) = (ss.clone(), sr.clone());
        probe(mode, move || {
            select! {
                send(s, 7) -> res => { res.unwrap(); "sent" }
                recv(r) -> _ => "received",
            }
        })
    };

    pause(BLOCK_PROBE);
    for (what, p) in &forever {
        p.assert_still_blocked(what);
    }
    recv0.assert_still_blocked("recv on an empty unbuffered channel");
    recvu.assert_still_blocked("select! recv on an empty unbounded channel");
    send0.assert_still_blocked("send on an unbuffered channel with no receiver");
    send1.assert_still_blocked("select! send on a full buffered channel");
    self_pair.assert_still_blocked("select! that sends and receives on one unbuffered channel");

    // The forever-blocked ones stay blocked: abandon them, as Go does.
    for (_, p) in forever {
        p.abandon();
    }
    // Release the others and check each completed the right way.
    assert_eq!(r0.recv(), Ok(5));
    s0b.send(8).unwrap();
    assert_eq!(recv0.join(), Ok(8));
    assert_eq!(send0.join(), Ok(()));
    su.send(9).unwrap();
    assert_eq!(recvu.join(), Ok(9));
    assert_eq!(r1.recv(), Ok(0));
    assert_eq!(send1.join(), Ok(()));
    assert_eq!(r1.recv(), Ok(6));
    assert_eq!(sr.recv(), Ok(7));
    assert_eq!(self_pair.join(), "sent");

    // --- Operations that never block. ---
    for cap in FLAVORS {
        let (s, r) = make::<i32>(cap);
        // Fill the buffer (at most two), with a plain send and a select!.
        let room = match cap {
            Some(c) => c.min(2),
            None => 2,
        };
        let sc = s.clone();
        assert_completes(mode, "send with room in the buffer", move || {
            if room >= 1 {
                sc.send(1).unwrap();
            }
            if room >= 2 {
                select! { send(sc, 2) -> res => res.unwrap() }
            }
        });
        let sc = s.clone();
        let rc = r.clone();
        let drained = assert_completes(mode, "receive from a closed channel", move || {
            assert!(sc.close());
            assert!(!sc.close(), "a second close reports false");
            let drained: Vec<i32> = rc.iter().collect();
            assert_eq!(rc.recv(), Err(RecvError));
            assert_eq!(rc.try_recv(), Err(TryRecvError::Disconnected));
            drained
        });
        let want: Vec<i32> = (1..=room as i32).collect();
        assert_eq!(drained, want, "a closed channel drains its buffer first");
        let (sc, rc) = (s.clone(), r.clone());
        assert_completes(mode, "select! on a closed channel", move || {
            assert_eq!(sc.send(3), Err(SendError(3)), "send on a closed channel");
            assert_eq!(sc.try_send(4), Err(TrySendError::Disconnected(4)));
            for _ in 0..10 {
                select! {
                    recv(rc) -> v => assert_eq!(v, Err(RecvError)),
                    recv(never::<i32>()) -> _ => panic!("never() fired"),
                }
                select! {
                    send(sc, 5) -> res => assert_eq!(res, Err(SendError(5))),
                    recv(never::<i32>()) -> _ => panic!("never() fired"),
                }
            }
        });
    }
    assert_completes(mode, "select! with default", || {
        let (_s, r) = bounded::<i32>(0);
        let (s1, _r1) = bounded::<i32>(0);
        select! {
            recv(r) -> _ => panic!("empty"),
            send(s1, 1) -> _ => panic!("no receiver"),
            recv(never::<i32>()) -> _ => panic!("never() fired"),
            default => {}
        }
        select! { default => {} }
    });
    assert_completes(mode, "select! with a ready channel", || {
        let (s, r) = bounded::<i32>(1);
        select! {
            send(s, 1) -> res => res.unwrap(),
            recv(never::<i32>()) -> _ => panic!("never() fired"),
        }
        select! {
            recv(r) -> v => assert_eq!(v, Ok(1)),
            recv(never::<i32>()) -> _ => panic!("never() fired"),
        }
    });
}

#[test]
fn blocking_matrix_goroutines() {
    let _s = setup("blocking_matrix_goroutines");
    blocking_matrix(G);
}

#[test]
fn blocking_matrix_threads() {
    let _s = setup("blocking_matrix_threads");
    blocking_matrix(T);
}

// ---------------------------------------------------------------------
// test/chan/select4.go
// ---------------------------------------------------------------------

fn must_not_be_evaluated() -> i32 {
    panic!("the value of an arm that was not chosen was evaluated")
}

#[test]
fn select_runs_only_the_chosen_arm() {
    let _s = setup("select_runs_only_the_chosen_arm");
    for mode in MODES {
        run(mode, || {
            let (s1, r1) = bounded::<i32>(1);
            let (_s2, r2) = bounded::<i32>(1);
            let (nil, _keep) = nil_sender::<i32>();
            for i in 0..200 {
                s1.send(i).unwrap();
                let x;
                select! {
                    recv(r1) -> v => x = v.unwrap(),
                    recv(r2) -> _ => panic!("the not-chosen receive arm ran"),
                    send(nil, must_not_be_evaluated()) -> _ => panic!("nobody receives"),
                }
                assert_eq!(x, i);
            }
        });
    }
}

// ---------------------------------------------------------------------
// test/chan/select6.go
// ---------------------------------------------------------------------

#[test]
fn select_loser_leaves_queue_intact_goroutines() {
    let _s = setup("select_loser_leaves_queue_intact_goroutines");
    select_loser_leaves_queue_intact(500, [G; 4]);
}

#[test]
fn select_loser_leaves_queue_intact_threads() {
    let _s = setup("select_loser_leaves_queue_intact_threads");
    select_loser_leaves_queue_intact(50, [T; 4]);
}

#[test]
fn select_loser_leaves_queue_intact_mixed() {
    let _s = setup("select_loser_leaves_queue_intact_mixed");
    select_loser_leaves_queue_intact(50, [G, T, G, T]);
    select_loser_leaves_queue_intact(50, [T, G, T, G]);
}

// ---------------------------------------------------------------------
// test/chan/select7.go
// ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Form {
    Plain,
    Select1,
    Select2,
}

const FORMS: [Form; 3] = [Form::Plain, Form::Select1, Form::Select2];

fn recv_discarding(form: Form, r: &Receiver<Msg>, dummy: &Receiver<Msg>) {
    match form {
        Form::Plain => {
            r.recv().unwrap();
        }
        Form::Select1 => select! { recv(r) -> _ => {} },
        Form::Select2 => select! {
            recv(r) -> _ => {}
            recv(dummy) -> _ => panic!("dummy fired"),
        },
    }
}

fn send_form(form: Form, s: &Sender<Msg>, dummy: &Sender<Msg>, msg: Msg) {
    match form {
        Form::Plain => s.send(msg).unwrap(),
        Form::Select1 => select! { send(s, msg) -> res => res.unwrap() },
        Form::Select2 => select! {
            send(s, msg) -> res => res.unwrap(),
            send(dummy, Msg::new(u64::MAX, &DropCount::new())) -> _ => panic!("dummy fired"),
        },
    }
}

fn select7(recv_mode: Mode, send_mode: Mode) {
    const N: u64 = 20;
    for rf in FORMS {
        for sf in FORMS {
            for receiver_late in [false, true] {
                let drops = DropCount::new();
                let (s, r) = bounded::<Msg>(0);
                // Never-ready second arms: nobody uses the other ends.
                let (dummy_s, keep_r) = bounded::<Msg>(0);
                let (keep_s, dummy_r) = bounded::<Msg>(0);
                let d = drops.clone();
                let sender = spawn(send_mode, move || {
                    for id in 0..N {
                        send_form(sf, &s, &dummy_s, Msg::new(id, &d));
                    }
                });
                let receiver = spawn(recv_mode, move || {
                    if receiver_late {
                        pause(Duration::from_millis(2));
                    }
                    for _ in 0..N {
                        recv_discarding(rf, &r, &dummy_r);
                    }
                });
                receiver.join();
                sender.join();
                drop((keep_r, keep_s));
                assert_eq!(
                    drops.get(),
                    N as usize,
                    "{rf:?} x {sf:?}: each discarded message is dropped once"
                );
            }
        }
    }
}

#[test]
fn every_send_form_pairs_with_every_discarding_recv_form() {
    let _s = setup("every_send_form_pairs_with_every_discarding_recv_form");
    select7(G, G);
    select7(T, T);
    select7(G, T);
    select7(T, G);
}

// ---------------------------------------------------------------------
// test/chan/sieve1.go
// ---------------------------------------------------------------------

const FIRST_25_PRIMES: [u64; 25] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// The concurrent prime sieve: a generator and a chain of filters over
/// unbuffered channels. Dropping the last receiver shuts the chain down
/// (each send fails in turn), so every task is joined.
fn sieve1(mode_of: impl Fn(usize) -> Mode) -> Vec<u64> {
    let (gen_s, gen_r) = bounded::<u64>(0);
    let mut tasks = vec![spawn(mode_of(0), move || {
        let mut i = 2;
        while gen_s.send(i).is_ok() {
            i += 1;
        }
    })];
    let mut primes = Vec::new();
    let mut ch = gen_r;
    for k in 0..25 {
        let p = ch.recv().unwrap();
        primes.push(p);
        let (fs, fr) = bounded::<u64>(0);
        let input = ch;
        tasks.push(spawn(mode_of(k + 1), move || {
            for v in input.iter() {
                if v % p != 0 && fs.send(v).is_err() {
                    return;
                }
            }
        }));
        ch = fr;
    }
    drop(ch);
    join_all(tasks);
    primes
}

#[test]
fn prime_sieve_chain_finds_first_25_primes() {
    let _s = setup("prime_sieve_chain_finds_first_25_primes");
    assert_eq!(run(G, || sieve1(|_| G)), FIRST_25_PRIMES);
    assert_eq!(sieve1(|_| T), FIRST_25_PRIMES);
    assert_eq!(run(G, || sieve1(Mode::alternate)), FIRST_25_PRIMES);
}

// ---------------------------------------------------------------------
// test/chan/sieve2.go
// ---------------------------------------------------------------------

/// Odd multiples of `p` from p², in order, on a cap-10 channel.
fn multiples(mode: Mode, p: u64) -> (Receiver<u64>, Task<()>) {
    let (s, r) = bounded(10);
    let t = spawn(mode, move || {
        let mut n = p * p;
        while s.send(n).is_ok() {
            n += 2 * p;
        }
    });
    (r, t)
}

/// A proxy that buffers without bound what is sent to it and forwards it
/// to `out`. Its select disables the send arm while the buffer is empty
/// (Go sets the channel to nil; here the arm is left out of a `Select`).
fn sendproxy(mode: Mode, out: Sender<u64>) -> (Sender<u64>, Task<()>) {
    let (s, r) = bounded::<u64>(10);
    let t = spawn(mode, move || {
        let mut buf = VecDeque::new();
        loop {
            let mut sel = Select::new();
            let recv_i = sel.recv(&r);
            let send_i = if buf.is_empty() {
                None
            } else {
                Some(sel.send(&out))
            };
            let op = sel.select();
            if op.index() == recv_i {
                match op.recv(&r) {
                    Ok(v) => buf.push_back(v),
                    Err(_) => return,
                }
            } else {
                assert_eq!(Some(op.index()), send_i);
                let v = *buf.front().unwrap();
                if op.send(&out, v).is_err() {
                    return;
                }
                buf.pop_front();
            }
        }
    });
    (s, t)
}

/// Eratosthenes' sieve as a network: a merger turns a heap of "multiples"
/// channels into the increasing stream of odd composites; the sieve takes
/// odd candidates that are not composites, reports them on `out`, and
/// feeds them back to the merger through a proxy. Buffered channels of
/// capacity 10 and 50, as in Go.
fn sieve2(mode: Mode) -> Vec<u64> {
    let (out_s, out_r) = bounded::<u64>(10);
    out_s.send(2).unwrap();
    out_s.send(3).unwrap();
    let (composites_s, composites_r) = bounded::<u64>(50);
    let (primes_s, primes_r) = bounded::<u64>(10);
    primes_s.send(3).unwrap();

    let merger = spawn(mode, move || {
        // Min-heap of (head, channel index).
        let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> = BinaryHeap::new();
        let mut chans: Vec<Receiver<u64>> = Vec::new();
        let mut tasks = Vec::new();
        let mut last = 0;
        'run: while let Ok(p) = primes_r.recv() {
            // Every odd composite below p² is a multiple of a smaller
            // prime, already in the heap: emit them in order, once each.
            while let Some(&std::cmp::Reverse((head, i))) = heap.peek() {
                if head >= p * p {
                    break;
                }
                heap.pop();
                if head != last {
                    if composites_s.send(head).is_err() {
                        break 'run;
                    }
                    last = head;
                }
                let Ok(next) = chans[i].recv() else {
                    break 'run;
                };
                heap.push(std::cmp::Reverse((next, i)));
            }
            let (m, t) = multiples(mode, p);
            tasks.push(t);
            let head = m.recv().unwrap();
            if composites_s.send(head).is_err() {
                break;
            }
            last = head;
            heap.push(std::cmp::Reverse((m.recv().unwrap(), chans.len())));
            chans.push(m);
        }
        drop(chans);
        join_all(tasks);
    });

    let sieve = spawn(mode, move || {
        let (primes, proxy) = sendproxy(mode, primes_s);
        let (odds_s, candidates) = bounded::<u64>(50);
        let odds = spawn(mode, move || {
            let mut n = 5;
            while odds_s.send(n).is_ok() {
                n += 2;
            }
        });
        let run = || -> Result<(), ()> {
            let mut p = candidates.recv().map_err(drop)?;
            loop {
                let c = composites_r.recv().map_err(drop)?;
                while p < c {
                    primes.send(p).map_err(drop)?;
                    out_s.send(p).map_err(drop)?;
                    p = candidates.recv().map_err(drop)?;
                }
                if p == c {
                    p = candidates.recv().map_err(drop)?;
                }
            }
        };
        let _ = run();
        drop((primes, candidates, composites_r, out_s));
        proxy.join();
        odds.join();
    });

    let got: Vec<u64> = out_r.iter().take(25).collect();
    drop(out_r);
    sieve.join();
    merger.join();
    got
}

#[test]
fn eratosthenes_sieve_network_finds_first_25_primes() {
    let _s = setup("eratosthenes_sieve_network_finds_first_25_primes");
    assert_eq!(run(G, || sieve2(G)), FIRST_25_PRIMES);
    assert_eq!(sieve2(T), FIRST_25_PRIMES);
}

// ---------------------------------------------------------------------
// test/chan/zerosize.go
// ---------------------------------------------------------------------

static ZST_DROPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Default, PartialEq)]
struct Nothing;

#[derive(Debug)]
struct CountedNothing;

impl Drop for CountedNothing {
    fn drop(&mut self) {
        ZST_DROPS.fetch_add(1, SeqCst);
    }
}

fn zst_flavor<Z>(mode: Mode, cap: Option<usize>)
where
    Z: Default + PartialEq + std::fmt::Debug + Send + 'static,
{
    const N: usize = 1000;
    let (s, r) = make::<Z>(cap);
    assert_eq!(s.capacity(), cap);
    if let Some(c @ 1..) = cap {
        for _ in 0..c {
            s.try_send(Z::default()).unwrap();
        }
        assert!(s.is_full());
        assert_eq!(r.len(), c);
        assert!(matches!(
            s.try_send(Z::default()),
            Err(TrySendError::Full(_))
        ));
        for _ in 0..c {
            assert_eq!(r.try_recv(), Ok(Z::default()));
        }
    }
    assert!(r.is_empty());
    let sender = {
        let s = s.clone();
        spawn(mode, move || {
            for i in 0..N {
                if i.is_multiple_of(2) {
                    s.send(Z::default()).unwrap();
                } else {
                    select! { send(s, Z::default()) -> res => res.unwrap() }
                }
            }
        })
    };
    let receiver = {
        let r = r.clone();
        spawn(mode, move || {
            for i in 0..N {
                let v = if i.is_multiple_of(2) {
                    r.recv()
                } else {
                    select! { recv(r) -> v => v, recv(never::<Z>()) -> _ => unreachable!() }
                };
                assert_eq!(v, Ok(Z::default()));
            }
        })
    };
    sender.join();
    receiver.join();
    if cap != Some(0) {
        s.send(Z::default()).unwrap();
    }
    s.close();
    if cap != Some(0) {
        assert_eq!(r.recv(), Ok(Z::default()));
    }
    assert_eq!(r.recv(), Err(RecvError));
}

#[test]
fn zero_sized_messages_on_every_flavor() {
    let _s = setup("zero_sized_messages_on_every_flavor");
    for mode in MODES {
        for cap in FLAVORS {
            zst_flavor::<()>(mode, cap);
            zst_flavor::<[u8; 0]>(mode, cap);
            zst_flavor::<Nothing>(mode, cap);
        }
    }
    // Zero-sized, but with a destructor: every value is dropped exactly
    // once, including those left in a buffer when the channel goes away.
    let before = ZST_DROPS.load(SeqCst);
    let mut made = 0;
    for mode in MODES {
        for cap in FLAVORS {
            made += counted_zst(mode, cap);
        }
    }
    assert_eq!(ZST_DROPS.load(SeqCst) - before, made);
}

/// Moves drop-counted ZSTs through a channel, leaves some buffered, drops
/// the channel; returns how many were made.
fn counted_zst(mode: Mode, cap: Option<usize>) -> usize {
    const N: usize = 1000;
    let (s, r) = make::<CountedNothing>(cap);
    let sender = {
        let s = s.clone();
        spawn(mode, move || {
            for _ in 0..N {
                select! { send(s, CountedNothing) -> res => res.unwrap() }
            }
        })
    };
    let receiver = {
        let r = r.clone();
        spawn(mode, move || {
            for _ in 0..N {
                select! { recv(r) -> v => { v.unwrap(); } }
            }
        })
    };
    sender.join();
    receiver.join();
    let left = match cap {
        Some(0) => 0,
        Some(c) => c,
        None => 5,
    };
    for _ in 0..left {
        s.send(CountedNothing).unwrap();
    }
    assert!(s.close());
    let rejected = s.send(CountedNothing).unwrap_err();
    drop(rejected);
    if left > 0 {
        r.recv().unwrap();
    }
    drop((s, r));
    N + left + 1
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestChan, for capacities 0..20
// ---------------------------------------------------------------------

const CAPS: std::ops::Range<usize> = 0..20;

#[test]
fn chan_recv_from_empty_blocks_until_a_send() {
    let _s = setup("chan_recv_from_empty_blocks_until_a_send");
    for mode in MODES {
        let mut probes = Vec::new();
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            let r2 = r.clone();
            let plain = probe(mode, move || r2.recv());
            let in_select = probe(mode, move || select! { recv(r) -> v => v });
            probes.push((cap, s, plain, in_select));
        }
        pause(BLOCK_PROBE);
        for (cap, s, plain, in_select) in probes {
            plain.assert_still_blocked(&format!("cap {cap}: recv on an empty channel"));
            in_select.assert_still_blocked(&format!("cap {cap}: select! recv on an empty channel"));
            s.send(cap).unwrap();
            s.send(cap + 100).unwrap();
            let mut got = [plain.join().unwrap(), in_select.join().unwrap()];
            got.sort();
            assert_eq!(got, [cap, cap + 100]);
        }
    }
}

#[test]
fn chan_nonblocking_ops_never_block() {
    let _s = setup("chan_nonblocking_ops_never_block");
    for mode in MODES {
        assert_completes(mode, "non-blocking ops", || {
            for cap in CAPS {
                let (s, r) = bounded::<usize>(cap);
                assert_eq!(s.capacity(), Some(cap));
                assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
                select! { recv(r) -> _ => panic!("cap {cap}: empty"), default => {} }
                for i in 0..cap {
                    if i.is_multiple_of(2) {
                        s.try_send(i).unwrap();
                    } else {
                        select! { send(s, i) -> res => res.unwrap(), default => panic!("room") }
                    }
                    assert_eq!(r.len(), i + 1);
                }
                assert_eq!(s.try_send(cap), Err(TrySendError::Full(cap)));
                select! { send(s, cap) -> _ => panic!("cap {cap}: full"), default => {} }
                assert_eq!(r.len(), cap);
                assert!(s.is_full());
                for i in 0..cap {
                    assert_eq!(r.try_recv(), Ok(i));
                }
            }
        });
    }
}

#[test]
fn chan_send_to_full_blocks_until_a_recv() {
    let _s = setup("chan_send_to_full_blocks_until_a_recv");
    for mode in MODES {
        let mut probes = Vec::new();
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            for i in 0..cap {
                s.send(i).unwrap();
            }
            let s2 = s.clone();
            let plain = probe(mode, move || s2.send(1000));
            let in_select = probe(mode, move || select! { send(s, 2000) -> res => res });
            probes.push((cap, r, plain, in_select));
        }
        pause(BLOCK_PROBE);
        for (cap, r, plain, in_select) in probes {
            plain.assert_still_blocked(&format!("cap {cap}: send to a full channel"));
            in_select.assert_still_blocked(&format!("cap {cap}: select! send to a full channel"));
            for i in 0..cap {
                assert_eq!(r.recv(), Ok(i));
            }
            let mut got = [r.recv().unwrap(), r.recv().unwrap()];
            got.sort();
            assert_eq!(got, [1000, 2000]);
            plain.join().unwrap();
            in_select.join().unwrap();
        }
    }
}

#[test]
fn chan_close_drains_buffer_then_reports_disconnection() {
    let _s = setup("chan_close_drains_buffer_then_reports_disconnection");
    for mode in MODES {
        run(mode, || {
            for cap in CAPS {
                let (s, r) = bounded::<usize>(cap);
                let keep = s.clone(); // close, not drop, ends the channel
                for i in 0..cap {
                    s.send(i).unwrap();
                }
                assert!(s.close());
                assert_eq!(keep.send(99), Err(SendError(99)));
                for i in 0..cap {
                    if i.is_multiple_of(2) {
                        assert_eq!(r.recv(), Ok(i));
                    } else {
                        select! { recv(r) -> v => assert_eq!(v, Ok(i)) }
                    }
                }
                for _ in 0..3 {
                    assert_eq!(r.recv(), Err(RecvError));
                    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
                    select! { recv(r) -> v => assert_eq!(v, Err(RecvError)), default => panic!() }
                }
                assert!(!keep.close());
            }
        });
    }
}

#[test]
fn chan_close_wakes_blocked_receivers_and_senders() {
    let _s = setup("chan_close_wakes_blocked_receivers_and_senders");
    for mode in MODES {
        let mut probes = Vec::new();
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            let r2 = r.clone();
            let recv = probe(mode, move || r2.recv());
            let recv_select = probe(mode, move || select! { recv(r) -> v => v });
            probes.push((cap, s, recv, recv_select));
        }
        let mut send_probes = Vec::new();
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            for i in 0..cap {
                s.send(i).unwrap();
            }
            let s2 = s.clone();
            let send = probe(mode, move || s2.send(1000));
            let s3 = s.clone();
            let send_select = probe(mode, move || select! { send(s3, 2000) -> res => res });
            send_probes.push((cap, s, r, send, send_select));
        }
        pause(BLOCK_PROBE);
        for (cap, s, recv, recv_select) in probes {
            recv.assert_still_blocked(&format!("cap {cap}: recv"));
            recv_select.assert_still_blocked(&format!("cap {cap}: select! recv"));
            assert!(s.close());
            assert_eq!(
                recv.join(),
                Err(RecvError),
                "cap {cap}: close wakes a receiver"
            );
            assert_eq!(recv_select.join(), Err(RecvError));
        }
        for (cap, s, r, send, send_select) in send_probes {
            send.assert_still_blocked(&format!("cap {cap}: send"));
            send_select.assert_still_blocked(&format!("cap {cap}: select! send"));
            assert!(s.close());
            assert_eq!(
                send.join(),
                Err(SendError(1000)),
                "cap {cap}: close wakes a sender"
            );
            assert_eq!(send_select.join(), Err(SendError(2000)));
            assert_eq!(r.iter().collect::<Vec<_>>(), (0..cap).collect::<Vec<_>>());
        }
    }
}

#[test]
fn chan_is_fifo_with_a_concurrent_sender() {
    let _s = setup("chan_is_fifo_with_a_concurrent_sender");
    for mode in MODES {
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            let sender = spawn(mode, move || {
                for i in 0..100 {
                    s.send(i).unwrap();
                }
            });
            let receiver = spawn(mode, move || {
                for i in 0..50 {
                    assert_eq!(r.recv(), Ok(i), "cap {cap}: out of order");
                }
                // The rest through the `range` form; it ends at disconnection.
                assert_eq!(r.iter().collect::<Vec<_>>(), (50..100).collect::<Vec<_>>());
            });
            sender.join();
            receiver.join();
        }
    }
}

#[test]
fn chan_producers_and_consumers_deliver_every_value_once_per_producer() {
    let _s = setup("chan_producers_and_consumers_deliver_every_value_once_per_producer");
    const P: usize = 4;
    for mode in MODES {
        let l = mode.pick(300, 50);
        for cap in CAPS {
            let (s, r) = bounded::<usize>(cap);
            let producers: Vec<_> = (0..P)
                .map(|_| {
                    let s = s.clone();
                    spawn(mode, move || {
                        for i in 0..l {
                            s.send(i).unwrap();
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..P)
                .map(|_| {
                    let r = r.clone();
                    spawn(mode, move || {
                        let mut seen = vec![0usize; l];
                        for _ in 0..l {
                            seen[r.recv().unwrap()] += 1;
                        }
                        seen
                    })
                })
                .collect();
            join_all(producers);
            let mut total = vec![0usize; l];
            for seen in join_all(consumers) {
                for (t, n) in total.iter_mut().zip(seen) {
                    *t += n;
                }
            }
            assert!(
                total.iter().all(|&n| n == P),
                "cap {cap}: each value must arrive {P} times: {total:?}"
            );
            assert!(r.is_empty());
        }
    }
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: the non-blocking races
// ---------------------------------------------------------------------

#[test]
fn nonblocking_recv_sees_value_or_close_never_default() {
    let _s = setup("nonblocking_recv_sees_value_or_close_never_default");
    for mode in MODES {
        for _ in 0..mode.pick(1000, 200) {
            let (s, r) = bounded::<i32>(1);
            s.send(1).unwrap();
            let r2 = r.clone();
            let racer = spawn(
                mode,
                move || select! { recv(r2) -> _ => true, default => false },
            );
            s.close();
            let _ = r.recv();
            assert!(
                racer.join(),
                "the channel held a value or was closed, yet default ran"
            );
        }
    }
}

fn nonblock_select_race(mode: Mode, ready_by_close: bool) {
    for _ in 0..mode.pick(2000, 300) {
        let (s1, r1) = bounded::<i32>(1);
        let (s2, r2) = bounded::<i32>(1);
        s1.send(1).unwrap();
        let (a, b) = (r1.clone(), r2.clone());
        let racer = spawn(mode, move || {
            select! {
                recv(a) -> _ => true,
                recv(b) -> _ => true,
                default => false,
            }
        });
        if ready_by_close {
            s2.close();
        } else {
            s2.send(1).unwrap();
        }
        select! {
            recv(r1) -> _ => {}
            recv(r2) -> _ => {}
        }
        assert!(
            racer.join(),
            "one channel was always ready, yet default ran"
        );
    }
}

#[test]
fn nonblocking_select_never_misses_an_always_ready_channel() {
    let _s = setup("nonblocking_select_never_misses_an_always_ready_channel");
    for mode in MODES {
        nonblock_select_race(mode, false);
    }
}

#[test]
fn nonblocking_select_never_misses_an_always_ready_channel_with_close() {
    let _s = setup("nonblocking_select_never_misses_an_always_ready_channel_with_close");
    for mode in MODES {
        nonblock_select_race(mode, true);
    }
}

/// TestNonblockSelectRace, amplified: one token circulates through a ring
/// of four cap-1 channels. The mover puts it into the next channel before
/// taking it out of the current one, so at every instant some channel
/// holds it. A racer doing non-blocking selects over all four (returning
/// the token where it found it) must therefore never take `default` —
/// Go's select locks every channel and sees one moment. A select that
/// checks the arms one after another can miss a token that moves from an
/// arm not checked yet to one already checked.
fn token_ring(racer_mode: Mode, selects: usize) -> usize {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    const K: usize = 4;
    let chans: Vec<(Sender<()>, Receiver<()>)> = (0..K).map(|_| bounded(1)).collect();
    chans[0].0.send(()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let rs: Vec<Receiver<()>> = chans.iter().map(|c| c.1.clone()).collect();
    let ss: Vec<Sender<()>> = chans.iter().map(|c| c.0.clone()).collect();
    let done = stop.clone();
    let racer = spawn(racer_mode, move || {
        let mut defaults = 0;
        for i in 0..selects {
            if i.is_multiple_of(256) {
                gofer_runtime::yield_now();
            }
            let took = select! {
                recv(rs[0]) -> _ => Some(0),
                recv(rs[1]) -> _ => Some(1),
                recv(rs[2]) -> _ => Some(2),
                recv(rs[3]) -> _ => Some(3),
                default => None,
            };
            match took {
                Some(j) => ss[j].send(()).unwrap(),
                None => defaults += 1,
            }
        }
        done.store(true, SeqCst);
        defaults
    });
    let mut cur = 0;
    while !stop.load(SeqCst) {
        let next = (cur + 1) % K;
        chans[next].0.send(()).unwrap();
        chans[cur].1.recv().unwrap();
        cur = next;
    }
    racer.join()
}

#[test]
fn nonblocking_select_sees_one_moment_token_ring() {
    let _s = setup("nonblocking_select_sees_one_moment_token_ring");
    for mode in MODES {
        let defaults = token_ring(mode, 50_000);
        assert_eq!(
            defaults, 0,
            "{mode:?}: default taken while a channel held the token"
        );
    }
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestSelfSelect
// ---------------------------------------------------------------------

#[test]
fn self_select_never_receives_own_value_goroutines() {
    let _s = setup("self_select_never_receives_own_value_goroutines");
    for cap in [0, 10] {
        self_select(cap, [G, G]);
    }
}

#[test]
fn self_select_never_receives_own_value_threads() {
    let _s = setup("self_select_never_receives_own_value_threads");
    for cap in [0, 10] {
        self_select(cap, [T, T]);
    }
}

#[test]
fn self_select_never_receives_own_value_mixed() {
    let _s = setup("self_select_never_receives_own_value_mixed");
    for cap in [0, 10] {
        self_select(cap, [G, T]);
    }
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestSelectStress
// ---------------------------------------------------------------------

/// Four channels (caps 0, 0, 2, 3); on each a plain sender and a plain
/// receiver; plus one task sending on all four through a dynamic `Select`
/// (removing a channel after `n` sends on it) and one receiving from all
/// four through `select!` (switching a channel to `never()` after `n`).
/// No deadlock, and every value arrives exactly once.
fn select_stress(mode: Mode, n: u64) {
    let chans: Vec<(Sender<u64>, Receiver<u64>)> =
        [0, 0, 2, 3].into_iter().map(bounded::<u64>).collect();
    let base = move |k: usize| k as u64 * 2 * n;
    let mut tasks = Vec::new();
    let mut receivers = Vec::new();
    for (k, (s, r)) in chans.iter().enumerate() {
        let s = s.clone();
        tasks.push(spawn(mode, move || {
            for i in 0..n {
                s.send(base(k) + i).unwrap();
            }
        }));
        let r = r.clone();
        receivers.push(spawn(mode, move || {
            (0..n).map(|_| r.recv().unwrap()).collect::<Vec<u64>>()
        }));
    }
    let senders: Vec<Sender<u64>> = chans.iter().map(|c| c.0.clone()).collect();
    tasks.push(spawn(mode, move || {
        let mut sel = Select::new();
        let idx: Vec<usize> = senders.iter().map(|s| sel.send(s)).collect();
        let mut sent = [0u64; 4];
        for _ in 0..4 * n {
            let op = sel.select();
            let k = idx.iter().position(|&i| i == op.index()).unwrap();
            op.send(&senders[k], base(k) + n + sent[k]).unwrap();
            sent[k] += 1;
            if sent[k] == n {
                sel.remove(idx[k]);
            }
        }
    }));
    let rs: Vec<Receiver<u64>> = chans.iter().map(|c| c.1.clone()).collect();
    receivers.push(spawn(mode, move || {
        let mut r: Vec<Receiver<u64>> = rs.clone();
        let mut got = [0u64; 4];
        let mut all = Vec::new();
        for _ in 0..4 * n {
            let (k, v) = select! {
                recv(r[0]) -> v => (0, v),
                recv(r[1]) -> v => (1, v),
                recv(r[2]) -> v => (2, v),
                recv(r[3]) -> v => (3, v),
            };
            all.push(v.unwrap());
            got[k] += 1;
            if got[k] == n {
                r[k] = never();
            }
        }
        all
    }));
    drop(chans);
    join_all(tasks);
    let all: Vec<u64> = join_all(receivers).into_iter().flatten().collect();
    assert_exactly_once(all, 8 * n, "select stress");
}

#[test]
fn select_stress_no_deadlock_no_lost_values() {
    let _s = setup("select_stress_no_deadlock_no_lost_values");
    select_stress(G, 5_000);
    select_stress(T, 1_000);
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestSelectFairness, TestPseudoRandomSend
// ---------------------------------------------------------------------

fn select_fairness(mode: Mode) {
    const TRIALS: usize = 10_000;
    let (s1, r1) = bounded::<u8>(TRIALS + 1);
    let (s2, r2) = bounded::<u8>(TRIALS + 1);
    for _ in 0..=TRIALS {
        s1.send(1).unwrap();
        s2.send(2).unwrap();
    }
    let (_s3, r3) = bounded::<u8>(0);
    let (_s4, r4) = bounded::<u8>(0);
    let (out_s, out_r) = bounded::<u8>(0);
    let (done_s, done_r) = bounded::<()>(0);
    let selector = spawn(mode, move || {
        loop {
            let b = select! {
                recv(r3) -> v => v.unwrap(),
                recv(r4) -> v => v.unwrap(),
                recv(r1) -> v => v.unwrap(),
                recv(r2) -> v => v.unwrap(),
            };
            select! {
                send(out_s, b) -> res => res.unwrap(),
                recv(done_r) -> _ => return,
            }
        }
    });
    let (mut c1, mut c2) = (0, 0);
    for _ in 0..TRIALS {
        match out_r.recv().unwrap() {
            1 => c1 += 1,
            2 => c2 += 1,
            b => panic!("unexpected {b}"),
        }
    }
    done_s.close();
    selector.join();
    assert_eq!(c1 + c2, TRIALS);
    // Six nines: |r - 0.5| <= 4.891676 / (2 * sqrt(trials)).
    let r = c1 as f64 / TRIALS as f64;
    let bound = 4.891676 / (2.0 * (TRIALS as f64).sqrt());
    assert!(
        (r - 0.5).abs() <= bound,
        "{mode:?}: unfair select: {c1} vs {c2} (bound ±{bound:.4})"
    );
}

#[test]
fn select_picks_uniformly_among_ready_arms() {
    let _s = setup("select_picks_uniformly_among_ready_arms");
    for mode in MODES {
        select_fairness(mode);
    }
}

#[test]
fn select_picks_randomly_among_ready_send_arms() {
    let _s = setup("select_picks_randomly_among_ready_send_arms");
    const N: usize = 100;
    for mode in MODES {
        for cap in [0, N] {
            let (s, r) = bounded::<usize>(cap);
            let receiver = spawn(mode, move || {
                (0..N)
                    .map(|_| {
                        gofer_runtime::yield_now();
                        r.recv().unwrap()
                    })
                    .collect::<Vec<_>>()
            });
            let sender = spawn(mode, move || {
                for _ in 0..N {
                    select! {
                        send(s, 1) -> res => res.unwrap(),
                        send(s, 0) -> res => res.unwrap(),
                    }
                }
            });
            sender.join();
            let got = receiver.join();
            let ones = got.iter().sum::<usize>();
            let zeros = N - ones;
            assert!(
                ones > N / 10 && zeros > N / 10,
                "{mode:?} cap {cap}: want both arms often, got {zeros} zeros and {ones} ones"
            );
        }
    }
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestMultiConsumer
// ---------------------------------------------------------------------

fn multi_consumer(mode: Mode, niter: usize) {
    const NWORK: usize = 23;
    const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];
    let (q_s, q_r) = bounded::<usize>(NWORK * 3);
    let (r_s, r_r) = bounded::<usize>(NWORK * 3);
    let workers: Vec<_> = (0..NWORK)
        .map(|w| {
            let (q, r) = (q_r.clone(), r_s.clone());
            spawn(mode, move || {
                for v in q.iter() {
                    // Perturb the FIFO-ish order of `range`.
                    if PN[w % PN.len()] == v {
                        gofer_runtime::yield_now();
                    }
                    r.send(v).unwrap();
                }
            })
        })
        .collect();
    drop(q_r);
    // The main side keeps a sender of `r`: only close() ends the range.
    let r_keep = r_s.clone();
    let feeder = spawn(mode, move || {
        let mut expect = 0;
        for i in 0..niter {
            let v = PN[i % PN.len()];
            expect += v;
            q_s.send(v).unwrap();
        }
        assert!(q_s.close()); // no more work
        join_all(workers); // workers done...
        assert!(r_s.close()); // ...so no more results
        expect
    });
    let (mut n, mut sum) = (0, 0);
    for v in r_r.iter() {
        n += 1;
        sum += v;
    }
    let expect = feeder.join();
    assert_eq!(
        (n, sum),
        (niter, expect),
        "{mode:?}: results lost or duplicated"
    );
    drop(r_keep);
}

#[test]
fn close_and_range_with_many_consumers_deliver_exact_sum_and_count() {
    let _s = setup("close_and_range_with_many_consumers_deliver_exact_sum_and_count");
    multi_consumer(G, 100_000);
    multi_consumer(T, 10_000);
}

// ---------------------------------------------------------------------
// runtime/chan_test.go: TestSelectDuplicateChannel
// ---------------------------------------------------------------------

fn select_duplicate_channel(modes: [Mode; 2]) {
    let (c_s, c_r) = bounded::<i32>(0);
    let (d_s, d_r) = bounded::<i32>(0);
    let (e_s, e_r) = bounded::<i32>(0);
    let c = c_r.clone();
    let a = spawn(modes[0], move || {
        select! {
            recv(c) -> _ => panic!("c fired in A's select"),
            recv(c) -> _ => panic!("c fired in A's select"),
            recv(d_r) -> v => assert_eq!(v, Ok(7)),
        }
        e_s.send(9).unwrap();
    });
    pause(BLOCK_PROBE); // A queues on c (twice) first
    let c = c_r.clone();
    let b = spawn(modes[1], move || c.recv().unwrap());
    pause(BLOCK_PROBE); // then B
    d_s.send(7).unwrap(); // wakes A, which leaves c's queue
    assert_eq!(e_r.recv(), Ok(9));
    c_s.send(8).unwrap(); // must wake B
    assert_eq!(b.join(), 8);
    a.join();
}

#[test]
fn select_on_one_channel_twice_leaves_its_queue_intact() {
    let _s = setup("select_on_one_channel_twice_leaves_its_queue_intact");
    select_duplicate_channel([G, G]);
    select_duplicate_channel([T, T]);
    select_duplicate_channel([G, T]);
    select_duplicate_channel([T, G]);
}
