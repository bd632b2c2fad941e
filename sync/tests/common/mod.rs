//! Shared machinery of the gofer-sync integration tests: the mode machinery
//! of `gofer-testkit` (shared with gofer-chan's tests), and `mode_tests!`,
//! which runs every generated test under its `watchdog`.
//!
//! Every concurrency test runs in several *modes* ([`Mode`]): with OS
//! threads only, with goroutines only, and mixed (goroutines and threads
//! sharing the same lock). A test is a function taking the
//! mode; [`mode_tests!`] turns it into one `#[test]` per mode, in a module
//! named after the function:
//!
//! ```text
//! fn lock_waits_for_the_holder(mode: Mode) {
//!     let m = Mutex::new(0);
//!     scope(mode, |sc| {
//!         sc.spawn(|| *m.lock() += 1);
//!         *m.lock() += 1;
//!     });
//! }
//! mode_tests!(lock_waits_for_the_holder: threads, goroutines, mixed, mixed_rev);
//! // => lock_waits_for_the_holder::threads, ::goroutines, ...
//! ```
//!
//! [`scope`] is shaped like `std::thread::scope`: the body and every task
//! it spawns may borrow from the caller, and all tasks are joined before
//! it returns. In goroutine modes the body itself runs in a goroutine too,
//! so that "the main side" of a test blocks as a goroutine.
//!
//! Every generated test runs under a [`watchdog`]: a test that hangs (a
//! lost wakeup, a deadlock) fails after [`HANG`] with a message saying so,
//! instead of stalling the whole suite.

#![allow(dead_code, unused_macros, unused_imports)]

pub use gofer_testkit::*;

/// Generates one `#[test]` per mode for the test function `$name(mode:
/// Mode)`, in a module of the same name: `$name::threads`,
/// `$name::goroutines`, `$name::mixed`, `$name::mixed_rev`. Attributes
/// before a variant apply to that variant only, e.g.
/// `#[ignore = "bug: ..."] goroutines`. Without a list: threads and
/// goroutines. Each runs under [`watchdog`].
macro_rules! mode_tests {
    ($name:ident) => {
        mode_tests!($name: threads, goroutines);
    };
    ($name:ident : $($(#[$attr:meta])* $variant:ident),+ $(,)?) => {
        mod $name {
            $(
                #[test]
                $(#[$attr])*
                fn $variant() {
                    let mode = $crate::common::Mode::from_name(stringify!($variant));
                    $crate::common::watchdog(move || super::$name(mode));
                }
            )+
        }
    };
}

/// [`mode_tests!`] with all four modes.
macro_rules! all_modes {
    ($name:ident) => {
        mode_tests!($name: threads, goroutines, mixed, mixed_rev);
    };
}
