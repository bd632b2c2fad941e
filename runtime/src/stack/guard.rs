//! Guard regions: choosing the mechanism once at start-up, installing guards,
//! and the kernel-mapping budget of the `mprotect` fallback.

use std::io;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::stack::GuardMode;

/// `madvise` advice that turns a range into guard markers (Linux >= 6.13);
/// not in the libc crate yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Guard bytes below each stack (rounded up to whole pages).
const GUARD_BYTES: usize = 64 * 1024;

/// Kernel mappings one `mprotect`-guarded slot costs: the guard and the
/// read-write stack above it.
const MAPPINGS_PER_STACK: usize = 2;

/// What the guards are made of, decided once per process.
pub(crate) struct Config {
    /// The guard mechanism.
    pub(crate) mode: GuardMode,
    /// The system page size.
    pub(crate) page: usize,
    /// Guard bytes per slot.
    pub(crate) guard: usize,
    /// The mapping budget; only in `Mprotect` mode.
    budget: Option<Budget>,
}

/// How many `mprotect`-guarded stacks the process may have.
struct Budget {
    /// Mappings the stacks may use.
    mappings: usize,
    /// `vm.max_map_count` as read at start-up.
    max_map_count: usize,
    /// True when `GOFER_MAX_STACK_MAPPINGS` set `mappings`.
    from_env: bool,
    /// Why `MADV_GUARD_INSTALL` is not used, for the message.
    why: &'static str,
}

/// The configuration, computed on first use.
static CONFIG: OnceLock<Config> = OnceLock::new();

/// Slots carved so far in `Mprotect` mode (each holds two mappings for good).
static CHARGED: AtomicUsize = AtomicUsize::new(0);

/// The configuration (probing the kernel on first call).
pub(crate) fn config() -> &'static Config {
    CONFIG.get_or_init(detect)
}

/// Which guard mechanism is in use.
pub(crate) fn guard_mode() -> GuardMode {
    config().mode
}

/// Probes the kernel and reads the environment.
fn detect() -> Config {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let guard = GUARD_BYTES.next_multiple_of(page);
    let forced = std::env::var("GOFER_STACK_GUARD").is_ok_and(|v| v == "mprotect");
    if !forced && guard_install_works(page) {
        return Config {
            mode: GuardMode::GuardInstall,
            page,
            guard,
            budget: None,
        };
    }
    let max_map_count = read_number("/proc/sys/vm/max_map_count").unwrap_or(65530);
    let in_use = std::fs::read("/proc/self/maps")
        .map(|m| m.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0);
    let env = std::env::var("GOFER_MAX_STACK_MAPPINGS").ok();
    let env = env.and_then(|v| v.trim().parse::<usize>().ok());
    let why = if forced {
        "GOFER_STACK_GUARD=mprotect turned MADV_GUARD_INSTALL off"
    } else {
        "this kernel lacks MADV_GUARD_INSTALL, Linux >= 6.13"
    };
    let budget = Budget {
        mappings: env.unwrap_or(max_map_count.saturating_sub(in_use) / 2),
        max_map_count,
        from_env: env.is_some(),
        why,
    };
    Config {
        mode: GuardMode::Mprotect,
        page,
        guard,
        budget: Some(budget),
    }
}

/// Reads a number from a one-line file.
fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Tries `MADV_GUARD_INSTALL` on a throw-away mapping.
fn guard_install_works(page: usize) -> bool {
    let len = 2 * page;
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let p = unsafe { libc::mmap(ptr::null_mut(), len, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: the range is the mapping made above, which nothing else uses.
    let ok = unsafe { libc::madvise(p, page, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: unmapping our own probe mapping; no references into it exist.
    unsafe { libc::munmap(p, len) };
    ok
}

/// Turns `[addr, addr + len)`, the low end of a freshly carved slot, into a
/// guard region.
pub(crate) fn install(addr: usize, len: usize) -> io::Result<()> {
    let p = addr as *mut libc::c_void;
    let rc = match config().mode {
        // SAFETY: the range is the guard of a slot that was just carved from
        // our own slab; no Rust object lives there.
        GuardMode::GuardInstall => unsafe { libc::madvise(p, len, MADV_GUARD_INSTALL) },
        // SAFETY: as above.
        GuardMode::Mprotect => unsafe { libc::mprotect(p, len, libc::PROT_NONE) },
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    let hint = if err.raw_os_error() == Some(libc::ENOMEM) && guard_mode() == GuardMode::Mprotect {
        " (the process may be out of memory mappings; see vm.max_map_count)"
    } else {
        ""
    };
    let msg = format!("gofer: cannot install a goroutine stack guard page: {err}{hint}");
    Err(io::Error::new(err.kind(), msg))
}

/// Checks that `live` goroutines (the new one included) fit the mapping
/// budget. Always `Ok` with guard markers.
pub(crate) fn check_budget(live: usize) -> io::Result<()> {
    match &config().budget {
        Some(b) if live.saturating_mul(MAPPINGS_PER_STACK) > b.mappings => {
            Err(over_budget(b, "cannot spawn goroutine", live, "goroutines"))
        }
        _ => Ok(()),
    }
}

/// Accounts for one more carved slot; fails instead of letting `mprotect`
/// run the process out of mappings.
pub(crate) fn charge_slot() -> io::Result<()> {
    let Some(b) = &config().budget else {
        return Ok(());
    };
    let limit = b.mappings / MAPPINGS_PER_STACK;
    let charged = CHARGED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        (n < limit).then_some(n + 1)
    });
    match charged {
        Ok(_) => Ok(()),
        Err(n) => Err(over_budget(
            b,
            "cannot allocate a goroutine stack",
            n + 1,
            "stacks",
        )),
    }
}

/// Gives back a charge whose slot was never guarded.
pub(crate) fn refund_slot() {
    if config().budget.is_some() {
        CHARGED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The error for `n` stacks over budget `b`.
fn over_budget(b: &Budget, what: &str, n: usize, noun: &str) -> io::Error {
    let need = n.saturating_mul(MAPPINGS_PER_STACK);
    let (Budget { mappings, .. }, max, why) = (b, b.max_map_count, b.why);
    let tail = if b.from_env {
        format!(
            "over the budget of {mappings} set by GOFER_MAX_STACK_MAPPINGS \
             (vm.max_map_count = {max}; {why}); raise GOFER_MAX_STACK_MAPPINGS, \
             and vm.max_map_count with `sysctl -w vm.max_map_count=1048576`"
        )
    } else {
        format!(
            "over the budget of {mappings} left by vm.max_map_count = {max} ({why}); \
             raise it with `sysctl -w vm.max_map_count=1048576`"
        )
    };
    let msg = format!(
        "gofer: {what}: {n} {noun} would need {need} memory mappings for their \
         stack guard pages, {tail}"
    );
    io::Error::new(io::ErrorKind::OutOfMemory, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::StackCache;
    use crate::stack::tests::{child_role, mapping_count, run_child, test_name};

    /// Kernel release as (major, minor).
    fn kernel_version() -> (u32, u32) {
        let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut it = rel.split(|c: char| !c.is_ascii_digit());
        let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (major, minor)
    }

    #[test]
    fn guard_install_on_new_kernels() {
        if kernel_version() >= (6, 13) {
            assert_eq!(guard_mode(), GuardMode::GuardInstall);
            assert!(check_budget(10_000_000).is_ok());
        }
    }

    #[test]
    fn env_forces_mprotect() {
        if child_role() == Some("mprotect") {
            assert_eq!(guard_mode(), GuardMode::Mprotect);
            println!("MODE={:?}", guard_mode());
            return;
        }
        let out = run_child(
            &test_name(module_path!(), "env_forces_mprotect"),
            "mprotect",
            &[("GOFER_STACK_GUARD", "mprotect")],
        );
        assert!(out.stdout.contains("MODE=Mprotect"), "{out:?}");
    }

    #[test]
    fn mprotect_budget_is_enforced() {
        if child_role() == Some("budget") {
            assert_eq!(guard_mode(), GuardMode::Mprotect);
            assert!(check_budget(100).is_ok());
            let err = check_budget(101).unwrap_err().to_string();
            println!("check_budget(101): {err}");
            assert!(
                err.contains("101 goroutines would need 202 memory mappings"),
                "{err}"
            );
            assert!(err.contains("vm.max_map_count") && err.contains("GOFER_MAX_STACK_MAPPINGS"));
            let mut cache = StackCache::new();
            let before = mapping_count();
            let stacks: Vec<_> = (0..100).map(|_| cache.get(16 * 1024).unwrap()).collect();
            let added = mapping_count() - before;
            println!("100 mprotect-guarded stacks added {added} mappings");
            assert!((190..=215).contains(&added), "guards should split: {added}");
            let err = cache.get(16 * 1024).unwrap_err().to_string();
            println!("get #101: {err}");
            assert!(
                err.contains("cannot allocate a goroutine stack: 101 stacks"),
                "{err}"
            );
            assert!(err.contains("vm.max_map_count"), "{err}");
            // Pooled stacks are still handed out past the budget.
            drop(stacks);
            assert!(cache.get(16 * 1024).is_ok());
            println!("BUDGET-OK");
            return;
        }
        let env = [
            ("GOFER_STACK_GUARD", "mprotect"),
            ("GOFER_MAX_STACK_MAPPINGS", "200"),
        ];
        let name = test_name(module_path!(), "mprotect_budget_is_enforced");
        let out = run_child(&name, "budget", &env);
        assert!(
            out.status.success() && out.stdout.contains("BUDGET-OK"),
            "{out:?}"
        );
    }
}
