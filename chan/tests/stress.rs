//! Stress tests of every channel flavor — `bounded(0)`, `bounded(1)`,
//! `bounded(16)`, `unbounded()` — under many goroutines, threads and
//! mixes of both, checking Go's channel guarantees message by message:
//! every message sent is received exactly once (per-message ids, sorted
//! and compared), every message is dropped exactly once (a drop-counting
//! message type: once all handles are gone, drops == messages made), and
//! Go's `close` under load: blocked senders and selecting receivers wake,
//! sends after it fail, receivers drain the buffer and then see the
//! channel closed, so what was sent successfully is exactly what arrives.

mod go_common;

use go_common::*;
use gofer_chan::{Receiver, SendError, Sender, never, select};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

static CONFIG: Once = Once::new();

fn setup(name: &'static str) -> Watchdog {
    CONFIG.call_once(|| {
        // Hog reports off: on a loaded machine the OS preempting a worker
        // looks like a hog to sysmon; here that is only noise.
        gofer_runtime::Config::new()
            .max_procs(2)
            .hog_reports(false)
            .apply()
            .expect("configure the runtime before it starts");
    });
    watchdog(name)
}

/// Timeout arm of the consumers' `select!`: short, so it fires now and
/// then; firing is harmless.
const POLL: Duration = Duration::from_millis(20);

/// Gives `n` ids to producer `p`: `p * STRIDE ..`.
const STRIDE: u64 = 1 << 32;

/// Receives until the channel is empty and disconnected, through `select!`
/// with a timeout arm (every other message) or a plain `recv`.
fn consume(r: &Receiver<Msg>) -> Vec<u64> {
    let mut ids = Vec::new();
    loop {
        if ids.len().is_multiple_of(2) {
            match r.recv() {
                Ok(m) => ids.push(m.id),
                Err(_) => return ids,
            }
        } else {
            select! {
                recv(r) -> m => match m {
                    Ok(m) => ids.push(m.id),
                    Err(_) => return ids,
                },
                default(POLL) => {}
            }
        }
    }
}

/// Sends ids `from..from + n`, by turns with `send`, `select!` and
/// `send_timeout`.
fn produce(s: &Sender<Msg>, from: u64, n: u64, drops: &DropCount) {
    for id in from..from + n {
        let m = Msg::new(id, drops);
        match id % 3 {
            0 => s.send(m).unwrap(),
            1 => select! { send(s, m) -> res => res.unwrap() },
            _ => s.send_timeout(m, Duration::from_secs(60)).unwrap(),
        }
    }
}

/// `producers` x `consumers` tasks on one channel of the given flavor;
/// the modes of each are picked by index. Checks ids and drops.
fn mpmc(
    cap: Option<usize>,
    producers: usize,
    consumers: usize,
    per_producer: u64,
    mode_of_producer: impl Fn(usize) -> Mode,
    mode_of_consumer: impl Fn(usize) -> Mode,
) {
    let drops = DropCount::new();
    let (s, r) = make::<Msg>(cap);
    let ps: Vec<_> = (0..producers)
        .map(|p| {
            let (s, d) = (s.clone(), drops.clone());
            spawn(mode_of_producer(p), move || {
                produce(&s, p as u64 * per_producer, per_producer, &d)
            })
        })
        .collect();
    let cs: Vec<_> = (0..consumers)
        .map(|c| {
            let r = r.clone();
            spawn(mode_of_consumer(c), move || consume(&r))
        })
        .collect();
    drop((s, r));
    join_all(ps);
    let ids: Vec<u64> = join_all(cs).into_iter().flatten().collect();
    let total = producers as u64 * per_producer;
    assert_exactly_once(ids, total, &format!("cap {cap:?}"));
    assert_eq!(drops.get(), total as usize, "cap {cap:?}: drops");
}

#[test]
fn every_flavor_8_producers_8_consumers_goroutines() {
    let _w = setup("every_flavor_8_producers_8_consumers_goroutines");
    for cap in FLAVORS {
        mpmc(cap, 8, 8, 5_000, |_| G, |_| G);
    }
}

#[test]
fn every_flavor_8_producers_8_consumers_threads() {
    let _w = setup("every_flavor_8_producers_8_consumers_threads");
    for cap in FLAVORS {
        mpmc(cap, 8, 8, 1_000, |_| T, |_| T);
    }
}

#[test]
fn every_flavor_goroutine_producers_thread_consumers_and_back() {
    let _w = setup("every_flavor_goroutine_producers_thread_consumers_and_back");
    for cap in FLAVORS {
        mpmc(cap, 4, 4, 1_000, |_| G, |_| T);
        mpmc(cap, 4, 4, 1_000, |_| T, |_| G);
        mpmc(cap, 6, 6, 500, Mode::alternate, |c| Mode::alternate(c + 1));
    }
}

#[test]
fn many_goroutines_on_shared_channels() {
    let _w = setup("many_goroutines_on_shared_channels");
    // 500 producers and 500 consumers, 20 messages each.
    for cap in FLAVORS {
        mpmc(cap, 500, 500, 40, |_| G, |_| G);
    }
}

// ---------------------------------------------------------------------
// select! on both sides, over all four flavors at once
// ---------------------------------------------------------------------

struct Four {
    s: [Sender<Msg>; 4],
    r: [Receiver<Msg>; 4],
}

fn four() -> Four {
    let [a, b, c, d] = FLAVORS.map(make::<Msg>);
    Four {
        s: [a.0, b.0, c.0, d.0],
        r: [a.1, b.1, c.1, d.1],
    }
}

/// Receives from four channels through one `select!` with a timeout arm,
/// switching each to `never()` once it is closed or disconnected, until
/// all four are.
fn consume_four(rs: [Receiver<Msg>; 4], received: Option<&AtomicUsize>) -> Vec<u64> {
    let mut r = rs;
    let mut live = 4;
    let mut ids = Vec::new();
    while live > 0 {
        let (k, m) = select! {
            recv(r[0]) -> m => (0, m),
            recv(r[1]) -> m => (1, m),
            recv(r[2]) -> m => (2, m),
            recv(r[3]) -> m => (3, m),
            default(POLL) => continue,
        };
        match m {
            Ok(m) => {
                ids.push(m.id);
                if let Some(n) = received {
                    n.fetch_add(1, SeqCst);
                }
            }
            Err(_) => {
                r[k] = never();
                live -= 1;
            }
        }
    }
    ids
}

/// Sends `n` messages, each through a `select!` over all four channels.
fn produce_four(ss: &[Sender<Msg>; 4], from: u64, n: u64, drops: &DropCount) {
    for id in from..from + n {
        let m = Msg::new(id, drops);
        select! {
            send(ss[0], m) -> res => res.unwrap(),
            send(ss[1], m) -> res => res.unwrap(),
            send(ss[2], m) -> res => res.unwrap(),
            send(ss[3], m) -> res => res.unwrap(),
        }
    }
}

fn select_both_sides(producers: usize, consumers: usize, n: u64, mode_of: impl Fn(usize) -> Mode) {
    let drops = DropCount::new();
    let f = four();
    let ps: Vec<_> = (0..producers)
        .map(|p| {
            let (ss, d) = (f.s.clone(), drops.clone());
            spawn(mode_of(p), move || produce_four(&ss, p as u64 * n, n, &d))
        })
        .collect();
    let cs: Vec<_> = (0..consumers)
        .map(|c| {
            let rs = f.r.clone();
            spawn(mode_of(c + 1), move || consume_four(rs, None))
        })
        .collect();
    drop(f);
    join_all(ps);
    let ids: Vec<u64> = join_all(cs).into_iter().flatten().collect();
    assert_exactly_once(ids, producers as u64 * n, "select on both sides");
    assert_eq!(drops.get(), producers * n as usize);
}

#[test]
fn select_producers_and_select_consumers_over_every_flavor() {
    let _w = setup("select_producers_and_select_consumers_over_every_flavor");
    select_both_sides(4, 4, 10_000, |_| G);
    select_both_sides(4, 4, 1_000, |_| T);
    select_both_sides(4, 4, 1_000, Mode::alternate);
}

// ---------------------------------------------------------------------
// close() under load
// ---------------------------------------------------------------------

/// Producers send on the four channels (through `select!`, or a plain
/// `send` on one of them) until a send fails; a closer closes every
/// channel once the consumers have received `close_after` messages, while
/// they wait in `select!` and producers are blocked. Every send that
/// returned `Ok` must be received exactly once, none other; every message
/// made is dropped exactly once.
///
/// `modes`: producers, consumers, closer. With `producer_closes`, there is
/// no closer task: producer 0 closes every channel itself, between two of
/// its sends, while the other producers keep sending.
fn close_under_load(
    producers: usize,
    consumers: usize,
    close_after: usize,
    modes: [Mode; 3],
    producer_closes: bool,
) {
    let drops = DropCount::new();
    let received = Arc::new(AtomicUsize::new(0));
    let f = four();
    let ps: Vec<_> = (0..producers)
        .map(|p| {
            let (ss, d, n) = (f.s.clone(), drops.clone(), received.clone());
            spawn(modes[0], move || {
                let mut sent_ok = Vec::new();
                for i in 0.. {
                    if producer_closes && p == 0 && n.load(SeqCst) >= close_after {
                        assert_eq!(ss.iter().filter(|s| s.close()).count(), 4);
                    }
                    // gofer does not preempt: a producer whose sends never
                    // block (the unbounded channel) must yield now and then
                    // or it keeps its worker from the consumers and closer.
                    if i % 64 == 63 {
                        gofer_runtime::yield_now();
                    }
                    let m = Msg::new(p as u64 * STRIDE + i, &d);
                    let id = m.id;
                    let res = if p.is_multiple_of(2) {
                        select! {
                            send(ss[0], m) -> res => res,
                            send(ss[1], m) -> res => res,
                            send(ss[2], m) -> res => res,
                            send(ss[3], m) -> res => res,
                        }
                    } else {
                        ss[p / 2 % 4].send(m)
                    };
                    match res {
                        Ok(()) => sent_ok.push(id),
                        Err(SendError(m)) => {
                            assert_eq!(m.id, id, "a failed send returns its own message");
                            break;
                        }
                    }
                }
                sent_ok
            })
        })
        .collect();
    let cs: Vec<_> = (0..consumers)
        .map(|_| {
            let (rs, n) = (f.r.clone(), received.clone());
            spawn(modes[1], move || consume_four(rs, Some(&n)))
        })
        .collect();
    let closer = (!producer_closes).then(|| {
        let (ss, n) = (f.s.clone(), received.clone());
        spawn(modes[2], move || {
            while n.load(SeqCst) < close_after {
                pause(Duration::from_micros(200));
            }
            ss.iter().filter(|s| s.close()).count()
        })
    });
    // The test keeps a sender and a receiver of each channel: only close()
    // can end this.
    let keep = f;
    if let Some(closer) = closer {
        assert_eq!(closer.join(), 4, "each channel is closed once");
    }
    let sent: Vec<u64> = join_all(ps).into_iter().flatten().collect();
    let mut got: Vec<u64> = join_all(cs).into_iter().flatten().collect();
    for s in &keep.s {
        assert!(!s.close(), "closed already");
        assert!(s.send(Msg::new(u64::MAX, &drops)).is_err());
    }
    for r in &keep.r {
        assert!(r.recv().is_err(), "closed and drained");
    }
    let mut sent = sent;
    sent.sort_unstable();
    got.sort_unstable();
    assert!(
        sent.len() >= close_after,
        "closed before {close_after} sends"
    );
    if sent != got {
        let lost = sent
            .iter()
            .filter(|id| got.binary_search(id).is_err())
            .count();
        let extra = got
            .iter()
            .filter(|id| sent.binary_search(id).is_err())
            .count();
        let mut dedup = got.clone();
        dedup.dedup();
        panic!(
            "{} sent, {} received: {lost} lost, {extra} never sent, {} duplicated",
            sent.len(),
            got.len(),
            got.len() - dedup.len()
        );
    }
    drop(keep);
    // Made: each successful send, one failed send per producer, and the
    // four rejected above.
    assert_eq!(drops.get(), sent.len() + producers + 4, "drops");
}

#[test]
fn close_under_load_goroutines() {
    let _w = setup("close_under_load_goroutines");
    for _ in 0..5 {
        close_under_load(8, 4, 20_000, [G, G, G], false);
        close_under_load(8, 4, 20_000, [G, G, G], true);
    }
}

#[test]
fn close_under_load_threads() {
    let _w = setup("close_under_load_threads");
    for _ in 0..3 {
        close_under_load(8, 4, 3_000, [T, T, T], false);
        close_under_load(8, 4, 3_000, [T, T, T], true);
    }
}

#[test]
fn close_under_load_goroutines_and_threads() {
    let _w = setup("close_under_load_goroutines_and_threads");
    for _ in 0..3 {
        close_under_load(6, 4, 5_000, [G, T, G], false);
        close_under_load(6, 4, 5_000, [T, G, T], false);
        close_under_load(6, 4, 5_000, [G, T, G], true);
    }
}

/// Senders blocked on a full channel when the last receiver goes away, or
/// when it is closed: all wake with their message back; nothing leaks.
#[test]
fn blocked_senders_get_their_message_back_on_disconnect_and_close() {
    let _w = setup("blocked_senders_get_their_message_back_on_disconnect_and_close");
    for by_close in [false, true] {
        for cap in [Some(0), Some(1), Some(16)] {
            for mode in MODES {
                let drops = DropCount::new();
                let (s, r) = make::<Msg>(cap);
                let buffered = cap.unwrap();
                for id in 0..buffered as u64 {
                    s.send(Msg::new(id, &drops)).unwrap();
                }
                let n = mode.pick(200usize, 20);
                let blocked: Vec<_> = (0..n)
                    .map(|i| {
                        let (s, d) = (s.clone(), drops.clone());
                        let id = 1000 + i as u64;
                        spawn(mode, move || {
                            let m = Msg::new(id, &d);
                            let res = if i.is_multiple_of(2) {
                                s.send(m)
                            } else {
                                select! { send(s, m) -> res => res }
                            };
                            match res {
                                Ok(()) => panic!("a send to a full channel went through"),
                                Err(SendError(m)) => assert_eq!(m.id, id),
                            }
                        })
                    })
                    .collect();
                pause(BLOCK_PROBE);
                assert!(
                    blocked.iter().all(|t| !t.is_finished()),
                    "senders should block"
                );
                if by_close {
                    assert!(s.close());
                    let drained: Vec<u64> = r.try_iter().map(|m| m.id).collect();
                    assert_eq!(drained, (0..buffered as u64).collect::<Vec<_>>());
                    drop(r);
                } else {
                    drop(r); // the buffered messages go with the channel
                }
                join_all(blocked);
                drop(s);
                assert_eq!(
                    drops.get(),
                    buffered + n,
                    "{cap:?} {mode:?} close={by_close}"
                );
            }
        }
    }
}

/// Messages still in a channel when its handles are dropped are dropped
/// with it, exactly once, whatever happened before.
#[test]
fn messages_left_in_a_channel_are_dropped_exactly_once() {
    let _w = setup("messages_left_in_a_channel_are_dropped_exactly_once");
    for cap in [Some(1), Some(16), None] {
        for mode in MODES {
            for closed in [false, true] {
                let drops = DropCount::new();
                let (s, r) = make::<Msg>(cap);
                let room = cap.unwrap_or(1000) as u64;
                let made = Arc::new(AtomicU64::new(0));
                let (s2, d, m2) = (s.clone(), drops.clone(), made.clone());
                run(mode, move || {
                    for id in 0..room {
                        s2.send(Msg::new(id, &d)).unwrap();
                        m2.fetch_add(1, SeqCst);
                    }
                });
                let (r2, taken) = (r.clone(), room / 2);
                run(mode, move || {
                    for id in 0..taken {
                        assert_eq!(r2.recv().unwrap().id, id);
                    }
                });
                assert_eq!(drops.get(), taken as usize);
                if closed {
                    assert!(s.close());
                }
                drop((s, r));
                assert_eq!(drops.get() as u64, made.load(SeqCst), "{cap:?} {mode:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------
// Goroutine <-> thread rendezvous
// ---------------------------------------------------------------------

/// A goroutine and a thread bounce a message back and forth over two
/// channels of each flavor; the id must come back incremented each time.
#[test]
fn goroutine_thread_ping_pong_every_flavor() {
    let _w = setup("goroutine_thread_ping_pong_every_flavor");
    const ROUNDS: u64 = 2_000;
    for cap in FLAVORS {
        for (a, b) in [(G, T), (T, G), (G, G)] {
            let drops = DropCount::new();
            let (ping_s, ping_r) = make::<Msg>(cap);
            let (pong_s, pong_r) = make::<Msg>(cap);
            let d = drops.clone();
            let echo = spawn(b, move || {
                for m in ping_r.iter() {
                    let reply = Msg::new(m.id + 1, &d);
                    if m.id.is_multiple_of(2) {
                        pong_s.send(reply).unwrap();
                    } else {
                        select! { send(pong_s, reply) -> res => res.unwrap() }
                    }
                }
            });
            let d = drops.clone();
            let driver = spawn(a, move || {
                let mut id = 0;
                for _ in 0..ROUNDS {
                    ping_s.send(Msg::new(id, &d)).unwrap();
                    let back = select! {
                        recv(pong_r) -> m => m.unwrap(),
                        recv(never::<Msg>()) -> _ => unreachable!(),
                    };
                    assert_eq!(back.id, id + 1);
                    id = back.id + 1;
                }
                ping_s.close();
            });
            driver.join();
            echo.join();
            assert_eq!(drops.get() as u64, 2 * ROUNDS, "{cap:?} {a:?}->{b:?}");
        }
    }
}
