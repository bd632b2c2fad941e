//! The waiting side of every blocking operation: a task, its select word,
//! and its packet slot.
//!
//! A blocking send, receive or select registers the current task in the
//! wait lists of the channels involved and parks. The task's select word
//! (in its [`WaitSlot`](crate::rt::WaitSlot), so nothing is allocated) says
//! how the wait ended; it starts at `Waiting`, and the first party to move
//! it with a compare-and-swap decides: a peer that completes one of the
//! registered operations (`Operation(id)`), a disconnect (`Disconnected`),
//! or the waiter itself giving up (`Aborted`). Everyone else sees the CAS
//! fail and moves on, so an operation is chosen at most once — Go's
//! `selectDone`.

use crate::rt::{Task, WaitSlot};
use crate::select::Selected;
use crate::utils::Backoff;
use std::sync::atomic::Ordering::*;
use std::time::Instant;

/// A handle to a waiting task; cheap to clone (a reference count).
/// Public only because the `select!` machinery names it.
#[doc(hidden)]
#[derive(Clone)]
#[repr(transparent)]
pub struct Context {
    task: Task,
}

impl Context {
    /// Runs `f` with a context for the calling task, reset to `Waiting`.
    #[inline(always)]
    pub(crate) fn with<F, R>(f: F) -> R
    where
        F: FnOnce(&Context) -> R,
    {
        Task::with_current(|task| {
            // SAFETY: `Context` is a `repr(transparent)` wrapper of `Task`.
            let cx = unsafe { &*(task as *const Task as *const Context) };
            cx.slot().reset();
            f(cx)
        })
    }

    fn slot(&self) -> &WaitSlot {
        self.task.wait_slot()
    }

    /// Tries to decide how the wait ends; on failure returns what was
    /// decided instead.
    #[inline]
    pub(crate) fn try_select(&self, select: Selected) -> Result<(), Selected> {
        self.slot()
            .state
            .compare_exchange(Selected::Waiting.into(), select.into(), AcqRel, Acquire)
            .map(|_| ())
            .map_err(Selected::from)
    }

    /// As [`try_select`](Self::try_select), for a wait that only holders
    /// of one lock ever decide (a blocking operation without a deadline,
    /// listed in one channel; it never decides its own wait): under that
    /// lock a load and a store do what the compare-and-swap did, without
    /// a locked instruction.
    #[inline]
    pub(crate) fn try_select_locked(&self, select: Selected) -> Result<(), Selected> {
        let state = &self.slot().state;
        match Selected::from(state.load(Relaxed)) {
            Selected::Waiting => {
                state.store(select.into(), Release);
                Ok(())
            }
            sel => Err(sel),
        }
    }

    /// How the wait ended, or `Waiting`.
    #[inline]
    pub(crate) fn selected(&self) -> Selected {
        Selected::from(self.slot().state.load(Acquire))
    }

    /// Hands a packet to the waiter; done by the peer that selected it.
    #[inline]
    pub(crate) fn store_packet(&self, packet: *mut ()) {
        if !packet.is_null() {
            self.slot().packet.store(packet, Release);
        }
    }

    /// `store_packet` as the last use of a waiter's context: the waiter
    /// may leave, and free a context borrowed from its frame, as soon as
    /// the pointer lands, so no reference to the context may be live
    /// during the store (a reference argument, as `&self` is, must stay
    /// valid until its function returns). Only the task's slot is
    /// borrowed for it, and that is all atomics.
    ///
    /// # Safety
    /// `cx` points to a live context when called.
    #[inline]
    pub(crate) unsafe fn store_packet_last(cx: *const Context, packet: *mut ()) {
        if !packet.is_null() {
            // SAFETY: live on entry (caller's contract); this borrow of
            // it ends before the store.
            let slot = unsafe { &*cx }.slot();
            slot.packet.store(packet, Release);
        }
    }

    /// Waits for the packet of the peer that selected us. The peer stores
    /// it right after its CAS, so this rarely spins.
    pub(crate) fn wait_packet(&self) -> *mut () {
        let backoff = Backoff::new();
        loop {
            let packet = self.slot().packet.load(Acquire);
            if !packet.is_null() {
                return packet;
            }
            backoff.snooze();
        }
    }

    /// Parks until the wait is decided or `deadline` passes; in the latter
    /// case aborts it (unless decided meanwhile). Returns the decision.
    ///
    /// Only the waiting task itself calls this, on the context
    /// [`with`](Context::with) lent it: a context is made only there, for
    /// the calling task, and everybody else only selects or unparks one
    /// (or a clone of one, in a `Waker`).
    ///
    /// Inlined, down to the goroutine switch (`Task::park_current`), into
    /// each flavor's wait: a goroutine resumed here returns through that
    /// many fewer frames before it next suspends (GAPS §6, §7).
    #[inline(always)]
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> Selected {
        loop {
            let sel = self.selected();
            if sel != Selected::Waiting {
                return sel;
            }
            match deadline {
                // SAFETY: the task of this context is the caller (see
                // above).
                None => unsafe { self.task.park_current(None) },
                // SAFETY: as above.
                Some(end) if Instant::now() < end => unsafe { self.task.park_current(Some(end)) },
                Some(_) => {
                    return match self.try_select(Selected::Aborted) {
                        Ok(()) => Selected::Aborted,
                        Err(sel) => sel,
                    };
                }
            }
        }
    }

    /// Wakes the waiting task (permit semantics: harmless if it no longer
    /// waits).
    #[inline]
    pub(crate) fn unpark(&self) {
        self.task.unpark();
    }
}
