//! Reference counting shared by the senders and receivers of one channel.
//!
//! One allocation holds the channel and two counts. When the last sender
//! (or receiver) goes, its side disconnects; whichever side goes second
//! frees the allocation.

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::ops;
use std::ptr::NonNull;

struct Counter<C> {
    senders: AtomicUsize,
    receivers: AtomicUsize,
    /// Set by the first side to go; the second frees the allocation.
    destroy: AtomicBool,
    chan: C,
}

/// Makes a channel with one sender and one receiver reference.
pub(crate) fn new<C>(chan: C) -> (Sender<C>, Receiver<C>) {
    let counter = NonNull::from(Box::leak(Box::new(Counter {
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        destroy: AtomicBool::new(false),
        chan,
    })));
    (Sender { counter }, Receiver { counter })
}

/// One sender's reference to a channel.
pub(crate) struct Sender<C> {
    counter: NonNull<Counter<C>>,
}

/// One receiver's reference to a channel.
pub(crate) struct Receiver<C> {
    counter: NonNull<Counter<C>>,
}

macro_rules! side {
    ($side:ident, $count:ident) => {
        impl<C> $side<C> {
            fn counter(&self) -> &Counter<C> {
                // SAFETY: the allocation lives until both sides released
                // their last reference, and we hold one.
                unsafe { self.counter.as_ref() }
            }

            /// Another reference for a clone of the handle.
            pub(crate) fn acquire(&self) -> $side<C> {
                let count = self.counter().$count.fetch_add(1, Relaxed);
                // Like `Arc`: this many handles means they are leaked;
                // abort instead of overflowing into a use-after-free.
                if count > isize::MAX as usize {
                    std::process::abort();
                }
                $side {
                    counter: self.counter,
                }
            }

            /// Drops this reference. The last one of this side calls
            /// `disconnect`; the last one of both sides frees the channel.
            ///
            /// # Safety
            /// Called once per reference, which is not used afterwards.
            pub(crate) unsafe fn release<F: FnOnce(&C) -> bool>(&self, disconnect: F) {
                if self.counter().$count.fetch_sub(1, AcqRel) == 1 {
                    disconnect(&self.counter().chan);
                    if self.counter().destroy.swap(true, AcqRel) {
                        // SAFETY: the other side has released too; nobody
                        // refers to the allocation any more.
                        drop(unsafe { Box::from_raw(self.counter.as_ptr()) });
                    }
                }
            }
        }

        impl<C> ops::Deref for $side<C> {
            type Target = C;

            fn deref(&self) -> &C {
                &self.counter().chan
            }
        }

        impl<C> PartialEq for $side<C> {
            fn eq(&self, other: &$side<C>) -> bool {
                self.counter == other.counter
            }
        }
    };
}

side!(Sender, senders);
side!(Receiver, receivers);
