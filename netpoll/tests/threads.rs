//! The same sockets from plain `std::thread`s only — no goroutine anywhere
//! in this test binary: connect, accept, read, write, send_to, recv_from
//! all block the calling thread (in `poll(2)`), work, and time out
//! properly with `ErrorKind::TimedOut`.

mod common;

use common::{LONG, drain, join_thread_within, stream_checksum, tcp_pair};
use gofer_netpoll::{Shutdown, TcpListener, TcpStream, UdpSocket, UnixStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(100);

fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        assert!(!gofer_runtime::park::in_goroutine());
        f()
    })
}

#[test]
fn tcp_echo_between_threads() {
    const CLIENTS: usize = 8;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = spawn(move || {
        let handlers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (mut c, _) = l.accept().unwrap();
                spawn(move || {
                    let mut buf = [0; 256];
                    loop {
                        match c.read(&mut buf).unwrap() {
                            0 => break,
                            n => c.write_all(&buf[..n]).unwrap(),
                        }
                    }
                })
            })
            .collect();
        for h in handlers {
            h.join().unwrap();
        }
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for j in 0..50 {
                    let msg = format!("thread {i} {j}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut buf = vec![0; msg.len()];
                    s.read_exact(&mut buf).unwrap();
                    assert_eq!(buf, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        join_thread_within(c, LONG, "client");
    }
    join_thread_within(server, LONG, "server");
}

#[test]
fn tcp_large_transfer_between_threads_both_directions() {
    let len = if cfg!(debug_assertions) {
        4 << 20
    } else {
        32 << 20
    };
    let (c, s) = tcp_pair();
    let (c, s) = (Arc::new(c), Arc::new(s));
    let side = |me: Arc<TcpStream>, seed: u64| {
        let w = me.clone();
        let writer = spawn(move || {
            let mut rng = common::Prng::new(seed);
            let mut buf = vec![0; 1 << 20];
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
        let reader = spawn(move || drain(&*me, 1000).unwrap());
        (writer, reader)
    };
    let (cw, cr) = side(c, 21);
    let (sw, sr) = side(s, 22);
    let limit = Duration::from_secs(60);
    join_thread_within(cw, limit, "writer");
    join_thread_within(sw, limit, "writer");
    assert_eq!(
        join_thread_within(cr, limit, "reader"),
        (len, stream_checksum(22, len, 1))
    );
    assert_eq!(
        join_thread_within(sr, limit, "reader"),
        (len, stream_checksum(21, len, 1))
    );
}

#[test]
fn tcp_read_waits_in_a_thread_until_data_arrives() {
    let (c, s) = tcp_pair();
    let reader = spawn(move || {
        let mut buf = [0; 5];
        (&c).read_exact(&mut buf).unwrap();
        buf
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(!reader.is_finished());
    (&s).write_all(b"later").unwrap();
    assert_eq!(&join_thread_within(reader, LONG, "reader"), b"later");
}

#[test]
fn tcp_accept_waits_in_a_thread_until_a_connection_arrives() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = spawn(move || l.accept().unwrap().1);
    std::thread::sleep(Duration::from_millis(50));
    assert!(!acceptor.is_finished());
    let c = TcpStream::connect(addr).unwrap();
    assert_eq!(
        join_thread_within(acceptor, LONG, "acceptor"),
        c.local_addr().unwrap()
    );
}

#[test]
fn thread_timeouts_fail_with_timed_out_not_early() {
    let (c, _s) = tcp_pair();
    // read timeout
    c.set_read_timeout(Some(SHORT)).unwrap();
    let t = Instant::now();
    assert_eq!(
        (&c).read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(t.elapsed() >= SHORT && t.elapsed() < LONG);
    // read deadline
    c.set_read_timeout(None).unwrap();
    let start = Instant::now();
    c.set_read_deadline(Some(start + SHORT));
    assert_eq!(
        (&c).read(&mut [0; 4]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(start.elapsed() >= SHORT);
    // write timeout, once the buffers are full
    c.set_write_timeout(Some(SHORT)).unwrap();
    let chunk = vec![0u8; 64 << 10];
    let (e, took) = loop {
        let t = Instant::now();
        if let Err(e) = (&c).write(&chunk) {
            break (e, t.elapsed());
        }
    };
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(took >= SHORT);
    // accept deadline
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    l.set_deadline(Some(start + SHORT));
    assert_eq!(l.accept().unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(start.elapsed() >= SHORT);
}

#[test]
fn thread_connect_refused_and_connect_timeout() {
    let addr = common::unused_port();
    let t = Instant::now();
    let e = TcpStream::connect(addr).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert!(t.elapsed() < Duration::from_secs(2));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect_timeout(&l.local_addr().unwrap(), LONG).unwrap();
    let (s, _) = l.accept().unwrap();
    assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
}

#[test]
fn udp_between_threads_and_recv_from_timeout() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let echo = spawn(move || {
        b.set_read_timeout(Some(LONG)).unwrap();
        let mut buf = [0; 32];
        for _ in 0..100 {
            let (n, from) = b.recv_from(&mut buf).unwrap();
            b.send_to(&buf[..n], from).unwrap();
        }
    });
    a.set_read_timeout(Some(LONG)).unwrap();
    let mut buf = [0; 32];
    for i in 0..100u32 {
        a.send_to(&i.to_le_bytes(), b_addr).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&i.to_le_bytes()[..], b_addr));
    }
    join_thread_within(echo, LONG, "echo");
    // Nothing more comes: recv_from times out.
    a.set_read_timeout(Some(SHORT)).unwrap();
    let t = Instant::now();
    let e = a.recv_from(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(t.elapsed() >= SHORT && t.elapsed() < LONG);
    assert_eq!(a.local_addr().unwrap(), a_addr);
}

#[test]
fn unix_stream_between_threads() {
    let (a, b) = UnixStream::pair().unwrap();
    let echo = spawn(move || {
        let mut b = b;
        let mut buf = [0; 64];
        loop {
            match b.read(&mut buf).unwrap() {
                0 => break,
                n => b.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    let mut a = a;
    for i in 0..100u32 {
        a.write_all(&i.to_le_bytes()).unwrap();
        let mut back = [0; 4];
        a.read_exact(&mut back).unwrap();
        assert_eq!(u32::from_le_bytes(back), i);
    }
    a.shutdown(Shutdown::Write).unwrap();
    join_thread_within(echo, LONG, "echo");
    a.set_read_timeout(Some(SHORT)).unwrap();
    assert_eq!(a.read(&mut [0; 4]).unwrap(), 0, "EOF after the peer left");
}
