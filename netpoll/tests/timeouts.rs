//! Timeouts (std's `set_read_timeout`/`set_write_timeout`,
//! `connect_timeout`) and Go-style deadlines (`set_read_deadline`,
//! `set_write_deadline`, `set_deadline`, and the listener's `set_deadline`
//! for `accept`), in goroutines and in plain threads.
//!
//! Every expiry must fail with `ErrorKind::TimedOut`, never before its time
//! (lower bounds are exact), and within generous upper bounds (seconds).

mod common;

use common::{Ctx, LONG, in_goroutine_and_thread, join_within, nap, run_in, tcp_pair};
use gofer_netpoll::{SocketAddr, TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(100);

/// Runs `op`, checking that it fails with `TimedOut` no earlier than `at
/// least` after the call and within `LONG`.
fn times_out<T: std::fmt::Debug>(at_least: Duration, op: impl FnOnce() -> std::io::Result<T>) {
    let t = Instant::now();
    let r = op();
    let took = t.elapsed();
    match r {
        Err(e) => assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}"),
        Ok(v) => panic!("expected a timeout, got {v:?}"),
    }
    assert!(
        took >= at_least,
        "timed out early: after {took:?} < {at_least:?}"
    );
    assert!(took < LONG, "timed out late: after {took:?}");
}

/// Writes until a write fails; returns that error and how long the
/// failing write took. Bounded: the buffers hold far less than 1 GiB.
fn write_until_error(s: &TcpStream) -> (std::io::Error, Duration) {
    let chunk = vec![0x5a; 64 << 10];
    let mut total = 0usize;
    loop {
        let t = Instant::now();
        match (&*s).write(&chunk) {
            Ok(n) => total += n,
            Err(e) => return (e, t.elapsed()),
        }
        assert!(total < 1 << 30, "writes never blocked");
    }
}

#[test]
fn read_timeout_fails_with_timed_out_and_the_stream_still_works() {
    in_goroutine_and_thread(|_| {
        let (c, s) = tcp_pair();
        c.set_read_timeout(Some(SHORT)).unwrap();
        times_out(SHORT, || (&c).read(&mut [0; 8]));
        // A timeout does not break the connection.
        (&s).write_all(b"late").unwrap();
        let mut buf = [0; 4];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
    });
}

#[test]
fn write_timeout_fails_once_the_peer_stops_reading() {
    in_goroutine_and_thread(|_| {
        let (c, s) = tcp_pair();
        c.set_write_timeout(Some(SHORT)).unwrap();
        let (e, took) = write_until_error(&c);
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(took >= SHORT, "write timed out early: {took:?}");
        assert!(took < LONG);
        // Once the peer reads, writing works again.
        let reader = std::thread::spawn(move || common::drain(&s, 1 << 16).unwrap().0);
        (&c).write_all(b"after").unwrap();
        drop(c);
        assert!(reader.join().unwrap() > 5);
    });
}

#[test]
fn read_deadline_in_the_future_times_out_not_before_it() {
    in_goroutine_and_thread(|_| {
        let (c, _s) = tcp_pair();
        let start = Instant::now();
        c.set_read_deadline(Some(start + SHORT));
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
        assert!(start.elapsed() >= SHORT);
        // Still expired: the next read fails at once.
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
    });
}

#[test]
fn read_deadline_in_the_past_fails_at_once_when_no_data_is_there() {
    in_goroutine_and_thread(|_| {
        let (c, _s) = tcp_pair();
        c.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)));
        let t = Instant::now();
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a past deadline waited"
        );
    });
}

/// Go: "an I/O operation after the deadline has been exceeded returns an
/// error", whether or not data is buffered; gofer's docs say the same
/// ("reads fail with TimedOut once deadline has passed").
#[test]
fn read_deadline_in_the_past_fails_even_with_data_buffered() {
    in_goroutine_and_thread(|_| {
        let (c, s) = tcp_pair();
        (&s).write_all(b"buffered").unwrap();
        nap(Duration::from_millis(20));
        c.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)));
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
    });
}

#[test]
fn data_arriving_before_the_deadline_is_returned() {
    in_goroutine_and_thread(|_| {
        let (c, s) = tcp_pair();
        c.set_read_deadline(Some(Instant::now() + LONG));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            (&s).write_all(b"in time").unwrap();
            s
        });
        let mut buf = [0; 7];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"in time");
        writer.join().unwrap();
    });
}

#[test]
fn clearing_an_expired_deadline_lets_reads_wait_again() {
    in_goroutine_and_thread(|_| {
        let (c, s) = tcp_pair();
        c.set_read_deadline(Some(Instant::now()));
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
        c.set_read_deadline(None);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            (&s).write_all(b"x").unwrap();
            s
        });
        assert_eq!((&c).read(&mut [0; 8]).unwrap(), 1);
        writer.join().unwrap();
    });
}

#[test]
fn the_earlier_of_timeout_and_deadline_wins() {
    in_goroutine_and_thread(|_| {
        let (c, _s) = tcp_pair();
        // The deadline is earlier.
        c.set_read_timeout(Some(LONG)).unwrap();
        let start = Instant::now();
        c.set_read_deadline(Some(start + SHORT));
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
        assert!(start.elapsed() >= SHORT);
        // The timeout is earlier.
        c.set_read_timeout(Some(SHORT)).unwrap();
        c.set_read_deadline(Some(Instant::now() + LONG));
        times_out(SHORT, || (&c).read(&mut [0; 8]));
    });
}

#[test]
fn write_deadline_fails_a_blocked_write() {
    in_goroutine_and_thread(|_| {
        let (c, _s) = tcp_pair();
        let start = Instant::now();
        c.set_write_deadline(Some(start + SHORT));
        let (e, _) = write_until_error(&c);
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= SHORT);
    });
}

#[test]
fn set_deadline_covers_reads_and_writes() {
    in_goroutine_and_thread(|_| {
        let (c, _s) = tcp_pair();
        let start = Instant::now();
        c.set_deadline(Some(start + SHORT));
        times_out(Duration::ZERO, || (&c).read(&mut [0; 8]));
        assert!(start.elapsed() >= SHORT);
        let (e, _) = write_until_error(&c);
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        // Cleared: a read waits again (here, for its own timeout).
        c.set_deadline(None);
        c.set_read_timeout(Some(SHORT)).unwrap();
        times_out(SHORT, || (&c).read(&mut [0; 8]));
    });
}

#[test]
fn zero_durations_are_invalid_input() {
    let (c, _s) = tcp_pair();
    let e = c.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = c.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(c.read_timeout().unwrap(), None);
    let addr = c.peer_addr().unwrap();
    let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

// ---- deadlines changed while an operation waits ------------------------
//
// Go: "A deadline can be changed while an I/O operation is waiting; it
// then applies to that operation." gofer's docs promise the same
// (`set_read_deadline`: "including one already waiting").

/// Waits at most `limit` for `h`; on failure closes `s` (to free the
/// waiter) and panics with `what`.
fn expect_within<T>(
    h: gofer_runtime::JoinHandle<T>,
    s: &TcpStream,
    limit: Duration,
    what: &str,
) -> T {
    let start = Instant::now();
    while !h.is_finished() {
        if start.elapsed() > limit {
            s.close();
            let _ = h.join();
            panic!("{what}: still waiting after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    h.join().unwrap()
}

#[test]
fn deadline_set_while_a_goroutine_waits_wakes_it() {
    let (c, _s) = tcp_pair();
    let c = Arc::new(c);
    let reader = {
        let c = c.clone();
        gofer_runtime::spawn(move || {
            let t = Instant::now();
            ((&*c).read(&mut [0; 8]).map_err(|e| e.kind()), t.elapsed())
        })
    };
    gofer_runtime::sleep(Duration::from_millis(50));
    let set = Instant::now();
    c.set_read_deadline(Some(set + SHORT));
    let (r, _) = expect_within(reader, &c, Duration::from_secs(3), "reader");
    assert_eq!(r, Err(ErrorKind::TimedOut));
    assert!(set.elapsed() >= SHORT);
}

#[test]
fn deadline_shortened_while_a_thread_waits_wakes_it_by_the_new_deadline() {
    let (c, _s) = tcp_pair();
    let c = Arc::new(c);
    c.set_read_deadline(Some(Instant::now() + Duration::from_secs(30)));
    let reader = {
        let c = c.clone();
        std::thread::spawn(move || (&*c).read(&mut [0; 8]).map_err(|e| e.kind()))
    };
    std::thread::sleep(Duration::from_millis(50));
    let set = Instant::now();
    c.set_read_deadline(Some(set + SHORT));
    let start = Instant::now();
    while !reader.is_finished() {
        if start.elapsed() > Duration::from_secs(3) {
            c.close();
            let _ = reader.join();
            panic!("reader thread still waiting 3 s after its deadline was moved to 100 ms");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(reader.join().unwrap(), Err(ErrorKind::TimedOut));
    assert!(set.elapsed() >= SHORT);
}

#[test]
fn deadline_extended_while_a_goroutine_waits_is_honoured() {
    let (c, s) = tcp_pair();
    let c = Arc::new(c);
    c.set_read_deadline(Some(Instant::now() + Duration::from_millis(300)));
    let reader = {
        let c = c.clone();
        gofer_runtime::spawn(move || (&*c).read(&mut [0; 8]).map_err(|e| e.kind()))
    };
    gofer_runtime::sleep(Duration::from_millis(50));
    c.set_read_deadline(Some(Instant::now() + LONG));
    // After the old deadline, before the new one, data arrives.
    gofer_runtime::sleep(Duration::from_millis(500));
    (&s).write_all(b"ok").unwrap();
    let r = expect_within(reader, &c, Duration::from_secs(3), "reader");
    assert_eq!(r, Ok(2), "the read failed at the old deadline");
}

// ---- accept and connect --------------------------------------------------

#[test]
fn accept_deadline_on_the_listener_times_out_and_can_be_cleared() {
    in_goroutine_and_thread(|_| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        l.set_deadline(Some(start + SHORT));
        times_out(Duration::ZERO, || l.accept());
        assert!(start.elapsed() >= SHORT);
        // The listener still works once the deadline is cleared.
        l.set_deadline(None);
        let addr = l.local_addr().unwrap();
        let c = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::net::TcpStream::connect(addr).unwrap()
        });
        let (s, peer) = l.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), peer);
        c.join().unwrap();
    });
}

/// A listener nobody accepts from, its backlog full: a further SYN is
/// dropped, so a connect to it neither succeeds nor fails by itself.
fn full_backlog_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut held = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == ErrorKind::TimedOut => return (l, held),
            Err(e) => panic!("filling the backlog: {e}"),
        }
        assert!(held.len() < 10_000, "the backlog never filled");
    }
}

#[test]
fn connect_timeout_to_a_listener_with_a_full_backlog_times_out() {
    let (l, held) = full_backlog_listener();
    let addr: SocketAddr = l.local_addr().unwrap();
    in_goroutine_and_thread(move |_| {
        times_out(Duration::from_millis(300), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(300))
        });
    });
    drop((l, held));
}

#[test]
fn connect_timeout_succeeds_when_the_listener_answers() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    for ctx in [Ctx::Goroutine, Ctx::Thread] {
        let c = run_in(ctx, move || {
            TcpStream::connect_timeout(&addr, LONG).unwrap()
        });
        let (s, _) = l.accept().unwrap();
        (&c).write_all(b"hi").unwrap();
        let mut buf = [0; 2];
        (&s).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }
}

/// A timed-out read in a goroutine leaves no waiter behind: many
/// timeouts in a row do not pile up, and the next read still gets data.
#[test]
fn many_timeouts_in_a_row_leave_the_socket_usable() {
    let (c, s) = tcp_pair();
    let (ready_tx, ready_rx) = gofer_chan::bounded::<()>(1);
    let h = gofer_runtime::spawn(move || {
        c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        for _ in 0..200 {
            let e = (&c).read(&mut [0; 8]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
        }
        c.set_read_timeout(Some(LONG)).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0; 4];
        (&c).read_exact(&mut buf).unwrap();
        buf
    });
    ready_rx.recv_timeout(LONG).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    (&s).write_all(b"data").unwrap();
    assert_eq!(&join_within(h, LONG, "reader"), b"data");
}
