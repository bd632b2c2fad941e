//! Unbounded channels: a lock-free linked list of blocks.
//!
//! Messages go into blocks of `BLOCK_CAP` (31) slots. Positions count
//! slots, shifted left by one bit: in `tail` the low bit means
//! disconnected (or closed); in `head` it means "the head block is not the
//! last one", which spares receivers a look at `tail`. Every `LAP` (32)
//! positions, one is not a slot: a sender that claims a block's last slot
//! also moves `tail` past that extra position once it has installed the
//! next block, and a sender that sees it waits for the installation. The
//! sender that will claim the last slot allocates the next block in
//! advance, so the install is only a pointer store.
//!
//! Each slot's state has three bits: `WRITE` (the message is there),
//! `READ` (it was taken) and `DESTROY` (the block is being freed). The
//! receiver of a block's last slot starts freeing the block; a slot still
//! being read when the destroyer reaches it gets `DESTROY`, and its reader
//! finishes the job. So a block is freed exactly once, after its last
//! reader is done.
//!
//! A fourth bit, `SKIP`, comes with `WRITE` when a select claimed the slot
//! to send and then abandoned the send: the slot holds nothing, and its
//! receiver goes on to the next message.
//!
//! Senders never block. Receivers spin briefly, then register in
//! `receivers` and park.

use crate::context::Context;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::select::{Operation, SelectHandle, Selected, Token};
use crate::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*, fence};
use crate::utils::Backoff;
use crate::waker::SyncWaker;
use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;

const WRITE: usize = 1;
const READ: usize = 2;
const DESTROY: usize = 4;
const SKIP: usize = 8;

/// Positions per block, counting the one that is not a slot.
const LAP: usize = 32;
/// Slots per block.
const BLOCK_CAP: usize = LAP - 1;
/// Positions are stored shifted by this many bits...
const SHIFT: usize = 1;
/// ...to make room for this flag.
const MARK_BIT: usize = 1;

/// The block and offset an operation claimed.
#[derive(Debug)]
pub(crate) struct ListToken {
    block: *const u8,
    offset: usize,
}

impl Default for ListToken {
    fn default() -> Self {
        ListToken {
            block: ptr::null(),
            offset: 0,
        }
    }
}

struct Slot<T> {
    msg: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Waits until the sender that claimed this slot has written it (or
    /// abandoned it: see `SKIP`); returns the state.
    fn wait_write(&self) -> usize {
        let backoff = Backoff::new();
        loop {
            let state = self.state.load(Acquire);
            if state & WRITE != 0 {
                return state;
            }
            backoff.snooze();
        }
    }
}

struct Block<T> {
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    /// A block with no messages and no next block, built on the heap:
    /// building it on the stack first would need `31 * size_of::<T>()` of
    /// stack, too much for a goroutine when messages are large.
    #[cfg(not(loom))]
    fn new() -> Box<Block<T>> {
        let layout = std::alloc::Layout::new::<Block<T>>();
        // SAFETY: the layout is not zero-sized (a block has a pointer).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Block<T>;
        if raw.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: allocated by the global allocator with `Block<T>`'s
        // layout, and all-zero bytes are a valid `Block`: a null `next`,
        // slot states of 0 (empty), and messages that are `MaybeUninit`.
        unsafe { Box::from_raw(raw) }
    }

    /// Loom's atomics are not valid when zeroed; the models use small
    /// messages, so build the block by value.
    #[cfg(loom)]
    fn new() -> Box<Block<T>> {
        Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                msg: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
        })
    }

    /// Waits until the next block is installed.
    fn wait_next(&self) -> *mut Block<T> {
        let backoff = Backoff::new();
        loop {
            let next = self.next.load(Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Frees `this` once every slot from `start` on has been read; stops
    /// (leaving the job to that slot's reader) at the first one still being
    /// read.
    ///
    /// # Safety
    /// `this` came from `Block::new`, slots before `start` are read, and
    /// no new reader can arrive (the head has moved past the block).
    unsafe fn destroy(this: *mut Block<T>, start: usize) {
        // The last slot is not checked: its reader is who starts this.
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: the block is alive until the loop below frees it.
            let slot = unsafe { (*this).slots.get_unchecked(i) };
            if slot.state.load(Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, AcqRel) & READ == 0
            {
                // Still being read: its reader will continue from i + 1.
                return;
            }
        }
        // SAFETY: every slot is read; nobody refers to the block any more.
        drop(unsafe { Box::from_raw(this) });
    }
}

struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// An unbounded channel.
pub(crate) struct Channel<T> {
    head: CachePadded<Position<T>>,
    tail: CachePadded<Position<T>>,
    receivers: SyncWaker,
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        let first = Box::into_raw(Block::new());
        Channel {
            head: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            }),
            tail: CachePadded::new(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(first),
            }),
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

    /// Claims a slot to send into. Always succeeds (a null block in the
    /// token means disconnected).
    fn start_send(&self, token: &mut Token) -> bool {
        let backoff = Backoff::new();
        let mut tail = self.tail.index.load(Acquire);
        let mut block = self.tail.block.load(Acquire);
        let mut next_block = None;
        loop {
            if tail & MARK_BIT != 0 {
                token.list.block = ptr::null();
                return true;
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // The end of a block: its last sender is installing the
                // next one.
                backoff.snooze();
                tail = self.tail.index.load(Acquire);
                block = self.tail.block.load(Acquire);
                continue;
            }
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                // We may take the last slot: have the next block ready.
                next_block = Some(Block::<T>::new());
            }
            let new_tail = tail + (1 << SHIFT);
            match self
                .tail
                .index
                .compare_exchange_weak(tail, new_tail, SeqCst, Acquire)
            {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        let next = Box::into_raw(next_block.take().expect("allocated above"));
                        self.tail.block.store(next, Release);
                        // Step over the position that is not a slot.
                        self.tail.index.fetch_add(1 << SHIFT, Release);
                        // SAFETY: `block` is the tail block; it lives until
                        // its last slot (ours) is read, which cannot happen
                        // before we write it.
                        unsafe { (*block).next.store(next, Release) };
                    }
                    token.list.block = block as *const u8;
                    token.list.offset = offset;
                    return true;
                }
                Err(t) => {
                    tail = t;
                    block = self.tail.block.load(Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Writes into the slot `start_send` claimed.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_send` on this channel.
    pub(crate) unsafe fn write(&self, token: &mut Token, msg: T) -> Result<(), T> {
        if token.list.block.is_null() {
            return Err(msg);
        }
        let block = token.list.block as *mut Block<T>;
        // SAFETY: we claimed this slot; the block stays alive until the
        // slot is read, which waits for our WRITE bit.
        unsafe {
            let slot = (*block).slots.get_unchecked(token.list.offset);
            slot.msg.get().write(MaybeUninit::new(msg));
            slot.state.fetch_or(WRITE, Release);
        }
        self.receivers.notify();
        Ok(())
    }

    /// Claims a slot to receive from. `false` if empty; `true` with a null
    /// block if empty and disconnected.
    fn start_recv(&self, token: &mut Token) -> bool {
        let backoff = Backoff::new();
        let mut head = self.head.index.load(Acquire);
        let mut block = self.head.block.load(Acquire);
        loop {
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // The receiver of the last slot is moving to the next block.
                backoff.snooze();
                head = self.head.index.load(Acquire);
                block = self.head.block.load(Acquire);
                continue;
            }
            let mut new_head = head + (1 << SHIFT);
            if new_head & MARK_BIT == 0 {
                // Not known to have a next block: look at the tail.
                fence(SeqCst);
                let tail = self.tail.index.load(Relaxed);
                if head >> SHIFT == tail >> SHIFT {
                    if tail & MARK_BIT != 0 {
                        token.list.block = ptr::null();
                        return true;
                    }
                    return false;
                }
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            match self
                .head
                .index
                .compare_exchange_weak(head, new_head, SeqCst, Acquire)
            {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // We took the last slot: move the head to the next
                        // block.
                        // SAFETY: the head block lives until its last slot
                        // (ours) is read.
                        let next = unsafe { (*block).wait_next() };
                        let mut next_index = (new_head & !MARK_BIT).wrapping_add(1 << SHIFT);
                        // SAFETY: `next` is installed and alive.
                        if !unsafe { (*next).next.load(Relaxed) }.is_null() {
                            next_index |= MARK_BIT;
                        }
                        self.head.block.store(next, Release);
                        self.head.index.store(next_index, Release);
                    }
                    token.list.block = block as *const u8;
                    token.list.offset = offset;
                    return true;
                }
                Err(h) => {
                    head = h;
                    block = self.head.block.load(Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Reads from the slot `start_recv` claimed: `Ok(None)` if its send
    /// was abandoned, `Err` if the channel is empty and disconnected.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` on this channel.
    unsafe fn read_slot(&self, token: &mut Token) -> Result<Option<T>, ()> {
        if token.list.block.is_null() {
            return Err(());
        }
        let block = token.list.block as *mut Block<T>;
        let offset = token.list.offset;
        // SAFETY: we claimed this slot, so the block is alive until we mark
        // it read; we wait for the sender's write before reading.
        unsafe {
            let slot = (*block).slots.get_unchecked(offset);
            let msg = if slot.wait_write() & SKIP == 0 {
                Some(slot.msg.get().read().assume_init())
            } else {
                None
            };
            if offset + 1 == BLOCK_CAP {
                Block::destroy(block, 0);
            } else if slot.state.fetch_or(READ, AcqRel) & DESTROY != 0 {
                Block::destroy(block, offset + 1);
            }
            Ok(msg)
        }
    }

    /// Completes a receive that a select chose. If the slot it claimed was
    /// abandoned by its sender, it waits for the next message instead.
    ///
    /// # Safety
    /// `token` was filled by a successful `start_recv` on this channel.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<T, ()> {
        // SAFETY: forwarded contract.
        match unsafe { self.read_slot(token) } {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => self.recv(None).map_err(|_| ()),
            Err(()) => Err(()),
        }
    }

    pub(crate) fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.send(msg, None).map_err(|e| match e {
            SendTimeoutError::Disconnected(msg) => TrySendError::Disconnected(msg),
            SendTimeoutError::Timeout(_) => unreachable!("unbounded sends never time out"),
        })
    }

    pub(crate) fn send(
        &self,
        msg: T,
        _deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let token = &mut Token::default();
        assert!(
            self.start_send(token),
            "an unbounded send cannot be refused"
        );
        // SAFETY: `start_send` succeeded.
        unsafe { self.write(token, msg) }.map_err(SendTimeoutError::Disconnected)
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let token = &mut Token::default();
        while self.start_recv(token) {
            // SAFETY: `start_recv` succeeded.
            match unsafe { self.read_slot(token) } {
                Ok(Some(msg)) => return Ok(msg),
                Ok(None) => {} // an abandoned slot: on to the next
                Err(()) => return Err(TryRecvError::Disconnected),
            }
        }
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let token = &mut Token::default();
        loop {
            let backoff = Backoff::new();
            loop {
                if self.start_recv(token) {
                    // SAFETY: `start_recv` succeeded.
                    match unsafe { self.read_slot(token) } {
                        Ok(Some(msg)) => return Ok(msg),
                        Ok(None) => continue, // an abandoned slot
                        Err(()) => return Err(RecvTimeoutError::Disconnected),
                    }
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
                // Re-check after registering: a sender may have written
                // before it could see us.
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

    /// Number of messages queued.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.index.load(SeqCst);
            let head = self.head.index.load(SeqCst);
            if self.tail.index.load(SeqCst) == tail {
                let (h, t) = (head >> SHIFT, tail >> SHIFT);
                // Positions in [h, t), minus the one per lap that is not
                // a slot (position k is one iff k % LAP == BLOCK_CAP, and
                // there are x / LAP of those below x).
                return (t - h) - (t / LAP - h / LAP);
            }
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        None
    }

    /// Marks the channel disconnected (senders gone, or closed) and wakes
    /// the receivers. `true` if this call did it.
    pub(crate) fn disconnect_senders(&self) -> bool {
        let tail = self.tail.index.fetch_or(MARK_BIT, SeqCst);
        if tail & MARK_BIT == 0 {
            self.receivers.disconnect();
            true
        } else {
            false
        }
    }

    /// The last receiver is gone: disconnect and drop everything queued
    /// (nobody can ever receive it).
    pub(crate) fn disconnect_receivers(&self) -> bool {
        // Senders never wait, so there is nobody to wake.
        let tail = self.tail.index.fetch_or(MARK_BIT, SeqCst);
        self.discard_all_messages();
        tail & MARK_BIT == 0
    }

    /// Drops every queued message. The caller is the last receiver, so it
    /// is the only reader. Senders that claimed a slot before the mark may
    /// still be writing, and are waited for — briefly: the claim may belong
    /// to a forgotten `SelectedOperation` that will never write, and then
    /// the rest is left for `Drop`.
    fn discard_all_messages(&self) {
        let backoff = Backoff::new();
        // Wait until no sender is between claiming a block's last slot and
        // stepping the tail over the position that is not a slot.
        let mut tail = self.tail.index.load(Acquire);
        while (tail >> SHIFT) % LAP == BLOCK_CAP {
            backoff.snooze();
            tail = self.tail.index.load(Acquire);
        }
        let mut head = self.head.index.load(Acquire) & !MARK_BIT;
        let mut block = self.head.block.load(Acquire);
        let backoff = Backoff::new();
        while head >> SHIFT != tail >> SHIFT {
            let offset = (head >> SHIFT) % LAP;
            // SAFETY: we are the only reader; blocks up to the tail exist
            // (or are being installed, which `wait_next` waits for).
            unsafe {
                if offset < BLOCK_CAP {
                    let slot = (*block).slots.get_unchecked(offset);
                    let state = slot.state.load(Acquire);
                    if state & WRITE == 0 {
                        if backoff.is_completed() {
                            break;
                        }
                        backoff.snooze();
                        continue;
                    }
                    if state & SKIP == 0 {
                        (*slot.msg.get()).assume_init_drop();
                    }
                } else {
                    let next = (*block).wait_next();
                    drop(Box::from_raw(block));
                    block = next;
                }
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        // `tail` is never on the position that is not a slot (waited for
        // above), so neither is `head` now, and `Drop` starts at a slot.
        self.head.block.store(block, Release);
        self.head.index.store(head, Release);
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.tail.index.load(SeqCst) & MARK_BIT != 0
    }

    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.index.load(SeqCst);
        let tail = self.tail.index.load(SeqCst);
        head >> SHIFT == tail >> SHIFT
    }

    pub(crate) fn is_full(&self) -> bool {
        false
    }
}

impl<T> Drop for Channel<T> {
    fn drop(&mut self) {
        let mut head = self.head.index.load(Relaxed) & !MARK_BIT;
        let tail = self.tail.index.load(Relaxed) & !MARK_BIT;
        let mut block = self.head.block.load(Relaxed);
        // SAFETY: with `&mut self` nobody else touches the blocks; each is
        // freed once. A slot holds a message iff it is written and not a
        // skip (a forgotten send leaves one unwritten).
        unsafe {
            while head != tail {
                let offset = (head >> SHIFT) % LAP;
                if offset < BLOCK_CAP {
                    let slot = (*block).slots.get_unchecked(offset);
                    if slot.state.load(Relaxed) & (WRITE | SKIP) == WRITE {
                        (*slot.msg.get()).assume_init_drop();
                    }
                } else {
                    let next = (*block).next.load(Relaxed);
                    drop(Box::from_raw(block));
                    block = next;
                }
                head = head.wrapping_add(1 << SHIFT);
            }
            if !block.is_null() {
                drop(Box::from_raw(block));
            }
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
        // Sends move `tail.index`; a disconnect sets its mark bit.
        self.0.tail.index.load(SeqCst)
    }
    fn abandon(&self, token: &mut Token) {
        // The message cannot go back (later ones may have been taken
        // already), so it is dropped.
        // SAFETY: `token` came from this channel's `try_select`/`accept`.
        drop(unsafe { self.0.read_slot(token) });
    }
}

impl<T> SelectHandle for Sender<'_, T> {
    fn try_select(&self, token: &mut Token) -> bool {
        self.0.start_send(token)
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, _oper: Operation, _cx: &Context) -> bool {
        self.is_ready()
    }
    fn unregister(&self, _oper: Operation) {}
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    fn is_ready(&self) -> bool {
        true
    }
    fn watch(&self, _oper: Operation, _cx: &Context) -> bool {
        self.is_ready()
    }
    fn unwatch(&self, _oper: Operation) {}
    fn stamp(&self) -> usize {
        // A send on an unbounded channel is always ready.
        0
    }
    fn abandon(&self, token: &mut Token) {
        if token.list.block.is_null() {
            return;
        }
        let block = token.list.block as *const Block<T>;
        // SAFETY: we claimed this slot; its block lives until it is read,
        // which waits for this WRITE bit.
        unsafe {
            (*block)
                .slots
                .get_unchecked(token.list.offset)
                .state
                .fetch_or(WRITE | SKIP, Release);
        }
        self.0.receivers.notify();
    }
}
