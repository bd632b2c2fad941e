//! Errors are returned, never a panic or a hang: connection refused, reset
//! by the peer (before and while waiting, on read and on write), and an
//! `accept` that runs out of file descriptors (`EMFILE`) in a child
//! process with a low fd limit, after which the listener still accepts.

mod common;

use common::{
    Ctx, LONG, child_role, in_goroutine_and_thread, join_within, nap, run_child, tcp_pair,
};
use gofer_netpoll::{TcpListener, TcpStream};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

const EMFILE: i32 = 24;

#[test]
fn connect_to_a_port_nobody_listens_on_is_refused_quickly() {
    in_goroutine_and_thread(|_| {
        let addr = common::unused_port();
        let t = Instant::now();
        let e = TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        let e = TcpStream::connect_timeout(&addr, LONG).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "took {:?}",
            t.elapsed()
        );
    });
}

#[test]
fn connect_to_an_unresolvable_address_is_an_error() {
    in_goroutine_and_thread(|_| {
        let e = TcpStream::connect("not an address").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = TcpListener::bind("127.0.0.1:99999").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    });
}

#[test]
fn binding_an_address_in_use_is_an_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
}

/// A connection whose peer was closed with unread data in its receive
/// buffer: Linux then sends RST instead of FIN (RFC 2525), which is what
/// `SO_LINGER` 0 would do; neither std nor the test's dependencies can set
/// `SO_LINGER`. Returns our end, reset once the peer is gone.
fn reset_connection() -> TcpStream {
    let (ours, peer) = tcp_pair();
    (&ours).write_all(b"never read").unwrap();
    // Wait until the bytes sit in the peer's buffer (peek waits for them).
    let mut b = [0; 1];
    assert_eq!(peer.peek(&mut b).unwrap(), 1);
    drop(peer);
    ours
}

fn is_reset(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
}

#[test]
fn read_from_a_reset_connection_fails_with_connection_reset() {
    in_goroutine_and_thread(|_| {
        let c = reset_connection();
        let e = (&c).read(&mut [0; 16]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
        // And again: now end-of-stream or the same error, never a hang.
        match (&c).read(&mut [0; 16]) {
            Ok(0) => {}
            Err(e) => assert!(is_reset(e.kind()), "{e}"),
            Ok(n) => panic!("read {n} bytes from a reset connection"),
        }
    });
}

#[test]
fn write_to_a_reset_connection_fails_with_reset_or_broken_pipe() {
    in_goroutine_and_thread(|_| {
        let c = reset_connection();
        nap(Duration::from_millis(20));
        let mut err = None;
        for _ in 0..100 {
            match (&c).write(&[1; 1024]) {
                Ok(n) => {
                    assert!(n > 0);
                    nap(Duration::from_millis(5));
                }
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let e = err.expect("writes to a reset connection kept succeeding");
        assert!(is_reset(e.kind()), "{e}");
        let e = (&c).write(b"again").unwrap_err();
        assert!(is_reset(e.kind()), "{e}");
    });
}

#[test]
fn a_reader_waiting_when_the_reset_arrives_wakes_with_connection_reset() {
    in_goroutine_and_thread(|ctx| {
        let (ours, peer) = tcp_pair();
        let ours = std::sync::Arc::new(ours);
        let reader = {
            let ours = ours.clone();
            move || {
                let mut buf = [0; 16];
                let r = (&*ours).read(&mut buf);
                r.map_err(|e| e.kind())
            }
        };
        // The waiter runs in the other kind of context than this one.
        let waiter: Box<dyn FnOnce() -> Result<usize, ErrorKind> + Send> = match ctx {
            Ctx::Thread => {
                let h = gofer_runtime::spawn(reader);
                Box::new(move || join_within(h, LONG, "reader"))
            }
            Ctx::Goroutine => {
                let h = std::thread::spawn(reader);
                Box::new(move || common::join_thread_within(h, LONG, "reader"))
            }
        };
        nap(Duration::from_millis(50));
        // Unread data at the peer, then the peer goes away: RST.
        (&*ours).write_all(b"unread").unwrap();
        let mut b = [0; 1];
        assert_eq!(peer.peek(&mut b).unwrap(), 1);
        drop(peer);
        assert_eq!(waiter(), Err(ErrorKind::ConnectionReset));
    });
}

#[test]
fn a_writer_blocked_on_a_full_buffer_wakes_with_an_error_on_reset() {
    in_goroutine_and_thread(|_| {
        let (ours, peer) = tcp_pair();
        let ours = std::sync::Arc::new(ours);
        // The peer reads nothing; we write until the buffers are full.
        let writer = {
            let ours = ours.clone();
            std::thread::spawn(move || {
                let chunk = vec![7u8; 64 << 10];
                loop {
                    if let Err(e) = (&*ours).write(&chunk) {
                        return e.kind();
                    }
                }
            })
        };
        nap(Duration::from_millis(200));
        drop(peer);
        let kind = common::join_thread_within(writer, LONG, "writer");
        assert!(is_reset(kind), "{kind:?}");
    });
}

// ---- EMFILE ---------------------------------------------------------------

/// Opens `/dev/null` until the process runs out of descriptors.
fn exhaust_fds() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) if e.raw_os_error() == Some(EMFILE) => return files,
            Err(e) => panic!("opening /dev/null: {e}"),
        }
        assert!(files.len() < 100_000, "never ran out of descriptors");
    }
}

fn assert_emfile(r: std::io::Result<(TcpStream, gofer_netpoll::SocketAddr)>) {
    match r {
        Err(e) => assert_eq!(e.raw_os_error(), Some(EMFILE), "{e}"),
        Ok((_, peer)) => panic!("accept succeeded ({peer}) with no descriptor free"),
    }
}

#[test]
fn accept_fails_with_emfile_and_the_listener_recovers() {
    if child_role().is_some() {
        return;
    }
    let out = run_child("emfile_child", "emfile", &[], Duration::from_secs(60));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("emfile: all cases passed"), "{log}");
}

/// The EMFILE scenarios, in a child process (they starve the whole
/// process of descriptors); does nothing when run directly.
#[test]
fn emfile_child() {
    if child_role().as_deref() != Some("emfile") {
        return;
    }
    // A small budget makes running out cheap.
    common::set_soft_fd_limit(common::open_fds() as u64 + 64);
    let l = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = l.local_addr().unwrap();

    // 1. A connection is pending when the descriptors run out: accept
    //    returns EMFILE at once; with descriptors free again the same
    //    connection is accepted.
    for ctx in [Ctx::Goroutine, Ctx::Thread] {
        let client = std::net::TcpStream::connect(addr).unwrap();
        let mut files = exhaust_fds();
        let l2 = l.clone();
        common::run_in(ctx, move || assert_emfile(l2.accept()));
        files.truncate(files.len() - 4);
        let l2 = l.clone();
        let (s, peer) = common::run_in(ctx, move || l2.accept().unwrap());
        assert_eq!(peer, client.local_addr().unwrap());
        (&s).write_all(b"ok").unwrap();
        let mut buf = [0; 2];
        (&client).read_exact(&mut buf).unwrap();
        drop(files);
        eprintln!("emfile: pending connection, {ctx:?}: ok");
    }

    // 2. The accepter is already waiting when the connection arrives with
    //    no descriptor free: it wakes with EMFILE (no hang, no panic), and
    //    accepts the connection once descriptors are free.
    for ctx in [Ctx::Goroutine, Ctx::Thread] {
        let mut files = exhaust_fds();
        let spare = files.pop().unwrap();
        let l2 = l.clone();
        let waiter = move || l2.accept().map(|_| ());
        let wait: Box<dyn FnOnce() -> std::io::Result<()>> = match ctx {
            Ctx::Goroutine => {
                let h = gofer_runtime::spawn(waiter);
                Box::new(move || join_within(h, LONG, "accepter"))
            }
            Ctx::Thread => {
                let h = std::thread::spawn(waiter);
                Box::new(move || common::join_thread_within(h, LONG, "accepter"))
            }
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(spare);
        // Takes the one free descriptor: none left for the accept.
        let client = std::net::TcpStream::connect(addr).unwrap();
        let e = wait().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(EMFILE), "{e}");
        files.truncate(files.len() - 4);
        let l2 = l.clone();
        let (_s, peer) = common::run_in(ctx, move || l2.accept().unwrap());
        assert_eq!(peer, client.local_addr().unwrap());
        drop(files);
        eprintln!("emfile: waiting accepter, {ctx:?}: ok");
    }
    eprintln!("emfile: all cases passed");
}
