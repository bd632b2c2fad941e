//! Goroutine stacks: where they live, how they are guarded, pooled and
//! trimmed, and what happens when one overflows.
//!
//! # Layout
//!
//! Stacks are cut from *slabs*: one anonymous `mmap` (`MAP_NORESERVE` so the
//! reservation is not charged against overcommit, `MAP_STACK` so the kernel
//! does not back a lone stack page with a 2 MiB huge page) holds many *slots*
//! of one size class. A slot is a guard region at its low end followed by the
//! usable stack; the stack pointer starts at the slot's top and grows down
//! towards the guard. Slots are carved lazily with a bump pointer and the
//! guard is installed when a slot is carved, so a program with ten goroutines
//! pays for ten guards, not for a whole slab. A class's first slab has 16
//! slots and each next one doubles, up to about 1 GiB of address space per
//! slab: 1,000,000 stacks of 256 KiB need about 320 slabs, and since the
//! kernel merges neighbouring slabs into one VMA, measured here they added
//! only 3 mappings. Slabs are never unmapped (the address space is kept,
//! like Go keeps its heap); 320 GiB of it is a quarter of one percent of
//! the 128 TiB user address space. Sizes are rounded up to powers of two
//! from 16 KiB (`slab.rs`), so goroutines asking for 100 KiB and 128 KiB
//! share a pool.
//!
//! # Guards and the mapping budget (`guard.rs`)
//!
//! A guard made with `mprotect(PROT_NONE)` splits the slab's mapping: every
//! guarded slot costs the kernel two VMAs (the guard and the stack above it).
//! Linux refuses to go past `vm.max_map_count` (65530 by default), so about
//! 32,700 guarded stacks exhaust it, and then *every* new mapping fails -
//! malloc arenas, thread stacks, file maps - with a bare ENOMEM. Linux 6.13
//! added `MADV_GUARD_INSTALL`, which writes guard markers into the page
//! tables instead of splitting the VMA: a slab of thousands of guarded stacks
//! stays one mapping. We probe for it once and use it when it works. The
//! fallback keeps `mprotect` guards under an explicit budget (half of what
//! `vm.max_map_count` leaves, two mappings per stack) and answers with an
//! error that names the sysctl before the kernel would answer ENOMEM.
//!
//! Guards are 64 KiB. Rust probes every page of a large frame, so one page
//! would do for Rust code, but C code built without stack-clash protection
//! can jump a single page with one big local array. A bigger guard costs only
//! address space (and a little page-table space): no RSS and no VMAs.
//!
//! # Memory per stack
//!
//! Resident memory is the pages a stack has touched. A parked goroutine that
//! used little stack holds one 4 KiB page, plus its share of a page-table
//! page (one per 2 MiB of address space: 0.64 KiB per 320 KiB slot) and a
//! 24-byte owner entry; measured at 1,000,000 stacks: 4,154 B RSS each.
//! Deep stacks keep their high-water mark resident while they are reused;
//! the scavenger (`pool.rs`) hands it back to the kernel with
//! `MADV_DONTNEED` once a stack has idled in the global pool for a whole
//! period, keeping the top page, which the next user touches first anyway.
//!
//! # Pooling (`pool.rs`)
//!
//! A fresh slot costs a guard-install syscall (about 1.2 us here) and then
//! page faults on first use (about 3 us for the first page, page-table page
//! included); a pooled stack costs a `Vec` pop (get + put: 9-20 ns). Each
//! worker owns a `StackCache` (up to 64 stacks per class, LIFO so the
//! hottest stack is reused first); beyond that half moves to a global pool
//! behind a mutex, in one short critical section.
//!
//! # Overflow (`overflow.rs`)
//!
//! A SIGSEGV/SIGBUS handler, running on an alternate signal stack, looks the
//! fault address up in a lock-free registry of slabs. A hit in a guard
//! prints which goroutine overflowed and aborts; anything else goes to the
//! handler that was installed before ours (normally std's, which reports
//! overflows of plain threads).

mod guard;
mod overflow;
mod pool;
mod slab;

use std::mem::ManuallyDrop;

use corosensei::stack::StackPointer;

pub(crate) use guard::check_budget;
#[allow(unused_imports)] // used by the tests and kept for diagnostics
pub(crate) use guard::guard_mode;
pub(crate) use overflow::{ensure_altstack, install_overflow_handler};
pub(crate) use pool::{StackCache, scavenge};

/// Usable bytes of a goroutine stack unless the goroutine asks for another
/// size (the guard comes on top).
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack handed out; smaller requests are rounded up to it.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;

/// Which mechanism protects the guard regions below the stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)` markers: no extra kernel mappings.
    GuardInstall,
    /// `mprotect(PROT_NONE)`: two kernel mappings per stack, under a budget.
    Mprotect,
}

/// One goroutine stack: usable region `[limit + guard, base)` with its guard
/// region `[limit, limit + guard)` below it, inside a slab slot.
///
/// Dropping a `Stack` (for instance with a coroutine that was dropped instead
/// of finished) returns it to the global pool, so slots never leak.
///
/// `Stack` is `Send` and `Sync` without any `unsafe impl`: it holds plain
/// addresses and a `&'static` reference to atomics.
pub(crate) struct Stack {
    /// The slot this stack occupies.
    slot: slab::Slot,
}

// SAFETY: `base` is the top of a slot and `limit` its bottom, both page
// aligned (so aligned to STACK_ALIGNMENT) and non-zero. The range is mapped
// read-write except for the guard at the bottom, which is a guard marker or
// PROT_NONE for as long as the process lives (slabs are never unmapped and
// guards never removed), and the usable part is at least MIN_STACK_SIZE
// (16 KiB, above corosensei's 4 KiB minimum). The slot belongs to this value
// alone: the pools hand each slot to one `Stack` at a time.
unsafe impl corosensei::stack::Stack for Stack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.slot.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.slot.limit
    }
}

impl Stack {
    /// Usable bytes, excluding the guard: the size class the request was
    /// rounded up to.
    pub(crate) fn usable_size(&self) -> usize {
        self.slot.usable
    }

    /// Records which goroutine runs on this stack, for the overflow message.
    /// Goroutine ids start at 1: id 0 reads as "no owner".
    ///
    /// # Safety
    ///
    /// `name` must stay valid (not freed, not moved) until `clear_owner` or
    /// `StackCache::put` is called for this stack, because the signal handler
    /// may read it at any moment until then.
    pub(crate) unsafe fn set_owner(&self, goroutine_id: u64, name: Option<&str>) {
        self.slot.owner.set(goroutine_id, name);
    }

    /// Forgets the owner recorded by `set_owner`.
    pub(crate) fn clear_owner(&self) {
        self.slot.owner.clear();
    }

    /// Takes the slot out without running `Drop` (which would pool it).
    fn into_slot(self) -> slab::Slot {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the slot is moved
        // out exactly once.
        unsafe { std::ptr::read(&this.slot) }
    }

    /// Wraps a slot that the caller owns.
    fn from_slot(slot: slab::Slot) -> Stack {
        Stack { slot }
    }
}

impl std::fmt::Debug for Stack {
    /// Shows where the stack is and its usable size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("base", &format_args!("{:#x}", self.slot.base))
            .field("usable", &format_args!("{}", format_size(self.slot.usable)))
            .finish()
    }
}

impl Drop for Stack {
    /// Returns the slot to the global pool.
    fn drop(&mut self) {
        self.slot.owner.clear();
        // SAFETY: `drop` runs once and `self.slot` is not touched afterwards;
        // the slot is moved into the pool exactly once.
        let slot = unsafe { std::ptr::read(&self.slot) };
        pool::release_to_global(slot);
    }
}

/// One kibibyte.
const KIB: usize = 1024;

/// Splits a byte count into a number and a unit for messages: whole GiB or
/// MiB when exact, else KiB, else bytes. Allocation-free, for the signal
/// handler too (usable stack sizes are always whole KiB).
fn size_in_units(bytes: usize) -> (usize, &'static str) {
    for (unit, name) in [(KIB * KIB * KIB, "GiB"), (KIB * KIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return (bytes / unit, name);
        }
    }
    (bytes, "bytes")
}

/// Formats a byte count for an error message: "64 MiB", "512.1 MiB".
fn format_size(bytes: usize) -> String {
    match size_in_units(bytes) {
        (_, "KiB") if bytes >= KIB * KIB => format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64),
        (n, unit) => format!("{n} {unit}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Tests of the `Stack` API, and helpers for the other files' tests:
    //! child processes (for crashes and process-wide measurements) and
    //! `/proc` readers.

    use super::*;
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, ExitStatus};

    /// Environment variable that tells a child test process its role.
    const ROLE_VAR: &str = "GOFER_STACK_TEST_CHILD";

    /// The role this process was started with, if it is a child.
    pub(crate) fn child_role() -> Option<&'static str> {
        static ROLE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        ROLE.get_or_init(|| std::env::var(ROLE_VAR).ok()).as_deref()
    }

    /// The harness name of test `name` in module `module_path` (as given by
    /// `module_path!()`), without the crate name.
    pub(crate) fn test_name(module_path: &str, name: &str) -> String {
        let (_crate, path) = module_path.split_once("::").expect("module path");
        format!("{path}::{name}")
    }

    /// What a child test process did.
    #[derive(Debug)]
    pub(crate) struct ChildOutput {
        /// How it ended.
        pub(crate) status: ExitStatus,
        /// Its standard output.
        pub(crate) stdout: String,
        /// Its standard error.
        pub(crate) stderr: String,
    }

    /// Runs test `test` of this binary in a child process with `role` and
    /// extra environment, without core dumps.
    pub(crate) fn run_child(test: &str, role: &str, env: &[(&str, &str)]) -> ChildOutput {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([test, "--exact", "--nocapture"]);
        cmd.env(ROLE_VAR, role).envs(env.iter().copied());
        // SAFETY: the closure only calls setrlimit, which is
        // async-signal-safe and so fine between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                Ok(())
            });
        }
        let out = cmd.output().expect("run the test binary");
        let child = ChildOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        print!("{}", child.stdout);
        child
    }

    /// Lines of /proc/self/maps: the process's kernel mappings.
    pub(crate) fn mapping_count() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count()
    }

    /// A `kB` field of /proc/self/status, in bytes.
    pub(crate) fn status_bytes(field: &str) -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        let kib: usize = line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    }

    /// Resident set size in bytes.
    pub(crate) fn rss_bytes() -> usize {
        status_bytes("VmRSS:")
    }

    /// The usable range of a stack.
    fn usable_range(s: &Stack) -> std::ops::Range<usize> {
        s.slot.base.get() - s.usable_size()..s.slot.base.get()
    }

    #[test]
    fn get_put_is_lifo() {
        let mut cache = StackCache::new();
        let a = cache.get(DEFAULT_STACK_SIZE).unwrap();
        let b = cache.get(DEFAULT_STACK_SIZE).unwrap();
        let (a_base, b_base) = (a.slot.base, b.slot.base);
        assert_ne!(a_base, b_base);
        cache.put(a);
        cache.put(b);
        let again = cache.get(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(again.slot.base, b_base, "last in, first out");
        let next = cache.get(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(next.slot.base, a_base);
        assert_eq!(again.usable_size(), DEFAULT_STACK_SIZE);
        cache.put(again);
        cache.put(next);
    }

    #[test]
    fn sizes_round_up_and_stacks_are_disjoint_and_writable() {
        let mut cache = StackCache::new();
        let sizes = [
            0,
            1,
            16 * 1024,
            20_000,
            100_000,
            DEFAULT_STACK_SIZE,
            1 << 20,
        ];
        let stacks: Vec<Stack> = (0..10)
            .flat_map(|_| sizes)
            .map(|size| {
                let s = cache.get(size).unwrap();
                assert!(s.usable_size() >= size.max(MIN_STACK_SIZE));
                assert!(s.usable_size() < 2 * size.max(MIN_STACK_SIZE));
                s
            })
            .collect();
        let mut ranges: Vec<_> = stacks
            .iter()
            .map(|s| s.slot.limit.get()..s.slot.base.get())
            .collect();
        ranges.sort_by_key(|r| r.start);
        for w in ranges.windows(2) {
            assert!(w[0].end <= w[1].start, "{w:?} overlap");
        }
        for s in &stacks {
            let r = usable_range(s);
            // SAFETY: the whole usable range belongs to this stack.
            unsafe {
                std::ptr::write_bytes(r.start as *mut u8, 0x5a, r.len());
                assert_eq!((r.start as *const u8).read_volatile(), 0x5a);
                assert_eq!(((r.end - 1) as *const u8).read_volatile(), 0x5a);
            }
            assert!(
                slab::find_guard(r.start - 1).is_some(),
                "guard below the stack"
            );
        }
        stacks.into_iter().for_each(|s| cache.put(s));
        let err = cache.get(2 << 30).unwrap_err();
        assert!(err.to_string().starts_with("gofer: "), "{err}");
        assert_eq!(format_size(16 * KIB), "16 KiB");
        assert_eq!(format_size(64 * KIB * KIB), "64 MiB");
        assert_eq!(format_size(512 * KIB * KIB + 64 * KIB), "512.1 MiB");
        assert_eq!(format_size(KIB << 20), "1 GiB");
    }

    #[test]
    fn runs_a_coroutine() {
        let mut cache = StackCache::new();
        let stack = cache.get(DEFAULT_STACK_SIZE).unwrap();
        let base = stack.slot.base;
        let mut co = Coroutine::with_stack(stack, |y: &Yielder<u32, u32>, x: u32| {
            // Use most of the stack, then suspend.
            let big = std::hint::black_box([x as u8; 64 * 1024]);
            let next = y.suspend(x + big[1000] as u32);
            next * 2
        });
        assert!(matches!(co.resume(1), CoroutineResult::Yield(2)));
        assert!(matches!(co.resume(5), CoroutineResult::Return(10)));
        cache.put(co.into_stack());
        assert_eq!(cache.get(DEFAULT_STACK_SIZE).unwrap().slot.base, base);
    }

    #[test]
    fn owner_is_recorded_and_cleared() {
        let mut cache = StackCache::new();
        let stack = cache.get(MIN_STACK_SIZE).unwrap();
        let name = String::from("worker");
        // SAFETY: `name` outlives the `put` below.
        unsafe { stack.set_owner(42, Some(&name)) };
        let (id, p, len) = stack.slot.owner.get().unwrap();
        assert_eq!((id, p, len), (42, name.as_ptr(), 6));
        stack.clear_owner();
        assert!(stack.slot.owner.get().is_none());
        // SAFETY: as above.
        unsafe { stack.set_owner(43, None) };
        let owner = stack.slot.owner;
        cache.put(stack);
        assert!(owner.get().is_none(), "put clears the owner");
    }

    #[test]
    fn mmap_failure_is_explained() {
        if child_role() == Some("nomap") {
            let mut cache = StackCache::new();
            let vm = status_bytes("VmSize:") as libc::rlim_t;
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit/setrlimit only read and write `lim`.
            unsafe {
                libc::getrlimit(libc::RLIMIT_AS, &mut lim);
                let low = libc::rlimit {
                    rlim_cur: vm + (64 << 20),
                    rlim_max: lim.rlim_max,
                };
                libc::setrlimit(libc::RLIMIT_AS, &low);
            }
            let err = cache.get(512 << 20).unwrap_err().to_string();
            // SAFETY: restores the limit read above.
            unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
            println!("get(512 MiB) under RLIMIT_AS: {err}");
            assert!(err.starts_with("gofer: cannot map "), "{err}");
            assert!(err.contains("for goroutine stacks: Cannot allocate memory (os error 12)"));
            println!("NOMAP-OK");
            return;
        }
        let out = run_child(
            &test_name(module_path!(), "mmap_failure_is_explained"),
            "nomap",
            &[],
        );
        assert!(
            out.status.success() && out.stdout.contains("NOMAP-OK"),
            "{out:?}"
        );
    }
}
