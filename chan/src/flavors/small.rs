//! Bounded channels with a small buffer: one lock over a queue and both
//! wait lists, with hand-off between the two sides — the shape of Go's
//! `hchan`.
//!
//! # Why a second buffered flavor
//!
//! The lock-free ring of `array.rs` never completes anybody else's
//! operation: a waker only tells its peer to try again. With a buffer of
//! one slot that costs two goroutine switches per message — the sender
//! finds the slot full and yields, the receiver empties it, finds nothing
//! more and yields back. Measured on one worker (callgrind, `bounded(1)`,
//! one producer and one consumer): 2.0 switches and ~970 instructions per
//! message, ~125 ns, against Go's 0.67 switches and ~80 ns.
//!
//! Here the side that changes the buffer finishes the work of whoever
//! waits on the other side, while it holds the lock:
//!
//! * a receive that takes a message out of a full buffer moves the
//!   longest-blocked sender's message into the slot it just freed (at the
//!   tail, so order is kept), and that sender wakes with its send done;
//! * a send into a buffer that a receiver is blocked on gives the message
//!   straight to that receiver, which wakes with it in hand.
//!
//! A parked producer therefore wakes to find its message delivered and
//! room for the next ones, so one park carries several messages (Go
//! measured 0.67 switches per message on this shape; the switch count of
//! this flavor was not measured, only its time).
//!
//! The buffer is a `VecDeque` behind one lock. That costs a lock
//! acquisition per operation, which the ring does not pay: with one
//! worker, 1 producer and 1 consumer, this flavor measured 88 ns/msg at
//! capacity 1 (ring: 126), but 76 at capacity 2 (ring: 69), 49 at 8
//! (ring: 31) and 42 at 16 (ring: 26). Once the buffer has a second slot,
//! the ring's producer and consumer mostly run without switching, and
//! then the lock is pure overhead. So only `bounded(1)` uses this flavor
//! (`SMALL_MAX` in `channel.rs`); the lock is a test-and-set word, which
//! releases with a plain store (`std`'s mutex needs a read-modify-write
//! for that too, and perf put most of a message's time on those two
//! atomics).
//!
//! # The state, and the one rule that keeps it moving
//!
//! Under the lock: the messages (`buf`), the number of select-senders that
//! were granted a slot but have not written yet (`reserved`), the number
//! of select-receivers that were granted a message but have not taken it
//! yet (`claimed`), the two wait lists, and the disconnect flag. From
//! these:
//!
//! * *room* = `cap - buf.len() - reserved`: a send may start;
//! * *available* = `buf.len() - claimed`: a receive may start.
//!
//! Every critical section that changes them ends with [`Channel::balance`],
//! which restores: **no waiter is left waiting for something the channel
//! could give it** — while a message is available and a receiver waits, it
//! is given the front message; while there is room and a sender waits, a
//! blocked sender's message is appended (its send is done) or a
//! select-sender is granted a reserved slot. Waiters are picked with the
//! CAS on their select word ([`WaitList::try_select`]), so a task in `select`
//! is completed through at most one of its operations.
//!
//! # Packets
//!
//! A blocked sender registers a packet on its stack holding its message;
//! a blocked receiver an empty one; a select-receiver an empty one on the
//! heap (the select may finish elsewhere while the packet is still listed,
//! and the box is freed by whoever ends up owning it, as in `zero.rs`). A
//! select-sender registers no packet: it has no message until it is
//! chosen, so it is chosen by being granted a slot, and writes after the
//! select returns. The party that picked a waiter moves the message while
//! still holding the lock; after the unlock it unparks the waiter and only
//! then sets the packet's `ready`. The waiter returns only once it sees
//! `ready` — also when it unwinds, unless it took its entry off itself
//! (see "Leaving a wait") — so a stack packet outlives every use, and so
//! does the waiter's context: the wait lists borrow it ([`Waiter`]), and
//! nobody counts references per wait. (A select-sender has no packet to
//! wait on, and its select may return, ending the frame its context is
//! borrowed from, the moment its select word is decided: whoever tries to
//! pick it takes a counted handle *before* the compare-and-swap, and never
//! touches the borrowed context after it; see [`WaitList::try_select`].)
//!
//! # Select
//!
//! `try_select` on a send grants the caller a slot (`reserved`); on a
//! receive it claims an available message (`claimed`), which `read` pops.
//! An abandoned `SelectedOperation` gives the slot back, or drops the
//! message it had claimed (the behaviour of the array flavor: a message
//! once received cannot go back to its place). Stamps: one word, bumped on
//! every change, carries the readiness of both sides so that a failing
//! non-blocking operation takes no lock.
//!
//! # Nothing is woken under the lock
//!
//! Unparking a plain thread is a futex wake, which can take microseconds,
//! and everybody else who wants the channel would spin on the lock
//! meanwhile. So a critical section only *decides* whom to wake (the CAS on
//! a select word) and collects each one in a [`Wakes`] (see [`Wake`]); the
//! unparks, and the `ready` stores after them, happen after the unlock.
//! This is why the wait lists here are [`WaitList`]s, which never unpark,
//! rather than the crate's [`Waker`](crate::waker::Waker), which does.
//!
//! # Leaving a wait
//!
//! A blocked `send` or `recv` lists a packet that lives in its own stack
//! frame, so its frame must not end while the packet is listed — also when
//! it is left by unwinding. A [`Listed`] guard takes the entry off the list
//! on drop, or, if a picker took it, waits for `ready`; the paths that
//! leave normally disarm it (see its docs).

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::lock::{Lock, LockGuard};
use crate::select::{Operation, SelectHandle, Selected, Token};
use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use crate::utils::Backoff;
use crate::waker::Entry;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::time::Instant;

/// What a started select operation holds on this channel.
#[derive(Debug)]
enum Started {
    /// Nothing started.
    None,
    /// The channel is disconnected: the operation fails.
    Disconnected,
    /// A send was granted a slot (counted in `reserved`).
    Reserved,
    /// A receive was granted a buffered message (counted in `claimed`).
    Claimed,
    /// A select-receiver was handed a message in its heap packet.
    Packet(*mut ()),
}

/// A [`Started`] packed into one word (every select copies its `Token`
/// around, and a two-word enum here cost `select4` ~3%): 0 to 3 are the
/// variants without data, anything else is a packet's address (a heap
/// allocation, so never below 4).
#[derive(Debug, Default)]
pub(crate) struct SmallToken(usize);

impl SmallToken {
    fn set(&mut self, started: Started) {
        self.0 = match started {
            Started::None => 0,
            Started::Disconnected => 1,
            Started::Reserved => 2,
            Started::Claimed => 3,
            Started::Packet(p) => {
                debug_assert!(p as usize > 3, "a packet address that collides with a tag");
                p as usize
            }
        };
    }

    /// Reads and clears it.
    fn take(&mut self) -> Started {
        match std::mem::take(&mut self.0) {
            0 => Started::None,
            1 => Started::Disconnected,
            2 => Started::Reserved,
            3 => Started::Claimed,
            p => Started::Packet(p as *mut ()),
        }
    }
}

/// Where a message waits for a blocked peer (see the module docs).
struct Packet<T> {
    /// Set by the party that moved the message, after it unlocked and
    /// unparked us: its last touch of the packet and of our context.
    ready: AtomicBool,
    msg: UnsafeCell<Option<T>>,
}

impl<T> Packet<T> {
    fn new(msg: Option<T>) -> Packet<T> {
        Packet {
            ready: AtomicBool::new(false),
            msg: UnsafeCell::new(msg),
        }
    }

    /// Waits for the picker to finish with the packet. It moved the
    /// message in the critical section where it picked us and sets `ready`
    /// right after its unlock and our unpark, so this is a short wait, and
    /// none at all when we were parked (the unpark comes first).
    fn wait_ready(&self) {
        let backoff = Backoff::new();
        while !self.ready.load(Acquire) {
            backoff.snooze();
        }
    }
}

/// A blocking `send`'s or `recv`'s entry in a wait list, whose packet is
/// a local of the caller's frame. Made as soon as the entry is registered
/// and the lock released, and declared after the packet, so that it is
/// dropped before the packet by every way out of the frame.
///
/// Dropping it takes the entry off its list, under the lock. If the entry
/// was still listed, no picker has it and nobody can reach the packet any
/// more; if it was gone, a picker took it, and the drop waits for the
/// packet's `ready`, the picker's last touch of our packet and context
/// (see [`Release`]). So unwinding out of the park (which cannot happen
/// today, but nothing stops a future `park` from panicking) frees a packet
/// nobody will touch; a message in it is dropped with it.
///
/// The normal ways out cost nothing extra: a wait decided for our
/// operation saw `ready`, so the picker has removed the entry and is done
/// ([`picked`](Self::picked) only forgets the guard), and an aborted or
/// disconnected wait had to unregister anyway ([`unlist`](Self::unlist)).
/// A send or receive that completes without waiting never makes one.
#[must_use = "dropping it at once unlists the entry"]
struct Listed<'a, T> {
    chan: &'a Channel<T>,
    oper: Operation,
    side: Side,
    packet: &'a Packet<T>,
}

impl<T> Listed<'_, T> {
    /// Takes the entry off its list; `false` if a picker had taken it.
    fn unlist(self) -> bool {
        ManuallyDrop::new(self).remove()
    }

    /// The wait was decided for our operation and the packet is `ready`:
    /// the picker removed the entry and will not touch the packet again.
    fn picked(self) {
        std::mem::forget(self);
    }

    fn remove(&self) -> bool {
        let mut inner = self.chan.lock();
        let entry = inner.list(self.side).unregister(self.oper);
        drop(inner);
        // Our own task's handle: dropped after the unlock all the same.
        entry.is_some()
    }
}

impl<T> Drop for Listed<'_, T> {
    fn drop(&mut self) {
        if !self.remove() {
            // Picked: the picker may still be about to wake us.
            self.packet.wait_ready();
        }
    }
}

/// Parks a blocking `send` or `recv` until its wait is decided. In unit
/// tests it can be made to unwind instead, as a panicking `park` would.
#[inline]
fn wait(cx: &Context, deadline: Option<Instant>) -> Selected {
    #[cfg(all(test, not(loom)))]
    tests::unwind_if_asked();
    cx.wait_until(deadline)
}

/// A picked waiter to let go once the lock is released (see the module
/// docs).
enum Wake {
    /// A waiter that does not leave its wait before its packet is `ready`
    /// (a blocked `send` or `recv`, a select's receive arm): the context
    /// is borrowed from its frame, and `ready` is stored after the unpark,
    /// as the last touch of anything of the waiter's.
    Release(Release),
    /// A waiter that may leave as soon as its select word is decided (a
    /// select's send arm; anybody told of a disconnect or a readiness): a
    /// counted reference to the task, so that the unpark never outlives
    /// its target.
    Owned(Context),
}

/// What [`Wake::Release`] needs: the waiter's context and its packet's
/// `ready`, both valid until that store.
struct Release {
    cx: *const Context,
    ready: *const AtomicBool,
}

impl Wake {
    #[inline(always)]
    fn wake(self) {
        match self {
            Wake::Release(r) => {
                // SAFETY: the waiter does not leave its wait (nor its frame,
                // nor free its packet) before it sees `ready`, which we
                // store last; see `Release`.
                unsafe {
                    (*r.cx).unpark();
                    (*r.ready).store(true, Release);
                }
            }
            Wake::Owned(cx) => cx.unpark(),
        }
    }
}

/// Tasks to let go once the lock is released (see the module docs).
/// Almost always zero or one per critical section, so the first needs no
/// allocation.
///
/// A borrowed waiter ([`Wake::Release`]) stays until we store its `ready`:
/// it may find its select word decided without being woken (it checks the
/// word before it parks, and after any spurious wakeup), but then it waits
/// for `ready`. A counted one ([`Wake::Owned`]) may return, free its frame
/// and even start another wait before we unpark it; the handle stays valid
/// all the same, and an unpark that arrives after the wait it was meant
/// for is harmless: it leaves a permit, and every park in gofer may return
/// spuriously and loops on its condition.
#[derive(Default)]
struct Wakes {
    first: Option<Wake>,
    rest: Vec<Wake>,
}

impl Wakes {
    #[inline]
    fn push(&mut self, wake: Wake) {
        if self.first.is_none() {
            self.first = Some(wake);
        } else {
            self.rest.push(wake);
        }
    }

    /// Inlined into every critical section's end: with nobody to wake it
    /// is two tests (the out-of-line call measured ~27 instructions).
    #[inline(always)]
    fn wake(self) {
        let Wakes { first, rest } = self;
        if let Some(first) = first {
            first.wake();
        }
        if rest.capacity() != 0 {
            Self::wake_rest(rest);
        } else {
            // Never allocated: nothing to drop.
            std::mem::forget(rest);
        }
    }

    #[cold]
    fn wake_rest(rest: Vec<Wake>) {
        for wake in rest {
            wake.wake();
        }
    }
}

/// A listed waiter: its operation, its packet (null for a select-sender)
/// and its context, borrowed. The context lives in the waiter's frame
/// (`Context::with`), which the waiter does not leave while it is listed:
/// it unlists itself under the lock, or was picked under it.
struct Waiter {
    oper: Operation,
    packet: *mut (),
    cx: *const Context,
}

impl Waiter {
    /// # Safety
    /// The waiter is listed, or was picked by us and not let go yet.
    unsafe fn cx(&self) -> &Context {
        // SAFETY: forwarded contract; see the type docs.
        unsafe { &*self.cx }
    }
}

/// The waiters of one side: `waker::Waker`'s two lists, but anything to
/// wake goes into a [`Wakes`] instead of being unparked on the spot, and
/// waiters' contexts are borrowed (see [`Waiter`]).
struct WaitList {
    /// Blocked sends, receives and select arms, longest waiter first.
    selectors: VecDeque<Waiter>,
    /// Tasks in `Select::ready`, to be told that this side became ready.
    observers: Vec<Entry>,
}

impl WaitList {
    fn new() -> WaitList {
        WaitList {
            selectors: VecDeque::new(),
            observers: Vec::new(),
        }
    }

    fn register(&mut self, oper: Operation, packet: *mut (), cx: &Context) {
        self.selectors.push_back(Waiter { oper, packet, cx });
    }

    /// Removes the entry for `oper`, if no picker has taken it.
    fn unregister(&mut self, oper: Operation) -> Option<Waiter> {
        let i = self.selectors.iter().position(|e| e.oper == oper)?;
        if i == 0 {
            self.selectors.pop_front()
        } else {
            self.selectors.remove(i)
        }
    }

    /// Takes the longest waiter whose wait is still undecided, and decides
    /// it for its operation (entries of tasks decided elsewhere stay: their
    /// owners remove them). The caller completes the operation and then
    /// wakes it.
    ///
    /// The caller is never among the waiters, so there is no identity
    /// check (it cost a thread-local lookup per pick). Only [`balance`]
    /// picks, and it runs at the end of a send, receive, `write`, `read`
    /// or `abandon` — never inside a wait: a task lists entries only in
    /// `send`, `recv` and a select's registration round (`register`, which
    /// never balances), and it unlists all of them (or was picked, which
    /// unlisted them) before it can run any of those again. A select with
    /// a send arm and a receive arm on the same channel therefore never
    /// pairs with itself (`chan/tests/small.rs` pins it).
    ///
    /// A select-sender (no packet) may leave its wait, and end the frame
    /// its context is borrowed from, as soon as its select word is
    /// decided: it waits for nothing of ours (its `accept` takes no lock,
    /// and its select does not unregister the chosen arm). So its counted
    /// handle is taken *before* the compare-and-swap, and its borrowed
    /// context is never touched after it; it comes back as the second
    /// field. A waiter with a packet waits for `ready`, so its context
    /// stays valid until [`Wake::Release`].
    ///
    /// [`balance`]: Channel::balance
    #[inline]
    fn try_select(&mut self) -> Option<(Waiter, Option<Context>)> {
        // Almost always the front (the longest waiter) is undecided: pop
        // it without a search.
        let front = self.selectors.front()?;
        // SAFETY: listed.
        let (won, owned) = unsafe { Self::try_pick(front) };
        let (entry, owned) = if won {
            (self.selectors.pop_front()?, owned)
        } else {
            self.try_select_behind()?
        };
        if !entry.packet.is_null() {
            // A select-receiver's `accept` finds its packet through its
            // slot.
            // SAFETY: picked by us just now, and it has a packet: it waits
            // for `ready` before it leaves its wait.
            unsafe { entry.cx() }.store_packet(entry.packet);
        }
        Some((entry, owned))
    }

    /// Tries to decide `entry`'s wait for its operation. For a
    /// select-sender, also a counted handle, taken before the decision
    /// (see [`try_select`](Self::try_select)).
    ///
    /// # Safety
    /// `entry` is listed (and we hold the lock).
    #[inline]
    unsafe fn try_pick(entry: &Waiter) -> (bool, Option<Context>) {
        // SAFETY: listed (caller's contract), so its context is valid now;
        // for a select-sender this borrow ends before the decision.
        let cx = unsafe { entry.cx() };
        let owned = entry.packet.is_null().then(|| cx.clone());
        let won = cx.try_select(Selected::Operation(entry.oper)).is_ok();
        (won, owned.filter(|_| won))
    }

    /// `try_select` past a front entry decided elsewhere (its owner, a
    /// select that finished through another channel, will remove it).
    #[cold]
    fn try_select_behind(&mut self) -> Option<(Waiter, Option<Context>)> {
        let mut owned = None;
        let i = self.selectors.iter().skip(1).position(|e| {
            // SAFETY: listed.
            let (won, o) = unsafe { Self::try_pick(e) };
            owned = o;
            won
        })?;
        Some((self.selectors.remove(i + 1)?, owned))
    }

    fn watch(&mut self, oper: Operation, cx: &Context) {
        self.observers.push(Entry {
            oper,
            cx: cx.clone(),
        });
    }

    fn unwatch(&mut self, oper: Operation) {
        self.observers.retain(|e| e.oper != oper);
    }

    /// Decides every observer's wait and queues it to be woken.
    fn notify(&mut self, wakes: &mut Wakes) {
        for entry in self.observers.drain(..) {
            if entry.cx.try_select(Selected::Operation(entry.oper)).is_ok() {
                wakes.push(Wake::Owned(entry.cx));
            }
        }
    }

    /// Decides every waiter's wait as `Disconnected` and queues it to be
    /// woken. The entries stay: each owner removes its own (and takes back
    /// its packet).
    fn disconnect(&mut self, wakes: &mut Wakes) {
        for entry in &self.selectors {
            // SAFETY: listed.
            let cx = unsafe { entry.cx() };
            if cx.try_select(Selected::Disconnected).is_ok() {
                // Counted: it unlists itself and may leave before we wake
                // it.
                wakes.push(Wake::Owned(cx.clone()));
            }
        }
        self.notify(wakes);
    }

    #[inline]
    fn has_selectors(&self) -> bool {
        !self.selectors.is_empty()
    }

    #[inline]
    fn has_observers(&self) -> bool {
        !self.observers.is_empty()
    }

    /// Nobody listed: no waiter and no observer.
    #[inline]
    fn is_idle(&self) -> bool {
        self.selectors.is_empty() && self.observers.is_empty()
    }
}

impl Drop for WaitList {
    fn drop(&mut self) {
        debug_assert!(self.selectors.is_empty(), "a channel died with waiters");
        debug_assert!(self.observers.is_empty(), "a channel died with observers");
    }
}

/// Which side's wait list.
#[derive(Clone, Copy, Debug)]
enum Side {
    Senders,
    Receivers,
}

struct Inner<T> {
    buf: VecDeque<T>,
    /// Slots granted to select-senders that have not written yet.
    reserved: usize,
    /// Messages granted to select-receivers that have not popped yet.
    claimed: usize,
    senders: WaitList,
    receivers: WaitList,
    is_disconnected: bool,
}

impl<T> Inner<T> {
    fn list(&mut self, side: Side) -> &mut WaitList {
        match side {
            Side::Senders => &mut self.senders,
            Side::Receivers => &mut self.receivers,
        }
    }

    fn room(&self, cap: usize) -> usize {
        cap - self.buf.len() - self.reserved
    }

    fn available(&self) -> usize {
        self.buf.len() - self.claimed
    }

    fn send_ready(&self, cap: usize) -> bool {
        self.room(cap) > 0 || self.is_disconnected
    }

    /// A receive is ready with a message, or with the news that none will
    /// come (disconnected, and no granted slot left to be written).
    fn recv_ready(&self) -> bool {
        self.available() > 0 || (self.is_disconnected && self.reserved == 0)
    }
}

/// `state` bits: readiness of each side; the rest counts changes.
const SEND_READY: usize = 1;
const RECV_READY: usize = 2;
const ONE_CHANGE: usize = 4;

/// A bounded channel with a small buffer.
pub(crate) struct Channel<T> {
    inner: Lock<Inner<T>>,
    cap: usize,
    /// Written at the end of every critical section that changed
    /// anything: a change counter (the select stamp of both sides) plus
    /// `SEND_READY`/`RECV_READY`, so that a non-blocking operation that
    /// would fail, `is_ready` and `stamp` take no lock.
    state: AtomicUsize,
}

impl<T> Channel<T> {
    /// A channel with room for `cap` messages (`cap > 0`).
    pub(crate) fn with_capacity(cap: usize) -> Self {
        assert!(cap > 0, "capacity must be positive");
        Channel {
            inner: Lock::new(Inner {
                buf: VecDeque::with_capacity(cap),
                reserved: 0,
                claimed: 0,
                senders: WaitList::new(),
                receivers: WaitList::new(),
                is_disconnected: false,
            }),
            cap,
            state: AtomicUsize::new(SEND_READY),
        }
    }

    pub(crate) fn receiver(&self) -> Receiver<'_, T> {
        Receiver(self)
    }

    pub(crate) fn sender(&self) -> Sender<'_, T> {
        Sender(self)
    }

    fn lock(&self) -> LockGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    fn inner_mut(&mut self) -> &mut Inner<T> {
        self.inner.get_mut()
    }

    /// Publishes the readiness of both sides and counts a change; queues
    /// the observers (`Select::ready`) of a side that is ready to be woken.
    /// Call with the lock held, at the end of every critical section that
    /// changed the state (through [`unlock`](Self::unlock)).
    fn publish(&self, inner: &mut Inner<T>, wakes: &mut Wakes) {
        if inner.send_ready(self.cap) && inner.senders.has_observers() {
            inner.senders.notify(wakes);
        }
        if inner.recv_ready() && inner.receivers.has_observers() {
            inner.receivers.notify(wakes);
        }
        self.publish_state(inner);
    }

    /// Writes the state word: the readiness of both sides, and one more
    /// change. With the lock held.
    #[inline]
    fn publish_state(&self, inner: &Inner<T>) {
        let mut flags = 0;
        if inner.send_ready(self.cap) {
            flags |= SEND_READY;
        }
        if inner.recv_ready() {
            flags |= RECV_READY;
        }
        // Only lock holders write, so load-and-store cannot lose a change.
        // The count sits above the flags and each change adds 4 while the
        // flags move by at most 3, so the whole word (the select stamp)
        // grows with every change: a stamp seen twice means no change in
        // between, short of 2^62 changes (no ABA).
        let count = (self.state.load(Relaxed) & !(ONE_CHANGE - 1)).wrapping_add(ONE_CHANGE);
        self.state.store(count | flags, Release);
    }

    /// Gives waiters what the channel can give them (the rule in the
    /// module docs). Call with the lock held, after any change.
    fn balance(&self, inner: &mut Inner<T>, wakes: &mut Wakes) {
        loop {
            if inner.available() > 0
                && inner.receivers.has_selectors()
                && let Some((entry, _)) = inner.receivers.try_select()
            {
                let msg = inner.buf.pop_front().expect("an available message");
                // SAFETY: every receiver entry carries a packet (its stack
                // or its select's box), and it is still allocated: an
                // entry is listed only while its packet lives (a stack
                // packet's frame ends only after its `Listed` took the
                // entry off under this lock, or after `ready`). We won its
                // select word, so its owner waits for `ready` before it
                // touches or frees the packet (on every path, unwinding
                // included), and nobody else writes it.
                let packet = unsafe { &*(entry.packet as *const Packet<T>) };
                // SAFETY: as above: the packet is ours until `ready`. It is
                // empty (receivers' packets are filled once, here), so
                // `write` overwrites nothing that needs dropping.
                unsafe {
                    debug_assert!((*packet.msg.get()).is_none());
                    packet.msg.get().write(Some(msg));
                }
                // `ready` after the unlock and the unpark (`Wake`).
                wakes.push(Wake::Release(Release {
                    cx: entry.cx,
                    ready: &packet.ready,
                }));
                continue;
            }
            // Never after a disconnect: every sender listed then was told
            // so, and one that registers later (a select arm racing with
            // `close`) must fail, not be granted a slot (helper-16).
            if !inner.is_disconnected
                && inner.room(self.cap) > 0
                && inner.senders.has_selectors()
                && let Some((entry, owned)) = inner.senders.try_select()
            {
                if let Some(cx) = owned {
                    // A select-sender: it writes after its select returns,
                    // which it may do as soon as its word is decided (even
                    // before we unlock: it needs no lock of ours to
                    // return), so it is woken through the counted handle
                    // taken before the decision; its borrowed context may
                    // be gone already.
                    inner.reserved += 1;
                    wakes.push(Wake::Owned(cx));
                } else {
                    // SAFETY: a blocked sender's stack packet, alive while
                    // listed (see `Listed`); we won its select word, so it
                    // waits for `ready` (on every path, unwinding included)
                    // before it touches the packet or leaves its frame.
                    let packet = unsafe { &*(entry.packet as *const Packet<T>) };
                    // SAFETY: as above.
                    let msg = unsafe { (*packet.msg.get()).take() }
                        .expect("a blocked sender without its message");
                    inner.buf.push_back(msg);
                    wakes.push(Wake::Release(Release {
                        cx: entry.cx,
                        ready: &packet.ready,
                    }));
                }
                continue;
            }
            break;
        }
        if inner.is_disconnected && inner.recv_ready() && inner.available() == 0 {
            // The last granted slot was given back or written to someone
            // else: receivers still waiting will get nothing more.
            inner.receivers.disconnect(wakes);
        }
    }

    /// `publish`, unlock, then unpark everybody in `wakes`. For the paths
    /// that are not every message's (see `finish`).
    fn unlock(&self, mut inner: LockGuard<'_, Inner<T>>, mut wakes: Wakes) {
        self.publish(&mut inner, &mut wakes);
        drop(inner);
        wakes.wake();
    }

    /// `balance`, then what [`unlock`](Self::unlock) does. Every
    /// message's path: with nobody listed on either side — no waiter, no
    /// observer — `balance` has nobody to give anything to and `publish`
    /// nobody to tell, so only the state word is written, inline (about
    /// half the calls in a 1→1 stream; the full path costs ~75
    /// instructions, most of them the call's register spills).
    #[inline]
    fn finish(&self, inner: LockGuard<'_, Inner<T>>) {
        if inner.senders.is_idle() && inner.receivers.is_idle() {
            self.publish_state(&inner);
            drop(inner);
        } else {
            self.finish_slow(inner);
        }
    }

    /// [`finish`](Self::finish) with somebody listed (spelled out: moving
    /// the batch into `unlock` cost ~10 instructions a message).
    fn finish_slow(&self, mut inner: LockGuard<'_, Inner<T>>) {
        let mut wakes = Wakes::default();
        self.balance(&mut inner, &mut wakes);
        self.publish(&mut inner, &mut wakes);
        drop(inner);
        wakes.wake();
    }

    fn state(&self) -> usize {
        self.state.load(Acquire)
    }

    /// Starts a send for a select: grants a slot. `true` if the caller may
    /// proceed (with a slot, or disconnected); `false` if full.
    fn start_send(&self, token: &mut Token) -> bool {
        if self.state() & SEND_READY == 0 {
            return false;
        }
        let mut inner = self.lock();
        if inner.is_disconnected {
            token.small.set(Started::Disconnected);
            true
        } else if inner.room(self.cap) > 0 {
            inner.reserved += 1;
            token.small.set(Started::Reserved);
            // Taking room makes nobody else's operation possible: no
            // `balance`. (`unlock` spelled out, as in `finish`.)
            let mut wakes = Wakes::default();
            self.publish(&mut inner, &mut wakes);
            drop(inner);
            wakes.wake();
            true
        } else {
            false
        }
    }

    /// Completes a send that a select chose.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_send` or by `accept` on a
    /// send operation of this channel, and is used once.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        match token.small.take() {
            Started::Reserved => {
                let mut inner = self.lock();
                inner.reserved -= 1;
                // Written even if disconnected since the grant, as in the
                // array flavor: the slot was the caller's before that.
                inner.buf.push_back(msg);
                self.finish(inner);
                Ok(())
            }
            _ => Err(msg),
        }
    }

    /// Starts a receive for a select: claims a message. `true` if the
    /// caller may proceed (with a claim, or disconnected); `false` if
    /// empty.
    fn start_recv(&self, token: &mut Token) -> bool {
        if self.state() & RECV_READY == 0 {
            return false;
        }
        let mut inner = self.lock();
        if inner.available() > 0 {
            inner.claimed += 1;
            token.small.set(Started::Claimed);
            // As in `start_send`.
            let mut wakes = Wakes::default();
            self.publish(&mut inner, &mut wakes);
            drop(inner);
            wakes.wake();
            true
        } else if inner.recv_ready() {
            token.small.set(Started::Disconnected);
            true
        } else {
            false
        }
    }

    /// Completes a receive that a select chose.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` or by `accept` on a
    /// receive operation of this channel, and is used once.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        match token.small.take() {
            Started::Claimed => {
                let mut inner = self.lock();
                inner.claimed -= 1;
                let msg = inner.buf.pop_front().expect("a claimed message");
                self.finish(inner);
                Ok(msg)
            }
            Started::Packet(p) => {
                // SAFETY: our select's box, handed a message by `balance`
                // (`accept` saw it `ready`); nobody else refers to it now.
                let packet = unsafe { Box::from_raw(p as *mut Packet<T>) };
                Ok(packet.msg.into_inner().expect("a delivered message"))
            }
            _ => Err(()),
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        if self.state() & SEND_READY == 0 {
            return Err(TrySendError::Full(msg));
        }
        let mut inner = self.lock();
        if inner.is_disconnected {
            Err(TrySendError::Disconnected(msg))
        } else if inner.room(self.cap) > 0 {
            inner.buf.push_back(msg);
            self.finish(inner);
            Ok(())
        } else {
            Err(TrySendError::Full(msg))
        }
    }

    #[inline]
    pub(crate) fn send(
        &self,
        msg: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut inner = self.lock();
        if inner.is_disconnected {
            return Err(SendTimeoutError::Disconnected(msg));
        }
        if inner.room(self.cap) > 0 {
            inner.buf.push_back(msg);
            self.finish(inner);
            return Ok(());
        }
        if let Some(d) = deadline
            && Instant::now() >= d
        {
            return Err(SendTimeoutError::Timeout(msg));
        }
        // Full: wait with the message in a packet; a receiver that frees a
        // slot moves it into the buffer.
        Context::with(|cx| {
            let mut token = Token::default();
            let oper = Operation::hook(&mut token);
            let mut packet = Packet::new(Some(msg));
            inner
                .senders
                .register(oper, &mut packet as *mut Packet<T> as *mut (), cx);
            drop(inner);
            // After `packet`, so that it is dropped first; after the
            // unlock, so that its drop never waits for our own lock
            // (releasing it cannot unwind). See `Listed`.
            let listed = Listed {
                chan: self,
                oper,
                side: Side::Senders,
                packet: &packet,
            };

            match wait(cx, deadline) {
                Selected::Waiting => unreachable!("a wait returned undecided"),
                sel @ (Selected::Aborted | Selected::Disconnected) => {
                    // Nobody picked us, so the message is still ours.
                    assert!(listed.unlist(), "sender entry vanished");
                    let msg = packet.msg.get_mut().take().expect("our message is gone");
                    Err(if sel == Selected::Aborted {
                        SendTimeoutError::Timeout(msg)
                    } else {
                        SendTimeoutError::Disconnected(msg)
                    })
                }
                Selected::Operation(_) => {
                    // A receiver moved our message into the buffer.
                    packet.wait_ready();
                    listed.picked();
                    Ok(())
                }
            }
        })
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.state() & RECV_READY == 0 {
            return Err(TryRecvError::Empty);
        }
        let mut inner = self.lock();
        if inner.available() > 0 {
            let msg = inner.buf.pop_front().expect("an available message");
            self.finish(inner);
            Ok(msg)
        } else if inner.recv_ready() {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    #[inline]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            let mut inner = self.lock();
            if inner.available() > 0 {
                let msg = inner.buf.pop_front().expect("an available message");
                self.finish(inner);
                return Ok(msg);
            }
            if inner.recv_ready() {
                return Err(RecvTimeoutError::Disconnected);
            }
            if let Some(d) = deadline
                && Instant::now() >= d
            {
                return Err(RecvTimeoutError::Timeout);
            }
            // Empty: wait with an empty packet; a sender fills it.
            let got = Context::with(|cx| {
                let mut token = Token::default();
                let oper = Operation::hook(&mut token);
                let mut packet = Packet::<T>::new(None);
                inner
                    .receivers
                    .register(oper, &mut packet as *mut Packet<T> as *mut (), cx);
                drop(inner);
                // As in `send`.
                let listed = Listed {
                    chan: self,
                    oper,
                    side: Side::Receivers,
                    packet: &packet,
                };

                match wait(cx, deadline) {
                    Selected::Waiting => unreachable!("a wait returned undecided"),
                    sel @ (Selected::Aborted | Selected::Disconnected) => {
                        assert!(listed.unlist(), "receiver entry vanished");
                        if sel == Selected::Aborted {
                            Some(Err(RecvTimeoutError::Timeout))
                        } else {
                            // Messages may still be buffered: look again.
                            None
                        }
                    }
                    Selected::Operation(_) => {
                        packet.wait_ready();
                        listed.picked();
                        Some(Ok(packet
                            .msg
                            .get_mut()
                            .take()
                            .expect("woken without a message")))
                    }
                }
            });
            if let Some(res) = got {
                return res;
            }
        }
    }

    /// Number of messages buffered, counting granted slots and not
    /// claimed messages (as the array flavor counts them).
    pub(crate) fn len(&self) -> usize {
        let inner = self.lock();
        inner.buf.len() + inner.reserved - inner.claimed
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(self.cap)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() == self.cap
    }

    /// Marks the channel disconnected (or closed) and wakes everybody.
    /// `true` if this call did it.
    pub(crate) fn disconnect(&self) -> bool {
        let mut inner = self.lock();
        if inner.is_disconnected {
            return false;
        }
        inner.is_disconnected = true;
        // Blocked senders get their messages back; receivers look again
        // (and drain the buffer first).
        let mut wakes = Wakes::default();
        inner.senders.disconnect(&mut wakes);
        inner.receivers.disconnect(&mut wakes);
        self.unlock(inner, wakes);
        true
    }

    /// The last receiver is gone: disconnect, and drop what is buffered
    /// now (nobody can receive it) rather than when the channel is freed.
    pub(crate) fn disconnect_receivers(&self) -> bool {
        let done = self.disconnect();
        // One message at a time, each dropped without the lock: user
        // destructors may use channels, and if one panics the rest stay
        // buffered rather than being dropped while unwinding (as in the
        // array flavor).
        loop {
            let mut inner = self.lock();
            // A claim can only outlive its receiver if its
            // `SelectedOperation` was leaked; it will never pop.
            inner.claimed = 0;
            let msg = inner.buf.pop_front();
            self.unlock(inner, Wakes::default());
            match msg {
                Some(msg) => drop(msg),
                None => return done,
            }
        }
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        let inner = self.inner_mut();
        // Drop the buffered messages one by one; should a destructor
        // panic, the others are leaked rather than dropped while unwinding
        // (where a second panic would abort).
        let mut buf = std::mem::ManuallyDrop::new(std::mem::take(&mut inner.buf));
        while let Some(msg) = buf.pop_front() {
            drop(msg);
        }
        drop(std::mem::ManuallyDrop::into_inner(buf));
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
        let packet = Box::into_raw(Box::new(Packet::<T>::new(None)));
        let mut inner = self.0.lock();
        inner.receivers.register(oper, packet as *mut (), cx);
        inner.recv_ready()
    }
    fn unregister(&self, oper: Operation) {
        let entry = self.0.lock().receivers.unregister(oper);
        if let Some(entry) = entry {
            // SAFETY: nobody picked this entry, so its box never got a
            // message or left our hands; it came from `Box::into_raw` in
            // `register`.
            drop(unsafe { Box::from_raw(entry.packet as *mut Packet<T>) });
        }
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        let p = cx.wait_packet();
        // SAFETY: our own box from `register`, which `balance` picked; it
        // stays allocated until we free it in `read` or `abandon`.
        unsafe { (*(p as *const Packet<T>)).wait_ready() };
        token.small.set(Started::Packet(p));
        true
    }
    fn is_ready(&self) -> bool {
        self.0.state() & RECV_READY != 0
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.lock();
        inner.receivers.watch(oper, cx);
        inner.recv_ready()
    }
    fn unwatch(&self, oper: Operation) {
        self.0.lock().receivers.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.0.state.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        match token.small.take() {
            Started::Claimed => {
                // As in the array flavor, the claimed message is dropped.
                let mut inner = self.0.lock();
                inner.claimed -= 1;
                let msg = inner.buf.pop_front();
                self.0.finish(inner);
                drop(msg);
            }
            Started::Packet(p) => {
                // SAFETY: our box, delivered to (see `read`).
                drop(unsafe { Box::from_raw(p as *mut Packet<T>) });
            }
            _ => {}
        }
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
        // No packet: a select-sender is chosen by being granted a slot.
        let mut inner = self.0.lock();
        if !inner.is_disconnected {
            inner.senders.register(oper, std::ptr::null_mut(), cx);
        }
        inner.send_ready(self.0.cap)
    }
    fn unregister(&self, oper: Operation) {
        // Bound, so that the entry (a task handle) is dropped after the
        // unlock, like every other one.
        let _entry = self.0.lock().senders.unregister(oper);
    }
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        // `balance` granted us a slot when it picked us.
        token.small.set(Started::Reserved);
        true
    }
    fn is_ready(&self) -> bool {
        self.0.state() & SEND_READY != 0
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        let mut inner = self.0.lock();
        inner.senders.watch(oper, cx);
        inner.send_ready(self.0.cap)
    }
    fn unwatch(&self, oper: Operation) {
        self.0.lock().senders.unwatch(oper);
    }
    fn stamp(&self) -> usize {
        self.0.state.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        if let Started::Reserved = token.small.take() {
            // Give the slot back (to a waiting sender, if any).
            let mut inner = self.0.lock();
            inner.reserved -= 1;
            self.0.finish(inner);
        }
    }
}

/// A blocked send or receive that leaves its frame by unwinding (a `park`
/// that panicked) must not leave its stack packet listed. `park` cannot
/// panic today, so `wait` is made to unwind on request, at the point
/// where the packet is listed and the task is about to park.
#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    thread_local! {
        static UNWIND_IN_NEXT_WAIT: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn unwind_if_asked() {
        if UNWIND_IN_NEXT_WAIT.with(|u| u.replace(false)) {
            std::panic::resume_unwind(Box::new("unwinding out of a park"));
        }
    }

    /// Runs `f`, making the first wait it parks in unwind; `Err` if one
    /// did.
    fn unwinding_in_wait<R>(f: impl FnOnce() -> R) -> Result<R, ()> {
        UNWIND_IN_NEXT_WAIT.with(|u| u.set(true));
        let res = catch_unwind(AssertUnwindSafe(f)).map_err(|_| ());
        UNWIND_IN_NEXT_WAIT.with(|u| u.set(false));
        res
    }

    /// A message that counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// A channel that test threads share directly, as the public handles
    /// share it through `counter.rs`.
    struct Shared<T>(Channel<T>);

    // SAFETY: as for the public `Sender`/`Receiver` (channel.rs): every
    // method takes `&self` and synchronises through the channel's lock,
    // and the messages that move between threads are `Send`.
    unsafe impl<T: Send> Sync for Shared<T> {}

    impl<T> std::ops::Deref for Shared<T> {
        type Target = Channel<T>;
        fn deref(&self) -> &Channel<T> {
            &self.0
        }
    }

    fn nobody_listed<T>(chan: &Channel<T>) -> bool {
        let inner = chan.lock();
        !inner.senders.has_selectors() && !inner.receivers.has_selectors()
    }

    #[test]
    fn a_blocked_send_that_unwinds_unlists_its_packet_and_drops_its_message_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let chan = Channel::with_capacity(1);
        assert!(chan.try_send(Counted(drops.clone())).is_ok());
        let res = unwinding_in_wait(|| chan.send(Counted(drops.clone()), None).is_ok());
        assert!(res.is_err(), "the send did not wait");
        assert!(nobody_listed(&chan), "a dead frame's packet is listed");
        assert_eq!(drops.load(SeqCst), 1, "the unwound send's message");
        // Freeing the slot moves nobody's message in: the buffer empties.
        drop(chan.try_recv().ok());
        assert_eq!(drops.load(SeqCst), 2);
        assert_eq!(chan.len(), 0);
    }

    #[test]
    fn a_blocked_recv_that_unwinds_unlists_its_packet() {
        let chan = Channel::<u32>::with_capacity(1);
        let res = unwinding_in_wait(|| chan.recv(None).is_ok());
        assert!(res.is_err(), "the recv did not wait");
        assert!(nobody_listed(&chan), "a dead frame's packet is listed");
        // A send finds nobody to hand to: its message is buffered.
        chan.try_send(7).unwrap();
        assert_eq!(chan.len(), 1);
        assert_eq!(chan.try_recv(), Ok(7));
    }

    /// A receiver that unwinds while a sender may be handing it a message:
    /// every message is either received or dropped with the unwound
    /// packet, exactly once, and the sender is never left blocked.
    #[test]
    fn receivers_unwinding_during_hand_offs_lose_no_message_and_drop_none_twice() {
        const MESSAGES: usize = 20_000;
        let drops = Arc::new(AtomicUsize::new(0));
        let chan = &Shared(Channel::with_capacity(1));
        std::thread::scope(|sc| {
            sc.spawn(|| {
                for _ in 0..MESSAGES {
                    assert!(chan.send(Counted(drops.clone()), None).is_ok());
                }
            });
            let mut i = 0usize;
            while drops.load(SeqCst) < MESSAGES {
                i += 1;
                let got = if i.is_multiple_of(2) {
                    unwinding_in_wait(|| chan.recv(None).ok()).ok().flatten()
                } else {
                    chan.try_recv().ok()
                };
                drop(got);
                assert!(drops.load(SeqCst) <= MESSAGES, "a message dropped twice");
            }
        });
        assert_eq!(drops.load(SeqCst), MESSAGES);
        assert!(nobody_listed(chan));
        assert_eq!(chan.len(), 0);
    }

    /// The mirror image: senders unwinding while a receiver frees the
    /// slot they wait for. An unwound send's message was either moved
    /// into the buffer first (and is received) or dropped with its packet.
    #[test]
    fn senders_unwinding_during_hand_offs_lose_no_message_and_drop_none_twice() {
        const MESSAGES: usize = 20_000;
        let drops = Arc::new(AtomicUsize::new(0));
        let done = AtomicBool::new(false);
        let chan = &Shared(Channel::with_capacity(1));
        std::thread::scope(|sc| {
            sc.spawn(|| {
                loop {
                    match chan.try_recv() {
                        Ok(m) => drop(m),
                        // Everything was sent before `done`: drained.
                        Err(_) if done.load(SeqCst) => break,
                        Err(_) => std::thread::yield_now(),
                    }
                }
            });
            for i in 0..MESSAGES {
                let msg = Counted(drops.clone());
                if i.is_multiple_of(2) {
                    let _ = unwinding_in_wait(|| chan.send(msg, None).is_ok());
                } else {
                    assert!(chan.send(msg, None).is_ok());
                }
            }
            done.store(true, SeqCst);
        });
        assert_eq!(drops.load(SeqCst), MESSAGES);
        assert!(nobody_listed(chan));
        assert_eq!(chan.len(), 0);
    }
}
