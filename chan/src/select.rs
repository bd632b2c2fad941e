//! Waiting on several operations at once: the shared select loop, the
//! dynamic [`Select`] builder, and [`SelectedOperation`].
//!
//! Every blocking operation, a plain `send`/`recv` included, follows one
//! protocol (crossbeam's, which is Go's `selectgo` without the locks):
//!
//! 1. **try**: attempt each operation once, in random order unless biased;
//! 2. **register** the task in every channel's wait list; stop early if a
//!    channel reports it became ready while registering (the re-check that
//!    prevents lost wakeups) or a peer has already picked us;
//! 3. **park** until the task's select word is decided (a peer completes one
//!    of our operations, a channel disconnects, or a deadline passes — the
//!    earliest of the caller's and every `after`/`tick` channel's);
//! 4. **unregister** everywhere, then finish the chosen operation (for a
//!    zero-capacity channel the peer already paired with us, and a
//!    `bounded(1)` one already handed us its message or granted us a slot;
//!    for the other buffered ones we were only told to try again, and may
//!    lose the race);
//! 5. repeat until something succeeds or the deadline passes.

use crate::channel::{self, Receiver, Sender};
use crate::context::Context;
use crate::err::{
    ReadyTimeoutError, RecvError, SelectTimeoutError, SendError, TryReadyError, TrySelectError,
};
use crate::flavors;
use crate::rt;
use crate::utils;
use std::fmt;
use std::time::{Duration, Instant};

/// Identifies one registered operation: the address of the caller's slot
/// for it, which is unique while the operation is registered and can never
/// be 0, 1 or 2 (those encode the other [`Selected`] states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation(usize);

impl Operation {
    /// No operation: the value of an unlisted packet's link.
    pub(crate) const NONE: Operation = Operation(0);

    /// The operation whose slot is `r`. `r` must stay put while the
    /// operation is registered.
    #[inline]
    pub(crate) fn hook<T>(r: &mut T) -> Operation {
        let addr = r as *mut T as usize;
        assert!(addr > 2, "an operation slot at address {addr}");
        Operation(addr)
    }
}

/// How a wait ended: the value of a task's select word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selected {
    /// Not decided yet.
    Waiting,
    /// The waiter gave up (timeout, or it found an operation ready itself).
    Aborted,
    /// A channel it waited on disconnected.
    Disconnected,
    /// A peer completed (or readied) this operation.
    Operation(Operation),
}

impl From<usize> for Selected {
    #[inline]
    fn from(v: usize) -> Selected {
        match v {
            0 => Selected::Waiting,
            1 => Selected::Aborted,
            2 => Selected::Disconnected,
            oper => Selected::Operation(Operation(oper)),
        }
    }
}

impl From<Selected> for usize {
    #[inline]
    fn from(s: Selected) -> usize {
        match s {
            Selected::Waiting => 0,
            Selected::Aborted => 1,
            Selected::Disconnected => 2,
            Selected::Operation(Operation(v)) => v,
        }
    }
}

/// Scratch space an operation fills when it starts and consumes when it
/// completes (e.g. the buffer slot a send claimed). Public only for the
/// `select!` macro.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Token {
    pub(crate) array: flavors::array::ArrayToken,
    pub(crate) list: flavors::list::ListToken,
    pub(crate) zero: flavors::zero::ZeroToken,
    pub(crate) small: flavors::small::SmallToken,
    pub(crate) at: flavors::at::AtToken,
    pub(crate) tick: flavors::tick::TickToken,
}

/// One side of one channel, as `select` sees it. Public only for the
/// `select!` macro.
#[doc(hidden)]
pub trait SelectHandle {
    /// Tries to start the operation now; `true` if it can complete.
    fn try_select(&self, token: &mut Token) -> bool;
    /// When the operation becomes ready by itself (`after`/`tick`).
    fn deadline(&self) -> Option<Instant>;
    /// Registers the task; `true` if the operation is ready already.
    fn register(&self, oper: Operation, cx: &Context) -> bool;
    /// Undoes `register`. Not called for an operation a peer selected:
    /// whoever decides a wait for an operation (the CAS on the select
    /// word) unlists its entry under the same lock.
    fn unregister(&self, oper: Operation);
    /// Finishes an operation a peer selected us for; `false` to retry.
    fn accept(&self, token: &mut Token, cx: &Context) -> bool;
    /// Could the operation complete now?
    fn is_ready(&self) -> bool;
    /// Registers the task as an observer; `true` if ready already.
    fn watch(&self, oper: Operation, cx: &Context) -> bool;
    /// Undoes `watch`.
    fn unwatch(&self, oper: Operation);
    /// A counter that never decreases and grows whenever another party
    /// does something that may make this operation ready (a send for a
    /// receive, a receive for a send, a new waiter on a rendezvous channel,
    /// a disconnect). Operations only time can make ready return 0.
    /// Non-blocking selects use it to see all their channels at one moment.
    fn stamp(&self) -> usize;
    /// The select chose this operation (`token` is filled) but it will not
    /// be completed: release what was claimed for it, so that no peer
    /// waits for it forever.
    fn abandon(&self, token: &mut Token);
}

impl<T: SelectHandle + ?Sized> SelectHandle for &T {
    fn try_select(&self, token: &mut Token) -> bool {
        (**self).try_select(token)
    }
    fn deadline(&self) -> Option<Instant> {
        (**self).deadline()
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        (**self).register(oper, cx)
    }
    fn unregister(&self, oper: Operation) {
        (**self).unregister(oper)
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        (**self).accept(token, cx)
    }
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        (**self).watch(oper, cx)
    }
    fn unwatch(&self, oper: Operation) {
        (**self).unwatch(oper)
    }
    fn stamp(&self) -> usize {
        (**self).stamp()
    }
    fn abandon(&self, token: &mut Token) {
        (**self).abandon(token)
    }
}

/// The sum of the handles' stamps.
///
/// Go's select locks all its channels and so sees them at one moment; ours
/// looks at the channels one after another, lock-free, and a message could
/// move from a channel not yet looked at to one already passed, so that
/// every channel looked empty although one always held the message. To
/// rule that out, a select that found nothing compares this sum before and
/// after its pass. Each stamp only grows, so an equal sum means no stamp
/// moved: nothing that could have made an operation ready happened during
/// the pass, and at its end all operations were still not ready at once.
/// Otherwise the pass is repeated — and each repetition means some other
/// operation completed, so the system as a whole makes progress.
fn stamps(handles: &[Handle<'_>]) -> usize {
    handles
        .iter()
        .fold(0usize, |sum, &(h, _, _)| sum.wrapping_add(h.stamp()))
}

/// How long a select may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Timeout {
    /// Not at all.
    Now,
    /// Forever.
    Never,
    /// Until this instant.
    At(Instant),
}

/// One entry of a select: the handle, the caller's index for it, and the
/// address of the `Sender`/`Receiver` (to check the caller completes the
/// operation on the right one).
pub type Handle<'a> = (&'a dyn SelectHandle, usize, *const u8);

/// The select loop; see the module docs. Returns the token and entry of
/// the chosen operation, or `None` on timeout.
pub(crate) fn run_select<'a>(
    handles: &mut [Handle<'a>],
    timeout: Timeout,
    is_biased: bool,
) -> Option<(Token, Handle<'a>)> {
    if handles.is_empty() {
        // Go's `select {}` (or one with only nil channels) blocks forever.
        match timeout {
            Timeout::Now => return None,
            Timeout::Never => {
                rt::sleep_until(None);
                unreachable!("sleep_until(None) returned");
            }
            Timeout::At(when) => {
                rt::sleep_until(Some(when));
                return None;
            }
        }
    }
    if !is_biased {
        utils::shuffle(handles);
    }
    if !matches!(timeout, Timeout::Now) {
        rt::consume_budget();
    }

    let mut token = Token::default();
    if let Timeout::Now = timeout {
        // A non-blocking select: `default` only if there was a moment when
        // no operation was ready (see `stamps`).
        loop {
            let before = stamps(handles);
            for &entry in handles.iter() {
                if entry.0.try_select(&mut token) {
                    return Some((token, entry));
                }
            }
            if stamps(handles) == before {
                return None;
            }
        }
    }
    for &entry in handles.iter() {
        if entry.0.try_select(&mut token) {
            return Some((token, entry));
        }
    }

    loop {
        let chosen = Context::with(|cx| {
            let mut sel = Selected::Waiting;
            let mut index_ready = None;
            let mut listed = Listed {
                handles: Some(&mut *handles),
                registered: 0,
                cx,
            };
            let arms = listed.handles.as_deref_mut().expect("just set");

            for entry in arms.iter_mut() {
                listed.registered += 1;
                let (handle, i, _) = *entry;
                if handle.register(Operation::hook(entry), cx) {
                    // It became ready while we registered: take it after
                    // unregistering, unless a peer picked us first.
                    if let Err(s) = cx.try_select(Selected::Aborted) {
                        sel = s;
                    } else {
                        sel = Selected::Aborted;
                    }
                    index_ready = Some(i);
                    break;
                }
                sel = cx.selected();
                if sel != Selected::Waiting {
                    break;
                }
            }

            if sel == Selected::Waiting {
                let mut deadline = match timeout {
                    Timeout::Now => unreachable!("handled before the loop"),
                    Timeout::Never => None,
                    Timeout::At(when) => Some(when),
                };
                for &(handle, _, _) in arms.iter() {
                    if let Some(d) = handle.deadline() {
                        deadline = Some(deadline.map_or(d, |x: Instant| x.min(d)));
                    }
                }
                sel = cx.wait_until(deadline);
            }

            for entry in arms.iter_mut().take(listed.registered) {
                let (handle, _, _) = *entry;
                let oper = Operation::hook(entry);
                // The peer that selected an operation unlisted it in the
                // same critical section: no lock to take for it.
                if sel != Selected::Operation(oper) {
                    handle.unregister(oper);
                }
            }
            // Done: nothing of this round is listed any more.
            listed.handles = None;
            drop(listed);

            match sel {
                Selected::Waiting => unreachable!("a wait returned undecided"),
                Selected::Aborted => {
                    let i = index_ready?;
                    let &entry = handles.iter().find(|e| e.1 == i)?;
                    entry.0.try_select(&mut token).then_some(entry)
                }
                Selected::Disconnected => None,
                Selected::Operation(oper) => {
                    for entry in handles.iter_mut() {
                        if Operation::hook(entry) == oper {
                            let entry = *entry;
                            return entry.0.accept(&mut token, cx).then_some(entry);
                        }
                    }
                    None
                }
            }
        });
        if let Some(entry) = chosen {
            return Some((token, entry));
        }

        for &entry in handles.iter() {
            if entry.0.try_select(&mut token) {
                return Some((token, entry));
            }
        }
        if let Timeout::At(when) = timeout
            && Instant::now() >= when
        {
            return None;
        }
    }
}

/// The registrations of one round of [`run_select`], undone if the round
/// unwinds before its normal unregistering (a panic in the park): entries
/// listed in a channel point into this frame (packets of `select!` arms)
/// and at its context. If a peer already picked one of our operations, it
/// is accepted and abandoned, which waits until the peer is done with our
/// packet and gives the peer its turn back. The normal path takes
/// `handles` out first, which leaves nothing to undo.
struct Listed<'h, 'c, 'a> {
    handles: Option<&'h mut [Handle<'a>]>,
    registered: usize,
    cx: &'c Context,
}

impl Drop for Listed<'_, '_, '_> {
    fn drop(&mut self) {
        let Some(handles) = self.handles.take() else {
            return;
        };
        for entry in handles.iter_mut().take(self.registered) {
            let (handle, _, _) = *entry;
            handle.unregister(Operation::hook(entry));
        }
        if let Selected::Operation(oper) = self.cx.selected() {
            for entry in handles.iter_mut().take(self.registered) {
                if Operation::hook(entry) == oper {
                    let mut token = Token::default();
                    if entry.0.accept(&mut token, self.cx) {
                        entry.0.abandon(&mut token);
                    }
                    break;
                }
            }
        }
    }
}

/// Like [`run_select`] but only waits for an operation to become ready;
/// returns its index. Readiness may be stale by the time the caller acts.
pub(crate) fn run_ready(
    handles: &mut [Handle<'_>],
    timeout: Timeout,
    is_biased: bool,
) -> Option<usize> {
    if handles.is_empty() {
        match timeout {
            Timeout::Now => return None,
            Timeout::Never => {
                rt::sleep_until(None);
                unreachable!("sleep_until(None) returned");
            }
            Timeout::At(when) => {
                rt::sleep_until(Some(when));
                return None;
            }
        }
    }
    if !is_biased {
        utils::shuffle(handles);
    }
    loop {
        let before = stamps(handles);
        for &(handle, i, _) in handles.iter() {
            if handle.is_ready() {
                return Some(i);
            }
        }
        if let Timeout::Now = timeout {
            if stamps(handles) == before {
                return None;
            }
            continue;
        }
        let ready_while_watching = Context::with(|cx| {
            let mut watched = 0;
            let mut ready = None;
            for entry in handles.iter_mut() {
                watched += 1;
                let (handle, i, _) = *entry;
                if handle.watch(Operation::hook(entry), cx) {
                    ready = Some(i);
                    break;
                }
                if cx.selected() != Selected::Waiting {
                    break;
                }
            }
            if ready.is_none() {
                let mut deadline = match timeout {
                    Timeout::Now => unreachable!("handled above"),
                    Timeout::Never => None,
                    Timeout::At(when) => Some(when),
                };
                for &(handle, _, _) in handles.iter() {
                    if let Some(d) = handle.deadline() {
                        deadline = Some(deadline.map_or(d, |x: Instant| x.min(d)));
                    }
                }
                // Woken (something became ready or disconnected) or timed
                // out: either way the next pass looks again.
                cx.wait_until(deadline);
            }
            for entry in handles.iter_mut().take(watched) {
                let (handle, _, _) = *entry;
                handle.unwatch(Operation::hook(entry));
            }
            ready
        });
        if ready_while_watching.is_some() {
            return ready_while_watching;
        }
        if let Timeout::At(when) = timeout
            && Instant::now() >= when
        {
            return handles
                .iter()
                .find(|&&(h, _, _)| h.is_ready())
                .map(|&(_, i, _)| i);
        }
    }
}

/// Selects over a set of operations, waiting until one completes — the
/// dynamic counterpart of [`select!`](crate::select!).
///
/// Add operations with [`send`](Select::send) and [`recv`](Select::recv),
/// each returning an index; then [`select`](Select::select) waits until
/// one of them can proceed and returns a [`SelectedOperation`] that *must*
/// be completed with its `send` or `recv`. When several are ready, one is
/// chosen uniformly at random (Go's rule), unless the select is biased.
///
/// ```
/// use gofer_chan::{unbounded, Select};
///
/// let (s1, r1) = unbounded::<i32>();
/// let (s2, r2) = unbounded::<i32>();
/// s2.send(20).unwrap();
///
/// let mut sel = Select::new();
/// let i1 = sel.recv(&r1);
/// let i2 = sel.recv(&r2);
/// let oper = sel.select();
/// assert_eq!(oper.index(), i2);
/// assert_eq!(oper.recv(&r2), Ok(20));
/// # let _ = (s1, i1);
/// ```
pub struct Select<'a> {
    handles: Vec<Handle<'a>>,
    next_index: usize,
    is_biased: bool,
}

// SAFETY: the raw pointers are addresses used only for comparison, and
// the handles are `Sender`s/`Receiver`s, which are Send and Sync.
unsafe impl Send for Select<'_> {}
// SAFETY: as above.
unsafe impl Sync for Select<'_> {}

impl<'a> Select<'a> {
    /// An empty select that picks uniformly among ready operations.
    pub fn new() -> Select<'a> {
        Select {
            handles: Vec::with_capacity(4),
            next_index: 0,
            is_biased: false,
        }
    }

    /// An empty select that prefers operations in the order they were
    /// added.
    pub fn new_biased() -> Select<'a> {
        Select {
            is_biased: true,
            ..Select::new()
        }
    }

    /// Adds a send operation; returns its index.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        let i = self.next_index;
        self.handles
            .push((s, i, s as *const Sender<T> as *const u8));
        self.next_index += 1;
        i
    }

    /// Adds a receive operation; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        let i = self.next_index;
        self.handles
            .push((r, i, r as *const Receiver<T> as *const u8));
        self.next_index += 1;
        i
    }

    /// Removes the operation with index `index` (e.g. one whose channel
    /// disconnected).
    ///
    /// # Panics
    ///
    /// If there is no such operation (never added, or already removed).
    pub fn remove(&mut self, index: usize) {
        assert!(
            index < self.next_index,
            "index out of bounds; {index} >= {}",
            self.next_index
        );
        let i = self
            .handles
            .iter()
            .position(|&(_, j, _)| j == index)
            .expect("no operation with this index");
        self.handles.swap_remove(i);
    }

    /// Completes an operation that is ready now, if there is one.
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        match run_select(&mut self.handles, Timeout::Now, self.is_biased) {
            Some((token, entry)) => Ok(SelectedOperation::new(token, entry)),
            None => Err(TrySelectError),
        }
    }

    /// Waits until an operation can complete.
    ///
    /// # Panics
    ///
    /// If no operation was added (that would wait forever).
    pub fn select(&mut self) -> SelectedOperation<'a> {
        if self.handles.is_empty() {
            panic!("no operations have been added to `Select`");
        }
        let (token, entry) = run_select(&mut self.handles, Timeout::Never, self.is_biased)
            .expect("select without a timeout timed out");
        SelectedOperation::new(token, entry)
    }

    /// Waits until an operation can complete, for at most `timeout`.
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.select_deadline(deadline),
            None => Ok(self.select()),
        }
    }

    /// Waits until an operation can complete, until at most `deadline`.
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match run_select(&mut self.handles, Timeout::At(deadline), self.is_biased) {
            Some((token, entry)) => Ok(SelectedOperation::new(token, entry)),
            None => Err(SelectTimeoutError),
        }
    }

    /// The index of an operation that is ready now, if any. Readiness may
    /// be stale by the time the operation is attempted.
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        run_ready(&mut self.handles, Timeout::Now, self.is_biased).ok_or(TryReadyError)
    }

    /// Waits until some operation is ready and returns its index.
    ///
    /// # Panics
    ///
    /// If no operation was added.
    pub fn ready(&mut self) -> usize {
        if self.handles.is_empty() {
            panic!("no operations have been added to `Select`");
        }
        run_ready(&mut self.handles, Timeout::Never, self.is_biased)
            .expect("ready without a timeout timed out")
    }

    /// Like [`ready`](Select::ready), for at most `timeout`.
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.ready_deadline(deadline),
            None => Ok(self.ready()),
        }
    }

    /// Like [`ready`](Select::ready), until at most `deadline`.
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        run_ready(&mut self.handles, Timeout::At(deadline), self.is_biased).ok_or(ReadyTimeoutError)
    }
}

impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        Select {
            handles: self.handles.clone(),
            next_index: self.next_index,
            is_biased: self.is_biased,
        }
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Select { .. }")
    }
}

/// The operation a select chose. It must be completed, with
/// [`send`](SelectedOperation::send) or [`recv`](SelectedOperation::recv)
/// on the same `Sender`/`Receiver` that was added.
///
/// The channel has already done its part: a buffered channel reserved a
/// slot, a zero-capacity one paired the operation with a peer. Dropping it
/// uncompleted therefore panics, after releasing that part so the channel
/// stays usable: a reserved send slot is given back (or, in the lock-free
/// ring, skipped by receivers), a peer
/// paired with an abandoned send goes back to waiting, a sender paired
/// with an abandoned receive tries again — but a message the abandoned
/// receive had already received (taken off a buffer, or handed over by a
/// sender that has since returned) is dropped. (A panic while computing
/// the message of a `select!` send arm takes this path too; `select!`
/// receive arms complete at once and cannot be abandoned.)
///
/// [`std::mem::forget`]ting it, like forgetting a `MutexGuard`, leaves
/// the reservation in place for good: receivers that reach a forgotten
/// send slot wait forever. The channel can still be dropped.
#[must_use]
pub struct SelectedOperation<'a> {
    token: Token,
    index: usize,
    ptr: *const u8,
    handle: &'a dyn SelectHandle,
}

impl<'a> SelectedOperation<'a> {
    pub(crate) fn new(token: Token, (handle, index, ptr): Handle<'a>) -> Self {
        SelectedOperation {
            token,
            index,
            ptr,
            handle,
        }
    }

    /// The index the operation got when it was added.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the selected send operation.
    ///
    /// # Panics
    ///
    /// If `s` is not the sender that was selected.
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            s as *const Sender<T> as *const u8 == self.ptr,
            "passed a sender that wasn't selected",
        );
        // SAFETY: the token was filled by this sender's `try_select` or
        // `accept` (checked above by address).
        let res = unsafe { channel::write(s, &mut self.token, msg) };
        std::mem::forget(self);
        res.map_err(SendError)
    }

    /// Completes the selected receive operation.
    ///
    /// # Panics
    ///
    /// If `r` is not the receiver that was selected.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            r as *const Receiver<T> as *const u8 == self.ptr,
            "passed a receiver that wasn't selected",
        );
        // SAFETY: as in `send`.
        let res = unsafe { channel::read(r, &mut self.token) };
        std::mem::forget(self);
        res.map_err(|()| RecvError)
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("SelectedOperation { .. }")
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        self.handle.abandon(&mut self.token);
        // Not a second panic while unwinding (from a `select!` arm's
        // message, or a wrong-channel assert): that would abort.
        if !std::thread::panicking() {
            panic!("dropped `SelectedOperation` without completing the operation");
        }
    }
}

/// Entry points for the `select!` macro. Not a public API.
#[doc(hidden)]
pub mod internal {
    use super::*;

    pub use super::Handle;

    /// The handle and address of a receive arm.
    pub fn recv_handle<T>(r: &Receiver<T>) -> (&dyn SelectHandle, *const u8) {
        (r, r as *const Receiver<T> as *const u8)
    }

    /// A `select!` receive arm: its receiver, and the packet a wait on a
    /// rendezvous channel lists — in the frame of the `select!` statement,
    /// so that waiting allocates nothing (the dynamic [`Select`] boxes
    /// one per wait instead). The frame outlives every use: a select
    /// returns only after its chosen packet was handed back, and its
    /// other entries were unlisted. Other flavors ignore the packet.
    pub struct RecvArm<'a, T> {
        r: &'a Receiver<T>,
        packet: flavors::zero::Packet<T>,
    }

    impl<'a, T> RecvArm<'a, T> {
        /// The arm for `r`.
        #[inline]
        pub fn new(r: &'a Receiver<T>) -> Self {
            RecvArm {
                r,
                packet: flavors::zero::Packet::in_frame(),
            }
        }
    }

    impl<T> SelectHandle for RecvArm<'_, T> {
        fn try_select(&self, token: &mut Token) -> bool {
            self.r.try_select(token)
        }
        fn deadline(&self) -> Option<Instant> {
            self.r.deadline()
        }
        fn register(&self, oper: Operation, cx: &Context) -> bool {
            match self.r.as_zero() {
                Some(z) => z.receiver_in(&self.packet).register(oper, cx),
                None => self.r.register(oper, cx),
            }
        }
        fn unregister(&self, oper: Operation) {
            match self.r.as_zero() {
                Some(z) => z.receiver_in(&self.packet).unregister(oper),
                None => self.r.unregister(oper),
            }
        }
        fn accept(&self, token: &mut Token, cx: &Context) -> bool {
            match self.r.as_zero() {
                Some(z) => z.receiver_in(&self.packet).accept(token, cx),
                None => self.r.accept(token, cx),
            }
        }
        fn is_ready(&self) -> bool {
            self.r.is_ready()
        }
        fn watch(&self, oper: Operation, cx: &Context) -> bool {
            self.r.watch(oper, cx)
        }
        fn unwatch(&self, oper: Operation) {
            self.r.unwatch(oper)
        }
        fn stamp(&self) -> usize {
            self.r.stamp()
        }
        fn abandon(&self, token: &mut Token) {
            self.r.abandon(token)
        }
    }

    /// The handle and address of a `select!` receive arm.
    pub fn recv_arm_handle<'a, T>(arm: &'a RecvArm<'a, T>) -> (&'a dyn SelectHandle, *const u8) {
        (arm, arm.r as *const Receiver<T> as *const u8)
    }

    /// The handle and address of a send arm.
    pub fn send_handle<T>(s: &Sender<T>) -> (&dyn SelectHandle, *const u8) {
        (s, s as *const Sender<T> as *const u8)
    }

    /// Waits at most `timeout` for one of `handles`.
    pub fn select_timeout<'a>(
        handles: &mut [Handle<'a>],
        timeout: Duration,
        is_biased: bool,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => select_deadline(handles, deadline, is_biased),
            None => Ok(select(handles, is_biased)),
        }
    }

    /// Blocks until one of `handles` completes.
    pub fn select<'a>(handles: &mut [Handle<'a>], is_biased: bool) -> SelectedOperation<'a> {
        let (token, entry) = run_select(handles, Timeout::Never, is_biased)
            .expect("select without a timeout timed out");
        SelectedOperation::new(token, entry)
    }

    /// Completes one of `handles` if one is ready now.
    pub fn try_select<'a>(
        handles: &mut [Handle<'a>],
        is_biased: bool,
    ) -> Result<SelectedOperation<'a>, TrySelectError> {
        match run_select(handles, Timeout::Now, is_biased) {
            Some((token, entry)) => Ok(SelectedOperation::new(token, entry)),
            None => Err(TrySelectError),
        }
    }

    /// Waits until `deadline` for one of `handles`.
    pub fn select_deadline<'a>(
        handles: &mut [Handle<'a>],
        deadline: Instant,
        is_biased: bool,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        match run_select(handles, Timeout::At(deadline), is_biased) {
            Some((token, entry)) => Ok(SelectedOperation::new(token, entry)),
            None => Err(SelectTimeoutError),
        }
    }
}
