//! Shared machinery of the gofer-chan integration tests.
//!
//! Every concurrency test runs in several *modes* ([`Mode`]): with OS
//! threads only, with goroutines only, and mixed (goroutines and threads on
//! the two ends of the same channels). A test is a function taking the
//! mode; [`mode_tests!`] turns it into one `#[test]` per mode, in a module
//! named after the function:
//!
//! ```text
//! fn recv_blocks_until_a_message_arrives(mode: Mode) {
//!     let (s, r) = bounded(1);
//!     scope(mode, |sc| {
//!         sc.spawn(|| s.send(1).unwrap());
//!         assert_eq!(r.recv(), Ok(1));
//!     });
//! }
//! mode_tests!(recv_blocks_until_a_message_arrives: threads, goroutines, mixed, mixed_rev);
//! // => recv_blocks_until_a_message_arrives::threads, ::goroutines, ...
//! ```
//!
//! [`scope`] is shaped like `std::thread::scope`: the body and every task
//! it spawns may borrow from the caller, and all tasks are joined before
//! it returns. In goroutine modes the body itself runs in a goroutine too,
//! so that "the main side" of a test blocks as a goroutine.

#![allow(dead_code, unused_macros, unused_imports)]

// The mode machinery (`Mode`, `scope`, `run`, `spawn_static`, `Tally`, ...)
// is shared with gofer-sync's tests.
pub use gofer_testkit::*;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// Counts the drops of the [`Counted`] values it hands out.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    /// A counter at zero.
    pub fn new() -> DropCounter {
        DropCounter::default()
    }

    /// A value whose drop this counter counts.
    pub fn item(&self) -> Counted {
        Counted(self.0.clone())
    }

    /// How many items have been dropped so far.
    pub fn drops(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// A message that counts its own drop.
#[derive(Debug)]
pub struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A small xorshift generator (the tests need no real randomness, only
/// varied sizes), seeded from the clock.
pub struct Rng(u64);

impl Rng {
    /// A generator with a seed taken from the clock.
    pub fn new() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Rng(t.as_nanos() as u64 | 1)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Generates one `#[test]` per mode for the test function `$name(mode:
/// Mode)`, in a module of the same name: `$name::threads`,
/// `$name::goroutines`, `$name::mixed`, `$name::mixed_rev`. Attributes
/// before a variant apply to that variant only, e.g.
/// `#[ignore = "bug: ..."] goroutines`. Without a list: threads and
/// goroutines.
macro_rules! mode_tests {
    ($name:ident) => {
        mode_tests!($name: threads, goroutines);
    };
    ($name:ident : $($(#[$attr:meta])* $variant:ident),+ $(,)?) => {
        mod $name {
            $(
                #[test]
                $(#[$attr])*
                fn $variant() {
                    super::$name($crate::common::Mode::from_name(stringify!($variant)));
                }
            )+
        }
    };
}

/// [`mode_tests!`] with all four modes.
macro_rules! all_modes {
    ($name:ident) => {
        mode_tests!($name: threads, goroutines, mixed, mixed_rev);
    };
}

/// A channel of the flavor `cap` names: `None` is `unbounded()`, `Some(n)`
/// is `bounded(n)` (zero-capacity for `Some(0)`).
pub fn make<T>(cap: Option<usize>) -> (gofer_chan::Sender<T>, gofer_chan::Receiver<T>) {
    match cap {
        None => gofer_chan::unbounded(),
        Some(n) => gofer_chan::bounded(n),
    }
}

/// Scenarios that every flavor must pass; each flavor's test file runs
/// them with its own capacity.
pub mod scenario {
    use super::*;
    use gofer_chan::{Receiver, RecvError, SendError, TryRecvError};
    use std::any::Any;

    /// One producer, one consumer: every message arrives once, in order,
    /// and then the consumer sees the disconnection.
    pub fn spsc(mode: Mode, cap: Option<usize>, count: usize) {
        let (s, r) = make(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                for i in 0..count {
                    s.send(i).unwrap();
                }
            });
            sc.spawn(move || {
                for i in 0..count {
                    assert_eq!(r.recv(), Ok(i));
                }
                assert_eq!(r.recv(), Err(RecvError));
            });
        });
    }

    /// `tasks` producers each send `0..count`; `tasks` consumers each take
    /// `count` messages. Every value arrives exactly `tasks` times, and
    /// nothing is left over.
    pub fn mpmc(mode: Mode, cap: Option<usize>, count: usize, tasks: usize) {
        let (s, r) = make::<usize>(cap);
        let tally = Tally::new(count);
        scope(mode, |sc| {
            for _ in 0..tasks {
                sc.spawn(|| {
                    for _ in 0..count {
                        tally.hit(r.recv().unwrap());
                    }
                });
                sc.spawn(|| {
                    for i in 0..count {
                        s.send(i).unwrap();
                    }
                });
            }
        });
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
        tally.assert_each(tasks);
    }

    /// A fresh channel per round, one send and one receive racing.
    pub fn oneshot(mode: Mode, cap: Option<usize>, rounds: usize) {
        for round in 0..rounds {
            let (s, r) = make(cap);
            scope(mode, |sc| {
                let got = sc.spawn(|| r.recv().unwrap());
                sc.spawn(|| s.send(round).unwrap());
                assert_eq!(got.join(), round);
            });
        }
    }

    /// A request/response loop where the requester drains responses with
    /// `try_iter` and the responder serves requests with `iter`: exactly
    /// `count` responses are consumed and both sides stop.
    pub fn iter_request_response(mode: Mode, cap: Option<usize>, count: usize) {
        let (request_s, request_r) = make::<()>(cap);
        let (response_s, response_r) = make::<usize>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut total = 0;
                loop {
                    for x in response_r.try_iter() {
                        total += x;
                        if total == count {
                            return;
                        }
                    }
                    // On a zero-capacity channel this succeeds only when
                    // the responder is waiting, so poll politely.
                    let _ = request_s.try_send(());
                    relax();
                }
            });
            sc.spawn(move || {
                for _ in request_r.iter() {
                    if response_s.send(1).is_err() {
                        break;
                    }
                }
            });
        });
    }

    /// Sender and receiver both use short timeouts in a retry loop, with
    /// pauses: every message arrives once, in order.
    pub fn timeouts_in_a_retry_loop(mode: Mode, cap: Option<usize>, count: usize) {
        let (s, r) = make(cap);
        scope(mode, |sc| {
            sc.spawn(|| {
                for i in 0..count {
                    if i.is_multiple_of(4) {
                        sleep(ms(5));
                    }
                    let mut msg = i;
                    loop {
                        match s.send_timeout(msg, ms(1)) {
                            Ok(()) => break,
                            Err(e) => {
                                assert!(e.is_timeout());
                                msg = e.into_inner();
                            }
                        }
                    }
                }
            });
            sc.spawn(|| {
                for i in 0..count {
                    if i.is_multiple_of(4) {
                        sleep(ms(5));
                    }
                    loop {
                        match r.recv_timeout(ms(1)) {
                            Ok(x) => {
                                assert_eq!(x, i);
                                break;
                            }
                            Err(e) => assert!(e.is_timeout()),
                        }
                    }
                }
            });
        });
    }

    /// Each round moves a random number of counted messages through the
    /// channel, then leaves `extra` unreceived: exactly the received ones
    /// are dropped while the channel lives, and the rest exactly once when
    /// it goes.
    pub fn unreceived_messages_dropped_once(
        mode: Mode,
        cap: Option<usize>,
        rounds: usize,
        max_steps: usize,
        max_extra: usize,
    ) {
        let mut rng = Rng::new();
        for _ in 0..rounds {
            let steps = rng.below(max_steps);
            let extra = if max_extra == 0 {
                0
            } else {
                rng.below(max_extra)
            };
            let drops = DropCounter::new();
            let (s, r) = make::<Counted>(cap);
            scope(mode, |sc| {
                sc.spawn(|| {
                    for _ in 0..steps {
                        r.recv().unwrap();
                    }
                });
                sc.spawn(|| {
                    for _ in 0..steps {
                        s.send(drops.item()).unwrap();
                    }
                });
            });
            for _ in 0..extra {
                s.try_send(drops.item()).unwrap();
            }
            assert_eq!(drops.drops(), steps);
            drop(s);
            drop(r);
            assert_eq!(drops.drops(), steps + extra);
        }
    }

    /// Each task sends one message and then must find one with
    /// `try_recv` (its own or another's): a completed send is visible.
    pub fn send_then_try_recv_is_linearizable(
        mode: Mode,
        cap: Option<usize>,
        tasks: usize,
        count: usize,
    ) {
        let (s, r) = make(cap);
        scope(mode, |sc| {
            for _ in 0..tasks {
                sc.spawn(|| {
                    for _ in 0..count {
                        s.send(0).unwrap();
                        r.try_recv().unwrap();
                    }
                });
            }
        });
        assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    }

    /// A chain of channels, each sent through the previous one.
    pub fn channels_through_channels(mode: Mode, cap: Option<usize>, count: usize) {
        type T = Box<dyn Any + Send>;
        let (s, r) = make::<T>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                let mut s = s;
                for _ in 0..count {
                    let (next_s, next_r) = make::<T>(cap);
                    let next_r: T = Box::new(Some(next_r));
                    s.send(next_r).unwrap();
                    s = next_s;
                }
            });
            sc.spawn(move || {
                let mut r = r;
                for _ in 0..count {
                    r = r
                        .recv()
                        .unwrap()
                        .downcast_mut::<Option<Receiver<T>>>()
                        .unwrap()
                        .take()
                        .unwrap();
                }
            });
        });
    }

    /// A receiver blocked on an empty channel wakes with `RecvError` when
    /// the last sender goes.
    pub fn dropping_last_sender_wakes_receiver(mode: Mode, cap: Option<usize>) {
        let (s, r) = make::<()>(cap);
        scope(mode, |sc| {
            sc.spawn(move || {
                sleep(ms(50));
                drop(s);
            });
            assert_eq!(r.recv(), Err(RecvError));
        });
    }

    /// A sender blocked on a full channel (any message on a zero-capacity
    /// one) wakes with its message back when the last receiver goes.
    pub fn dropping_last_receiver_wakes_sender(mode: Mode, cap: usize) {
        let (s, r) = gofer_chan::bounded::<u32>(cap);
        for i in 0..cap as u32 {
            s.send(i).unwrap();
        }
        scope(mode, |sc| {
            sc.spawn(move || {
                sleep(ms(50));
                drop(r);
            });
            assert_eq!(s.send(77), Err(SendError(77)));
        });
    }

    /// Goroutines blocked by `block` park: while `4 × GOMAXPROCS` of them
    /// wait, another goroutine still gets to run. `release` must then wake
    /// them all. A blocking operation that held its worker would make the
    /// ping below time out. Returns when the ping was answered (for
    /// blocking operations that end by themselves, such as timers).
    pub fn blocked_goroutines_leave_their_workers_free<B, R>(block: B, release: R) -> Instant
    where
        B: Fn() + Sync,
        R: FnOnce(),
    {
        let k = 4 * gofer_runtime::max_procs();
        let entered = AtomicUsize::new(0);
        let block_and_count = || {
            entered.fetch_add(1, SeqCst);
            block()
        };
        let (all_entered, pong) = gofer_runtime::scope(|s| {
            let blocked: Vec<_> = (0..k).map(|_| s.spawn(block_and_count)).collect();
            let deadline = Instant::now() + LONG;
            while entered.load(SeqCst) < k && Instant::now() < deadline {
                std::thread::sleep(ms(1));
            }
            let all_entered = entered.load(SeqCst) == k;
            std::thread::sleep(ms(20));
            let (ping_s, ping_r) = gofer_chan::bounded::<u32>(1);
            let (pong_s, pong_r) = gofer_chan::bounded::<u32>(1);
            s.spawn(move || {
                if let Ok(v) = ping_r.recv_timeout(LONG) {
                    let _ = pong_s.send(v + 1);
                }
            });
            ping_s.send(1).unwrap();
            let pong = pong_r.recv_timeout(LONG).map(|v| (v, Instant::now()));
            release();
            for h in blocked {
                h.join().unwrap();
            }
            (all_entered, pong)
        });
        assert!(
            all_entered,
            "only {} of {k} goroutines got to block: blocked ones held their workers",
            entered.load(SeqCst)
        );
        let (v, at) = pong.unwrap_or_else(|e| {
            panic!("no goroutine could run while {k} goroutines were blocked ({e}): blocking held the workers")
        });
        assert_eq!(v, 2);
        at
    }
}

/// Checks that `oper` is the operation with index `want`. A test must not
/// panic while it holds an uncompleted `SelectedOperation`: its drop
/// during the unwind panics again, which aborts the whole test binary. So
/// on a mismatch the operation is forgotten before panicking.
#[track_caller]
pub fn expect_index(
    oper: gofer_chan::SelectedOperation<'_>,
    want: usize,
) -> gofer_chan::SelectedOperation<'_> {
    let got = oper.index();
    if got != want {
        std::mem::forget(oper);
        panic!("selected operation {got}, expected {want}");
    }
    oper
}

/// Fails the test because `oper` should not have been selected, without
/// aborting (see [`expect_index`]).
#[track_caller]
pub fn wrong_arm(oper: gofer_chan::SelectedOperation<'_>, why: &str) -> ! {
    let got = oper.index();
    std::mem::forget(oper);
    panic!("selected operation {got}: {why}");
}

/// Runs `f` on a helper thread and fails the test if it does not finish
/// within `limit`, so that a hang is reported as a failure instead of
/// stalling the run (the hung thread is left behind).
#[track_caller]
pub fn within<F>(limit: Duration, what: &str, f: F)
where
    F: FnOnce() + Send + 'static,
{
    let (done_s, done_r) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = done_s.send(());
    });
    match done_r.recv_timeout(limit) {
        Ok(()) => h.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            h.join().unwrap_or_else(|p| resume_unwind(p));
            unreachable!()
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: {what} did not finish within {limit:?}")
        }
    }
}
