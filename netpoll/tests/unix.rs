//! Unix-domain sockets: `UnixListener`/`UnixStream` (bind, connect, pair,
//! echo, half-close, large transfers, timeouts, accept deadline, connect
//! errors) and `UnixDatagram` (bound, unbound, pair, connected; timeouts;
//! a sender blocked on a full peer queue). Socket files live in the temp
//! dir under per-process names and are removed afterwards.

mod common;

use common::{
    Ctx, LONG, Prng, RemoveOnDrop, drain, in_goroutine_and_thread, join_within, nap, run_in,
    socket_path, stream_checksum,
};
use gofer_netpoll::{Shutdown, UnixDatagram, UnixListener, UnixStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(100);

#[test]
fn listener_and_connect_echo_between_goroutines() {
    const CLIENTS: usize = 10;
    let path = socket_path("echo");
    let _rm = RemoveOnDrop(path.clone());
    let l = UnixListener::bind(&path).unwrap();
    assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    let srv = gofer_runtime::spawn(move || {
        let conns: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (mut c, _) = l.accept().unwrap();
                gofer_runtime::spawn(move || {
                    let mut buf = [0; 512];
                    loop {
                        match c.read(&mut buf).unwrap() {
                            0 => break,
                            n => c.write_all(&buf[..n]).unwrap(),
                        }
                    }
                })
            })
            .collect();
        for c in conns {
            c.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let path = path.clone();
            gofer_runtime::spawn(move || {
                let mut s = UnixStream::connect(&path).unwrap();
                assert_eq!(s.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
                for j in 0..100 {
                    let msg = format!("unix {i} {j}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut buf = vec![0; msg.len()];
                    s.read_exact(&mut buf).unwrap();
                    assert_eq!(buf, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        join_within(c, LONG, "client");
    }
    join_within(srv, LONG, "server");
}

#[test]
fn pair_works_between_a_goroutine_and_a_thread() {
    let (a, b) = UnixStream::pair().unwrap();
    let g = gofer_runtime::spawn(move || {
        let mut a = a;
        for i in 0..200u32 {
            a.write_all(&i.to_le_bytes()).unwrap();
            let mut back = [0; 4];
            a.read_exact(&mut back).unwrap();
            assert_eq!(u32::from_le_bytes(back), i + 1);
        }
    });
    let t = std::thread::spawn(move || {
        let mut b = b;
        for _ in 0..200 {
            let mut x = [0; 4];
            b.read_exact(&mut x).unwrap();
            b.write_all(&(u32::from_le_bytes(x) + 1).to_le_bytes())
                .unwrap();
        }
    });
    join_within(g, LONG, "goroutine side");
    common::join_thread_within(t, LONG, "thread side");
}

#[test]
fn large_transfer_both_directions_at_once_checksums_match() {
    let len = if cfg!(debug_assertions) {
        4 << 20
    } else {
        32 << 20
    };
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let side = |me: Arc<UnixStream>, seed: u64| {
        let w = me.clone();
        let writer = gofer_runtime::spawn(move || {
            let mut rng = Prng::new(seed);
            let mut buf = vec![0; 200_003];
            let mut left = len;
            while left > 0 {
                let n = left.min(buf.len());
                rng.fill(&mut buf[..n]);
                let mut off = 0;
                while off < n {
                    off += (&*w).write(&buf[off..n]).unwrap();
                }
                left -= n;
            }
            w.shutdown(Shutdown::Write).unwrap();
        });
        let reader = gofer_runtime::spawn(move || drain(&*me, 3001).unwrap());
        (writer, reader)
    };
    let (aw, ar) = side(a, 11);
    let (bw, br) = side(b, 12);
    let limit = Duration::from_secs(60);
    join_within(aw, limit, "a writer");
    join_within(bw, limit, "b writer");
    assert_eq!(
        join_within(ar, limit, "a reader"),
        (len, stream_checksum(12, len, 4096))
    );
    assert_eq!(
        join_within(br, limit, "b reader"),
        (len, stream_checksum(11, len, 4096))
    );
}

#[test]
fn shutdown_write_lets_the_peer_read_to_eof_and_still_reply() {
    in_goroutine_and_thread(|_| {
        let (a, b) = UnixStream::pair().unwrap();
        let peer = std::thread::spawn(move || {
            let mut b = b;
            let mut req = String::new();
            b.read_to_string(&mut req).unwrap();
            b.write_all(req.to_uppercase().as_bytes()).unwrap();
        });
        let mut a = a;
        a.write_all(b"half closed").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        a.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "HALF CLOSED");
        peer.join().unwrap();
    });
}

#[test]
fn stream_read_timeout_and_deadline_fail_with_timed_out() {
    in_goroutine_and_thread(|_| {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(SHORT)).unwrap();
        assert_eq!(a.read_timeout().unwrap(), Some(SHORT));
        let t = Instant::now();
        let e = (&a).read(&mut [0; 4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(t.elapsed() >= SHORT && t.elapsed() < LONG);

        a.set_read_timeout(None).unwrap();
        let start = Instant::now();
        a.set_read_deadline(Some(start + SHORT));
        let e = (&a).read(&mut [0; 4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= SHORT);
    });
}

#[test]
fn stream_write_timeout_fails_once_the_peer_stops_reading() {
    in_goroutine_and_thread(|_| {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_write_timeout(Some(SHORT)).unwrap();
        assert_eq!(a.write_timeout().unwrap(), Some(SHORT));
        let chunk = vec![1u8; 64 << 10];
        let mut total = 0usize;
        let (e, took) = loop {
            let t = Instant::now();
            match (&a).write(&chunk) {
                Ok(n) => total += n,
                Err(e) => break (e, t.elapsed()),
            }
            assert!(total < 1 << 30, "writes never blocked");
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(took >= SHORT, "timed out early: {took:?}");
    });
}

#[test]
fn accept_deadline_times_out_and_the_listener_still_works() {
    in_goroutine_and_thread(|_| {
        let path = socket_path("accept-deadline");
        let _rm = RemoveOnDrop(path.clone());
        let l = UnixListener::bind(&path).unwrap();
        let start = Instant::now();
        l.set_deadline(Some(start + SHORT));
        let e = l.accept().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= SHORT);
        l.set_deadline(None);
        let c = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            std::os::unix::net::UnixStream::connect(&path).unwrap()
        });
        let (mut s, _) = l.accept().unwrap();
        let mut c = c.join().unwrap();
        c.write_all(b"late").unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
    });
}

#[test]
fn connect_errors_are_returned_at_once() {
    in_goroutine_and_thread(|_| {
        // No such file.
        let missing = socket_path("missing");
        let e = UnixStream::connect(&missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        // A socket file nobody listens on any more.
        let stale = socket_path("stale");
        let _rm = RemoveOnDrop(stale.clone());
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let e = UnixStream::connect(&stale).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    });
}

/// std's (blocking) connect waits while the listener's backlog is full and
/// Go's returns EAGAIN; either is fine, but the call must come back — here,
/// once the listener accepts one connection, within a few seconds.
#[test]
fn connect_to_a_full_backlog_comes_back() {
    for ctx in [Ctx::Goroutine, Ctx::Thread] {
        let path = socket_path("full");
        let _rm = RemoveOnDrop(path.clone());
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        // Fill the backlog with non-blocking std connects until EAGAIN.
        let mut held = Vec::new();
        loop {
            let s = socket2_free_nonblocking_connect(&path);
            match s {
                Ok(s) => held.push(s),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the backlog: {e}"),
            }
            assert!(held.len() < 100_000);
        }
        let p = path.clone();
        let waiter = move || UnixStream::connect(&p).map(drop).map_err(|e| e.kind());
        let done: Box<dyn Fn() -> bool> = match ctx {
            Ctx::Goroutine => {
                let h = gofer_runtime::spawn(waiter);
                Box::new(move || h.is_finished())
            }
            Ctx::Thread => {
                let h = std::thread::spawn(waiter);
                Box::new(move || h.is_finished())
            }
        };
        std::thread::sleep(Duration::from_millis(200));
        // Make room (for the helper still blocked in its std connect, too).
        let _accepted: Vec<_> = (0..10).map(|_| l.accept().unwrap()).collect();
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "connect in a {ctx:?} still stuck 3 s after the backlog had room"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(held);
    }
}

/// A non-blocking connect with std only: connect in a helper thread that
/// gives up (via a timeout on a channel) when the backlog is full.
fn socket2_free_nonblocking_connect(
    path: &std::path::Path,
) -> std::io::Result<std::os::unix::net::UnixStream> {
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.to_owned();
    std::thread::spawn(move || {
        let _ = tx.send(std::os::unix::net::UnixStream::connect(p));
    });
    match rx.recv_timeout(Duration::from_millis(200)) {
        Ok(r) => r,
        // The helper stays blocked in connect until the test makes room;
        // its connection then lands in the backlog, which is harmless.
        Err(_) => Err(ErrorKind::WouldBlock.into()),
    }
}

// ---- datagrams --------------------------------------------------------------

#[test]
fn bound_datagram_sockets_round_trip_with_addresses() {
    in_goroutine_and_thread(|_| {
        let (pa, pb) = (socket_path("dg-a"), socket_path("dg-b"));
        let _rm = (RemoveOnDrop(pa.clone()), RemoveOnDrop(pb.clone()));
        let a = UnixDatagram::bind(&pa).unwrap();
        let b = UnixDatagram::bind(&pb).unwrap();
        b.set_read_timeout(Some(LONG)).unwrap();
        a.set_read_timeout(Some(LONG)).unwrap();
        for i in 0..100u32 {
            a.send_to(&i.to_le_bytes(), &pb).unwrap();
            let mut buf = [0; 16];
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
            assert_eq!(from.as_pathname(), Some(pa.as_path()));
            b.send_to(&buf[..n], &pa).unwrap();
            let (n, _) = a.recv_from(&mut buf).unwrap();
            assert_eq!(n, 4);
        }
    });
}

#[test]
fn unbound_datagram_socket_can_send() {
    let pb = socket_path("dg-unbound");
    let _rm = RemoveOnDrop(pb.clone());
    let b = UnixDatagram::bind(&pb).unwrap();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert!(from.is_unnamed());
        buf[..n].to_vec()
    });
    gofer_runtime::sleep(Duration::from_millis(20));
    UnixDatagram::unbound()
        .unwrap()
        .send_to(b"anon", &pb)
        .unwrap();
    assert_eq!(join_within(h, LONG, "receiver"), b"anon");
}

#[test]
fn datagram_pair_and_connect_send_and_recv() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0; 16];
        let mut sizes = vec![];
        for _ in 0..3 {
            sizes.push(b.recv(&mut buf).unwrap());
        }
        sizes
    });
    for n in [3usize, 1, 9] {
        a.send(&vec![0; n]).unwrap();
    }
    assert_eq!(join_within(h, LONG, "receiver"), vec![3, 1, 9]);

    let pb = socket_path("dg-connect");
    let _rm = RemoveOnDrop(pb.clone());
    let b = UnixDatagram::bind(&pb).unwrap();
    let a = UnixDatagram::unbound().unwrap();
    a.connect(&pb).unwrap();
    assert_eq!(a.peer_addr().unwrap().as_pathname(), Some(pb.as_path()));
    a.send(b"connected").unwrap();
    let mut buf = [0; 16];
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"connected");
}

#[test]
fn datagram_recv_timeout_and_deadline_fail_with_timed_out() {
    in_goroutine_and_thread(|_| {
        let (a, _b) = UnixDatagram::pair().unwrap();
        a.set_read_timeout(Some(SHORT)).unwrap();
        let t = Instant::now();
        let e = a.recv(&mut [0; 4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(t.elapsed() >= SHORT);
        a.set_read_timeout(None).unwrap();
        let start = Instant::now();
        a.set_read_deadline(Some(start + SHORT));
        let e = a.recv(&mut [0; 4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= SHORT);
    });
}

/// A sender whose peer's queue is full blocks (write timeout: TimedOut),
/// and a sender blocked without a timeout wakes once the peer drains.
#[test]
fn datagram_sender_blocked_on_a_full_peer_wakes_when_it_drains() {
    in_goroutine_and_thread(|ctx| {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.set_write_timeout(Some(SHORT)).unwrap();
        let mut sent = 0usize;
        let e = loop {
            match a.send(&[0u8; 256]) {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 1_000_000, "sends never blocked");
        };
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        a.set_write_timeout(None).unwrap();
        // Drain from the other kind of context, a little later.
        let other = if ctx == Ctx::Goroutine {
            Ctx::Thread
        } else {
            Ctx::Goroutine
        };
        let drainer = std::thread::spawn(move || {
            run_in(other, move || {
                nap(Duration::from_millis(100));
                let mut buf = [0; 256];
                for _ in 0..=sent {
                    b.recv(&mut buf).unwrap();
                }
            })
        });
        // Blocks until the drainer makes room.
        let t = Instant::now();
        a.send(&[1u8; 256]).unwrap();
        assert!(t.elapsed() < LONG);
        drainer.join().unwrap();
    });
}
