//! Zero-capacity channels: no buffer; a sender and a receiver meet.
//!
//! The shape is Go's `hchan` without a buffer: one small lock
//! (`lock.rs`) over the two wait lists, and the side that arrives second
//! completes the side that waits. A waiter lists its [`Packet`], whose
//! [`Link`] holds the operation id and a *borrowed* pointer to the
//! waiter's context (Go's sudog), and parks. The arriving side, under the
//! lock, picks the first waiter whose wait is still undecided (one CAS on
//! its select word; for a blocking send or receive without a deadline,
//! which nobody decides outside this lock, a load and a store), unlinks it and moves the message into or out of its
//! packet right there; then it unlocks and *releases* the waiter: unpark,
//! hand over the packet pointer, set `ready`. A blocking send or receive
//! therefore costs one lock, no allocation and no reference count on
//! either side, and the woken party finds its operation done. (A select
//! that picks a waiter in its first pass moves the message only when the
//! chosen operation is completed, after unlocking — `write`/`read`; the
//! waiter stays parked until it is released then.)
//!
//! # Who keeps what alive
//!
//! * A waiter's context and packet live in its own stack frame (or, for a
//!   `select!` receive arm, in the frame of the `select!` statement; for a
//!   dynamic [`Select`](crate::Select) arm and every select *send* arm, in
//!   a box). The waiter does not leave that frame while its entry is
//!   listed — it unlists itself under the lock — nor once it was picked,
//!   until its packet is `ready` (a select-send arm: until it is handed its
//!   packet). So a picker may use both until it sets `ready`, and releases
//!   in the order unpark → packet pointer → `ready`: after the last store it
//!   touches nothing of the waiter's. The woken waiter may see its wait
//!   decided a moment before `ready`; it waits for `ready` without parking
//!   (it consumed the one unpark it gets).
//! * A select-send arm has no message until its select returns and the
//!   arm's expression is evaluated, so the receiver that picks it wakes it
//!   at once and waits (yielding, in a goroutine) until the select-sender
//!   writes into its box; the receiver then frees the box.
//! * If a blocking operation unwinds while listed (a panic in the park),
//!   a guard unlists its entry, or, if it was already picked, waits until
//!   its picker is done with the packet, before the frame goes.
//!
//! A waiter never pairs with itself: only `register` (a select listing one
//! arm while its earlier arms are listed) can meet its own entries, and it
//! skips entries whose context is its own (the same pointer: all arms of
//! one wait share it). Everyone else who picks has nothing listed.
//!
//! A select that chose an operation may abandon it (see
//! `SelectedOperation`). An abandoned send marks the receiver's packet
//! ready with no message, and that receiver waits again; an abandoned
//! receive of a blocked sender's message leaves the message in place and
//! releases the sender, which offers it again.
//!
//! One word, `state`, mirrors whether each side has waiters and whether
//! the channel is disconnected, plus a change counter (the select stamp of
//! both sides), so a non-blocking operation that would fail — the
//! `default` arm of a `select!` — takes no lock.

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::lock::{Lock, LockGuard};
use crate::select::{Operation, SelectHandle, Selected, Token};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::utils::Backoff;
use crate::waker::Waker;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::time::Instant;

/// What a started select operation holds: the paired packet (null:
/// disconnected), and the waiter that owns it while that waiter still
/// waits to be released (null: the packet is ours, or its owner needs no
/// release).
pub(crate) struct ZeroToken {
    packet: *mut (),
    peer: *const Context,
}

impl Default for ZeroToken {
    fn default() -> Self {
        ZeroToken {
            packet: std::ptr::null_mut(),
            peer: std::ptr::null(),
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

/// Where a packet lives, which says who may free it and how its owner
/// waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Home {
    /// The frame of a blocked send or receive.
    Stack,
    /// A box of a select arm; whoever ends up owning it frees it.
    Boxed,
    /// The frame of a `select!` statement (a receive arm); never freed.
    Frame,
}

/// Where a message meets its receiver. It carries its own list link
/// (first, so that a link's address is its packet's), as Go's sudog does:
/// listing a waiter allocates nothing and unlisting it moves nothing.
#[repr(C)]
pub(crate) struct Packet<T> {
    link: Link,
    home: Home,
    /// The picker is done with the packet (see the module docs).
    ready: AtomicBool,
    msg: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    fn new(home: Home, msg: Option<T>) -> Packet<T> {
        Packet {
            link: Link::new(),
            home,
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(msg),
        }
    }

    /// An empty packet for a `select!` receive arm, in its frame.
    pub(crate) fn in_frame() -> Packet<T> {
        Packet::new(Home::Frame, None)
    }

    fn boxed() -> *mut () {
        Box::into_raw(Box::new(Packet::<T>::new(Home::Boxed, None))) as *mut ()
    }

    /// Waits for the other party to finish with this packet: a few
    /// instructions' wait after a pick, except for a select-sender's box,
    /// whose owner first has to be scheduled and evaluate its message; a
    /// goroutine yields meanwhile rather than spin.
    fn wait_ready(&self) {
        if self.ready.load(Acquire) {
            return;
        }
        let backoff = Backoff::new();
        while !self.ready.load(Acquire) {
            backoff.snooze();
        }
    }

    /// Takes the message; the caller has exclusive use of the packet.
    ///
    /// # Safety
    /// Nobody else reads or writes the packet now.
    unsafe fn take_msg(&self) -> Option<T> {
        // SAFETY: forwarded contract.
        unsafe { (*self.msg.get()).take() }
    }

    /// Puts a message into an empty packet.
    ///
    /// # Safety
    /// As for `take_msg`, and the packet holds no message.
    unsafe fn put_msg(&self, msg: Option<T>) {
        // SAFETY: forwarded contract; nothing needs dropping.
        unsafe {
            debug_assert!((*self.msg.get()).is_none());
            self.msg.get().write(msg);
        }
    }
}

/// A packet's place in a wait list. Written only under the channel lock
/// (by the owner before listing, by list operations after), hence cells:
/// the packet itself is shared with its owner, who only reads `ready`
/// and, once released, `msg`.
struct Link {
    next: Cell<*const Link>,
    oper: Cell<Operation>,
    /// Only holders of this channel's lock decide the waiter's wait (see
    /// `Context::try_select_locked`).
    locked_only: Cell<bool>,
    /// The waiter's context, borrowed (see the module docs).
    cx: Cell<*const Context>,
}

impl Link {
    fn new() -> Link {
        Link {
            next: Cell::new(std::ptr::null()),
            oper: Cell::new(Operation::NONE),
            locked_only: Cell::new(false),
            cx: Cell::new(std::ptr::null()),
        }
    }
}

/// A picked or unlisted waiter: its packet (a `Packet<T>`) and context.
#[derive(Clone, Copy)]
struct Waiter {
    packet: *mut (),
    cx: *const Context,
}

/// A FIFO of listed packets, linked through their `Link`s. Every method
/// is called with the channel lock held, and every listed link belongs to
/// a packet that stays put until it is unlisted (see the module docs) —
/// the safety argument of each dereference below.
struct WaitList {
    head: *const Link,
    tail: *const Link,
}

impl WaitList {
    fn new() -> WaitList {
        WaitList {
            head: std::ptr::null(),
            tail: std::ptr::null(),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Lists `packet` (a `Packet<T>`) for `oper` of the waiter `cx`.
    #[inline]
    fn push(&mut self, packet: *const (), oper: Operation, cx: *const Context) {
        self.push_as(packet, oper, cx, false)
    }

    /// As `push`; `locked_only`: a blocking send or receive without a
    /// deadline, whose wait only lock holders decide.
    #[inline]
    fn push_as(
        &mut self,
        packet: *const (),
        oper: Operation,
        cx: *const Context,
        locked_only: bool,
    ) {
        let link = packet as *const Link;
        // SAFETY: `packet` is a live `Packet<T>`, which starts with its
        // link (`repr(C)`); not listed, so nobody else touches the link.
        unsafe {
            (*link).next.set(std::ptr::null());
            (*link).oper.set(oper);
            (*link).cx.set(cx);
            (*link).locked_only.set(locked_only);
        }
        if self.tail.is_null() {
            self.head = link;
        } else {
            // SAFETY: the tail is listed (see the type docs).
            unsafe { (*self.tail).next.set(link) };
        }
        self.tail = link;
    }

    /// Unlinks `link`, whose predecessor is `prev` (null: the head).
    #[inline]
    fn unlink(&mut self, prev: *const Link, link: *const Link) -> Waiter {
        // SAFETY: both are listed (see the type docs).
        let next = unsafe { (*link).next.get() };
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: as above.
            unsafe { (*prev).next.set(next) };
        }
        if self.tail == link {
            self.tail = prev;
        }
        Waiter {
            packet: link as *mut (),
            // SAFETY: as above.
            cx: unsafe { (*link).cx.get() },
        }
    }

    /// The first listed waiter whose wait is still undecided, decided for
    /// its operation and unlisted. Entries of waiters decided elsewhere
    /// stay: their owners unlist them (and free their boxes).
    #[inline]
    fn pick(&mut self) -> Option<Waiter> {
        let mut prev = std::ptr::null();
        let mut link = self.head;
        while !link.is_null() {
            // SAFETY: listed (see the type docs); a listed waiter's context
            // is valid until its entry is unlisted, which needs the lock.
            let (cx, oper, locked_only) = unsafe {
                (
                    &*(*link).cx.get(),
                    (*link).oper.get(),
                    (*link).locked_only.get(),
                )
            };
            let picked = if locked_only {
                cx.try_select_locked(Selected::Operation(oper))
            } else {
                cx.try_select(Selected::Operation(oper))
            };
            if picked.is_ok() {
                return Some(self.unlink(prev, link));
            }
            prev = link;
            // SAFETY: listed.
            link = unsafe { (*link).next.get() };
        }
        None
    }

    /// Unlists `oper`'s entry; `None` if it is not listed (it was picked).
    fn unlist(&mut self, oper: Operation) -> Option<Waiter> {
        let mut prev = std::ptr::null();
        let mut link = self.head;
        while !link.is_null() {
            // SAFETY: listed.
            if unsafe { (*link).oper.get() } == oper {
                return Some(self.unlink(prev, link));
            }
            prev = link;
            // SAFETY: listed.
            link = unsafe { (*link).next.get() };
        }
        None
    }

    /// The contexts of all listed waiters.
    fn contexts(&self) -> impl Iterator<Item = *const Context> + '_ {
        let mut link = self.head;
        std::iter::from_fn(move || {
            if link.is_null() {
                return None;
            }
            // SAFETY: listed.
            let cx = unsafe { (*link).cx.get() };
            // SAFETY: listed.
            link = unsafe { (*link).next.get() };
            Some(cx)
        })
    }

    /// Is a waiter of another task listed whose wait is still undecided?
    fn can_pick(&self, me: *const Context) -> bool {
        self.contexts().any(|cx| {
            // SAFETY: as in `pick`.
            cx != me && unsafe { &*cx }.selected() == Selected::Waiting
        })
    }
}

/// Lets a picked waiter go: wakes it, hands it its packet, and marks the
/// packet done with — in that order, because after `ready` the waiter may
/// return and its frame (context, packet) be gone.
///
/// The packet comes as a raw pointer, not a reference: a reference
/// argument must stay valid until the function returns, and the waiter
/// may free its frame (a stack packet) between our store of `ready` and
/// our return — undefined behaviour that Miri reports (Stacked and Tree
/// Borrows). The store goes through a reference to the atomic alone, the
/// way `Arc`'s drop touches its counter. And it is the pointer as listed
/// (the owner's own), never one re-derived from a shared reference: the
/// owner of a box frees it through the pointer handed back here, which
/// needs the box's own permission to write.
///
/// # Safety
/// We picked the waiter (won its select word) and have not released it;
/// `packet` is its packet (a `Packet<T>`), as it was listed.
#[inline]
unsafe fn release<T>(cx: *const Context, packet: *mut ()) {
    // SAFETY: the waiter does not leave before `ready` (forwarded
    // contract), so its context is alive, and stays alive while
    // `store_packet` runs.
    let cx = unsafe { &*cx };
    cx.unpark();
    cx.store_packet(packet);
    // SAFETY: as above, the packet is alive until this store lands; no
    // reference to the packet outlives it (see the docs).
    unsafe { (*(packet as *const Packet<T>)).ready.store(true, Release) };
}

/// Wakes a select-sender we picked and hands it its box; it writes its
/// message there once its select returns.
///
/// # Safety
/// As for `release`; the select-sender leaves once it sees its packet, so
/// nothing of it is used after the handing over.
unsafe fn wake_select_sender(cx: *const Context, packet: *mut ()) {
    // SAFETY: it waits for the packet pointer, which we store last.
    unsafe { &*cx }.unpark();
    // SAFETY: still waiting for that pointer; the store itself does not
    // borrow the context, which may go as soon as the store lands (as in
    // `release`).
    unsafe { Context::store_packet_last(cx, packet) };
}

struct Inner {
    senders: WaitList,
    receivers: WaitList,
    /// `Select::ready` observers of each side.
    send_observers: Waker,
    recv_observers: Waker,
    is_disconnected: bool,
}

/// `state` bits: a send may find a partner (receivers are listed, or it
/// is disconnected); likewise a receive; the rest counts changes.
const SEND_MAY: usize = 1;
const RECV_MAY: usize = 2;
const ONE_CHANGE: usize = 4;

/// A zero-capacity channel.
pub(crate) struct Channel<T> {
    inner: Lock<Inner>,
    /// Written under the lock after every change of the lists and on
    /// disconnect; read without it (see the module docs).
    state: AtomicUsize,
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            inner: Lock::new(Inner {
                senders: WaitList::new(),
                receivers: WaitList::new(),
                send_observers: Waker::new(),
                recv_observers: Waker::new(),
                is_disconnected: false,
            }),
            state: AtomicUsize::new(0),
            _marker: PhantomData,
        }
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver {
            chan: self,
            frame: None,
        }
    }

    /// The receiving side for a `select!` arm whose packet lives in the
    /// select's frame.
    pub(crate) fn receiver_in<'a>(&'a self, frame: &'a Packet<T>) -> Receiver<'a, T> {
        Receiver {
            chan: self,
            frame: Some(frame),
        }
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    #[inline]
    fn lock(&self) -> LockGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Publishes who waits and counts a change; call with the lock held
    /// after every change.
    #[inline]
    fn publish(&self, inner: &Inner) {
        let mut flags = 0;
        if !inner.receivers.is_empty() || inner.is_disconnected {
            flags |= SEND_MAY;
        }
        if !inner.senders.is_empty() || inner.is_disconnected {
            flags |= RECV_MAY;
        }
        // Only lock holders write, so load-and-store cannot lose a change.
        let count = (self.state.load(Relaxed) & !(ONE_CHANGE - 1)).wrapping_add(ONE_CHANGE);
        self.state.store(count | flags, Release);
    }

    /// Gets the message of a sender we picked: a blocked sender's is in
    /// its packet, which we then release; a select-sender is woken to
    /// write it, and we wait. `None`: that select-sender abandoned its
    /// send. Call after unlocking.
    ///
    /// # Safety
    /// We picked the sender that owns `packet` (its context: `peer`) from
    /// this channel's senders and have neither released nor woken it.
    unsafe fn take_from(&self, packet: *mut (), peer: *const Context) -> Option<T> {
        // SAFETY: senders' packets are this channel's `Packet<T>`s, kept
        // alive by their owners until released (a box: until we free it).
        let p = unsafe { &*(packet as *const Packet<T>) };
        if p.home == Home::Stack {
            // SAFETY: the blocked sender does not touch its packet before
            // `ready`.
            let msg = unsafe { p.take_msg() };
            debug_assert!(msg.is_some(), "a blocked sender without its message");
            // SAFETY: picked by us and not released yet.
            unsafe { release::<T>(peer, packet) };
            msg
        } else {
            // A select-sender: it has yet to make its message.
            // SAFETY: picked by us, not woken yet.
            unsafe { wake_select_sender(peer, packet) };
            // SAFETY: as above; the box is ours to free once `ready`.
            unsafe { Self::take_box(packet) }
        }
    }

    /// Waits for a box's message (or its absence), takes it, frees the box.
    ///
    /// # Safety
    /// `packet` is a box from `Packet::boxed` of this channel that the
    /// caller now owns, and nobody frees it meanwhile.
    unsafe fn take_box(packet: *mut ()) -> Option<T> {
        // SAFETY: forwarded contract.
        let p = unsafe { &*(packet as *const Packet<T>) };
        p.wait_ready();
        // SAFETY: `ready`: its writer is done with it, and it is ours.
        let b = unsafe { Box::from_raw(packet as *mut Packet<T>) };
        b.msg.into_inner()
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        if self.state.load(Acquire) & SEND_MAY == 0 {
            return Err(TrySendError::Full(msg));
        }
        let mut inner = self.lock();
        if let Some(w) = inner.receivers.pick() {
            self.publish(&inner);
            // SAFETY: as in `send`.
            unsafe { self.give_to(inner, w, msg) };
            Ok(())
        } else if inner.is_disconnected {
            Err(TrySendError::Disconnected(msg))
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    /// Writes `msg` into the packet of receiver `w`, unlocks, releases it.
    ///
    /// # Safety
    /// `w` was just picked from this channel's receivers under `inner`.
    #[inline]
    unsafe fn give_to(&self, inner: LockGuard<'_, Inner>, w: Waiter, msg: T) {
        // SAFETY: receivers' packets are this channel's `Packet<T>`s, empty
        // and untouched by their owners until `ready`.
        let p = unsafe { &*(w.packet as *const Packet<T>) };
        // SAFETY: as above.
        unsafe { p.put_msg(Some(msg)) };
        drop(inner);
        // SAFETY: picked by us, not released.
        unsafe { release::<T>(w.cx, w.packet) };
    }

    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut msg = msg;
        loop {
            let mut inner = self.lock();
            if let Some(w) = inner.receivers.pick() {
                self.publish(&inner);
                // SAFETY: picked just now, under this lock.
                unsafe { self.give_to(inner, w, msg) };
                return Ok(());
            }
            if inner.is_disconnected {
                return Err(SendTimeoutError::Disconnected(msg));
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(SendTimeoutError::Timeout(msg));
            }
            match self.send_wait(inner, msg, deadline) {
                Ok(res) => return res,
                // A select picked our message and then abandoned it.
                Err(back) => msg = back,
            }
        }
    }

    /// Lists a blocked sender and waits. `Err(msg)`: the receiver that
    /// picked us gave the message back.
    #[inline(never)]
    fn send_wait(
        &self,
        mut inner: LockGuard<'_, Inner>,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<Result<(), SendTimeoutError<T>>, T> {
        Context::with(|cx| {
            let mut packet = Packet::new(Home::Stack, Some(msg));
            let oper = Operation::hook(&mut packet);
            inner.senders.push_as(
                &packet as *const Packet<T> as *const (),
                oper,
                cx,
                deadline.is_none(),
            );
            self.publish(&inner);
            inner.recv_observers.notify();
            drop(inner);
            let listed = Listed {
                chan: self,
                oper,
                sender: true,
                packet: &packet,
            };

            let sel = cx.wait_until(deadline);
            if let Selected::Operation(_) = sel {
                // A receiver picked us; it took the message (or gave it
                // back) and is done with the packet once it is `ready`.
                packet.wait_ready();
                std::mem::forget(listed);
                // SAFETY: `ready`: the packet is ours again.
                return match unsafe { packet.take_msg() } {
                    None => Ok(Ok(())),
                    Some(back) => Err(back),
                };
            }
            // Nobody picked us: unlist, and the message is still ours.
            drop(listed);
            // SAFETY: unlisted and never picked.
            let msg = unsafe { packet.take_msg() }.expect("our message is gone");
            Ok(Err(if sel == Selected::Aborted {
                SendTimeoutError::Timeout(msg)
            } else {
                SendTimeoutError::Disconnected(msg)
            }))
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        loop {
            if self.state.load(Acquire) & RECV_MAY == 0 {
                return Err(TryRecvError::Empty);
            }
            let mut inner = self.lock();
            if let Some(w) = inner.senders.pick() {
                self.publish(&inner);
                drop(inner);
                // SAFETY: picked just now; nothing took its message.
                if let Some(msg) = unsafe { self.take_from(w.packet, w.cx) } {
                    return Ok(msg);
                }
                // An abandoned select-send: look again.
            } else if inner.is_disconnected {
                return Err(TryRecvError::Disconnected);
            } else {
                return Err(TryRecvError::Empty);
            }
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut inner = self.lock();
            if let Some(w) = inner.senders.pick() {
                self.publish(&inner);
                // SAFETY: as in `take_from`.
                let p = unsafe { &*(w.packet as *const Packet<T>) };
                if p.home == Home::Stack {
                    // Take it under the lock: then releasing is all that
                    // is left after unlocking.
                    // SAFETY: the blocked sender does not touch its packet
                    // before `ready`.
                    let msg = unsafe { p.take_msg() };
                    drop(inner);
                    // SAFETY: picked by us, not released.
                    unsafe { release::<T>(w.cx, w.packet) };
                    return Ok(msg.expect("a blocked sender without its message"));
                }
                drop(inner);
                // SAFETY: picked just now; a select-sender's box.
                if let Some(msg) = unsafe { self.take_from(w.packet, w.cx) } {
                    return Ok(msg);
                }
                continue;
            }
            if inner.is_disconnected {
                return Err(RecvTimeoutError::Disconnected);
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            if let Some(msg) = self.recv_wait(inner, deadline)? {
                return Ok(msg);
            }
            // `None`: a select-sender picked us and then abandoned.
        }
    }

    /// Lists a blocked receiver and waits.
    #[inline(never)]
    fn recv_wait(
        &self,
        mut inner: LockGuard<'_, Inner>,
        deadline: Option<Instant>,
    ) -> Result<Option<T>, RecvTimeoutError> {
        Context::with(|cx| {
            let mut packet = Packet::<T>::new(Home::Stack, None);
            let oper = Operation::hook(&mut packet);
            inner.receivers.push_as(
                &packet as *const Packet<T> as *const (),
                oper,
                cx,
                deadline.is_none(),
            );
            self.publish(&inner);
            inner.send_observers.notify();
            drop(inner);
            let listed = Listed {
                chan: self,
                oper,
                sender: false,
                packet: &packet,
            };

            let sel = cx.wait_until(deadline);
            if let Selected::Operation(_) = sel {
                // A sender wrote into our packet (or is about to).
                packet.wait_ready();
                std::mem::forget(listed);
                // SAFETY: `ready`: the packet is ours again.
                return Ok(unsafe { packet.take_msg() });
            }
            drop(listed);
            Err(if sel == Selected::Aborted {
                RecvTimeoutError::Timeout
            } else {
                RecvTimeoutError::Disconnected
            })
        })
    }

    /// Starts a send for a select: picks a waiting receiver. `true` if the
    /// caller may proceed (a null packet: disconnected).
    fn start_send(&self, token: &mut Token) -> bool {
        if self.state.load(Acquire) & SEND_MAY == 0 {
            return false;
        }
        let mut inner = self.lock();
        if let Some(w) = inner.receivers.pick() {
            self.publish(&inner);
            token.zero.packet = w.packet;
            token.zero.peer = w.cx;
            true
        } else if inner.is_disconnected {
            token.zero.packet = std::ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Completes a send a select chose.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_send` or by `accept` on a
    /// send operation of this channel, and is used once.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.zero.packet.is_null() {
            return Err(msg);
        }
        // SAFETY: forwarded contract; the packet is not null.
        unsafe { self.fill(token, Some(msg)) };
        Ok(())
    }

    /// Fills the packet a select send was paired with (with nothing: the
    /// send was abandoned) and lets its receiver have it.
    ///
    /// # Safety
    /// As for `write`, and `token.zero.packet` is not null.
    unsafe fn fill(&self, token: &mut Token, msg: Option<T>) {
        // SAFETY: a receiver's packet we picked (it waits for `ready`), or
        // our own box whose receiver waits for `ready`.
        let packet = token.zero.packet;
        // SAFETY: as above.
        let p = unsafe { &*(packet as *const Packet<T>) };
        // SAFETY: as above: nobody else touches it before `ready`.
        unsafe { p.put_msg(msg) };
        let peer = std::mem::replace(&mut token.zero.peer, std::ptr::null());
        if peer.is_null() {
            // Our box: its receiver is not parked, it waits for `ready`.
            p.ready.store(true, Release);
        } else {
            // SAFETY: picked in `start_send`, not released.
            unsafe { release::<T>(peer, packet) };
        }
    }

    /// Starts a receive for a select: picks a waiting sender.
    fn start_recv(&self, token: &mut Token) -> bool {
        if self.state.load(Acquire) & RECV_MAY == 0 {
            return false;
        }
        let mut inner = self.lock();
        if let Some(w) = inner.senders.pick() {
            self.publish(&inner);
            drop(inner);
            token.zero.packet = w.packet;
            // SAFETY: a sender's packet of this channel, alive until
            // released (a box: until freed by us).
            if unsafe { &*(w.packet as *const Packet<T>) }.home == Home::Stack {
                // `read` takes its message and releases it.
                token.zero.peer = w.cx;
            } else {
                token.zero.peer = std::ptr::null();
                // SAFETY: picked by us; it has yet to make its message.
                unsafe { wake_select_sender(w.cx, w.packet) };
            }
            true
        } else if inner.is_disconnected {
            token.zero.packet = std::ptr::null_mut();
            true
        } else {
            false
        }
    }

    /// Takes the message of the packet a select receive was paired with:
    /// `None` if its select-sender abandoned the send, `Err` if
    /// disconnected.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` or by `accept` on a
    /// receive operation of this channel, and is used once.
    unsafe fn take(&self, token: &mut Token) -> Result<Option<T>, ()> {
        let packet = std::mem::replace(&mut token.zero.packet, std::ptr::null_mut());
        if packet.is_null() {
            return Err(());
        }
        let peer = std::mem::replace(&mut token.zero.peer, std::ptr::null());
        // SAFETY: the packet is alive: a blocked sender's (waiting for its
        // release), a box we own, or our `select!` frame's.
        let p = unsafe { &*(packet as *const Packet<T>) };
        match p.home {
            // SAFETY: picked in `start_recv`, not released.
            Home::Stack => Ok(unsafe { self.take_from(packet, peer) }),
            // (A select-sender's box was woken in `start_recv`.)
            // SAFETY: a select-sender's box we picked, or our own from
            // `accept`; either way ours to free.
            Home::Boxed => Ok(unsafe { Self::take_box(packet) }),
            Home::Frame => {
                p.wait_ready();
                // SAFETY: ours, and its writer is done (`ready`).
                Ok(unsafe { p.take_msg() })
            }
        }
    }

    /// Completes a receive a select chose. If its select-sender abandoned
    /// the send, waits for another sender instead.
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
        let p = unsafe { &*(token.zero.packet as *const Packet<T>) };
        if p.home == Home::Stack {
            // A blocked sender: leave its message; it offers it again.
            let packet = std::mem::replace(&mut token.zero.packet, std::ptr::null_mut());
            let peer = std::mem::replace(&mut token.zero.peer, std::ptr::null());
            // SAFETY: picked in `start_recv`, not released.
            unsafe { release::<T>(peer, packet) };
        } else {
            // The message is on its way (or here) and its sender has moved
            // on: it can only be dropped.
            // SAFETY: forwarded contract.
            drop(unsafe { self.take(token) });
        }
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
        for cx in inner.senders.contexts().chain(inner.receivers.contexts()) {
            // SAFETY: listed, and we hold the lock. A waiter told so
            // unlists itself, which needs the lock, so unparking under it
            // cannot outlive its context.
            let cx = unsafe { &*cx };
            if cx.try_select(Selected::Disconnected).is_ok() {
                cx.unpark();
            }
        }
        inner.send_observers.disconnect();
        inner.recv_observers.disconnect();
        self.publish(&inner);
        true
    }

    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    pub(crate) fn is_full(&self) -> bool {
        true
    }

    fn stamp(&self) -> usize {
        self.state.load(SeqCst)
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        let inner = self.lock();
        debug_assert!(inner.senders.is_empty(), "a channel died with senders");
        debug_assert!(inner.receivers.is_empty(), "a channel died with receivers");
    }
}

/// A blocked operation's listing. Dropping it unlists the entry, or, if a
/// peer picked it meanwhile, waits until the peer is done with the packet
/// — so the frame can go even while unwinding. The normal paths `forget`
/// it once picked, so it costs nothing there.
struct Listed<'a, T> {
    chan: &'a Channel<T>,
    oper: Operation,
    sender: bool,
    packet: &'a Packet<T>,
}

impl<T> Drop for Listed<'_, T> {
    fn drop(&mut self) {
        let mut inner = self.chan.lock();
        let list = if self.sender {
            &mut inner.senders
        } else {
            &mut inner.receivers
        };
        if list.unlist(self.oper).is_some() {
            self.chan.publish(&inner);
        } else {
            drop(inner);
            self.packet.wait_ready();
        }
    }
}

/// The receiving side, as a select handle; `frame`: the packet of a
/// `select!` arm, in the select's frame (else each wait boxes one).
pub(crate) struct Receiver<'a, T> {
    chan: &'a Channel<T>,
    frame: Option<&'a Packet<T>>,
}

/// The sending side, as a select handle.
pub(crate) struct Sender<'a, T>(&'a Channel<T>);

impl<T> SelectHandle for Receiver<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.chan.start_recv(token)
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        let packet = match self.frame {
            Some(p) => {
                // Nobody holds it: a previous round's picker was done with
                // it before that round ended.
                p.ready.store(false, Relaxed);
                p as *const Packet<T> as *mut ()
            }
            None => Packet::<T>::boxed(),
        };
        let mut inner = self.chan.lock();
        if inner.is_disconnected {
            // Ready: the select's next try sees the disconnect. Listing it
            // now would let a peer that is just as late pair with it.
            drop(inner);
            if self.frame.is_none() {
                // SAFETY: from `Packet::boxed` just now, never shared.
                drop(unsafe { Box::from_raw(packet as *mut Packet<T>) });
            }
            return true;
        }
        inner.receivers.push(packet, oper, cx);
        self.chan.publish(&inner);
        inner.send_observers.notify();
        inner.senders.can_pick(cx)
    }
    fn unregister(&self, oper: Operation) {
        let mut inner = self.chan.lock();
        if let Some(w) = inner.receivers.unlist(oper) {
            self.chan.publish(&inner);
            drop(inner);
            if self.frame.is_none() {
                // SAFETY: nobody picked this entry, so its box was never
                // handed out; it came from `Packet::boxed` in `register`.
                drop(unsafe { Box::from_raw(w.packet as *mut Packet<T>) });
            }
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        let packet = cx.wait_packet();
        // SAFETY: our own packet (box or frame), picked by a sender that
        // hands it back by setting `ready`.
        let p = unsafe { &*(packet as *const Packet<T>) };
        p.wait_ready();
        // SAFETY: `ready`: the sender is done with it.
        if unsafe { (*p.msg.get()).is_some() } {
            token.zero.packet = packet;
            token.zero.peer = std::ptr::null();
            return true;
        }
        // Its send was abandoned: select again.
        if p.home == Home::Boxed {
            // SAFETY: from `Packet::boxed` in `register`, and ours again.
            drop(unsafe { Box::from_raw(packet as *mut Packet<T>) });
        }
        false
    }
    fn is_ready(&self) -> bool {
        if self.chan.state.load(Acquire) & RECV_MAY == 0 {
            return false;
        }
        let inner = self.chan.lock();
        // Only `Select::ready` asks, with nothing of its own listed.
        inner.is_disconnected || inner.senders.can_pick(std::ptr::null())
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.chan.lock();
        inner.recv_observers.watch(oper, cx);
        inner.is_disconnected || inner.senders.can_pick(cx)
    }
    fn unwatch(&self, oper: Operation) {
        self.chan.lock().recv_observers.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.chan.stamp()
    }
    fn abandon(&self, token: &mut Token) {
        // SAFETY: `token` came from this channel's `try_select`/`accept`.
        unsafe { self.chan.give_back(token) }
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
        let packet = Packet::<T>::boxed();
        let mut inner = self.0.lock();
        if inner.is_disconnected {
            // Ready: the select's next try fails with the disconnect.
            // Listed, a select-send arm racing with `close` could still be
            // paired with a receiver and succeed (helper-16).
            drop(inner);
            // SAFETY: from `Packet::boxed` just now, never shared.
            drop(unsafe { Box::from_raw(packet as *mut Packet<T>) });
            return true;
        }
        inner.senders.push(packet, oper, cx);
        self.0.publish(&inner);
        inner.recv_observers.notify();
        inner.receivers.can_pick(cx)
    }
    fn unregister(&self, oper: Operation) {
        let mut inner = self.0.lock();
        if let Some(w) = inner.senders.unlist(oper) {
            self.0.publish(&inner);
            drop(inner);
            // SAFETY: as for the receiver.
            drop(unsafe { Box::from_raw(w.packet as *mut Packet<T>) });
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        // The receiver that picked us owns our box now and waits for us
        // to write into it.
        token.zero.packet = cx.wait_packet();
        token.zero.peer = std::ptr::null();
        true
    }
    fn is_ready(&self) -> bool {
        if self.0.state.load(Acquire) & SEND_MAY == 0 {
            return false;
        }
        let inner = self.0.lock();
        inner.is_disconnected || inner.receivers.can_pick(std::ptr::null())
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.lock();
        inner.send_observers.watch(oper, cx);
        inner.is_disconnected || inner.receivers.can_pick(cx)
    }
    fn unwatch(&self, oper: Operation) {
        self.0.lock().send_observers.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.0.stamp()
    }
    fn abandon(&self, token: &mut Token) {
        if !token.zero.packet.is_null() {
            // An empty packet: its receiver waits again.
            // SAFETY: `token` came from this channel's `try_select`/`accept`.
            unsafe { self.0.fill(token, None) }
        }
    }
}
