//! The one place that decides whether atomics and locks come from std or
//! from loom (under `--cfg loom`, so `loom-tests/` can model-check the
//! mutex hand-off and the wait group).

#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) mod atomic {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicUsize, Ordering};
}

#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) mod atomic {
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicUsize, Ordering};
}

/// Declares a constructor that is `const` normally (so primitives can live
/// in statics, as std's can) and plain under loom, whose atomics and locks
/// cannot be built in a const context.
macro_rules! const_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($args:tt)*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$m])*
        $vis const fn $name($($args)*) -> $ret $body

        #[cfg(loom)]
        $(#[$m])*
        $vis fn $name($($args)*) -> $ret $body
    };
}
pub(crate) use const_fn;
