//! Readiness of one registered file descriptor, and waiting for it.
//!
//! Each descriptor gets a [`PollDesc`] from a slab that is never freed (as
//! Go's `pollCache`): an epoll event carries the slot index and a
//! generation number, so an event for a descriptor that has since been
//! closed — and whose slot may already serve another one — is recognised
//! by its stale generation and ignored, without any memory reclamation
//! scheme. The descriptor joins a poller shard's epoll when a goroutine on
//! that shard's worker first waits on it (`Registration::watch_here`), and
//! leaves every shard it joined before it is closed.
//!
//! Per direction (read, write) a descriptor has a readiness sequence number
//! and a list of waiting goroutines. An operation reads the sequence
//! number, tries the system call, and on `EAGAIN` registers itself — under
//! the list's lock, and only if the sequence number has not moved since —
//! and parks. The poller bumps the number and wakes the list on every edge
//! epoll reports. Whatever arrived after the system call therefore either
//! moved the number before we registered (we retry at once) or finds us on
//! the list. Each entry remembers the number its task saw, and an edge
//! takes only the entries older than itself: a task that saw the bump,
//! retried and registered again before the poller got the lock keeps its
//! new entry (taking it would leave the task parked with no entry, and no
//! later edge could find it — a lost wakeup helper-7's C10K test caught).
//! Plain threads instead wait in `poll(2)` on the descriptor.
//!
//! Deadlines may move while an operation waits (Go's `SetReadDeadline`
//! on a blocked read): the operation reads its deadline afresh each time
//! it wakes, and moving a deadline wakes the waiting goroutines (threads
//! notice within one `poll(2)` slice). A deadline already past fails the
//! operation before it tries the system call, as in Go.

use gofer_runtime::park::{Task, in_goroutine, park, park_deadline};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// One direction of a descriptor.
struct Half {
    seq: AtomicU64,
    /// Waiting tasks, each with the sequence number it saw.
    waiters: Mutex<Vec<(Task, u64)>>,
}

impl Half {
    const fn new() -> Half {
        Half {
            seq: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, Vec<(Task, u64)>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiter without readiness: they look at their deadline
    /// again and wait on.
    fn poke(&self) {
        for (t, _) in self.waiters().iter() {
            t.unpark();
        }
    }

    /// The poller saw an edge: bump the sequence and wake every waiter
    /// that registered before the bump.
    fn ready(&self) -> usize {
        let now = self.seq.fetch_add(1, Release) + 1;
        let mut woken = Vec::new();
        self.waiters().retain(|(t, seen)| {
            let stale = *seen < now;
            if stale {
                woken.push(t.clone());
            }
            !stale
        });
        let n = woken.len();
        for t in woken {
            t.unpark();
        }
        n
    }
}

/// The readiness state of one registered descriptor.
pub(crate) struct PollDesc {
    /// Bumped when the slot is freed; events carry the value they were
    /// registered with.
    generation: AtomicU32,
    /// `close()` was called: operations fail instead of waiting.
    closed: AtomicBool,
    /// The poller shards the descriptor is registered with, a bit each.
    shards: AtomicU64,
    /// A stream read drained the socket when the read sequence number was
    /// this minus one (0: no such hint); see [`Registration::read_stream`].
    drained: AtomicU64,
    /// The poller reported hang-up or an error on the read side: reads
    /// must go to the kernel again, whatever `drained` says.
    read_hup: AtomicBool,
    read: Half,
    write: Half,
}

impl PollDesc {
    const fn new() -> PollDesc {
        PollDesc {
            generation: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            shards: AtomicU64::new(0),
            drained: AtomicU64::new(0),
            read_hup: AtomicBool::new(false),
            read: Half::new(),
            write: Half::new(),
        }
    }

    fn half(&self, dir: Dir) -> &Half {
        match dir {
            Dir::Read => &self.read,
            Dir::Write => &self.write,
        }
    }

    /// The poller reports readiness; returns how many tasks it woke.
    /// `hup`: the event said hang-up or error.
    pub(crate) fn ready(&self, read: bool, write: bool, hup: bool) -> usize {
        if hup {
            // Before the sequence number moves, so that a reader who sees
            // the new number also sees this.
            self.read_hup.store(true, Release);
        }
        let mut woken = 0;
        if read {
            woken += self.read.ready();
        }
        if write {
            woken += self.write.ready();
        }
        woken
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Marks the descriptor closed and wakes everybody waiting on it.
    pub(crate) fn close(&self) -> bool {
        if self.closed.swap(true, AcqRel) {
            return false;
        }
        self.ready(true, true, false);
        true
    }

    pub(crate) fn generation(&self) -> u32 {
        self.generation.load(Acquire)
    }

    /// A deadline in `dir` moved: waiters re-read it.
    pub(crate) fn deadline_moved(&self, dir: Dir) {
        self.half(dir).poke();
    }
}

// ---- the slab ---------------------------------------------------------

const CHUNK: usize = 1024;
const MAX_CHUNKS: usize = 4096;

/// Never-freed storage for poll descriptors (see the module docs).
struct Slab {
    chunks: [AtomicPtr<PollDesc>; MAX_CHUNKS],
    free: Mutex<Vec<u32>>,
    next: AtomicU32,
}

static SLAB: Slab = Slab {
    chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
    free: Mutex::new(Vec::new()),
    next: AtomicU32::new(0),
};

impl Slab {
    fn alloc(&self) -> io::Result<u32> {
        if let Some(i) = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(i);
        }
        let i = self.next.fetch_add(1, Relaxed);
        let (chunk, _) = (i as usize / CHUNK, i as usize % CHUNK);
        if chunk >= MAX_CHUNKS {
            self.next.fetch_sub(1, Relaxed);
            return Err(io::Error::other(format!(
                "gofer: more than {} sockets registered with the netpoller at once",
                CHUNK * MAX_CHUNKS
            )));
        }
        if self.chunks[chunk].load(Acquire).is_null() {
            let fresh: Box<[PollDesc]> = (0..CHUNK).map(|_| PollDesc::new()).collect();
            let fresh = Box::into_raw(fresh) as *mut PollDesc;
            if self.chunks[chunk]
                .compare_exchange(std::ptr::null_mut(), fresh, AcqRel, Acquire)
                .is_err()
            {
                // Another thread installed it first.
                // SAFETY: `fresh` came from `Box::into_raw` just above and
                // was never shared.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(fresh, CHUNK)) });
            }
        }
        Ok(i)
    }

    /// The descriptor in slot `i`, if that slot was ever allocated.
    fn get(&self, i: u32) -> Option<&'static PollDesc> {
        let (chunk, offset) = (i as usize / CHUNK, i as usize % CHUNK);
        let base = self.chunks.get(chunk)?.load(Acquire);
        if base.is_null() {
            return None;
        }
        // SAFETY: chunks are `CHUNK` descriptors long and never freed.
        Some(unsafe { &*base.add(offset) })
    }

    fn release(&self, i: u32) {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).push(i);
    }
}

/// The poll descriptor for `token`, unless the token is stale.
pub(crate) fn lookup(token: u64) -> Option<&'static PollDesc> {
    let (index, generation) = (token as u32, (token >> 32) as u32);
    let pd = SLAB.get(index)?;
    (pd.generation() == generation).then_some(pd)
}

/// An owned registration of a descriptor with the poller: a slab slot,
/// and a token that names slot and generation, under which the descriptor
/// is registered with a poller shard when a goroutine first waits on it
/// there (see `poller.rs`).
pub(crate) struct Registration {
    index: u32,
    pd: &'static PollDesc,
    fd: RawFd,
    token: u64,
}

impl Registration {
    /// Takes a slot for `fd`. The descriptor joins a poller shard only when
    /// a goroutine first waits on it ([`watch_here`](Self::watch_here)),
    /// so an epoll error (such as `ENOSPC` past `fs.epoll.max_user_watches`)
    /// comes out of that operation rather than out of this one.
    pub(crate) fn new(fd: RawFd) -> io::Result<Registration> {
        let index = SLAB.alloc()?;
        let pd = SLAB.get(index).expect("allocated slot");
        pd.closed.store(false, Release);
        pd.shards.store(0, Release);
        pd.drained.store(0, Relaxed);
        pd.read_hup.store(false, Relaxed);
        let token = (u64::from(pd.generation()) << 32) | u64::from(index);
        Ok(Registration {
            index,
            pd,
            fd,
            token,
        })
    }

    /// Makes sure the shard of the worker we run on watches the descriptor.
    /// An `EPOLL_CTL_ADD` reports readiness the descriptor already has, so
    /// registering after the `EAGAIN` loses nothing.
    fn watch_here(&self) -> io::Result<()> {
        let Some(shard) = crate::poller::current_shard() else {
            return Ok(());
        };
        let bit = 1u64 << shard; // shard < MAX_POLL_SHARDS = 64
        if self.pd.shards.load(Acquire) & bit != 0
            || self.pd.shards.fetch_or(bit, AcqRel) & bit != 0
        {
            return Ok(());
        }
        crate::poller::register(shard, self.fd, self.token).inspect_err(|_| {
            self.pd.shards.fetch_and(!bit, AcqRel);
            // Whoever saw our bit and went to wait must retry, and fail
            // the same way, rather than wait for events that won't come.
            self.pd.ready(true, true, false);
        })
    }

    pub(crate) fn pd(&self) -> &'static PollDesc {
        self.pd
    }

    /// Runs `op` until it does something other than `WouldBlock`, waiting
    /// for readiness in `dir` in between, until `deadline()` (read again
    /// after every wakeup: it may move), if any.
    pub(crate) fn io<T>(
        &self,
        dir: Dir,
        deadline: &dyn Fn() -> Option<Instant>,
        op: impl FnMut() -> io::Result<T>,
    ) -> io::Result<T> {
        self.io_hinted(dir, deadline, op, None, |_| 0)
    }

    /// A read from a stream socket into `len` bytes of buffer. A read that
    /// returns less than it asked for has emptied the socket (TCP and Unix
    /// stream sockets copy all they have), so until the poller reports a
    /// new edge the next read would fail with `EAGAIN`: it waits at once
    /// instead, saving a system call per request in a request-response
    /// protocol (tokio clears its readiness the same way). New data, a
    /// hang-up or an error each bring an edge, and an edge that arrives
    /// before the wait registers moves the sequence number the wait checks.
    /// Not for datagrams (a short datagram says nothing about the next),
    /// nor for `peek` (which leaves the data where it is).
    pub(crate) fn read_stream(
        &self,
        len: usize,
        deadline: &dyn Fn() -> Option<Instant>,
        op: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_hinted(Dir::Read, deadline, op, Some(len), |n| *n)
    }

    /// Forgets a `read_stream` hint: after a local `shutdown`, whose effect
    /// on the socket need not come with an edge.
    pub(crate) fn forget_drained(&self) {
        self.pd.drained.store(0, Relaxed);
    }

    /// `io`, with `read_stream`'s hint when `stream_len` is given (`count`
    /// then says how many bytes a result holds).
    fn io_hinted<T>(
        &self,
        dir: Dir,
        deadline: &dyn Fn() -> Option<Instant>,
        mut op: impl FnMut() -> io::Result<T>,
        stream_len: Option<usize>,
        count: impl Fn(&T) -> usize,
    ) -> io::Result<T> {
        loop {
            if self.pd.is_closed() {
                return Err(closed_error());
            }
            if deadline().is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out());
            }
            let seen = self.pd.half(dir).seq.load(Acquire);
            // Only goroutines skip the read: they wait for the sequence
            // number to move, where a thread's `poll(2)` would return at
            // once and, the number never moving for it, loop forever.
            let drained = stream_len.is_some()
                && self.pd.drained.load(Relaxed) == seen.wrapping_add(1)
                && !self.pd.read_hup.load(Acquire)
                && in_goroutine();
            if !drained {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(v) => {
                        if let Some(len) = stream_len
                            && (1..len).contains(&count(&v))
                        {
                            self.pd.drained.store(seen.wrapping_add(1), Relaxed);
                        }
                        return Ok(v);
                    }
                    other => return other,
                }
            }
            if in_goroutine() {
                self.wait_goroutine(dir, seen, deadline)?;
            } else {
                wait_thread(self.pd, dir, self.fd, deadline)?;
            }
        }
    }

    fn wait_goroutine(
        &self,
        dir: Dir,
        seen: u64,
        deadline: &dyn Fn() -> Option<Instant>,
    ) -> io::Result<()> {
        self.watch_here()?;
        let half = self.pd.half(dir);
        let me = Task::current();
        {
            let mut waiters = half.waiters();
            if half.seq.load(Acquire) != seen || self.pd.is_closed() {
                return Ok(());
            }
            waiters.push((me.clone(), seen));
        }
        // While we wait for the fd, the runtime is not deadlocked.
        let _waiting = gofer_runtime::hooks::external_wait();
        loop {
            if half.seq.load(Acquire) != seen || self.pd.is_closed() {
                return Ok(());
            }
            match deadline() {
                None => park(),
                Some(d) if Instant::now() < d => park_deadline(d),
                Some(_) => {
                    let mut waiters = half.waiters();
                    if half.seq.load(Acquire) != seen {
                        return Ok(()); // became ready just in time
                    }
                    let id = me.id();
                    waiters.retain(|(t, _)| t.id() != id);
                    return Err(timed_out());
                }
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut shards = self.pd.shards.swap(0, AcqRel);
        while shards != 0 {
            crate::poller::deregister(shards.trailing_zeros() as usize, self.fd);
            shards &= shards - 1;
        }
        // Make events still in flight for this slot stale, wake anybody
        // left waiting, and give the slot back.
        self.pd.generation.fetch_add(1, AcqRel);
        self.pd.close();
        SLAB.release(self.index);
    }
}

/// A plain thread waits in `poll(2)`, in slices so that it also notices
/// `close()`.
fn wait_thread(
    pd: &PollDesc,
    dir: Dir,
    fd: RawFd,
    deadline: &dyn Fn() -> Option<Instant>,
) -> io::Result<()> {
    const SLICE_MS: i32 = 100;
    let events = match dir {
        Dir::Read => libc::POLLIN | libc::POLLRDHUP,
        Dir::Write => libc::POLLOUT,
    };
    loop {
        if pd.is_closed() {
            return Ok(()); // the caller reports it
        }
        let ms = match deadline() {
            None => SLICE_MS,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(timed_out());
                }
                (left.as_micros().div_ceil(1000)).min(SLICE_MS as u128) as i32
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// The error an operation gets once its socket was closed (also by
/// another goroutine while it waited).
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "gofer: use of a closed socket",
    )
}

pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "gofer: the operation timed out")
}
