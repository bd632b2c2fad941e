//! Channel flavors: one file per kind of buffer.
//!
//! * `array` — `bounded(n > 1)`: a lock-free ring of `n` slots.
//! * `list` — `unbounded()`: a lock-free linked list of blocks.
//! * `small` — `bounded(1)`: a locked queue with Go's hand-off.
//! * `zero` — `bounded(0)`: no buffer; a sender and a receiver meet.
//! * `at` — `after`/`at`: one message at a set time, no timer thread.
//! * `tick` — `tick`: a message every period, no timer thread.
//! * `never` — `never()`: Go's nil channel, never ready.

pub(crate) mod array;
pub(crate) mod at;
pub(crate) mod list;
pub(crate) mod never;
pub(crate) mod small;
pub(crate) mod tick;
pub(crate) mod zero;
