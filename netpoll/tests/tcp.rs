//! TCP over loopback between goroutines: echo, partial reads and writes,
//! large transfers in both directions at once, vectored I/O, half-close,
//! peek, shared handles (`try_clone`) and `into_std`.
//!
//! Every byte is checked: the data is a deterministic pseudo-random
//! stream that the receiver regenerates (or checksums) independently.

mod common;

use common::{LONG, Prng, child_role, drain, join_within, run_child, stream_checksum, tcp_pair};
use gofer_netpoll::{Shutdown, TcpListener, TcpStream};
use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// Bytes per direction in the large transfers.
const BIG: usize = if cfg!(debug_assertions) {
    8 << 20
} else {
    64 << 20
};

/// Writes `len` bytes of `Prng::new(seed)` in `chunk`-sized buffers with
/// plain `write` (never `write_all`), handling every short write; returns
/// how many writes were short.
fn write_stream(mut w: impl Write, seed: u64, len: usize, chunk: usize) -> std::io::Result<usize> {
    let mut rng = Prng::new(seed);
    let mut buf = vec![0; chunk];
    let (mut left, mut short) = (len, 0);
    while left > 0 {
        let n = left.min(chunk);
        rng.fill(&mut buf[..n]);
        let mut off = 0;
        while off < n {
            let k = w.write(&buf[off..n])?;
            assert!(k > 0, "write returned 0");
            if k < n - off {
                short += 1;
            }
            off += k;
        }
        left -= n;
    }
    Ok(short)
}

#[test]
fn echo_between_goroutines_many_clients() {
    if child_role().as_deref() == Some("single-worker") {
        assert_eq!(gofer_runtime::max_procs(), 1);
    }
    const CLIENTS: usize = 20;
    const ROUNDS: usize = 100;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let srv = {
        let served = served.clone();
        gofer_runtime::spawn(move || {
            let conns: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let (mut c, peer) = l.accept().unwrap();
                    assert_eq!(c.peer_addr().unwrap(), peer);
                    let served = served.clone();
                    gofer_runtime::spawn(move || {
                        let mut buf = [0; 1024];
                        loop {
                            let n = c.read(&mut buf).unwrap();
                            if n == 0 {
                                break;
                            }
                            c.write_all(&buf[..n]).unwrap();
                        }
                        served.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for c in conns {
                c.join().unwrap();
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            gofer_runtime::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for j in 0..ROUNDS {
                    let msg = format!("hello {i} {j}");
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
    assert_eq!(served.load(SeqCst), CLIENTS);
}

/// The echo test again, in a child process whose runtime has one worker:
/// server and clients only make progress by parking and being woken.
#[test]
fn echo_works_with_a_single_worker() {
    if child_role().is_some() {
        return;
    }
    run_child(
        "echo_between_goroutines_many_clients",
        "single-worker",
        &[("GOFER_MAXPROCS", "1".into())],
        Duration::from_secs(60),
    );
}

#[test]
fn small_reads_receive_large_partial_writes_byte_exact() {
    let len = BIG;
    let (c, s) = tcp_pair();
    let writer = gofer_runtime::spawn(move || {
        let short = write_stream(&c, 7, len, 1 << 20).unwrap();
        drop(c);
        short
    });
    let reader = gofer_runtime::spawn(move || {
        let mut s = s;
        let mut expected = Prng::new(7);
        let mut want = vec![0u8; 1 << 20];
        let (mut have, mut pos) = (0, 0);
        let mut sizes = Prng::new(99);
        let mut buf = [0u8; 97];
        let mut total = 0;
        loop {
            let k = sizes.range(1, buf.len());
            let n = s.read(&mut buf[..k]).unwrap();
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if pos == have {
                    let m = (len - total).min(want.len());
                    expected.fill(&mut want[..m]);
                    (have, pos) = (m, 0);
                }
                assert_eq!(b, want[pos], "byte {total} differs");
                pos += 1;
                total += 1;
            }
        }
        total
    });
    let short = join_within(writer, Duration::from_secs(60), "writer");
    assert_eq!(join_within(reader, Duration::from_secs(60), "reader"), len);
    // With 1 MiB writes against a reader taking < 100 bytes at a time, the
    // socket buffers fill up: writes must have come back short.
    // 8 MiB (64 in release) written 1 MiB at a time to a reader taking
    // < 100 bytes per read overflows the socket buffers: some writes must
    // have come back short (3 of 8 here in debug, 16 of 64 in release).
    assert!(
        short > 0,
        "no write was ever partial: the test missed its point"
    );
}

#[test]
fn large_transfer_both_directions_at_once_checksums_match() {
    let (c, s) = tcp_pair();
    let (c, s) = (Arc::new(c), Arc::new(s));
    let start = Instant::now();
    // Each side writes with odd-sized buffers and reads with another size.
    let spawn_side = |me: Arc<TcpStream>, seed: u64, wchunk: usize, rbuf: usize| {
        let w = me.clone();
        let writer = gofer_runtime::spawn(move || {
            write_stream(&*w, seed, BIG, wchunk).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let reader = gofer_runtime::spawn(move || drain(&*me, rbuf).unwrap());
        (writer, reader)
    };
    let (cw, cr) = spawn_side(c, 1, (1 << 20) + 3, 4093);
    let (sw, sr) = spawn_side(s, 2, 300_007, 65536);
    let limit = Duration::from_secs(120);
    join_within(cw, limit, "client writer");
    join_within(sw, limit, "server writer");
    let (n_c, sum_c) = join_within(cr, limit, "client reader");
    let (n_s, sum_s) = join_within(sr, limit, "server reader");
    assert_eq!(n_s, BIG, "server received the wrong amount");
    assert_eq!(n_c, BIG, "client received the wrong amount");
    assert_eq!(sum_s, stream_checksum(1, BIG, 1 << 20));
    assert_eq!(sum_c, stream_checksum(2, BIG, 1 << 20));
    eprintln!(
        "2 x {} MiB both ways at once in {:?}",
        BIG >> 20,
        start.elapsed()
    );
}

#[test]
fn vectored_writes_and_reads_are_byte_exact() {
    let (c, s) = tcp_pair();
    let len = BIG / 8;
    let writer = gofer_runtime::spawn(move || {
        let mut rng = Prng::new(3);
        let mut data = vec![0u8; len];
        rng.fill(&mut data);
        // Slices of uneven sizes, written with write_vectored only.
        let mut slices: Vec<IoSlice<'_>> = data.chunks(10_007).map(IoSlice::new).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = (&c).write_vectored(rest).unwrap();
            assert!(n > 0);
            IoSlice::advance_slices(&mut rest, n);
        }
    });
    let reader = gofer_runtime::spawn(move || {
        let (mut a, mut b) = ([0u8; 333], [0u8; 4444]);
        let mut got = Vec::with_capacity(len);
        loop {
            let mut bufs = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
            let n = (&s).read_vectored(&mut bufs).unwrap();
            if n == 0 {
                break got;
            }
            let k = n.min(a.len());
            got.extend_from_slice(&a[..k]);
            got.extend_from_slice(&b[..n - k]);
        }
    });
    join_within(writer, LONG, "writer");
    let got = join_within(reader, LONG, "reader");
    let mut want = vec![0u8; len];
    Prng::new(3).fill(&mut want);
    assert!(got == want, "vectored data differs");
}

#[test]
fn shutdown_write_lets_the_peer_read_to_eof_and_still_reply() {
    let (c, s) = tcp_pair();
    let server = gofer_runtime::spawn(move || {
        let mut s = s;
        let mut req = Vec::new();
        s.read_to_end(&mut req).unwrap();
        // The client's write half is closed; ours is still open.
        s.write_all(format!("got {} bytes", req.len()).as_bytes())
            .unwrap();
        s.write_all(&req).unwrap();
    });
    let client = gofer_runtime::spawn(move || {
        let mut c = c;
        c.write_all(b"request body").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        // Writing after our own shutdown fails; reading still works.
        assert_eq!(c.write(b"more").unwrap_err().kind(), ErrorKind::BrokenPipe);
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        reply
    });
    join_within(server, LONG, "server");
    assert_eq!(
        join_within(client, LONG, "client"),
        "got 12 bytesrequest body"
    );
}

#[test]
fn shutdown_read_makes_reads_return_eof() {
    let (c, s) = tcp_pair();
    let h = gofer_runtime::spawn(move || {
        s.shutdown(Shutdown::Read).unwrap();
        (&s).read(&mut [0; 8]).unwrap()
    });
    assert_eq!(join_within(h, LONG, "reader"), 0);
    drop(c);
}

#[test]
fn peek_leaves_data_queued() {
    let (mut c, s) = tcp_pair();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0; 5];
        // Waits for data like read does.
        let n = s.peek(&mut buf).unwrap();
        assert_eq!(&buf[..n], &b"hello"[..n]);
        let mut all = [0; 5];
        (&s).read_exact(&mut all).unwrap();
        all
    });
    gofer_runtime::sleep(Duration::from_millis(20));
    c.write_all(b"hello").unwrap();
    assert_eq!(&join_within(h, LONG, "peeker"), b"hello");
}

#[test]
fn dropping_the_last_handle_gives_the_peer_eof() {
    let (c, s) = tcp_pair();
    let c2 = c.try_clone().unwrap();
    let h = gofer_runtime::spawn(move || (&s).read(&mut [0; 8]).unwrap());
    drop(c);
    // One handle is still alive: the connection stays open.
    gofer_runtime::sleep(Duration::from_millis(50));
    assert!(!h.is_finished());
    drop(c2);
    assert_eq!(join_within(h, LONG, "reader"), 0);
}

#[test]
fn try_clone_shares_one_socket_including_close() {
    let (c, s) = tcp_pair();
    let c2 = c.try_clone().unwrap();
    // Written through one handle, read through the other.
    (&c2).write_all(b"ping").unwrap();
    let mut buf = [0; 4];
    (&s).read_exact(&mut buf).unwrap();
    (&s).write_all(b"pong").unwrap();
    (&c).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    // Timeouts are shared too.
    c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    assert_eq!(c2.read_timeout().unwrap(), Some(Duration::from_millis(30)));
    // A close through the clone is a close for both.
    assert!(c2.close());
    assert!(!c.close(), "the second close must report false");
    let e = (&c).read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionAborted);
    assert_eq!(
        c.try_clone().unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
    // The peer sees the connection end.
    assert_eq!((&s).read(&mut buf).unwrap(), 0);
}

#[test]
fn into_std_gives_back_the_stream_only_from_the_last_handle() {
    let (c, mut s) = tcp_pair();
    let c2 = c.try_clone().unwrap();
    let c = c.into_std().expect_err("another handle exists");
    drop(c2);
    let mut std_c = c.into_std().expect("last handle");
    std_c.set_nonblocking(false).unwrap();
    std_c.write_all(b"plain std").unwrap();
    let mut buf = [0; 9];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"plain std");
}

#[test]
fn from_std_wraps_std_sockets_for_goroutines() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let l = TcpListener::from_std(l).unwrap();
    let std_c = std::net::TcpStream::connect(addr).unwrap();
    let c = TcpStream::from_std(std_c).unwrap();
    let h = gofer_runtime::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0; 3];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    gofer_runtime::sleep(Duration::from_millis(10));
    (&c).write_all(b"std").unwrap();
    assert_eq!(&join_within(h, LONG, "acceptor"), b"std");
}

#[test]
fn incoming_yields_each_connection() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = gofer_runtime::spawn(move || {
        let mut got = Vec::new();
        for conn in l.incoming().take(3) {
            let mut b = [0; 1];
            conn.unwrap().read_exact(&mut b).unwrap();
            got.push(b[0]);
        }
        got.sort();
        got
    });
    let clients: Vec<_> = (0..3u8)
        .map(|i| {
            gofer_runtime::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(&[i]).unwrap();
                c
            })
        })
        .collect();
    let _conns: Vec<_> = clients
        .into_iter()
        .map(|c| join_within(c, LONG, "client"))
        .collect();
    assert_eq!(join_within(h, LONG, "incoming"), vec![0, 1, 2]);
}

#[test]
fn socket_options_and_addresses_mirror_std() {
    let (c, s) = tcp_pair();
    c.set_nodelay(true).unwrap();
    assert!(c.nodelay().unwrap());
    c.set_ttl(42).unwrap();
    assert_eq!(c.ttl().unwrap(), 42);
    assert_eq!(c.local_addr().unwrap(), s.peer_addr().unwrap());
    assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
    assert!(c.take_error().unwrap().is_none());
    assert_eq!(c.read_timeout().unwrap(), None);
    c.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(c.write_timeout().unwrap(), Some(Duration::from_secs(3)));
    c.set_write_timeout(None).unwrap();
    assert_eq!(c.write_timeout().unwrap(), None);
    let dbg = format!("{c:?}");
    assert!(dbg.contains("TcpStream"), "{dbg}");
}

// ---- the short-read hint (`Registration::read_stream`) -----------------
//
// After a read that returned less than it asked for, a goroutine's next
// read waits for the poller instead of asking the kernel. These pin that
// it never waits for something that already happened.

/// Data and the peer's FIN queued before the socket was ever waited on: the
/// short read takes the data, and the next read must see end-of-stream.
#[test]
fn after_a_short_read_the_peers_close_is_seen_on_a_socket_never_waited_on() {
    let h = gofer_runtime::spawn(|| {
        let (mut c, mut s) = tcp_pair();
        c.write_all(b"ab").unwrap();
        drop(c);
        gofer_runtime::sleep(Duration::from_millis(20)); // data and FIN arrive
        let mut buf = [0u8; 16];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        assert_eq!(s.read(&mut buf).unwrap(), 0, "end of stream");
        assert_eq!(s.read(&mut buf).unwrap(), 0, "still end of stream");
    });
    join_within(h, Duration::from_secs(10), "reader");
}

/// The same on a socket registered with the poller, whose FIN edge was
/// reported before the short read: no edge will ever come after it.
#[test]
fn after_a_short_read_the_peers_close_is_seen_on_a_registered_socket() {
    let (mut c, mut s) = tcp_pair();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0u8; 16];
        // Waits for the data (which registers the socket), then lets the
        // worker go idle and poll, so the FIN's edge is taken too.
        s.peek(&mut buf[..1]).unwrap();
        gofer_runtime::sleep(Duration::from_millis(20));
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        assert_eq!(s.read(&mut buf).unwrap(), 0, "end of stream");
    });
    std::thread::sleep(Duration::from_millis(20));
    c.write_all(b"ab").unwrap();
    drop(c);
    join_within(h, Duration::from_secs(10), "reader");
}

/// Messages trickling in one at a time: every read is short, every next
/// one must still get the next message.
#[test]
fn after_a_short_read_data_that_arrives_later_is_read() {
    const N: u8 = 50;
    let (mut c, mut s) = tcp_pair();
    let reader = gofer_runtime::spawn(move || {
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < N as usize {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "early end of stream after {} bytes", got.len());
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    for i in 0..N {
        c.write_all(&[i]).unwrap();
        if i % 5 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let got = join_within(reader, Duration::from_secs(10), "reader");
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

/// A reset by the peer after a short read comes out as an error (or end of
/// stream), not as a reader waiting forever.
#[test]
fn after_a_short_read_a_reset_is_reported() {
    let (c, s) = tcp_pair();
    // Bytes the peer will never read: closing it then sends RST, not FIN.
    (&s).write_all(b"never read").unwrap();
    let mut b = [0; 1];
    assert_eq!(c.peek(&mut b).unwrap(), 1);
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0u8; 16];
        assert_eq!((&s).read(&mut buf).unwrap(), 1);
        match (&s).read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected a reset, got {other:?}"),
        }
    });
    (&c).write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(c);
    join_within(h, Duration::from_secs(10), "reader");
}
