//! Go's `Close`: `close()` on any socket type wakes every operation
//! waiting on it — reads, writes, accepts, receives; in goroutines and in
//! plain threads; closed from a goroutine or from a thread, through the
//! same handle or a `try_clone` — with `ErrorKind::ConnectionAborted`.
//! Later operations fail the same way, `close` reports `true` once, and
//! the peer sees the connection end.

mod common;

use common::{Ctx, LONG, RemoveOnDrop, join_thread_within, join_within, socket_path, tcp_pair};
use gofer_netpoll::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use std::any::Any;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// The socket types, for the generic checks below.
trait Closable: Send + Sync + 'static {
    fn close(&self) -> bool;
}

macro_rules! closable {
    ($($t:ty),*) => {$(
        impl Closable for $t {
            fn close(&self) -> bool {
                <$t>::close(self)
            }
        }
    )*};
}
closable!(
    TcpListener,
    TcpStream,
    UdpSocket,
    UnixListener,
    UnixStream,
    UnixDatagram
);

/// A socket to wait on, and whatever must stay alive meanwhile (the peer).
type Setup<S> = (S, Box<dyn Any + Send>);

/// For each waiter context × closer context: start `op` on a fresh socket
/// from `make` (it blocks), close the socket from the closer, and expect
/// the waiter to wake with `ConnectionAborted`; then check later calls.
fn close_wakes<S: Closable>(make: fn() -> Setup<S>, op: fn(&S) -> io::Result<()>) {
    for waiter in [Ctx::Goroutine, Ctx::Thread] {
        for closer in [Ctx::Goroutine, Ctx::Thread] {
            let (s, keep) = make();
            let s = Arc::new(s);
            let s2 = s.clone();
            let waiting = move || op(&s2).map_err(|e| e.kind());
            let result: Box<dyn FnOnce() -> Result<(), ErrorKind>> = match waiter {
                Ctx::Goroutine => {
                    let h = gofer_runtime::spawn(waiting);
                    Box::new(move || join_within(h, LONG, "waiter"))
                }
                Ctx::Thread => {
                    let h = std::thread::spawn(waiting);
                    Box::new(move || join_thread_within(h, LONG, "waiter"))
                }
            };
            // Let the waiter get to its wait (if it has not, it finds the
            // socket closed when it starts: the same outcome).
            std::thread::sleep(Duration::from_millis(30));
            let s3 = s.clone();
            assert!(common::run_in(closer, move || s3.close()), "first close");
            assert_eq!(
                result(),
                Err(ErrorKind::ConnectionAborted),
                "waiter in a {waiter:?}, closed from a {closer:?}"
            );
            // Later operations fail the same way, at once, and close is
            // idempotent.
            assert_eq!(op(&s).unwrap_err().kind(), ErrorKind::ConnectionAborted);
            assert!(!s.close(), "second close");
            drop(keep);
        }
    }
}

fn tcp_setup() -> Setup<TcpStream> {
    let (c, s) = tcp_pair();
    (c, Box::new(s))
}

/// A connection whose send buffer is full: the next write blocks.
fn tcp_full_setup() -> Setup<TcpStream> {
    let (c, s) = tcp_pair();
    c.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    while (&c).write(&chunk).is_ok() {}
    c.set_write_timeout(None).unwrap();
    (c, Box::new(s))
}

fn unix_full_setup() -> Setup<UnixStream> {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    while (&a).write(&chunk).is_ok() {}
    a.set_write_timeout(None).unwrap();
    (a, Box::new(b))
}

fn read_op<S>(s: &S) -> io::Result<()>
where
    for<'a> &'a S: Read,
{
    let mut r: &S = s;
    let n = r.read(&mut [0; 16])?;
    panic!("read returned {n} instead of waiting")
}

fn write_op<S>(s: &S) -> io::Result<()>
where
    for<'a> &'a S: Write,
{
    let mut w: &S = s;
    let chunk = vec![0u8; 64 << 10];
    loop {
        let _partial_is_fine = w.write(&chunk)?;
    }
}

#[test]
fn close_wakes_a_waiting_tcp_reader() {
    close_wakes(tcp_setup, read_op::<TcpStream>);
}

#[test]
fn close_wakes_a_tcp_writer_blocked_on_a_full_buffer() {
    close_wakes(tcp_full_setup, write_op::<TcpStream>);
}

#[test]
fn close_wakes_a_waiting_tcp_accepter() {
    close_wakes(
        || (TcpListener::bind("127.0.0.1:0").unwrap(), Box::new(())),
        |l| l.accept().map(|_| panic!("accepted a connection")),
    );
}

#[test]
fn close_wakes_a_waiting_udp_receiver() {
    close_wakes(
        || (UdpSocket::bind("127.0.0.1:0").unwrap(), Box::new(())),
        |u| u.recv_from(&mut [0; 16]).map(|_| panic!("received")),
    );
}

#[test]
fn close_wakes_a_waiting_connected_udp_receiver() {
    close_wakes(
        || {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            a.connect(b.local_addr().unwrap()).unwrap();
            (a, Box::new(b))
        },
        |u| u.recv(&mut [0; 16]).map(|_| panic!("received")),
    );
}

#[test]
fn close_wakes_a_waiting_unix_reader() {
    close_wakes(
        || {
            let (a, b) = UnixStream::pair().unwrap();
            (a, Box::new(b))
        },
        read_op::<UnixStream>,
    );
}

#[test]
fn close_wakes_a_unix_writer_blocked_on_a_full_buffer() {
    close_wakes(unix_full_setup, write_op::<UnixStream>);
}

#[test]
fn close_wakes_a_waiting_unix_accepter() {
    close_wakes(
        || {
            let path = socket_path("close-accept");
            let l = UnixListener::bind(&path).unwrap();
            (l, Box::new(RemoveOnDrop(path)))
        },
        |l| l.accept().map(|_| panic!("accepted a connection")),
    );
}

#[test]
fn close_wakes_a_waiting_unix_datagram_receiver() {
    close_wakes(
        || {
            let (a, b) = UnixDatagram::pair().unwrap();
            (a, Box::new(b))
        },
        |u| u.recv(&mut [0; 16]).map(|_| panic!("received")),
    );
}

#[test]
fn close_wakes_every_waiter_at_once() {
    let (c, _s) = tcp_pair();
    let c = Arc::new(c);
    let goroutines: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            gofer_runtime::spawn(move || (&*c).read(&mut [0; 8]).unwrap_err().kind())
        })
        .collect();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || (&*c).read(&mut [0; 8]).unwrap_err().kind())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert!(c.close());
    for g in goroutines {
        assert_eq!(join_within(g, LONG, "reader"), ErrorKind::ConnectionAborted);
    }
    for t in threads {
        assert_eq!(
            join_thread_within(t, LONG, "reader"),
            ErrorKind::ConnectionAborted
        );
    }
}

#[test]
fn close_through_a_clone_wakes_a_waiter_on_the_original() {
    let (c, _s) = tcp_pair();
    let clone = c.try_clone().unwrap();
    let h = gofer_runtime::spawn(move || (&c).read(&mut [0; 8]).unwrap_err().kind());
    std::thread::sleep(Duration::from_millis(30));
    assert!(clone.close());
    assert_eq!(join_within(h, LONG, "reader"), ErrorKind::ConnectionAborted);
    assert_eq!(
        clone.try_clone().unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
}

#[test]
fn the_peer_sees_the_connection_end_after_close() {
    let (c, s) = tcp_pair();
    let h = gofer_runtime::spawn(move || {
        let mut got = Vec::new();
        (&s).read_to_end(&mut got).map(|_| got)
    });
    (&c).write_all(b"last words").unwrap();
    assert!(c.close());
    // `c` itself is still alive (not dropped): close alone ends it.
    assert_eq!(join_within(h, LONG, "peer").unwrap(), b"last words");
    drop(c);
}

#[test]
fn every_operation_after_close_fails_with_connection_aborted() {
    let aborted =
        |r: io::Result<()>| assert_eq!(r.unwrap_err().kind(), ErrorKind::ConnectionAborted);
    let (c, _s) = tcp_pair();
    c.close();
    aborted((&c).read(&mut [0; 4]).map(drop));
    aborted((&c).write(b"x").map(drop));
    aborted(c.peek(&mut [0; 4]).map(drop));
    aborted(c.try_clone().map(drop));

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.close();
    aborted(l.accept().map(drop));
    aborted(l.try_clone().map(drop));

    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = u.local_addr().unwrap();
    u.close();
    aborted(u.recv_from(&mut [0; 4]).map(drop));
    aborted(u.send_to(b"x", to).map(drop));

    let (a, _b) = UnixStream::pair().unwrap();
    a.close();
    aborted((&a).read(&mut [0; 4]).map(drop));
    aborted((&a).write(b"x").map(drop));

    let (d, _e) = UnixDatagram::pair().unwrap();
    d.close();
    aborted(d.recv(&mut [0; 4]).map(drop));
    aborted(d.send(b"x").map(drop));
}
