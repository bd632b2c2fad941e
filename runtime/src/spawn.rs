//! Spawning goroutines: `spawn`, `Builder`, and the live-goroutine count.

use crate::config::validate_stack_size;
use crate::goroutine::GoroutineId;
use crate::goroutine::{GCell, GRef, Main, Spec};
use crate::join::{JoinHandle, JoinInner, Packet};
use crate::sched::WorkerShared;
use crate::sched::processor::current_local;
use crate::scope::ScopeData;
use crate::stack::GuardMode;
use std::cell::UnsafeCell;
use std::io;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::*};

/// Goroutines spawned by threads that are not workers (workers count
/// their own spawns and exits without read-modify-writes).
static SPAWNED_OUTSIDE: AtomicU64 = AtomicU64::new(0);

/// Number of goroutines that have been spawned and have not exited yet
/// (running, runnable or parked). A goroutine counts until its stack has
/// gone back to the pool, which may be a moment after its `join` returned.
/// While goroutines come and go, the value is a snapshot that may be off
/// by the few that changed while it was taken.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let h = gofer_runtime::spawn(move || { let _ = rx.recv(); });
/// assert!(gofer_runtime::num_goroutines() >= 1);
/// drop(tx);
/// h.join().unwrap();
/// ```
pub fn num_goroutines() -> usize {
    let Some(rt) = crate::sched::try_runtime() else {
        return 0;
    };
    let mut live = SPAWNED_OUTSIDE.load(Acquire);
    for w in rt.workers.iter() {
        live = live
            .wrapping_add(w.spawned.load(Acquire))
            .wrapping_sub(w.exited.load(Acquire));
    }
    (live as i64).max(0) as usize
}

/// Counts a goroutine that finished, on the worker it finished on.
pub(crate) fn goroutine_exited(worker: &WorkerShared) {
    WorkerShared::bump(&worker.exited);
}

/// Runs a new goroutine and returns a handle to join it.
///
/// The goroutine counterpart of [`std::thread::spawn`]. The closure runs on
/// one of the runtime's worker threads, on its own stack (default 256 KiB
/// of address space, of which only touched pages cost memory). The runtime
/// starts on first use.
///
/// # Panics
///
/// If no stack can be had for the goroutine (address space or
/// `vm.max_map_count` exhausted), with a message that names the cause. Use
/// [`Builder::spawn`] to get that as an `io::Error` instead.
///
/// ```
/// let handles: Vec<_> = (0..10u64).map(|i| gofer_runtime::spawn(move || i * i)).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Goroutine factory: sets name, stack size and migration before spawning.
///
/// ```
/// let h = gofer_runtime::Builder::new()
///     .name("parser")
///     .stack_size(1 << 20)
///     .spawn(|| "parsed")
///     .expect("no stack");
/// assert_eq!(h.goroutine().name(), Some("parser"));
/// assert_eq!(h.join().unwrap(), "parsed");
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until you call spawn"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    migratable: bool,
}

impl Builder {
    /// A builder with default settings.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine; the name shows in [`Goroutine::name`](crate::Goroutine::name), in stack
    /// overflow messages and in sysmon reports.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Size of the goroutine's stack in bytes, rounded up to a size class
    /// (at least 16 KiB, at most 1 GiB). Only pages the goroutine touches
    /// use memory; overflowing the stack aborts the process with a message
    /// naming the goroutine.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Lets this goroutine resume on any worker after it has started, as
    /// Go's goroutines do. By default a started goroutine only ever runs on
    /// the OS thread that started it.
    ///
    /// # Safety
    ///
    /// Same contract as [`Config::allow_migration`](crate::Config::allow_migration),
    /// for the code that runs on this goroutine: no thread-local storage
    /// used on both sides of a park point in one function, no thread-bound
    /// value (`MutexGuard`, `StdoutLock`, TLS `RefMut`, ...) held across a
    /// park point — including inside dependencies.
    pub unsafe fn migratable(mut self) -> Builder {
        self.migratable = true;
        self
    }

    /// Spawns the goroutine.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a stack size of 0 or over 1 GiB; `OutOfMemory`
    /// when the runtime cannot provide guarded stacks for this many live
    /// goroutines, with a message naming the limit (e.g. `vm.max_map_count`
    /// on kernels without `MADV_GUARD_INSTALL`).
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (g, cell) = self.build(Spawned::new(f, None), Location::caller())?;
        // SAFETY: `cell` is `g`'s allocation, alive while `g` is; the packet
        // pointer is only used by the handle, which holds a clone of `g`.
        let inner = unsafe { JoinInner::new(g.clone(), &cell.as_ref().main.packet) };
        crate::sched::submit_new(g);
        Ok(JoinHandle::new(inner))
    }

    /// Allocates a goroutine around `main` with this builder's settings;
    /// shared by `spawn` and scoped spawns. The caller submits it.
    pub(crate) fn build<M: Main>(
        self,
        main: M,
        site: &'static Location<'static>,
    ) -> io::Result<(GRef, NonNull<GCell<M>>)> {
        let rt = crate::sched::runtime();
        let stack_size = match self.stack_size {
            None => rt.settings.stack_size,
            Some(s) => validate_stack_size(s).map_err(|msg| {
                io::Error::new(io::ErrorKind::InvalidInput, format!("gofer: {msg}"))
            })?,
        };
        if crate::stack::guard_mode() == GuardMode::Mprotect {
            // Guard pages cost mappings: refuse before the kernel does.
            crate::stack::check_budget(num_goroutines() + 1)?;
        }
        let local = current_local();
        let id = match local {
            Some(local) => {
                WorkerShared::bump(&local.shared().spawned);
                local.next_goroutine_id()
            }
            None => {
                SPAWNED_OUTSIDE.fetch_add(1, Relaxed);
                GoroutineId::next()
            }
        };
        let migratable = self.migratable || rt.settings.migrate;
        let spec = Spec {
            id,
            name: self.name.map(String::into_boxed_str),
            stack_size,
            migratable,
            spawn_site: site,
        };
        Ok(GRef::new(spec, main, local))
    }
}

/// A spawned closure and the packet its result goes to: the `M` of a
/// goroutine's `GCell`.
pub(crate) struct Spawned<F, T> {
    f: UnsafeCell<Option<F>>,
    pub(crate) packet: Packet<T>,
}

// SAFETY: `f` is taken exactly once, by the holder of the goroutine's run
// right (`run` or `abandon`), never concurrently; `Packet` synchronises
// itself. `F: Send` because the closure runs on another thread.
unsafe impl<F: Send, T: Send> Sync for Spawned<F, T> {}

impl<F, T> Spawned<F, T> {
    pub(crate) fn new(f: F, scope: Option<Arc<ScopeData>>) -> Spawned<F, T> {
        Spawned {
            f: UnsafeCell::new(Some(f)),
            packet: Packet::new(scope),
        }
    }

    fn take(&self) -> F {
        // SAFETY: see the `Sync` impl: one caller, once.
        unsafe { (*self.f.get()).take() }.expect("goroutine started twice")
    }
}

impl<F, T> Main for Spawned<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(&self) {
        let f = self.take();
        let result = catch_unwind(AssertUnwindSafe(f));
        self.packet.finish(result);
    }

    fn abandon(&self, why: String) {
        drop(self.take());
        self.packet.finish(Err(Box::new(why)));
    }
}
