//! UDP over loopback: `send_to`/`recv_from` and `connect`/`send`/`recv`
//! round trips, datagram boundaries, `peek_from`, receive timeouts and
//! deadlines, and several goroutines receiving from one socket (each
//! datagram delivered exactly once).

mod common;

use common::{LONG, in_goroutine_and_thread, join_within, nap};
use gofer_netpoll::UdpSocket;
use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

#[test]
fn send_to_and_recv_from_round_trip_between_goroutines() {
    const ROUNDS: u64 = 500;
    let server = bind();
    let addr = server.local_addr().unwrap();
    let srv = gofer_runtime::spawn(move || {
        server.set_read_timeout(Some(LONG)).unwrap();
        let mut buf = [0; 64];
        for _ in 0..ROUNDS {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            buf[..n].reverse();
            assert_eq!(server.send_to(&buf[..n], from).unwrap(), n);
        }
    });
    let cli = gofer_runtime::spawn(move || {
        let client = bind();
        client.set_read_timeout(Some(LONG)).unwrap();
        let mut buf = [0; 64];
        for i in 0..ROUNDS {
            let msg = i.to_be_bytes();
            client.send_to(&msg, addr).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            let mut want = msg;
            want.reverse();
            assert_eq!(&buf[..n], &want);
        }
    });
    join_within(cli, LONG, "client");
    join_within(srv, LONG, "server");
}

#[test]
fn connected_send_and_recv_round_trip() {
    in_goroutine_and_thread(|_| {
        let (a, b) = (bind(), bind());
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
        a.set_read_timeout(Some(LONG)).unwrap();
        b.set_read_timeout(Some(LONG)).unwrap();
        let b = Arc::new(b);
        let echo = {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut buf = [0; 32];
                for _ in 0..50 {
                    let n = b.recv(&mut buf).unwrap();
                    b.send(&buf[..n]).unwrap();
                }
            })
        };
        let mut buf = [0; 32];
        for i in 0..50u32 {
            a.send(&i.to_le_bytes()).unwrap();
            let n = a.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &i.to_le_bytes());
        }
        echo.join().unwrap();
    });
}

#[test]
fn datagrams_keep_their_boundaries_and_peek_leaves_them_queued() {
    let (a, b) = (bind(), bind());
    let to = b.local_addr().unwrap();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0; 2048];
        // Waits for the first datagram like recv_from does.
        let (n, from) = b.peek_from(&mut buf).unwrap();
        assert_eq!(n, 1);
        let mut sizes = vec![];
        for _ in 0..3 {
            let (n, f) = b.recv_from(&mut buf).unwrap();
            assert_eq!(f, from);
            assert!(buf[..n].iter().all(|&x| x == n as u8));
            sizes.push(n);
        }
        sizes
    });
    gofer_runtime::sleep(Duration::from_millis(20));
    for n in [1usize, 1000, 77] {
        a.send_to(&vec![n as u8; n], to).unwrap();
    }
    assert_eq!(join_within(h, LONG, "receiver"), vec![1, 1000, 77]);
}

#[test]
fn a_short_buffer_truncates_the_datagram() {
    let (a, b) = (bind(), bind());
    a.send_to(b"0123456789", b.local_addr().unwrap()).unwrap();
    let h = gofer_runtime::spawn(move || {
        let mut buf = [0; 4];
        let (n, _) = b.recv_from(&mut buf).unwrap();
        (n, buf)
    });
    assert_eq!(join_within(h, LONG, "receiver"), (4, *b"0123"));
}

#[test]
fn recv_timeout_fails_with_timed_out_not_early() {
    in_goroutine_and_thread(|_| {
        let u = bind();
        u.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        assert_eq!(u.read_timeout().unwrap(), Some(Duration::from_millis(100)));
        let t = Instant::now();
        let e = u.recv_from(&mut [0; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(t.elapsed() >= Duration::from_millis(100));
        assert!(t.elapsed() < LONG);
        // Still usable.
        bind().send_to(b"x", u.local_addr().unwrap()).unwrap();
        assert_eq!(u.recv_from(&mut [0; 8]).unwrap().0, 1);
    });
}

#[test]
fn recv_deadline_fails_with_timed_out_not_early() {
    in_goroutine_and_thread(|_| {
        let u = bind();
        let start = Instant::now();
        u.set_read_deadline(Some(start + Duration::from_millis(100)));
        let e = u.recv(&mut [0; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= Duration::from_millis(100));
        u.set_read_deadline(None);
    });
}

#[test]
fn a_waiting_receiver_is_woken_by_a_datagram() {
    in_goroutine_and_thread(|_| {
        let u = bind();
        let to = u.local_addr().unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            bind().send_to(b"wake", to).unwrap();
        });
        let mut buf = [0; 8];
        let (n, _) = u.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"wake");
        sender.join().unwrap();
    });
}

#[test]
fn several_goroutines_receiving_on_one_socket_get_each_datagram_once() {
    const N: u64 = 2000;
    const RECEIVERS: u64 = 4;
    const STOP: u64 = u64::MAX;
    let rx = Arc::new(bind());
    let to = rx.local_addr().unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let (rx, received) = (rx.clone(), received.clone());
            gofer_runtime::spawn(move || {
                rx.set_read_timeout(Some(LONG)).unwrap();
                let mut got = Vec::new();
                let mut buf = [0; 8];
                loop {
                    let (n, _) = rx.recv_from(&mut buf).unwrap();
                    assert_eq!(n, 8);
                    let id = u64::from_le_bytes(buf);
                    if id == STOP {
                        return got;
                    }
                    got.push(id);
                    received.fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    let tx = bind();
    let start = Instant::now();
    for id in 0..N {
        // Flow control, so the receive buffer never overflows (UDP would
        // silently drop): at most 64 datagrams in flight.
        while id - received.load(SeqCst) >= 64 {
            assert!(start.elapsed() < LONG, "receivers stalled at {id}");
            nap(Duration::from_micros(200));
        }
        tx.send_to(&id.to_le_bytes(), to).unwrap();
    }
    while received.load(SeqCst) < N {
        assert!(start.elapsed() < LONG, "receivers stalled");
        nap(Duration::from_millis(1));
    }
    for _ in 0..RECEIVERS {
        tx.send_to(&STOP.to_le_bytes(), to).unwrap();
    }
    let mut all: Vec<u64> = receivers
        .into_iter()
        .flat_map(|h| join_within(h, LONG, "receiver"))
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..N).collect::<Vec<_>>(),
        "a datagram lost or duplicated"
    );
}

#[test]
fn try_clone_shares_the_socket() {
    let (a, b) = (bind(), bind());
    let a2 = a.try_clone().unwrap();
    a2.send_to(b"via clone", b.local_addr().unwrap()).unwrap();
    let mut buf = [0; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"via clone"[..], a.local_addr().unwrap())
    );
    a.set_ttl(7).unwrap();
    assert_eq!(a2.ttl().unwrap(), 7);
    a.set_broadcast(true).unwrap();
    assert!(a2.broadcast().unwrap());
    assert!(a.take_error().unwrap().is_none());
}

#[test]
fn from_std_wraps_a_std_socket() {
    let std_u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = std_u.local_addr().unwrap();
    let u = UdpSocket::from_std(std_u).unwrap();
    let h = gofer_runtime::spawn(move || u.recv_from(&mut [0; 8]).unwrap().0);
    gofer_runtime::sleep(Duration::from_millis(20));
    bind().send_to(b"std", to).unwrap();
    assert_eq!(join_within(h, LONG, "receiver"), 3);
}
