//! A registered non-blocking socket: the std socket, its poller
//! registration, and its timeouts and deadlines. Every socket type in this
//! crate wraps one of these (behind an `Arc`, so `try_clone` shares it).

use crate::fd::{Dir, Registration, closed_error};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

/// A time base for storing deadlines in atomics.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `Option<Instant>` as nanoseconds since `epoch()` plus one (0 = none).
fn encode(t: Option<Instant>) -> u64 {
    match t {
        None => 0,
        Some(t) => (t.saturating_duration_since(epoch()).as_nanos() as u64).saturating_add(1),
    }
}

fn decode(v: u64) -> Option<Instant> {
    (v != 0).then(|| epoch() + Duration::from_nanos(v - 1))
}

pub(crate) struct Socket<S: AsRawFd> {
    /// Declared (so dropped) before `io`: the descriptor must leave every
    /// epoll set it joined while its number is still ours. Closed first, the number
    /// could be reused by a new socket before the deregistration, which
    /// would then remove the new socket's registration instead.
    reg: Registration,
    io: S,
    /// Per-operation timeouts (std's `set_read_timeout`), in nanoseconds;
    /// 0 = none.
    timeouts: [AtomicU64; 2],
    /// Absolute deadlines (Go's `SetReadDeadline`), encoded as above.
    deadlines: [AtomicU64; 2],
}

fn slot(dir: Dir) -> usize {
    match dir {
        Dir::Read => 0,
        Dir::Write => 1,
    }
}

impl<S: AsRawFd> Socket<S> {
    /// Wraps `io`, which must already be in non-blocking mode.
    pub(crate) fn new(io: S) -> io::Result<Socket<S>> {
        let reg = Registration::new(io.as_raw_fd())?;
        Ok(Socket {
            io,
            reg,
            timeouts: [AtomicU64::new(0), AtomicU64::new(0)],
            deadlines: [AtomicU64::new(0), AtomicU64::new(0)],
        })
    }

    pub(crate) fn get(&self) -> &S {
        &self.io
    }

    pub(crate) fn into_inner(self) -> S {
        self.io
    }

    /// Runs a read-side operation, waiting for readability on `EAGAIN`.
    pub(crate) fn read<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        self.io(Dir::Read, op)
    }

    /// A read from a stream socket into `len` bytes of buffer; see
    /// `Registration::read_stream`.
    pub(crate) fn read_stream(
        &self,
        len: usize,
        mut op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let timeout_at = self.start(Dir::Read);
        let deadline = || self.deadline(Dir::Read, timeout_at);
        self.reg.read_stream(len, &deadline, || op(&self.io))
    }

    /// After a local `shutdown`: see `Registration::forget_drained`.
    pub(crate) fn forget_drained(&self) {
        self.reg.forget_drained();
    }

    /// Runs a write-side operation, waiting for writability on `EAGAIN`.
    pub(crate) fn write<T>(&self, op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        self.io(Dir::Write, op)
    }

    fn io<T>(&self, dir: Dir, mut op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        let timeout_at = self.start(dir);
        let deadline = || self.deadline(dir, timeout_at);
        self.reg.io(dir, &deadline, || op(&self.io))
    }

    /// The start of an operation in `dir`: spends a unit of the fairness
    /// budget (a reader whose socket always has data would never yield)
    /// and fixes when its timeout, if any, runs out.
    fn start(&self, dir: Dir) -> Option<Instant> {
        gofer_runtime::park::consume_budget();
        // A timeout counts from the start of this operation.
        match self.timeouts[slot(dir)].load(Acquire) {
            0 => None,
            ns => Instant::now().checked_add(Duration::from_nanos(ns)),
        }
    }

    /// The operation's deadline: its timeout or the socket's deadline,
    /// whichever is first. A deadline is absolute and may be moved while
    /// we wait, so it is read each time.
    fn deadline(&self, dir: Dir, timeout_at: Option<Instant>) -> Option<Instant> {
        match (decode(self.deadlines[slot(dir)].load(Acquire)), timeout_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// std's rule: `Some(Duration::ZERO)` is an error.
    pub(crate) fn set_timeout(&self, dir: Dir, t: Option<Duration>) -> io::Result<()> {
        let ns = match t {
            None => 0,
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ));
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1),
        };
        self.timeouts[slot(dir)].store(ns, Release);
        Ok(())
    }

    pub(crate) fn timeout(&self, dir: Dir) -> Option<Duration> {
        match self.timeouts[slot(dir)].load(Acquire) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Go's deadlines: operations in `dir` fail with `TimedOut` once
    /// `deadline` has passed (`None` clears it), even with data at hand.
    /// Applies to operations already waiting too: goroutines are woken to
    /// look at it, threads see it within 100 ms.
    pub(crate) fn set_deadline(&self, dir: Dir, deadline: Option<Instant>) {
        self.deadlines[slot(dir)].store(encode(deadline), Release);
        self.reg.pd().deadline_moved(dir);
    }

    /// Closes the socket for everybody sharing it: operations in progress
    /// wake with an error, later ones fail at once, and the connection is
    /// shut down (the peer sees end-of-stream). The descriptor itself is
    /// closed when the last handle is dropped. `true` if this call did it.
    pub(crate) fn close(&self) -> bool {
        // Mark it closed (waking parked goroutines) before shutting down,
        // so that whoever the shutdown's readiness wakes sees "closed"
        // rather than an ordinary end of stream.
        let first = self.reg.pd().close();
        // The shutdown wakes threads blocked in poll(2), and the peer.
        // SAFETY: a valid descriptor; errors (not connected, a listener
        // on some kernels) are irrelevant here.
        unsafe { libc::shutdown(self.io.as_raw_fd(), libc::SHUT_RDWR) };
        first
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.reg.pd().is_closed()
    }

    /// Fails if the socket was closed.
    pub(crate) fn check_open(&self) -> io::Result<()> {
        if self.is_closed() {
            Err(closed_error())
        } else {
            Ok(())
        }
    }
}

/// Resolves an address the way std does, without blocking a worker:
/// inside a goroutine, name resolution (which may block in the system
/// resolver) runs on the blocking pool.
pub(crate) fn resolve<A>(addr: A) -> io::Result<Vec<std::net::SocketAddr>>
where
    A: std::net::ToSocketAddrs + Send,
{
    let lookup = move || addr.to_socket_addrs().map(|it| it.collect::<Vec<_>>());
    let addrs = gofer_runtime::blocking(lookup)?;
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        ));
    }
    Ok(addrs)
}

/// Raises a listening socket's backlog to the system's maximum
/// (`/proc/sys/net/core/somaxconn`, read once; 4096 if unreadable), as Go
/// does. Listening again on a listening socket only changes its backlog.
pub(crate) fn widen_backlog(listener: &impl AsRawFd) -> io::Result<()> {
    static BACKLOG: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    let backlog = *BACKLOG.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(4096)
    });
    // SAFETY: a valid descriptor of a bound, listening socket.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Tries `f` on each address in turn, returning the first success or the
/// last error (std's rule for `bind` and `connect`).
pub(crate) fn each_addr<T>(
    addrs: &[std::net::SocketAddr],
    mut f: impl FnMut(&std::net::SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
