//! sysmon: a background thread that watches the workers, like Go's.
//!
//! * **Hogs.** A goroutine that runs for more than 10 ms without parking or
//!   yielding (a CPU loop, or a blocking call that should have gone through
//!   `gofer::blocking`) holds its worker. sysmon notices that the worker's
//!   switch counter has not moved, reports the goroutine once (id, name,
//!   spawn site, how long so far), and wakes an idle worker so that the
//!   unstarted goroutines queued behind the hog get stolen. The wakeup
//!   happens even with hog reports off: a spawn wakes no thief when the new
//!   goroutine is the only one queued (`submit_new`), so this is what
//!   bounds its wait behind a spawner that never yields.
//! * **Deadlock.** When every worker is idle, no timer is armed, no
//!   blocking call or other wakeup source is in flight, at least one plain
//!   thread waits in a gofer call, and every thread of the process is
//!   accounted for as one of ours or as waiting in gofer, nothing can ever
//!   wake anybody. sysmon then says so, in Go's words ("all goroutines are
//!   asleep — deadlock!"), and exits with status 2 instead of hanging. Any
//!   thread it cannot account for (one that might still send on a channel)
//!   makes it assume the program is alive.
//! * **Stacks.** About once a second it lets the stack pool give idle
//!   stacks' memory back to the OS.
//!
//! Reading a goroutine's name from another thread needs care: the worker
//! may free that goroutine at any moment. Workers therefore keep finished
//! goroutines in a small graveyard and only empty it when sysmon is not
//! inspecting, with a fence on both sides (see `Graveyard`).

use crate::goroutine::{GRef, Header};
use crate::sched::{Runtime, WorkerShared};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*, fence};
use std::time::{Duration, Instant};

/// A goroutine running longer than this without a switch is reported.
const HOG_THRESHOLD: Duration = Duration::from_millis(10);
const BUSY_PERIOD: Duration = Duration::from_millis(5);
const MAX_IDLE_PERIOD: Duration = Duration::from_millis(50);
const SCAVENGE_PERIOD: Duration = Duration::from_secs(1);

/// sysmon is dereferencing some worker's running goroutine.
static INSPECTING: AtomicBool = AtomicBool::new(false);

/// Threads the runtime owns besides workers, sysmon and the blocking pool
/// (e.g. a netpoller), for the deadlock check's thread census.
static SERVICE_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Wakeup sources outside the scheduler that are armed right now (e.g.
/// goroutines waiting for a file descriptor). While any is armed, a quiet
/// runtime is waiting, not deadlocked.
static EXTERNAL_WAITS: AtomicUsize = AtomicUsize::new(0);

/// Counts a thread that gofer's own crates run (e.g. the netpoller) as
/// known, for the deadlock census.
pub fn register_service_thread() {
    SERVICE_THREADS.fetch_add(1, SeqCst);
}

/// Marks one external wakeup source as armed until the guard drops.
pub fn external_wait() -> ExternalWait {
    EXTERNAL_WAITS.fetch_add(1, SeqCst);
    ExternalWait(())
}

/// Guard returned by [`external_wait`].
#[must_use]
#[derive(Debug)]
pub struct ExternalWait(());

impl Drop for ExternalWait {
    fn drop(&mut self) {
        EXTERNAL_WAITS.fetch_sub(1, SeqCst);
    }
}

/// Finished goroutines a worker has not freed yet (see the module docs).
pub(crate) struct Graveyard {
    dead: Vec<GRef>,
}

impl Graveyard {
    pub(crate) fn new() -> Graveyard {
        Graveyard {
            dead: Vec::with_capacity(64),
        }
    }

    /// Keeps `g` until sysmon cannot be looking at it.
    pub(crate) fn bury(&mut self, g: GRef) {
        self.dead.push(g);
        if self.dead.len() >= 32 {
            self.sweep();
        }
    }

    /// Frees the dead unless sysmon is mid-inspection. The worker stored
    /// `running = null` (or another goroutine) before this; with the fence,
    /// either sysmon's later load sees that store, or we see INSPECTING.
    pub(crate) fn sweep(&mut self) {
        if self.dead.is_empty() {
            return;
        }
        fence(SeqCst);
        if !INSPECTING.load(Relaxed) {
            self.dead.clear();
        }
    }
}

pub(crate) fn start(rt: &'static Runtime) {
    std::thread::Builder::new()
        .name("gofer-sysmon".into())
        .spawn(move || run(rt))
        .unwrap_or_else(|e| panic!("gofer: cannot start the sysmon thread: {e}"));
}

struct Watch {
    tick: u64,
    since: Instant,
}

fn run(rt: &'static Runtime) {
    let mut watch: Vec<Watch> = rt
        .workers
        .iter()
        .map(|_| Watch {
            tick: u64::MAX,
            since: Instant::now(),
        })
        .collect();
    let mut period = BUSY_PERIOD;
    let mut last_scavenge = Instant::now();
    let mut quiet_since: Option<(u64, Instant)> = None;
    loop {
        std::thread::sleep(period);
        let now = Instant::now();
        let all_idle = rt.idle.num_idle() == rt.workers.len();
        period = if all_idle {
            (period * 2).min(MAX_IDLE_PERIOD)
        } else {
            BUSY_PERIOD
        };

        check_hogs(rt, &mut watch, now);

        if now.duration_since(last_scavenge) >= SCAVENGE_PERIOD {
            crate::stack::scavenge();
            last_scavenge = now;
        }

        // Deadlock: the stalled state must hold on two looks in a row, with
        // no goroutine switch in between.
        if stalled(rt) {
            let ticks: u64 = rt.workers.iter().map(|w| w.tick.load(Relaxed)).sum();
            match quiet_since {
                Some((t, at))
                    if t == ticks && now.duration_since(at) >= Duration::from_millis(50) =>
                {
                    if stalled(rt) && threads_accounted_for(rt) {
                        report_deadlock();
                    }
                }
                Some((t, _)) if t == ticks => {}
                _ => quiet_since = Some((ticks, now)),
            }
            period = period.min(Duration::from_millis(20));
        } else {
            quiet_since = None;
        }
    }
}

fn check_hogs(rt: &Runtime, watch: &mut [Watch], now: Instant) {
    for (i, w) in rt.workers.iter().enumerate() {
        let tick = w.tick.load(Relaxed);
        if tick != watch[i].tick || w.running.load(Relaxed).is_null() {
            watch[i] = Watch { tick, since: now };
            continue;
        }
        let ran = now.duration_since(watch[i].since);
        if ran < HOG_THRESHOLD {
            continue;
        }
        if rt.settings.hog_reports {
            inspect_hog(rt, w, i, tick, ran);
        }
        // Let idle workers steal the unstarted goroutines behind the hog.
        // Needed even when hogs go unreported: a spawn wakes no thief for
        // the only goroutine queued behind it (`submit_new`).
        rt.wakep();
    }
}

/// Reports the goroutine holding worker `i` (on switch `tick`), once.
fn inspect_hog(rt: &Runtime, w: &WorkerShared, i: usize, tick: u64, ran: Duration) {
    INSPECTING.store(true, Relaxed);
    fence(SeqCst);
    let g = w.running.load(Relaxed);
    // Only trust the pointer if the worker is still on the same switch.
    if !g.is_null() && w.tick.load(Relaxed) == tick {
        // SAFETY: `g` was loaded after INSPECTING was published with a
        // fence; a worker frees (or recycles, `sched/gfree.rs`) a goroutine
        // only after storing another value into `running`, fencing, and
        // seeing INSPECTING false (Graveyard::sweep), so `g` is still alive
        // until we clear it.
        let g = unsafe { &*g };
        if !g.hog_reported.swap(true, Relaxed) {
            report_hog(g, i, ran, rt);
        }
    }
    INSPECTING.store(false, Release);
}

fn report_hog(g: &Header, worker: usize, ran: Duration, rt: &Runtime) {
    let name = match &g.name {
        Some(n) => format!(" ({n})"),
        None => String::new(),
    };
    let waiting = rt.workers[worker].inbox.len();
    let _ = writeln!(
        std::io::stderr().lock(),
        "gofer: goroutine {}{name}, spawned at {}, has run for {} ms without yielding, \
         holding worker {worker}{}; a long computation should call gofer::yield_now() now \
         and then, and a blocking call should go through gofer::blocking()",
        g.id,
        g.spawn_site,
        ran.as_millis(),
        if waiting > 0 {
            format!(" ({waiting} woken goroutines wait for it)")
        } else {
            String::new()
        }
    );
}

/// Nothing runs and nothing inside the runtime could make anything run.
fn stalled(rt: &Runtime) -> bool {
    rt.idle.num_idle() == rt.workers.len()
        && rt.idle.num_spinning() == 0
        && crate::park::parked_threads() > 0
        && crate::blocking::in_flight() == 0
        && EXTERNAL_WAITS.load(SeqCst) == 0
        && rt.injector.is_empty()
        && rt
            .workers
            .iter()
            .all(|w| w.inbox.is_empty() && w.stealer.is_empty() && w.timers.load(Relaxed) == 0)
}

/// Is every thread of the process one of ours or parked in gofer?
fn threads_accounted_for(rt: &Runtime) -> bool {
    let Some(total) = process_threads() else {
        return false;
    };
    let known = rt.workers.len()
        + 1 // sysmon
        + crate::blocking::pool_threads()
        + SERVICE_THREADS.load(SeqCst)
        + crate::park::parked_threads();
    total == known
}

fn process_threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

fn report_deadlock() -> ! {
    let goroutines = crate::num_goroutines();
    let threads = crate::park::parked_threads();
    let parked = match goroutines {
        0 => "no goroutine left".to_string(),
        1 => "1 goroutine parked".to_string(),
        n => format!("{n} goroutines parked"),
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "fatal error: all goroutines are asleep - deadlock!\n\n\
         {threads} thread{} blocked in gofer, {parked}, and no timer, I/O wait \
         or blocking call left that could wake any of them.",
        if threads == 1 { "" } else { "s" },
    );
    std::process::exit(2);
}
