//! The poller: one epoll instance, one thread blocked in `epoll_wait`, and
//! the idle-worker poll.
//!
//! Descriptors are registered once, edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`), with a token naming
//! their poll descriptor (see `fd.rs`). Every reported edge bumps that
//! descriptor's readiness and unparks whoever waits on it; a parked
//! goroutine is queued on its home worker, whose thread is woken if it
//! sleeps.
//!
//! Workers that run out of goroutines also call `epoll_wait` themselves,
//! with a zero timeout, just before they sleep (the runtime's idle-poll
//! hook). Whatever they find ready and is homed on them is then run
//! without any cross-thread wakeup — Go and tokio get their I/O latency
//! from the same trick. The dedicated thread remains for when every worker
//! is busy: it bounds how long a ready connection can go unnoticed.

use crate::fd;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering::*};

struct Poller {
    epoll: OwnedFd,
    /// Registered descriptors; the idle poll is skipped while it is zero.
    registered: AtomicUsize,
}

fn poller() -> io::Result<&'static Poller> {
    static POLLER: OnceLock<io::Result<Poller>> = OnceLock::new();
    POLLER
        .get_or_init(|| {
            // SAFETY: plain syscall; the result is checked.
            let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new descriptor we own.
            let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
            Ok(Poller {
                epoll,
                registered: AtomicUsize::new(0),
            })
        })
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("gofer: cannot create the netpoller: {e}")))
        .inspect(|p| start_thread(p))
}

/// Starts the poller thread and installs the idle poll, once.
fn start_thread(p: &'static Poller) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        gofer_runtime::hooks::register_service_thread();
        gofer_runtime::hooks::set_idle_poll(idle_poll);
        std::thread::Builder::new()
            .name("gofer-netpoll".into())
            .spawn(move || run(p))
            .unwrap_or_else(|e| panic!("gofer: cannot start the netpoller thread: {e}"));
    });
}

/// Registers `fd` under `token`.
pub(crate) fn register(fd: RawFd, token: u64) -> io::Result<()> {
    let p = poller()?;
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: token,
    };
    // SAFETY: valid epoll and target descriptors, and a valid event.
    let r = unsafe { libc::epoll_ctl(p.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    p.registered.fetch_add(1, Relaxed);
    Ok(())
}

/// Removes `fd` from the interest list (before it is closed).
pub(crate) fn deregister(fd: RawFd) {
    if let Ok(p) = poller() {
        // SAFETY: valid descriptors; a null event is allowed for DEL. A
        // failure (already closed) leaves nothing to undo.
        unsafe {
            libc::epoll_ctl(
                p.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            );
        }
        p.registered.fetch_sub(1, Relaxed);
    }
}

const BATCH: usize = 128;

fn run(p: &'static Poller) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; BATCH];
    loop {
        let n = wait(p, &mut events, -1);
        dispatch(&events[..n]);
    }
}

/// `epoll_wait`, retrying on EINTR; returns the number of events.
fn wait(p: &Poller, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
    loop {
        // SAFETY: `events` is a valid buffer of `len` events.
        let n = unsafe {
            libc::epoll_wait(
                p.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n >= 0 {
            return n as usize;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 0;
        }
    }
}

/// Wakes the waiters of every reported descriptor; how many it woke.
fn dispatch(events: &[libc::epoll_event]) -> usize {
    let mut woken = 0;
    for ev in events {
        let Some(pd) = fd::lookup(ev.u64) else {
            continue; // a descriptor closed since: stale event
        };
        let e = ev.events as i32;
        let read = e & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0;
        let write = e & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0;
        woken += pd.ready(read, write);
    }
    woken
}

/// The runtime's idle poll: a non-blocking `epoll_wait` from a worker about
/// to sleep.
fn idle_poll() -> usize {
    let Ok(p) = poller() else { return 0 };
    if p.registered.load(Relaxed) == 0 {
        return 0;
    }
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    let n = wait(p, &mut events, 0);
    dispatch(&events[..n])
}
