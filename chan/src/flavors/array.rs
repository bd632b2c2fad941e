//! Bounded channels with a buffer: a fixed ring of slots, lock-free in
//! both directions (Dmitry Vyukov's bounded MPMC queue).
//!
//! `head` and `tail` each pack a lap count, a mark bit and an index:
//!
//! ```text
//!   | lap ... | mark | index (log2(mark_bit) bits) |
//! ```
//!
//! with `mark_bit` = the next power of two above `cap` and one lap =
//! `2 * mark_bit`. Every slot carries a stamp saying which lap it is ready
//! for: a sender may write slot `i` when its stamp equals the tail
//! (`lap | i`), and leaves `tail + 1`; a receiver may read it when the stamp
//! is `head + 1`, and leaves `head + one_lap`, i.e. ready for the next lap's
//! sender. Moving `head`/`tail` is a CAS; the mark bit on `tail` means
//! disconnected (or closed), and no send starts after it is set.
//!
//! Stamps never have the mark bit set, so a stamp of `(tail + 1) | mark`
//! can mean something else: a *skip*, left by a select that claimed the
//! slot to send and then abandoned the send. Receivers step over it like a
//! message they throw away; until then it counts in `len`.
//!
//! Blocking operations spin briefly (in a goroutine: yield a few times),
//! then register in `senders`/`receivers` and park.

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::select::{Operation, SelectHandle, Selected, Token};
use crate::sync::atomic::{AtomicUsize, Ordering::*, fence};
use crate::utils::Backoff;
use crate::waker::SyncWaker;
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::time::Instant;

/// The slot an operation claimed, and the stamp to leave behind.
#[derive(Debug)]
pub(crate) struct ArrayToken {
    slot: *const u8,
    stamp: usize,
}

impl Default for ArrayToken {
    fn default() -> Self {
        ArrayToken {
            slot: std::ptr::null(),
            stamp: 0,
        }
    }
}

struct Slot<T> {
    stamp: AtomicUsize,
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded channel with a buffer.
pub(crate) struct Channel<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    one_lap: usize,
    mark_bit: usize,
    senders: SyncWaker,
    receivers: SyncWaker,
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    /// A channel with room for `cap` messages (`cap > 0`).
    pub(crate) fn with_capacity(cap: usize) -> Self {
        assert!(cap > 0, "capacity must be positive");
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit
            .checked_mul(2)
            .expect("capacity too large for a bounded channel");
        let buffer = (0..cap)
            .map(|i| Slot {
                // Slot `i` starts ready for the first lap's sender.
                stamp: AtomicUsize::new(i),
                msg: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Channel {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            buffer,
            cap,
            one_lap,
            mark_bit,
            senders: SyncWaker::new(),
            receivers: SyncWaker::new(),
            _marker: PhantomData,
        }
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    /// The position after `pos` (same lap, or index 0 of the next lap).
    #[inline]
    fn advance(&self, pos: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// Claims a slot to send into. `true` if the caller may proceed (with
    /// a slot, or with a null slot meaning disconnected); `false` if full.
    fn start_send(&self, token: &mut Token) -> bool {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                token.array.slot = std::ptr::null();
                token.array.stamp = 0;
                return true;
            }
            let index = tail & (self.mark_bit - 1);
            // SAFETY: the index part of a position is always below `cap`.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            let stamp = slot.stamp.load(Acquire);
            if tail == stamp {
                // The slot is free for this lap: try to claim it.
                match self
                    .tail
                    .compare_exchange_weak(tail, self.advance(tail), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = tail + 1;
                        return true;
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if (stamp & !self.mark_bit).wrapping_add(self.one_lap) == tail + 1 {
                // Still holds last lap's message: full, unless a receiver
                // is just taking it.
                fence(SeqCst);
                let head = self.head.load(Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return false;
                }
                // A receiver claimed it and has not marked it free yet. It
                // may be a select that is still running user code before it
                // completes, possibly parked on this very worker: yield, do
                // not just spin.
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            } else {
                // Another sender claimed it and is writing: wait.
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            }
        }
    }

    /// Writes into the slot `start_send` claimed.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_send` on this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.array.slot.is_null() {
            return Err(msg);
        }
        // SAFETY: the claimed slot belongs to us until we publish its stamp.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        // SAFETY: as above; nobody reads the message before the stamp.
        unsafe { slot.msg.get().write(MaybeUninit::new(msg)) };
        slot.stamp.store(token.array.stamp, Release);
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to receive from. `true` if the caller may proceed
    /// (null slot: empty and disconnected); `false` if empty.
    fn start_recv(&self, token: &mut Token) -> bool {
        let backoff = Backoff::new();
        let mut head = self.head.load(Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            // SAFETY: the index part of a position is always below `cap`.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            let stamp = slot.stamp.load(Acquire);
            if head + 1 == stamp {
                // A message for this lap: try to claim it.
                match self
                    .head
                    .compare_exchange_weak(head, self.advance(head), SeqCst, Relaxed)
                {
                    Ok(_) => {
                        token.array.slot = slot as *const Slot<T> as *const u8;
                        token.array.stamp = head.wrapping_add(self.one_lap);
                        return true;
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == (head + 1) | self.mark_bit {
                // A skip (see the module docs): claim it and make the slot
                // free for the next lap, then look at the next one.
                if self
                    .head
                    .compare_exchange_weak(head, self.advance(head), SeqCst, Relaxed)
                    .is_ok()
                {
                    slot.stamp.store(head.wrapping_add(self.one_lap), Release);
                    self.senders.notify();
                }
                head = self.head.load(Relaxed);
            } else if stamp == head {
                // Nothing written here yet: empty, unless a sender just
                // claimed the slot.
                fence(SeqCst);
                let tail = self.tail.load(Relaxed);
                if tail & !self.mark_bit == head {
                    if tail & self.mark_bit != 0 {
                        token.array.slot = std::ptr::null();
                        token.array.stamp = 0;
                        return true;
                    }
                    return false;
                }
                // A sender claimed it and has not written yet (possibly a
                // select still evaluating its message): yield, as above.
                backoff.snooze();
                head = self.head.load(Relaxed);
            } else {
                // Another receiver claimed it and is reading: wait.
                backoff.snooze();
                head = self.head.load(Relaxed);
            }
        }
    }

    /// Reads from the slot `start_recv` claimed.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        if token.array.slot.is_null() {
            return Err(());
        }
        // SAFETY: the claimed slot holds a message written for this lap,
        // and is ours until we publish its stamp.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        // SAFETY: as above.
        let msg = unsafe { slot.msg.get().read().assume_init() };
        slot.stamp.store(token.array.stamp, Release);
        self.senders.notify();
        Ok(msg)
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        let token = &mut Token::default();
        if self.start_send(token) {
            // SAFETY: `start_send` succeeded.
            unsafe { self.write(token, msg) }.map_err(TrySendError::Disconnected)
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let token = &mut Token::default();
        loop {
            let backoff = Backoff::new();
            loop {
                if self.start_send(token) {
                    // SAFETY: `start_send` succeeded.
                    return unsafe { self.write(token, msg) }
                        .map_err(SendTimeoutError::Disconnected);
                }
                if backoff.is_completed() {
                    break;
                }
                backoff.snooze();
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(SendTimeoutError::Timeout(msg));
            }
            Context::with(|cx| {
                let oper = Operation::hook(token);
                self.senders.register(oper, cx);
                // Re-check after registering: a receiver may have made room
                // before it could see us.
                if !self.is_full() || self.is_disconnected() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!("a wait returned undecided"),
                    Selected::Aborted | Selected::Disconnected => {
                        self.senders
                            .unregister(oper)
                            .expect("sender entry vanished");
                    }
                    // A receiver woke us (and removed the entry): retry.
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        if self.start_recv(token) {
            // SAFETY: `start_recv` succeeded.
            unsafe { self.read(token) }.map_err(|()| TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let token = &mut Token::default();
        loop {
            let backoff = Backoff::new();
            loop {
                if self.start_recv(token) {
                    // SAFETY: `start_recv` succeeded.
                    return unsafe { self.read(token) }
                        .map_err(|()| RecvTimeoutError::Disconnected);
                }
                if backoff.is_completed() {
                    break;
                }
                backoff.snooze();
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            Context::with(|cx| {
                let oper = Operation::hook(token);
                self.receivers.register(oper, cx);
                if !self.is_empty() || self.is_disconnected() {
                    let _ = cx.try_select(Selected::Aborted);
                }
                match cx.wait_until(deadline) {
                    Selected::Waiting => unreachable!("a wait returned undecided"),
                    Selected::Aborted | Selected::Disconnected => {
                        self.receivers
                            .unregister(oper)
                            .expect("receiver entry vanished");
                    }
                    Selected::Operation(_) => {}
                }
            });
        }
    }

    /// Number of messages buffered.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(SeqCst);
            let head = self.head.load(SeqCst);
            // A consistent snapshot: the tail did not move while we looked.
            if self.tail.load(SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if tail & !self.mark_bit == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(self.cap)
    }

    /// Marks the channel disconnected (or closed) and wakes everybody.
    /// `true` if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        let tail = self.tail.fetch_or(self.mark_bit, SeqCst);
        if tail & self.mark_bit == 0 {
            self.senders.disconnect();
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    /// The last receiver is gone: disconnect and drop what is buffered now
    /// (nobody can ever receive it) instead of when the last sender goes.
    pub(crate) fn disconnect_receivers(&self) -> bool {
        let done = self.disconnect();
        self.discard_all_messages();
        done
    }

    /// Drops every buffered message. Only the last receiver calls this, so
    /// it is the only reader. Senders that claimed a slot before the mark
    /// may still be writing, and are waited for — briefly: the claim may
    /// belong to a forgotten `SelectedOperation` that will never write, and
    /// then the rest is left for `Drop`.
    fn discard_all_messages(&self) {
        let tail = self.tail.load(SeqCst) & !self.mark_bit;
        let backoff = Backoff::new();
        let mut head = self.head.load(Relaxed);
        while head != tail {
            let index = head & (self.mark_bit - 1);
            // SAFETY: the index part of a position is always below `cap`.
            let slot = unsafe { self.buffer.get_unchecked(index) };
            let stamp = slot.stamp.load(Acquire);
            if stamp == head + 1 {
                // SAFETY: written for this lap, and we are the only reader.
                unsafe { (*slot.msg.get()).assume_init_drop() };
            } else if stamp != (head + 1) | self.mark_bit {
                // Claimed, not written yet.
                if backoff.is_completed() {
                    return;
                }
                backoff.snooze();
                continue;
            }
            slot.stamp.store(head.wrapping_add(self.one_lap), Release);
            head = self.advance(head);
            self.head.store(head, Release);
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.load(SeqCst) & self.mark_bit != 0
    }

    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(SeqCst);
        let tail = self.tail.load(SeqCst);
        tail & !self.mark_bit == head
    }

    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(SeqCst);
        let head = self.head.load(SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Relaxed) & !self.mark_bit;
        let mut pos = head;
        while pos != tail {
            let slot = &mut self.buffer[pos & (self.mark_bit - 1)];
            // Skips and slots claimed by a forgotten send hold nothing.
            if slot.stamp.load(Relaxed) == pos + 1 {
                // SAFETY: the stamp says written for this lap, and with
                // `&mut self` nobody else touches it.
                unsafe { slot.msg.get_mut().assume_init_drop() };
            }
            pos = self.advance(pos);
        }
    }
}

/// The receiving side, as a select handle.
pub(crate) struct Receiver<'a, T>(&'a Channel<T>);

/// The sending side, as a select handle.
pub(crate) struct Sender<'a, T>(&'a Channel<T>);

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_recv(token)
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.receivers.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation) {
        self.0.receivers.unregister(oper);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    fn is_ready(&self) -> bool {
        !self.0.is_empty() || self.0.is_disconnected()
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        self.0.receivers.watch(oper, cx);
        self.is_ready()
    }
    fn unwatch(&self, oper: Operation) {
        self.0.receivers.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        // Only a send (moving `tail`) or a disconnect (its mark bit) can
        // make an empty channel non-empty.
        self.0.tail.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        // The slot is ours; its message cannot go back (later ones may
        // have been taken already), so it is dropped.
        // SAFETY: `token` came from this channel's `try_select`/`accept`.
        drop(unsafe { self.0.read(token) });
    }
}

impl<T> SelectHandle for Sender<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_send(token)
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        self.0.senders.register(oper, cx);
        self.is_ready()
    }
    fn unregister(&self, oper: Operation) {
        self.0.senders.unregister(oper);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    fn is_ready(&self) -> bool {
        !self.0.is_full() || self.0.is_disconnected()
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        self.0.senders.watch(oper, cx);
        self.is_ready()
    }
    fn unwatch(&self, oper: Operation) {
        self.0.senders.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        // A receive (moving `head`) or a disconnect (the mark bit of
        // `tail`) can make a full channel ready. `head` never has the mark
        // bit set, so the two combine without loss.
        self.0.head.load(SeqCst) | (self.0.tail.load(SeqCst) & self.0.mark_bit)
    }
    fn abandon(&self, token: &mut Token) {
        if token.array.slot.is_null() {
            return;
        }
        // SAFETY: the claimed slot is ours until we publish its stamp.
        let slot = unsafe { &*(token.array.slot as *const Slot<T>) };
        slot.stamp
            .store(token.array.stamp | self.0.mark_bit, Release);
        self.0.receivers.notify();
    }
}
