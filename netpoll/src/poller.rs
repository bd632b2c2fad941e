//! The poller: one epoll instance per worker (a *shard*), each polled by
//! its own worker.
//!
//! Descriptors are registered edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`), with a token naming
//! their poll descriptor (see `fd.rs`). Every reported edge bumps that
//! descriptor's readiness and unparks whoever waits on it; a parked
//! goroutine is queued on its home worker, whose thread is woken if it
//! sleeps.
//!
//! Who calls `epoll_wait` is Go's arrangement (`findrunnable` and
//! `sysmon` in `proc.go`), reached through the runtime's `hooks::Poll`,
//! with one difference that gofer's pinning rule calls for:
//!
//! * **A shard per worker.** A started goroutine only ever runs on its
//!   home worker (unless it opted in to migration), so an event is best
//!   seen by that worker: any other would have to wake it. A descriptor is therefore registered, when a
//!   goroutine first waits on it, with the shard of that goroutine's
//!   worker (and with another's too if a goroutine there waits on it
//!   later; an edge then shows up in both, which costs a spurious wakeup
//!   at worst). A descriptor only plain threads use is never registered:
//!   they wait in `poll(2)`.
//! * A worker that runs out of goroutines polls its shard without blocking
//!   before it sleeps, and every 61st scheduling tick while busy
//!   (`poll_now`); what it finds runs on it, with no thread woken at all.
//! * Then it sleeps *in* `epoll_wait` on its shard (`poll_wait`) instead
//!   of on its futex, so a socket turning ready wakes its worker straight
//!   from the kernel. The first design had a dedicated thread block in
//!   `epoll_wait` and futex-wake the worker: two thread wakeups per event.
//!   With one worker, sleeping in epoll took a keep-alive HTTP server from
//!   ~112k to ~174k requests/s and one streaming connection from ~0.9 to
//!   ~2 GB/s (benches/GAPS.md §1); a single shared epoll left two workers
//!   where they were, since the worker it woke was often not the home of
//!   the goroutine it found.
//! * To wake a worker sleeping in `epoll_wait` for other work (a goroutine
//!   readied, a spawn, a deadline moved), its parker writes to the eventfd of
//!   its shard (Go's `netpollBreak`). The eventfd is level-triggered and
//!   only the blocking poll drains it, so a non-blocking poll on another
//!   thread cannot swallow the wakeup; a flag saves the `write` when one
//!   is pending already.
//! * The netpoller thread is only the fallback: every 10 ms it polls the
//!   shards whose worker is busy, which bounds how long a ready socket can
//!   wait behind a worker that never yields — Go's sysmon gives the same
//!   bound. While every worker sleeps in its shard it naps longer.
//!
//! Known costs of this layout. A descriptor stays in every shard it
//! joined until it is closed: a socket waited on from two workers (a
//! listener or a UDP socket served by goroutines on both, a migratable
//! goroutine that moved) has its edges reported twice, which costs a
//! spurious wakeup each. Past 64 workers, workers share shards, and only
//! one of those sleeps in the shard's epoll; the others sleep on their
//! futex and see their sockets from the busy one's polls or the fallback.

use crate::fd;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::Duration;

/// One epoll instance and the eventfd that interrupts its sleeper.
struct Shard {
    epoll: OwnedFd,
    /// Interrupts a worker blocked in `epoll_wait` (see the module docs).
    wakefd: OwnedFd,
    /// A wake was written to `wakefd` and not drained yet.
    wake_pending: AtomicBool,
    /// Registered descriptors. While it is zero, non-blocking polls are
    /// skipped and the shard's worker sleeps on its futex.
    registered: AtomicUsize,
}

impl Shard {
    fn new() -> io::Result<Shard> {
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
        // Level-triggered, unlike the sockets: it stays reported until the
        // blocking poll drains it.
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: valid epoll and target descriptors, and a valid event.
        if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, raw, &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Shard {
            epoll,
            wakefd,
            wake_pending: AtomicBool::new(false),
            registered: AtomicUsize::new(0),
        })
    }
}

static SHARDS: OnceLock<io::Result<Box<[Shard]>>> = OnceLock::new();

/// The shards, created (and the fallback thread started) on first use.
fn shards() -> io::Result<&'static [Shard]> {
    SHARDS
        .get_or_init(|| {
            (0..gofer_runtime::hooks::poll_shards())
                .map(|_| Shard::new())
                .collect()
        })
        .as_deref()
        .map_err(|e| io::Error::new(e.kind(), format!("gofer: cannot create the netpoller: {e}")))
        .inspect(|s| start_thread(s))
}

/// Starts the fallback thread and hands the shards to the runtime's
/// workers, once.
fn start_thread(shards: &'static [Shard]) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        gofer_runtime::hooks::register_service_thread();
        gofer_runtime::hooks::set_poll(gofer_runtime::hooks::Poll {
            poll_now,
            poll_wait,
            wake,
            watching,
        });
        std::thread::Builder::new()
            .name("gofer-netpoll".into())
            .spawn(move || run(shards))
            .unwrap_or_else(|e| panic!("gofer: cannot start the netpoller thread: {e}"));
    });
}

/// The shard a goroutine running on this thread registers with: its
/// worker's. `None` off the workers.
pub(crate) fn current_shard() -> Option<usize> {
    gofer_runtime::hooks::current_poll_shard()
}

/// Registers `fd` under `token` with `shard`.
pub(crate) fn register(shard: usize, fd: RawFd, token: u64) -> io::Result<()> {
    let s = &shards()?[shard];
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: token,
    };
    // SAFETY: valid epoll and target descriptors, and a valid event.
    let r = unsafe { libc::epoll_ctl(s.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    s.registered.fetch_add(1, Relaxed);
    Ok(())
}

/// Shard `shard`, which exists: for the runtime's hooks (installed only
/// once the shards are) and for descriptors `register` put in a shard. No
/// start-up checks on these hot paths.
fn shard(shard: usize) -> &'static Shard {
    match SHARDS.get() {
        Some(Ok(shards)) => &shards[shard],
        _ => unreachable!("gofer: netpoller shard {shard} used before it was created"),
    }
}

/// Removes `fd` from `shard`'s interest list (before it is closed).
pub(crate) fn deregister(shard_index: usize, fd: RawFd) {
    let s = shard(shard_index);
    // SAFETY: valid descriptors; a null event is allowed for DEL. A failure
    // (already closed) leaves nothing to undo.
    unsafe {
        libc::epoll_ctl(
            s.epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut(),
        );
    }
    s.registered.fetch_sub(1, Relaxed);
}

const BATCH: usize = 128;

/// The token of a shard's `wakefd`; slab tokens never reach it (their
/// index half is below `u32::MAX`).
const WAKE_TOKEN: u64 = u64::MAX;

/// How often the fallback thread polls the shards of busy workers; while
/// every shard that watches descriptors has its worker asleep in it, the
/// thread backs off, doubling its nap up to `FALLBACK_IDLE_MAX`, so an
/// idle process is not woken 100 times a second.
const FALLBACK_EVERY: Duration = Duration::from_millis(10);
const FALLBACK_IDLE_MAX: Duration = Duration::from_millis(160);

/// The fallback thread (see the module docs).
fn run(shards: &'static [Shard]) {
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; BATCH];
    let mut nap = FALLBACK_EVERY;
    loop {
        std::thread::sleep(nap);
        let mut busy = false;
        for (i, s) in shards.iter().enumerate() {
            if !gofer_runtime::hooks::shard_polling(i) && s.registered.load(Relaxed) > 0 {
                busy = true;
                let n = wait(s, &mut events, Some(Duration::ZERO));
                dispatch(s, &events[..n], false);
            }
        }
        nap = if busy {
            FALLBACK_EVERY
        } else {
            (nap * 2).min(FALLBACK_IDLE_MAX)
        };
    }
}

/// `epoll_wait` (`epoll_pwait2` for a timeout finer than milliseconds,
/// where the kernel has it); the number of events, 0 on an error.
fn wait(p: &Shard, events: &mut [libc::epoll_event], timeout: Option<Duration>) -> usize {
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
                // ENOSYS: an old kernel; EPERM: a seccomp filter that does
                // not know the call.
                if n < 0
                    && matches!(
                        io::Error::last_os_error().raw_os_error(),
                        Some(libc::ENOSYS | libc::EPERM)
                    )
                {
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
        // An error (EINTR included) counts as a spurious return: callers
        // re-check their state and work out the time left afresh.
        return n.max(0) as usize;
    }
}

/// Wakes the waiters of every reported descriptor; how many it woke. The
/// blocking poll (`drain`) also consumes a wake of `wakefd`.
fn dispatch(p: &Shard, events: &[libc::epoll_event], drain: bool) -> usize {
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
        let hup = e & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0;
        woken += pd.ready(read, write, hup);
    }
    woken
}

/// `hooks::Poll::poll_now`: a non-blocking look at `shard`.
fn poll_now(shard_index: usize) -> usize {
    let s = shard(shard_index);
    if s.registered.load(Relaxed) == 0 {
        return 0;
    }
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    let n = wait(s, &mut events, Some(Duration::ZERO));
    dispatch(s, &events[..n], false)
}

/// `hooks::Poll::poll_wait`: the worker of `shard` sleeps here.
fn poll_wait(shard_index: usize, timeout: Option<Duration>) -> usize {
    let s = shard(shard_index);
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
    let n = wait(s, &mut events, timeout);
    dispatch(s, &events[..n], true)
}

/// `hooks::Poll::watching`: does `shard` hold any descriptor?
fn watching(shard_index: usize) -> bool {
    shard(shard_index).registered.load(Relaxed) > 0
}

/// `hooks::Poll::wake`: interrupts `poll_wait` on `shard`.
fn wake(shard_index: usize) {
    let s = shard(shard_index);
    // Pending already: the eventfd is still readable, and being
    // level-triggered it will be reported to the next `epoll_wait`.
    if s.wake_pending.swap(true, AcqRel) {
        return;
    }
    let one: u64 = 1;
    // SAFETY: writes the 8 bytes of `one`. It cannot block (EFD_NONBLOCK)
    // and can only fail when the counter is near u64::MAX, impossible
    // with the reads in `dispatch` and at most one write per drain.
    unsafe {
        libc::write(
            s.wakefd.as_raw_fd(),
            (&one as *const u64).cast(),
            std::mem::size_of::<u64>(),
        )
    };
}
