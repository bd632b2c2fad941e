//! Zero-capacity channels: no buffer; a sender and a receiver meet.
//!
//! Everything happens under one mutex, which holds the wait lists of both
//! sides. A message travels in a *packet*: a blocked sender offers one on
//! its own stack holding the message; a blocked receiver offers an empty
//! one on its stack; a task in `select` offers an empty one on the heap
//! (it may be registered on several channels, and a select-sender has no
//! message until it is chosen). Pairing:
//!
//! * the side that arrives second picks a waiter of the other side (the
//!   CAS on the waiter's select word), and then moves the message into or
//!   out of the waiter's packet after unlocking;
//! * `ready` on the packet tells the party that owns a stack packet when
//!   it may return (its packet is done with), and tells a heap packet's
//!   reader when the select-sender has written;
//! * a waiter never pairs with itself (the task-id check in the waker), so
//!   one goroutine may `select!` both sending and receiving on one channel;
//! * the peer that must wait for the other's move is woken only after it:
//!   a receiver once its packet holds the message, a blocked sender once
//!   its message is taken (Go's order), so nobody wakes up to spin.
//!
//! A select that chose an operation may abandon it (see
//! `SelectedOperation`). An abandoned send marks the packet ready with no
//! message, and its receiver waits again; an abandoned receive of a
//! blocked sender's message marks its packet ready with the message still
//! inside, and the sender offers it again.
//!
//! Counts of waiters and the disconnect flag are mirrored in atomics so
//! that a non-blocking operation that would fail — the `default` arm of a
//! `select!` — takes no lock.

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::select::{Operation, SelectHandle, Selected, Token};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::sync::{Mutex, MutexGuard, lock};
use crate::utils::Backoff;
use crate::waker::Waker;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::time::Instant;

/// The peer's packet an operation paired with (null: disconnected), and
/// the peer itself while it still has to be woken.
pub(crate) struct ZeroToken {
    packet: *mut (),
    peer: Option<Context>,
}

impl Default for ZeroToken {
    fn default() -> Self {
        ZeroToken {
            packet: std::ptr::null_mut(),
            peer: None,
        }
    }
}

impl std::fmt::Debug for ZeroToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZeroToken")
            .field("packet", &self.packet)
            .finish_non_exhaustive()
    }
}

/// Where a message meets its receiver.
struct Packet<T> {
    /// On the stack of a blocked sender or receiver (else: a select's box).
    on_stack: bool,
    /// The packet is finished with (see the module docs).
    ready: AtomicBool,
    msg: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    fn empty_on_stack() -> Packet<T> {
        Packet {
            on_stack: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
        }
    }

    fn empty_on_heap() -> Box<Packet<T>> {
        Box::new(Packet {
            on_stack: false,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(None),
        })
    }

    fn message_on_stack(msg: T) -> Packet<T> {
        Packet {
            on_stack: true,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(Some(msg)),
        }
    }

    /// Waits for the other party to finish with this packet. It has just
    /// been picked, so this is a short wait — except for a select-sender's
    /// packet, whose owner first has to be scheduled and evaluate its
    /// message; a goroutine yields meanwhile rather than spin.
    fn wait_ready(&self) {
        let backoff = Backoff::new();
        while !self.ready.load(Acquire) {
            backoff.snooze();
        }
    }
}

struct Inner {
    senders: Waker,
    receivers: Waker,
    is_disconnected: bool,
}

/// A zero-capacity channel.
pub(crate) struct Channel<T> {
    inner: Mutex<Inner>,
    /// Mirrors of the number of registered senders/receivers and of
    /// `is_disconnected`, written under the lock and read without it.
    senders_waiting: AtomicUsize,
    receivers_waiting: AtomicUsize,
    disconnected: AtomicBool,
    /// Bumped under the lock on every change of the wait lists and on
    /// disconnect: the select stamp of both sides.
    epoch: AtomicUsize,
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: Mutex::new(Inner {
                senders: Waker::new(),
                receivers: Waker::new(),
                is_disconnected: false,
            }),
            senders_waiting: AtomicUsize::new(0),
            receivers_waiting: AtomicUsize::new(0),
            disconnected: AtomicBool::new(false),
            epoch: AtomicUsize::new(0),
            _marker: PhantomData,
        }
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Refreshes the lock-free mirrors; call with the lock held.
    fn mirror(&self, inner: &Inner) {
        self.senders_waiting.store(inner.senders.len(), Release);
        self.receivers_waiting.store(inner.receivers.len(), Release);
        self.bump_epoch();
    }

    /// Call with the lock held (so a plain load-and-store cannot race).
    fn bump_epoch(&self) {
        self.epoch
            .store(self.epoch.load(Relaxed).wrapping_add(1), Release);
    }

    /// Could a send pair right now? Lock-free and exact when the answer is
    /// "no waiting receiver and not disconnected".
    fn send_might_proceed(&self) -> bool {
        self.receivers_waiting.load(Acquire) != 0 || self.disconnected.load(Acquire)
    }

    fn recv_might_proceed(&self) -> bool {
        self.senders_waiting.load(Acquire) != 0 || self.disconnected.load(Acquire)
    }

    /// Pairs with a waiting receiver. `true` if the caller may proceed (a
    /// null packet means disconnected).
    fn start_send(&self, token: &mut Token) -> bool {
        if !self.send_might_proceed() {
            return false;
        }
        let mut inner = self.lock();
        self.pair_with_receiver(&mut inner, token)
    }

    /// With the lock held: picks a waiting receiver for `token`. It is not
    /// woken yet: `write` wakes it once its packet holds the message.
    fn pair_with_receiver(&self, inner: &mut Inner, token: &mut Token) -> bool {
        if let Some(entry) = inner.receivers.try_select() {
            self.mirror(inner);
            token.zero.packet = entry.packet;
            token.zero.peer = Some(entry.cx);
            true
        } else if inner.is_disconnected {
            token.zero.packet = std::ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Puts the message into the packet `start_send` paired with.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_send` or by `accept` on a
    /// send operation of this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.zero.packet.is_null() {
            return Err(msg);
        }
        // SAFETY: forwarded contract, and the packet is not null.
        unsafe { self.fill(token, Some(msg)) };
        Ok(())
    }

    /// Fills the paired packet (with nothing: the send was abandoned) and
    /// hands it over.
    ///
    /// # Safety
    /// As for `write`, and `token.zero.packet` is not null.
    unsafe fn fill(&self, token: &mut Token, msg: Option<T>) {
        // SAFETY: the receiver that owns this packet waits for `ready`
        // before touching it or returning, so it is alive and ours.
        let packet = unsafe { &*(token.zero.packet as *const Packet<T>) };
        // SAFETY: as above.
        unsafe { packet.msg.get().write(msg) };
        packet.ready.store(true, Release);
        // Only now wake the receiver: it finds its message at once.
        if let Some(peer) = token.zero.peer.take() {
            peer.unpark();
        }
    }

    /// Pairs with a waiting sender.
    fn start_recv(&self, token: &mut Token) -> bool {
        if !self.recv_might_proceed() {
            return false;
        }
        let mut inner = self.lock();
        self.pair_with_sender(&mut inner, token)
    }

    /// With the lock held: picks a waiting sender for `token`. A blocked
    /// sender's message is in its packet already, so it is woken by `read`
    /// after the message is taken; a select-sender has yet to produce its
    /// message, so it is woken now.
    fn pair_with_sender(&self, inner: &mut Inner, token: &mut Token) -> bool {
        if let Some(entry) = inner.senders.try_select() {
            self.mirror(inner);
            token.zero.packet = entry.packet;
            // SAFETY: the packet lives as long as its owner waits, and the
            // owner cannot stop waiting while we hold the lock.
            if unsafe { (*(entry.packet as *const Packet<T>)).on_stack } {
                token.zero.peer = Some(entry.cx);
            } else {
                entry.wake();
            }
            true
        } else if inner.is_disconnected {
            token.zero.packet = std::ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Takes the message from the packet `start_recv` paired with: `None`
    /// if its select-sender abandoned the send, `Err` if disconnected.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` or by `accept` on a
    /// receive operation of this channel.
    unsafe fn take(&self, token: &mut Token) -> Result<Option<T>, ()> {
        if token.zero.packet.is_null() {
            return Err(());
        }
        // SAFETY: the sender that owns a stack packet waits for `ready`
        // before returning; a heap packet was handed to us to free.
        let packet = unsafe { &*(token.zero.packet as *const Packet<T>) };
        if packet.on_stack {
            // A blocked sender: the message is there already.
            // SAFETY: the sender does not touch its packet until `ready`.
            let msg =
                unsafe { (*packet.msg.get()).take() }.expect("a sender's packet without a message");
            packet.ready.store(true, Release);
            // Wake it only now, so it finds `ready` set and returns at once.
            if let Some(peer) = token.zero.peer.take() {
                peer.unpark();
            }
            Ok(Some(msg))
        } else {
            // A select-sender (or our own select box, after `accept`): wait
            // until it is written, then free the box.
            packet.wait_ready();
            // SAFETY: `ready` means the sender is done with the packet.
            let msg = unsafe { (*packet.msg.get()).take() };
            // SAFETY: heap packets come from `Box::into_raw` in `register`,
            // and the reader that paired with one frees it.
            drop(unsafe { Box::from_raw(token.zero.packet as *mut Packet<T>) });
            Ok(msg)
        }
    }

    /// Completes a receive that a select chose. If its sender abandoned
    /// the send, it waits for another sender instead.
    ///
    /// # Safety
    /// As for `take`.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        // SAFETY: forwarded contract.
        match unsafe { self.take(token) } {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => self.recv(None).map_err(|_| ()),
            Err(()) => Err(()),
        }
    }

    /// Gives up a receive a select chose (see the module docs).
    ///
    /// # Safety
    /// As for `take`.
    unsafe fn give_back(&self, token: &mut Token) {
        if token.zero.packet.is_null() {
            return;
        }
        // SAFETY: as in `take`.
        let packet = unsafe { &*(token.zero.packet as *const Packet<T>) };
        if packet.on_stack {
            // A blocked sender: leave its message and let it try again.
            packet.ready.store(true, Release);
            if let Some(peer) = token.zero.peer.take() {
                peer.unpark();
            }
        } else {
            // The message is on its way (or here) and its sender has moved
            // on: it can only be dropped.
            // SAFETY: forwarded contract.
            drop(unsafe { self.take(token) });
        }
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
        let mut msg = msg;
        loop {
            match self.send_once(msg, deadline) {
                Ok(res) => return res,
                // A select picked our message and then abandoned it.
                Err(back) => msg = back,
            }
        }
    }

    /// One attempt of `send`: `Err(msg)` if the receiver that took the
    /// message gave it back.
    fn send_once(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<Result<(), SendTimeoutError<T>>, T> {
        let token = &mut Token::default();
        let mut inner = self.lock();
        if self.pair_with_receiver(&mut inner, token) {
            drop(inner);
            // SAFETY: paired with a receiver's packet (or disconnected).
            return Ok(unsafe { self.write(token, msg) }.map_err(SendTimeoutError::Disconnected));
        }
        Context::with(|cx| {
            let oper = Operation::hook(token);
            let mut packet = Packet::<T>::message_on_stack(msg);
            inner
                .senders
                .register_with_packet(oper, &mut packet as *mut Packet<T> as *mut (), cx);
            self.mirror(&inner);
            inner.receivers.notify();
            drop(inner);

            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!("a wait returned undecided"),
                sel @ (Selected::Aborted | Selected::Disconnected) => {
                    let mut inner = self.lock();
                    inner
                        .senders
                        .unregister(oper)
                        .expect("sender entry vanished");
                    self.mirror(&inner);
                    drop(inner);
                    let msg = packet.msg.get_mut().take().expect("our message is gone");
                    Ok(Err(if sel == Selected::Aborted {
                        SendTimeoutError::Timeout(msg)
                    } else {
                        SendTimeoutError::Disconnected(msg)
                    }))
                }
                Selected::Operation(_) => {
                    // A receiver paired with us; wait until it is done with
                    // our packet before the stack frame goes away.
                    packet.wait_ready();
                    match packet.msg.get_mut().take() {
                        None => Ok(Ok(())),
                        Some(back) => Err(back),
                    }
                }
            }
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        while self.start_recv(token) {
            // SAFETY: `start_recv` succeeded.
            match unsafe { self.take(token) } {
                Ok(Some(msg)) => return Ok(msg),
                Ok(None) => {} // an abandoned select-send: look again
                Err(()) => return Err(TryRecvError::Disconnected),
            }
        }
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            // `None`: a select-sender paired with us and then abandoned.
            if let Some(msg) = self.recv_once(deadline)? {
                return Ok(msg);
            }
        }
    }

    fn recv_once(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError> {
        let token = &mut Token::default();
        let mut inner = self.lock();
        if self.pair_with_sender(&mut inner, token) {
            drop(inner);
            // SAFETY: paired with a sender's packet (or disconnected).
            return unsafe { self.take(token) }.map_err(|()| RecvTimeoutError::Disconnected);
        }
        Context::with(|cx| {
            let oper = Operation::hook(token);
            let mut packet = Packet::<T>::empty_on_stack();
            inner.receivers.register_with_packet(
                oper,
                &mut packet as *mut Packet<T> as *mut (),
                cx,
            );
            self.mirror(&inner);
            inner.senders.notify();
            drop(inner);

            match cx.wait_until(deadline) {
                Selected::Waiting => unreachable!("a wait returned undecided"),
                sel @ (Selected::Aborted | Selected::Disconnected) => {
                    let mut inner = self.lock();
                    inner
                        .receivers
                        .unregister(oper)
                        .expect("receiver entry vanished");
                    self.mirror(&inner);
                    if sel == Selected::Aborted {
                        Err(RecvTimeoutError::Timeout)
                    } else {
                        Err(RecvTimeoutError::Disconnected)
                    }
                }
                Selected::Operation(_) => {
                    // A sender wrote into our packet (or is about to).
                    packet.wait_ready();
                    Ok(packet.msg.get_mut().take())
                }
            }
        })
    }

    pub(crate) fn len(&self) -> usize {
        0
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(0)
    }

    /// Marks the channel disconnected (or closed) and wakes everybody.
    /// `true` if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        let mut inner = self.lock();
        if inner.is_disconnected {
            return false;
        }
        inner.is_disconnected = true;
        self.disconnected.store(true, Release);
        self.bump_epoch();
        inner.senders.disconnect();
        inner.receivers.disconnect();
        true
    }

    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    pub(crate) fn is_full(&self) -> bool {
        true
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
        let mut inner = self.0.lock();
        if inner.is_disconnected {
            // Ready: the select's next try sees the disconnect. Listing it
            // now would let a peer that is just as late pair with it.
            return true;
        }
        let packet = Box::into_raw(Packet::<T>::empty_on_heap());
        inner
            .receivers
            .register_with_packet(oper, packet as *mut (), cx);
        self.0.mirror(&inner);
        inner.senders.notify();
        inner.senders.can_select() || inner.is_disconnected
    }
    fn unregister(&self, oper: Operation) {
        let mut inner = self.0.lock();
        if let Some(entry) = inner.receivers.unregister(oper) {
            self.0.mirror(&inner);
            // SAFETY: nobody picked this entry, so its box was never handed
            // to a writer; it came from `Box::into_raw` in `register`.
            drop(unsafe { Box::from_raw(entry.packet as *mut Packet<T>) });
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        token.zero.packet = cx.wait_packet();
        // SAFETY: our own box, from `register`; its sender hands it over by
        // setting `ready`.
        let packet = unsafe { &*(token.zero.packet as *const Packet<T>) };
        packet.wait_ready();
        // SAFETY: `ready`: the sender is done with it.
        if unsafe { (*packet.msg.get()).is_some() } {
            return true;
        }
        // Its send was abandoned: free the box and select again.
        // SAFETY: the box came from `Box::into_raw` in `register`.
        drop(unsafe { Box::from_raw(token.zero.packet as *mut Packet<T>) });
        false
    }
    fn is_ready(&self) -> bool {
        if !self.0.recv_might_proceed() {
            return false;
        }
        let inner = self.0.lock();
        inner.senders.can_select() || inner.is_disconnected
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.lock();
        inner.receivers.watch(oper, cx);
        inner.senders.can_select() || inner.is_disconnected
    }
    fn unwatch(&self, oper: Operation) {
        self.0.lock().receivers.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.0.epoch.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        // SAFETY: `token` came from this channel's `try_select`/`accept`.
        unsafe { self.0.give_back(token) }
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
        let mut inner = self.0.lock();
        if inner.is_disconnected {
            // Ready: the select's next try fails with the disconnect.
            // Listed, a select-send arm racing with `close` could still be
            // paired with a receiver and succeed (helper-16).
            return true;
        }
        let packet = Box::into_raw(Packet::<T>::empty_on_heap());
        inner
            .senders
            .register_with_packet(oper, packet as *mut (), cx);
        self.0.mirror(&inner);
        inner.receivers.notify();
        inner.receivers.can_select() || inner.is_disconnected
    }
    fn unregister(&self, oper: Operation) {
        let mut inner = self.0.lock();
        if let Some(entry) = inner.senders.unregister(oper) {
            self.0.mirror(&inner);
            // SAFETY: as for the receiver.
            drop(unsafe { Box::from_raw(entry.packet as *mut Packet<T>) });
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        token.zero.packet = cx.wait_packet();
        true
    }
    fn is_ready(&self) -> bool {
        if !self.0.send_might_proceed() {
            return false;
        }
        let inner = self.0.lock();
        inner.receivers.can_select() || inner.is_disconnected
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.lock();
        inner.senders.watch(oper, cx);
        inner.receivers.can_select() || inner.is_disconnected
    }
    fn unwatch(&self, oper: Operation) {
        self.0.lock().senders.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.0.epoch.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        if !token.zero.packet.is_null() {
            // An empty packet: its receiver waits again.
            // SAFETY: `token` came from this channel's `try_select`/`accept`.
            unsafe { self.0.fill(token, None) }
        }
    }
}
