//! Channels for goroutines and threads, with `select!` — the channels of
//! [gofer].
//!
//! The API is crossbeam-channel 0.5's, name for name: code written for
//! crossbeam-channel compiles against `gofer_chan` (or `gofer::chan`) by
//! changing the import. On top of it come Go's semantics: an explicit
//! [`Sender::close`], a uniformly random choice among ready `select!`
//! arms, and [`never()`] as the nil channel.
//!
//! ```
//! use gofer_chan::{bounded, select, after};
//! use std::time::Duration;
//!
//! let (tx, rx) = bounded::<u64>(0);            // Go's make(chan uint64)
//! let h = gofer_runtime::spawn(move || tx.send(42).unwrap());
//! select! {
//!     recv(rx) -> v => assert_eq!(v, Ok(42)),
//!     recv(after(Duration::from_secs(5))) -> _ => panic!("timeout"),
//! }
//! h.join().unwrap();
//! ```
//!
//! # Blocking in both worlds
//!
//! Every operation that waits — `send` on a full channel, `recv` on an
//! empty one, `select!` with nothing ready — *parks the calling goroutine*
//! (its worker thread runs other goroutines meanwhile) or, called from a
//! plain thread, blocks that thread. A goroutine and a thread can sit on
//! the two ends of one channel, rendezvous channels and `select!` included.
//! Identity is the task, not the thread: two goroutines that share a
//! worker thread can pair on a zero-capacity channel.
//!
//! # How it works
//!
//! The protocol is crossbeam-channel's, which is Go's `selectgo` without
//! the locks:
//!
//! * Most flavors have a lock-free fast path: `bounded(n > 1)` is a ring
//!   of stamped slots (`flavors/array.rs`), `unbounded()` a linked list of
//!   blocks (`flavors/list.rs`). `bounded(0)` (`flavors/zero.rs`) is
//!   Go's unbuffered `hchan`: one small lock over both wait lists, and the
//!   side that arrives second completes the waiting side — it moves the
//!   message into or out of a packet on the waiter's stack (each packet
//!   carries its own list link) and readies it. That is safe because a
//!   parked goroutine is never destroyed and its stack never moves, and
//!   because the waiter does not leave before its packet is handed back.
//!   `bounded(1)`
//!   (`flavors/small.rs`) is Go's `hchan`: a queue under a lock, where a
//!   receive that frees the slot moves a blocked sender's message in and
//!   completes its send, and a send hands its message to a blocked
//!   receiver, so a full or empty one-slot channel costs no extra
//!   goroutine switches.
//! * A task that must wait registers itself in each channel's wait list
//!   (`waker.rs`), **re-checks** the channel, and parks. Its *select word*
//!   (`context.rs`) lives in the task itself (the runtime's per-task
//!   `WaitSlot`, like Go's `g.selectDone`), so waiting allocates nothing.
//!   A `select!` receive arm on a rendezvous channel keeps its packet in
//!   the frame of the `select!` statement; two cases still box one: a
//!   select *send* arm (its packet must outlive the select: its receiver
//!   reads it later and frees it) and an arm of the dynamic [`Select`].
//!   Whoever completes one of its operations — or a disconnect, or the
//!   task's own timeout — decides the wait with one CAS on that word; a
//!   task is therefore chosen for at most one operation of a `select!`.
//!   (A blocking rendezvous send or receive without a deadline is decided
//!   only under its channel's lock, so there a load and a store do.)
//! * Wakeups go through the runtime's park/unpark, which has permit
//!   semantics (an unpark racing with the park is never lost) and never
//!   runs the woken task inline, so it is safe under a channel lock.
//! * Spin-waits on another task — a slot being written, a packet being
//!   filled — yield to the scheduler in a goroutine instead of spinning
//!   its worker, because the task being waited for may be queued on that
//!   very worker.
//! * `after`, `at` and `tick` need no timer thread: they make their
//!   message on demand from a timestamp, and a wait that includes them
//!   parks with their deadline (a goroutine: its worker's timer heap).
//! * A non-blocking operation that would fail — the `default` arm of a
//!   `select!` with nothing ready — takes no lock: lock-free flavors decide
//!   it from their indices, the zero and small flavors from readiness
//!   bits they publish.
//!
//! [gofer]: https://docs.rs/gofer

#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod channel;
mod context;
mod counter;
mod err;
mod flavors;
mod lock;
mod rt;
mod select;
mod select_macro;
mod sync;
mod utils;
mod waker;

pub use crate::channel::{
    IntoIter, Iter, Receiver, Sender, TryIter, after, at, bounded, never, tick, unbounded,
};
pub use crate::err::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use crate::select::{Select, SelectedOperation};

/// Items the `select!` macro expands to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select::internal::{
        Handle, RecvArm, recv_arm_handle, recv_handle, select, select_deadline, select_timeout,
        send_handle, try_select,
    };
    pub use crate::select::{SelectHandle, Token};
}
