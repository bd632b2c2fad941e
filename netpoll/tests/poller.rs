//! The netpoller's bookkeeping under churn: sockets opened and closed
//! concurrently (descriptor numbers are reused at once) must each stay
//! registered with epoll for as long as they are open, and no waiter may
//! miss its readiness.

mod common;

use common::{join_thread_within, join_within};
use gofer_netpoll::{TcpListener, TcpStream, UnixStream};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// The descriptors registered with any epoll instance of this process,
/// read from `/proc/self/fdinfo` (the kernel's own account).
fn epoll_registered() -> Vec<Vec<i32>> {
    let mut all = Vec::new();
    for f in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let is_epoll = std::fs::read_link(f.path())
            .map(|l| l.to_string_lossy().contains("eventpoll"))
            .unwrap_or(false);
        if !is_epoll {
            continue;
        }
        let name = f.file_name();
        let Ok(info) =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", name.to_string_lossy()))
        else {
            continue;
        };
        all.push(
            info.lines()
                .filter(|l| l.starts_with("tfd:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
                .collect(),
        );
    }
    all
}

fn is_registered(fd: i32) -> bool {
    epoll_registered().iter().any(|set| set.contains(&fd))
}

/// Makes the calling goroutine wait on `s` once (a read that times out on
/// an empty socket), which registers it with this worker's poller shard.
fn wait_once_on(s: &UnixStream) {
    s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let e = (&*s).read(&mut [0u8]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    s.set_read_timeout(None).unwrap();
}

#[test]
fn a_socket_a_goroutine_waited_on_is_registered_until_dropped() {
    let h = gofer_runtime::spawn(|| {
        let (a, b) = UnixStream::pair().unwrap();
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        // Registration waits for the first wait.
        assert!(!is_registered(fa), "{:?}", epoll_registered());
        wait_once_on(&a);
        wait_once_on(&b);
        assert!(
            is_registered(fa) && is_registered(fb),
            "{:?}",
            epoll_registered()
        );
        drop((a, b));
    });
    join_within(h, Duration::from_secs(10), "registering goroutine");
    // The numbers may be reused by other tests at once; only check that
    // nothing went wrong reading the kernel's account.
    let _ = epoll_registered();
}

#[test]
fn a_socket_only_threads_use_is_never_registered() {
    let (a, b) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 1];
        (&a).read_exact(&mut buf).unwrap();
        a
    });
    std::thread::sleep(Duration::from_millis(20)); // let it block in poll(2)
    (&b).write_all(b"x").unwrap();
    let a = join_thread_within(t, Duration::from_secs(10), "reading thread");
    assert!(!is_registered(a.as_raw_fd()) && !is_registered(b.as_raw_fd()));
}

/// Goroutines open, register and drop socket pairs as fast as they can
/// while another goroutine opens and registers pairs and checks, in the
/// kernel's own account, that both new sockets are registered with epoll.
/// A socket dropped elsewhere must never take a new socket's registration
/// with it.
#[test]
fn closing_a_socket_never_unregisters_one_that_reused_its_fd() {
    let stop = Arc::new(AtomicBool::new(false));
    let churners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            gofer_runtime::spawn(move || {
                while !stop.load(SeqCst) {
                    let (a, b) = UnixStream::pair().unwrap();
                    wait_once_on(&a);
                    wait_once_on(&b);
                }
            })
        })
        .collect();
    let checker = gofer_runtime::spawn(|| {
        let start = Instant::now();
        let (mut checked, mut missing, mut lost) = (0, 0, Vec::new());
        while start.elapsed() < Duration::from_secs(2) {
            let (a, b) = UnixStream::pair().unwrap();
            wait_once_on(&a);
            wait_once_on(&b);
            for fd in [a.as_raw_fd(), b.as_raw_fd()] {
                if !is_registered(fd) {
                    missing += 1;
                    if lost.len() < 10 {
                        lost.push(fd);
                    }
                }
                checked += 1;
            }
        }
        (checked, missing, lost)
    });
    let (checked, missing, lost) = join_within(checker, Duration::from_secs(30), "checker");
    stop.store(true, SeqCst);
    for c in churners {
        join_within(c, Duration::from_secs(10), "churner");
    }
    assert!(checked > 0);
    assert_eq!(
        missing, 0,
        "{missing} of {checked} open sockets were not registered with epoll (fds {lost:?}...)"
    );
}

/// Many short connections opened and closed at once by goroutines and
/// threads, each waiting (parked) for its reply. A socket's descriptor
/// number is reused as soon as it is closed; no socket may ever miss its
/// readiness because of another one's close.
#[test]
fn connection_churn_loses_no_wakeups() {
    const PER_WORKER: u64 = 1500;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let patience = Some(Duration::from_secs(3));
    let fails = Arc::new(AtomicUsize::new(0));
    let acceptor = {
        let fails = fails.clone();
        gofer_runtime::spawn(move || {
            l.set_deadline(Some(Instant::now() + Duration::from_secs(60)));
            while let Ok((mut c, _)) = l.accept() {
                let fails = fails.clone();
                gofer_runtime::spawn(move || {
                    c.set_read_timeout(patience).unwrap();
                    let mut b = [0u8; 8];
                    let ok = c.read_exact(&mut b).is_ok()
                        && c.write_all(&b).is_ok()
                        && matches!(c.read(&mut b), Ok(0));
                    if !ok {
                        fails.fetch_add(1, SeqCst);
                    }
                });
            }
        })
    };
    let work = move |fails: Arc<AtomicUsize>| {
        for i in 0..PER_WORKER {
            let ok = (|| -> std::io::Result<()> {
                let mut s = TcpStream::connect(addr)?;
                s.set_read_timeout(patience)?;
                s.write_all(&i.to_le_bytes())?;
                let mut b = [0u8; 8];
                s.read_exact(&mut b)?;
                assert_eq!(u64::from_le_bytes(b), i);
                Ok(())
            })();
            if let Err(e) = ok {
                eprintln!("client #{i}: {e}");
                fails.fetch_add(1, SeqCst);
            }
        }
    };
    let goroutines: Vec<_> = (0..6)
        .map(|_| {
            let fails = fails.clone();
            gofer_runtime::spawn(move || work(fails))
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let fails = fails.clone();
            std::thread::spawn(move || work(fails))
        })
        .collect();
    for g in goroutines {
        join_within(g, Duration::from_secs(60), "churn goroutine");
    }
    for t in threads {
        join_thread_within(t, Duration::from_secs(60), "churn thread");
    }
    // Let the last server goroutines see their EOF.
    gofer_runtime::sleep(Duration::from_millis(200));
    assert_eq!(
        fails.load(SeqCst),
        0,
        "operations timed out although their peer had answered"
    );
    drop(acceptor);
}
