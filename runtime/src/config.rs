//! Runtime configuration: how many workers (GOMAXPROCS), the default stack
//! size, and the migration opt-in. Set before first use, or read from the
//! environment (`GOFER_MAXPROCS`, `GOFER_STACK_SIZE`) when the runtime
//! starts lazily.

use crate::stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
use std::fmt;
use std::sync::Mutex;

/// Largest stack a goroutine may ask for (Go's limit, too).
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Settings for the runtime, applied before it starts.
///
/// The runtime starts on first use (the first spawn, sleep, or blocking
/// call). Before that, [`Config::apply`] may set its parameters; afterwards
/// it returns [`ConfigError::AlreadyStarted`].
///
/// ```
/// use gofer_runtime::Config;
/// // Some runtime in this process may already run: both outcomes are fine here.
/// match Config::new().max_procs(2).apply() {
///     Ok(()) => assert_eq!(gofer_runtime::max_procs(), 2),
///     Err(e) => println!("{e}"),
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Config {
    max_procs: Option<usize>,
    stack_size: Option<usize>,
    migrate: bool,
    hog_reports: Option<bool>,
}

/// Why a [`Config`] could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The runtime already runs with its configuration fixed.
    AlreadyStarted,
    /// A value is out of range; the message says which.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::AlreadyStarted => {
                f.write_str("gofer: the runtime has already started; configure it before first use")
            }
            ConfigError::Invalid(msg) => write!(f, "gofer: invalid configuration: {msg}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The settings the runtime started with.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) max_procs: usize,
    pub(crate) stack_size: usize,
    pub(crate) migrate: bool,
    pub(crate) hog_reports: bool,
}

static PENDING: Mutex<Option<Config>> = Mutex::new(None);

impl Config {
    /// A configuration that changes nothing.
    pub fn new() -> Config {
        Config::default()
    }

    /// Number of worker threads running goroutines (Go's GOMAXPROCS).
    /// Default: `GOFER_MAXPROCS`, else the number of CPUs.
    pub fn max_procs(mut self, n: usize) -> Config {
        self.max_procs = Some(n);
        self
    }

    /// Default stack size of goroutines, in bytes (rounded up to a size
    /// class). Default: `GOFER_STACK_SIZE` (bytes, or with a `K`/`M`
    /// suffix), else 256 KiB. Only touched pages cost memory.
    pub fn stack_size(mut self, bytes: usize) -> Config {
        self.stack_size = Some(bytes);
        self
    }

    /// Whether sysmon reports goroutines that run for more than 10 ms
    /// without yielding (on stderr). Default: on.
    pub fn hog_reports(mut self, on: bool) -> Config {
        self.hog_reports = Some(on);
        self
    }

    /// Lets every goroutine resume on any worker after it has started, as
    /// in Go, instead of only on the worker that started it.
    ///
    /// # Safety
    ///
    /// Rust code may not be moved between OS threads in the middle of a
    /// function. By calling this you promise that no code that runs on any
    /// goroutine's stack — yours and every dependency's — does any of this
    /// across a point where the goroutine may park (a channel operation, a
    /// sleep, a lock, I/O, `yield_now`):
    ///
    /// * uses thread-local storage on both sides of the park within one
    ///   function (`thread_local!`, `#[thread_local]`, scoped TLS, C
    ///   `__thread` variables, `errno`): the compiler may keep the old
    ///   thread's address in a register;
    /// * holds a value tied to the OS thread: `MutexGuard`, `RefMut` from a
    ///   thread-local, `StdoutLock`, `Rc` into a thread-local, tracing span
    ///   guards, `std::thread::current()` used for park/unpark;
    /// * parks while unwinding from a panic (gofer blocks the thread instead
    ///   of parking in that case, so this holds for gofer's own calls).
    ///
    /// Breaking the promise is undefined behaviour. Without this option
    /// gofer only moves goroutines that have not started yet, which needs
    /// no promise. Prefer the per-goroutine
    /// [`Builder::migratable`](crate::Builder::migratable).
    pub unsafe fn allow_migration(mut self) -> Config {
        self.migrate = true;
        self
    }

    /// Applies the configuration to the runtime, which must not have
    /// started yet.
    pub fn apply(self) -> Result<(), ConfigError> {
        if let Some(0) = self.max_procs {
            return Err(ConfigError::Invalid("max_procs must be at least 1".into()));
        }
        if let Some(s) = self.stack_size {
            validate_stack_size(s).map_err(ConfigError::Invalid)?;
        }
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        if crate::sched::started() {
            return Err(ConfigError::AlreadyStarted);
        }
        let merged = match pending.take() {
            None => self,
            Some(old) => Config {
                max_procs: self.max_procs.or(old.max_procs),
                stack_size: self.stack_size.or(old.stack_size),
                migrate: self.migrate || old.migrate,
                hog_reports: self.hog_reports.or(old.hog_reports),
            },
        };
        *pending = Some(merged);
        Ok(())
    }
}

pub(crate) fn validate_stack_size(bytes: usize) -> Result<usize, String> {
    if bytes == 0 {
        return Err("a stack size of 0 bytes is not possible".into());
    }
    if bytes > MAX_STACK_SIZE {
        return Err(format!(
            "a stack size of {bytes} bytes is over the {} MiB limit",
            MAX_STACK_SIZE >> 20
        ));
    }
    Ok(bytes.max(MIN_STACK_SIZE))
}

/// Resolves the settings at start-up: explicit config, then environment,
/// then defaults. Called once, by the thread that starts the runtime.
pub(crate) fn settings() -> Settings {
    let cfg = PENDING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    let max_procs = cfg
        .max_procs
        .or_else(|| env_number("GOFER_MAXPROCS", false).filter(|&n| n > 0))
        .unwrap_or_else(num_cpus::get)
        .max(1);
    let stack_size = cfg
        .stack_size
        .or_else(|| {
            env_number("GOFER_STACK_SIZE", true).and_then(|n| match validate_stack_size(n) {
                Ok(n) => Some(n),
                Err(msg) => {
                    eprintln!("gofer: ignoring GOFER_STACK_SIZE: {msg}");
                    None
                }
            })
        })
        .unwrap_or(DEFAULT_STACK_SIZE)
        .max(MIN_STACK_SIZE);
    Settings {
        max_procs,
        stack_size,
        migrate: cfg.migrate,
        hog_reports: cfg.hog_reports.unwrap_or(true),
    }
}

fn env_number(var: &str, suffixes: bool) -> Option<usize> {
    let raw = std::env::var(var).ok()?;
    match parse_number(raw.trim(), suffixes) {
        Some(n) => Some(n),
        None => {
            let what = if suffixes {
                "a size in bytes (optionally with a K or M suffix)"
            } else {
                "a positive integer"
            };
            eprintln!("gofer: ignoring {var}={raw:?}: expected {what}");
            None
        }
    }
}

fn parse_number(s: &str, suffixes: bool) -> Option<usize> {
    let (digits, mult) = match s.as_bytes().last()? {
        b'k' | b'K' if suffixes => (&s[..s.len() - 1], 1 << 10),
        b'm' | b'M' if suffixes => (&s[..s.len() - 1], 1 << 20),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_number("65536", true), Some(65536));
        assert_eq!(parse_number("64K", true), Some(64 << 10));
        assert_eq!(parse_number("2m", true), Some(2 << 20));
        assert_eq!(parse_number("2m", false), None);
        assert_eq!(parse_number("", true), None);
        assert_eq!(parse_number("abc", false), None);
    }

    #[test]
    fn stack_sizes_are_validated() {
        assert!(validate_stack_size(0).is_err());
        assert!(validate_stack_size(MAX_STACK_SIZE + 1).is_err());
        assert_eq!(validate_stack_size(1).unwrap(), MIN_STACK_SIZE);
    }
}
