//! The poller: one epoll instance, polled by the workers themselves.
//!
//! Descriptors are registered once, edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`), with a token naming
//! their poll descriptor (see `fd.rs`). Every reported edge bumps that
//! descriptor's readiness and unparks whoever waits on it; a parked
//! goroutine is queued on its home worker, whose thread is woken if it
//! sleeps.
//!
//! Who calls `epoll_wait` is Go's arrangement (`findrunnable` and
//! `sysmon` in `proc.go`), reached through the runtime's `hooks::Poll`:
//!
//! * A worker that runs out of goroutines polls without blocking before it
//!   sleeps (`poll_now`); whatever it finds homed on itself runs next,
//!   with no thread woken at all.
//! * One sleeping worker at a time — the holder of the runtime's poll role
//!   — sleeps *in* `epoll_wait` (`poll_wait`) instead of on its futex, so
//!   a socket turning ready wakes a worker straight from the kernel. The
//!   first design had a dedicated thread block in `epoll_wait` and
//!   futex-wake the worker: two thread wakeups per event. Measured with
//!   one worker, this one took a keep-alive HTTP server from ~117k to
//!   ~178k requests/s and a one-connection echo round trip from ~28 to
//!   ~15 µs (benches/GAPS.md §1).
//! * To wake the worker sleeping in `epoll_wait` for other work (a
//!   goroutine readied, a spawn, a timer moved), its parker writes to an
//!   eventfd registered in the same epoll (Go's `netpollBreak`). The
//!   eventfd is level-triggered and only the blocking poll drains it, so a
//!   non-blocking poll on another thread cannot swallow the wakeup; a flag
//!   saves the `write` when one is pending already.
//! * The netpoller thread is only the fallback: every 10 ms, if no worker
//!   holds the poll role (all are busy), it polls without blocking, which
//!   bounds how long a ready socket can wait behind busy workers — Go's
//!   sysmon gives the same bound.

use crate::fd;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::Duration;

struct Poller {
    epoll: OwnedFd,
    /// Interrupts a worker blocked in `epoll_wait` (see the module docs).
    wakefd: OwnedFd,
    /// A wake was written to `wakefd` and not drained yet.
    wake_pending: AtomicBool,
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
            // SAFETY: plain syscall; the result is checked.
            let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a new descriptor we own.
            let wakefd = unsafe { OwnedFd::from_raw_fd(raw) };
            // Level-triggered, unlike the sockets: it stays reported until
            // the blocking poll drains it.
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: WAKE_TOKEN,
            };
            // SAFETY: valid epoll and target descriptors, and a valid event.
            if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, &mut ev) } < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(Poller {
                epoll,
                wakefd,
                wake_pending: AtomicBool::new(false),
                registered: AtomicUsize::new(0),
            })
        })
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("gofer: cannot create the netpoller: {e}")))
        .inspect(|p| start_thread(p))
}

/// Starts the fallback thread and hands the poller to the runtime's
/// workers, once.
fn start_thread(p: &'static Poller) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        gofer_runtime::hooks::register_service_thread();
        gofer_runtime::hooks::set_poll(gofer_runtime::hooks::Poll {
            poll_now,
            poll_wait,
            wake,
        });
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

/// The token of `Poller::wakefd`; slab tokens never reach it (their index
/// half is below `u32::MAX`).
const WAKE_TOKEN: u64 = u64::MAX;

/// How often the fallback thread polls when no worker holds the poll role.
const FALLBACK_EVERY: Duration = Duration::from_millis(10);

/// The fallback thread (see the module docs).
fn run(p: &'static Poller) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; BATCH];
    loop {
        std::thread::sleep(FALLBACK_EVERY);
        if !gofer_runtime::hooks::worker_polling() {
            let n = wait(p, &mut events, Some(Duration::ZERO));
            dispatch(p, &events[..n], false);
        }
    }
}

/// `epoll_wait` (`epoll_pwait2` for a timeout finer than milliseconds,
/// where the kernel has it), retrying on EINTR; the number of events.
fn wait(p: &Poller, events: &mut [libc::epoll_event], timeout: Option<Duration>) -> usize {
    static NO_PWAIT2: AtomicBool = AtomicBool::new(false);
    let (epfd, buf, len) = (
        p.epoll.as_raw_fd(),
        events.as_mut_ptr(),
        events.len() as i32,
    );
    loop {
        let n = match timeout {
            Some(d) if !d.is_zero() && !NO_PWAIT2.load(Relaxed) => {
                let ts = libc::timespec {
                    tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
                    tv_nsec: d.subsec_nanos() as libc::c_long,
                };
                // SAFETY: `buf` is valid for `len` events, `ts` outlives
                // the call, and a null signal mask means "unchanged".
                let n = unsafe {
                    libc::syscall(
                        libc::SYS_epoll_pwait2,
                        epfd,
                        buf,
                        len,
                        &ts as *const libc::timespec,
                        std::ptr::null::<libc::sigset_t>(),
                        0usize,
                    )
                };
                if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                    NO_PWAIT2.store(true, Relaxed);
                    continue;
                }
                n as i32
            }
            _ => {
                let ms = match timeout {
                    None => -1,
                    // Round up: waking early would only loop back here.
                    Some(d) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32,
                };
                // SAFETY: `buf` is valid for `len` events.
                unsafe { libc::epoll_wait(epfd, buf, len, ms) }
            }
        };
        if n >= 0 {
            return n as usize;
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 0;
        }
    }
}

/// Wakes the waiters of every reported descriptor; how many it woke. The
/// blocking poll (`drain`) also consumes a wake of `wakefd`.
fn dispatch(p: &Poller, events: &[libc::epoll_event], drain: bool) -> usize {
    let mut woken = 0;
    for ev in events {
        if ev.u64 == WAKE_TOKEN {
            if drain {
                let mut count = 0u64;
                // SAFETY: reads 8 bytes into `count`, which is 8 bytes.
                // EAGAIN (drained already) leaves nothing to do.
                unsafe {
                    libc::read(
                        p.wakefd.as_raw_fd(),
                        (&mut count as *mut u64).cast(),
                        std::mem::size_of::<u64>(),
                    )
                };
                p.wake_pending.store(false, Release);
            }
            continue;
        }
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

/// `hooks::Poll::poll_now`: a non-blocking look from a worker about to
/// sleep.
fn poll_now() -> usize {
    let Ok(p) = poller() else { return 0 };
    if p.registered.load(Relaxed) == 0 {
        return 0;
    }
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    let n = wait(p, &mut events, Some(Duration::ZERO));
    dispatch(p, &events[..n], false)
}

/// `hooks::Poll::poll_wait`: the poll-role holder sleeps here.
fn poll_wait(timeout: Option<Duration>) -> usize {
    let Ok(p) = poller() else { return 0 };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
    let n = wait(p, &mut events, timeout);
    dispatch(p, &events[..n], true)
}

/// `hooks::Poll::wake`: interrupts `poll_wait`.
fn wake() {
    let Ok(p) = poller() else { return };
    // Pending already: the eventfd is still readable, and being
    // level-triggered it will be reported to the next `epoll_wait`.
    if p.wake_pending.swap(true, AcqRel) {
        return;
    }
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of `one`. It cannot block (EFD_NONBLOCK)
    // and can only fail when the counter is near u64::MAX, impossible
    // with the reads in `dispatch` and at most one write per drain.
    unsafe {
        libc::write(
            p.wakefd.as_raw_fd(),
            (&one as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}
