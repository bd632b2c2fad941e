//! The stack-overflow handler: a SIGSEGV/SIGBUS handler that recognises
//! goroutine guard pages, and the alternate signal stacks it runs on.
//!
//! Everything reachable from the handler is async-signal-safe: atomics,
//! leaked immutable data, a stack buffer, `write(2)`, `sigaction(2)` and
//! `abort(3)`. No allocation, no locks, no thread-locals.

use std::cell::Cell;
use std::cell::UnsafeCell;
use std::mem::{self, MaybeUninit};
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::stack::{guard, size_in_units, slab};

/// The action that was installed before ours, for one signal.
struct PrevAction {
    /// Set (release) once `action` holds the previous action.
    ready: AtomicBool,
    /// Written once before our handler is installed, then only read.
    action: UnsafeCell<MaybeUninit<libc::sigaction>>,
}

// SAFETY: `action` is written once, before `ready` is set and before our
// handler can run; afterwards it is only read.
unsafe impl Sync for PrevAction {}

impl PrevAction {
    /// Nothing saved yet.
    const fn new() -> PrevAction {
        PrevAction {
            ready: AtomicBool::new(false),
            action: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }
}

/// Previous SIGSEGV action.
static PREV_SEGV: PrevAction = PrevAction::new();
/// Previous SIGBUS action.
static PREV_BUS: PrevAction = PrevAction::new();
/// Makes installation happen once.
static INSTALL: Once = Once::new();

/// Installs (once, idempotent, thread-safe) the SIGSEGV/SIGBUS handler that
/// recognises goroutine guard pages.
pub(crate) fn install_overflow_handler() {
    INSTALL.call_once(|| {
        install(libc::SIGSEGV, &PREV_SEGV);
        install(libc::SIGBUS, &PREV_BUS);
    });
}

/// Saves the current action for `sig`, then installs ours.
fn install(sig: libc::c_int, prev: &'static PrevAction) {
    // SAFETY: `sigaction` only reads and writes the structs we pass. The
    // previous action is saved (and `ready` set) before our handler is
    // installed, so the handler never sees it half-written.
    unsafe {
        libc::sigaction(sig, ptr::null(), (*prev.action.get()).as_mut_ptr());
        prev.ready.store(true, Ordering::Release);
        let mut action: libc::sigaction = mem::zeroed();
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_fault;
        action.sa_sigaction = handler as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, ptr::null_mut());
    }
}

/// The signal handler.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo, and for
    // SIGSEGV/SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some((slab, index)) = slab::find_guard(addr) {
        report(slab.owner(index).get(), slab.usable());
    }
    chain(sig, info, ctx);
}

/// Prints the overflow message and aborts.
fn report(owner: Option<(u64, *const u8, usize)>, usable: usize) -> ! {
    let mut line = Line::new();
    line.push(b"fatal error: ");
    match owner {
        Some((id, name, len)) => {
            line.push(b"goroutine ");
            line.push_number(id);
            if !name.is_null() {
                // SAFETY: `Stack::set_owner` requires the name to stay valid
                // until the owner is cleared, and the owner is still set.
                // Long names are cut at 200 bytes.
                let name = unsafe { std::slice::from_raw_parts(name, len.min(200)) };
                line.push(b" (");
                line.push(name);
                line.push(b")");
            }
        }
        None => line.push(b"a goroutine"),
    }
    let (n, unit) = size_in_units(usable);
    line.push(b" has overflowed its stack of ");
    line.push_number(n as u64);
    line.push(b" ");
    line.push(unit.as_bytes());
    line.push(
        b"\nhint: give it a bigger stack with gofer::Builder::stack_size or GOFER_STACK_SIZE\n",
    );
    line.write_stderr();
    // SAFETY: abort is async-signal-safe and ends the process.
    unsafe { libc::abort() }
}

/// Hands a fault that is not ours to the previous action.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = if sig == libc::SIGBUS {
        &PREV_BUS
    } else {
        &PREV_SEGV
    };
    if !prev.ready.load(Ordering::Acquire) {
        // Cannot happen (saved before install); fall back to the default.
        // SAFETY: `signal` with SIG_DFL is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    // SAFETY: `ready` is set, so the action was fully written and is never
    // written again.
    let action = unsafe { (*prev.action.get()).assume_init_ref() };
    match action.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Restore it and return: the faulting instruction runs again and
            // the kernel applies the default action (it does so for a forced
            // fault signal even when it was ignored).
            // SAFETY: reinstalling an action the kernel gave us.
            unsafe { libc::sigaction(sig, action, ptr::null_mut()) };
        }
        f if action.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: with SA_SIGINFO, `sa_sigaction` holds a three-argument
            // handler, which we call with the arguments we were given.
            let f = unsafe {
                mem::transmute::<
                    libc::sighandler_t,
                    extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void),
                >(f)
            };
            f(sig, info, ctx);
        }
        f => {
            // SAFETY: without SA_SIGINFO, the field holds a one-argument
            // `sa_handler`.
            let f = unsafe { mem::transmute::<libc::sighandler_t, extern "C" fn(libc::c_int)>(f) };
            f(sig);
        }
    }
}

/// A line of output built on the stack: no allocation. Truncates silently.
struct Line {
    /// The bytes.
    buf: [u8; 512],
    /// Bytes used.
    len: usize,
}

impl Line {
    /// An empty line.
    fn new() -> Line {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }

    /// Appends bytes, as many as fit.
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Appends a number in decimal.
    fn push_number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    /// Writes the line to file descriptor 2.
    fn write_stderr(&self) {
        let mut done = 0;
        while done < self.len {
            let rest = &self.buf[done..self.len];
            // SAFETY: writing initialised bytes from our own buffer.
            let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                return;
            }
            done += n as usize;
        }
    }
}

/// An alternate signal stack this module mapped for the current thread;
/// unmapped again when the thread exits.
struct AltStack {
    /// Start of the mapping (guard page included), 0 when none.
    map: Cell<usize>,
    /// Length of the mapping.
    len: Cell<usize>,
}

thread_local! {
    /// The altstack we made for this thread, if any.
    static ALT_STACK: AltStack = const { AltStack { map: Cell::new(0), len: Cell::new(0) } };
}

impl Drop for AltStack {
    /// Disables the altstack and unmaps it at thread exit. Freeing (rather
    /// than leaking) matters because a runtime may start and stop threads
    /// (e.g. for blocking calls) for as long as the process lives.
    fn drop(&mut self) {
        let map = self.map.get();
        if map == 0 {
            return;
        }
        // SAFETY: this thread is exiting and is not running on the altstack
        // (TLS destructors run on the thread's own stack). If ours is still
        // the thread's altstack we disable it first, so no later signal can
        // land on the unmapped range; if someone replaced it, ours is unused.
        unsafe {
            let mut current: libc::stack_t = mem::zeroed();
            libc::sigaltstack(ptr::null(), &mut current);
            if current.ss_sp as usize == map + guard::config().page {
                let mut off: libc::stack_t = mem::zeroed();
                off.ss_flags = libc::SS_DISABLE;
                libc::sigaltstack(&off, ptr::null_mut());
            }
            libc::munmap(map as *mut libc::c_void, self.len.get());
        }
    }
}

/// Makes sure the calling thread has an alternate signal stack, so the
/// handler can run after an overflow has used up the goroutine stack.
/// Threads made by `std::thread` normally have one already (std installs
/// it along with its own handler); otherwise we map one with a guard page
/// below it, and unmap it when the thread exits.
pub(crate) fn ensure_altstack() {
    // SAFETY: `stack_t` is plain data (all-zero is valid), and querying the
    // current altstack writes only into `current`.
    let current = unsafe {
        let mut current: libc::stack_t = mem::zeroed();
        libc::sigaltstack(ptr::null(), &mut current);
        current
    };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return;
    }
    let page = guard::config().page;
    // SAFETY: getauxval has no preconditions; 0 means "unknown".
    let min = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    let size = (min.max(libc::SIGSTKSZ) + 32 * 1024).next_multiple_of(page);
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK;
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let map = unsafe { libc::mmap(ptr::null_mut(), page + size, prot, flags, -1, 0) };
    if map == libc::MAP_FAILED {
        return; // Overflows then kill the thread without a message.
    }
    // SAFETY: the lowest page of our own mapping becomes its guard, and the
    // rest becomes this thread's altstack; nothing else uses the range.
    unsafe {
        libc::mprotect(map, page, libc::PROT_NONE);
        let stack = libc::stack_t {
            ss_sp: map.cast::<u8>().add(page).cast(),
            ss_flags: 0,
            ss_size: size,
        };
        libc::sigaltstack(&stack, ptr::null_mut());
    }
    // If thread-locals are already torn down this fails and the mapping is
    // leaked: it stays valid for the thread's remaining moments.
    let _ = ALT_STACK.try_with(|a| {
        a.map.set(map as usize);
        a.len.set(page + size);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StackCache;
    use crate::stack::tests::{ChildOutput, child_role, run_child, test_name};
    use corosensei::{Coroutine, Yielder};
    use std::hint::black_box;
    use std::os::unix::process::ExitStatusExt;

    /// Recurses (practically) without bound, keeping every frame alive.
    fn recurse(depth: u64) -> u64 {
        if depth == u64::MAX {
            return 0;
        }
        let frame = black_box([depth; 16]);
        black_box(recurse(black_box(depth + 1))) + frame[3]
    }

    /// Runs a coroutine that recurses on a fresh stack of `size` bytes.
    fn overflow_goroutine(size: usize, owner: Option<(u64, &'static str)>) -> ! {
        let mut cache = StackCache::new();
        let stack = cache.get(size).unwrap();
        if let Some((id, name)) = owner {
            // SAFETY: the name is a static string.
            unsafe { stack.set_owner(id, Some(name)) };
        }
        let mut co = Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| recurse(0));
        co.resume(());
        unreachable!("the overflow must abort the process");
    }

    /// Turns off std's altstack for this thread, so that `ensure_altstack`
    /// has to make one.
    fn disable_altstack() {
        // SAFETY: nothing is running on the altstack; signals arriving later
        // on this thread use the thread's own stack until a new one is set.
        unsafe {
            let mut off: libc::stack_t = mem::zeroed();
            off.ss_flags = libc::SS_DISABLE;
            libc::sigaltstack(&off, ptr::null_mut());
        }
    }

    /// Runs `name` in this module as a child with `role`.
    fn child(name: &str, role: &str) -> ChildOutput {
        let out = run_child(&test_name(module_path!(), name), role, &[]);
        eprintln!("child stderr:\n{}", out.stderr);
        out
    }

    #[test]
    fn goroutine_overflow_is_reported() {
        if child_role() == Some("goroutine") {
            install_overflow_handler();
            install_overflow_handler();
            ensure_altstack();
            overflow_goroutine(16 * 1024, Some((7, "deep")));
        }
        let out = child("goroutine_overflow_is_reported", "goroutine");
        let expected = "fatal error: goroutine 7 (deep) has overflowed its stack of 16 KiB\n\
                        hint: give it a bigger stack with gofer::Builder::stack_size or GOFER_STACK_SIZE\n";
        assert!(out.stderr.contains(expected), "{out:?}");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    }

    #[test]
    fn overflow_on_our_own_altstack() {
        if child_role() == Some("own-altstack") {
            install_overflow_handler();
            let t = std::thread::spawn(|| {
                disable_altstack();
                ensure_altstack();
                assert_ne!(ALT_STACK.with(|a| a.map.get()), 0, "made an altstack");
                overflow_goroutine(32 * 1024, None)
            });
            let _ = t.join();
        }
        let out = child("overflow_on_our_own_altstack", "own-altstack");
        let expected = "fatal error: a goroutine has overflowed its stack of 32 KiB\n";
        assert!(out.stderr.contains(expected), "{out:?}");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    }

    #[test]
    fn altstack_is_freed_at_thread_exit() {
        if child_role() == Some("altstack-exit") {
            let t = std::thread::spawn(|| {
                disable_altstack();
                ensure_altstack();
                let (map, len) = ALT_STACK.with(|a| (a.map.get(), a.len.get()));
                ensure_altstack();
                assert_eq!(ALT_STACK.with(|a| a.map.get()), map, "made only once");
                (map, len)
            });
            let (map, len) = t.join().unwrap();
            assert_ne!(map, 0);
            // SAFETY: mincore only reports on the range; ENOMEM means some
            // page of it is not mapped.
            let rc = unsafe {
                let mut vec = vec![0u8; len / 4096];
                libc::mincore(map as *mut libc::c_void, len, vec.as_mut_ptr())
            };
            assert_eq!(rc, -1, "the altstack should be unmapped");
            println!("ALTSTACK-FREED");
            return;
        }
        let out = child("altstack_is_freed_at_thread_exit", "altstack-exit");
        assert!(
            out.status.success() && out.stdout.contains("ALTSTACK-FREED"),
            "{out:?}"
        );
    }

    #[test]
    fn thread_overflow_still_reported_by_std() {
        if child_role() == Some("thread") {
            install_overflow_handler();
            let t = std::thread::Builder::new()
                .name("small".into())
                .stack_size(64 * 1024);
            let _ = t.spawn(|| recurse(0)).unwrap().join();
            unreachable!("the overflow must abort the process");
        }
        let out = child("thread_overflow_still_reported_by_std", "thread");
        assert!(out.stderr.contains("thread 'small'"), "{out:?}");
        assert!(out.stderr.contains("has overflowed its stack"), "{out:?}");
        assert!(!out.stderr.contains("goroutine"), "{out:?}");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    }

    #[test]
    fn wild_access_is_a_plain_segfault() {
        if child_role() == Some("wild") {
            install_overflow_handler();
            ensure_altstack();
            // SAFETY: maps then unmaps one page, so the address is unmapped;
            // reading it faults, which is the point of this test.
            unsafe {
                let p = libc::mmap(
                    ptr::null_mut(),
                    4096,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                libc::munmap(p, 4096);
                black_box(ptr::read_volatile(p.cast::<u8>()));
            }
            unreachable!("the read must fault");
        }
        let out = child("wild_access_is_a_plain_segfault", "wild");
        assert!(!out.stderr.contains("overflowed"), "{out:?}");
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    }
}
