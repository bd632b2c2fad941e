//! `after(d)` and `at(t)`: a channel that delivers one message — the
//! delivery instant — once that instant has come.
//!
//! There is no timer and no thread: the message is made on demand when a
//! receiver looks at or after the delivery time. A blocking receive sleeps
//! until then (a goroutine parks with its worker's timer), and in a select
//! the delivery time is a deadline for the whole wait, so the select wakes
//! by itself and finds this channel ready.

use crate::context::Context;
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::rt;
use crate::select::{Operation, SelectHandle, Token};
use crate::sync::atomic::{AtomicBool, Ordering::*};
use std::time::{Duration, Instant};

/// The message a receive operation claimed.
pub(crate) type AtToken = Option<Instant>;

/// A one-shot timer channel.
pub(crate) struct Channel {
    delivery_time: Instant,
    received: AtomicBool,
}

impl Channel {
    pub(crate) fn new_deadline(when: Instant) -> Self {
        Channel {
            delivery_time: when,
            received: AtomicBool::new(false),
        }
    }

    pub(crate) fn new_timeout(dur: Duration) -> Option<Self> {
        Instant::now().checked_add(dur).map(Channel::new_deadline)
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        // Cheap checks first, so that polling does not contend.
        if self.received.load(Relaxed) || Instant::now() < self.delivery_time {
            return Err(TryRecvError::Empty);
        }
        if !self.received.swap(true, SeqCst) {
            Ok(self.delivery_time)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        if !self.received.load(Relaxed) {
            loop {
                let now = Instant::now();
                if now >= self.delivery_time {
                    break;
                }
                match deadline {
                    Some(d) if d < self.delivery_time => {
                        if now >= d {
                            return Err(RecvTimeoutError::Timeout);
                        }
                        rt::sleep_until(Some(d));
                    }
                    _ => rt::sleep_until(Some(self.delivery_time)),
                }
            }
            if !self.received.swap(true, SeqCst) {
                return Ok(self.delivery_time);
            }
        }
        // Someone else got the one message: nothing more ever comes.
        rt::sleep_until(deadline);
        Err(RecvTimeoutError::Timeout)
    }

    /// # Safety
    /// `token` was filled by this channel's `try_select`.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<Instant, ()> {
        token.at.take().ok_or(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.received.load(SeqCst) || Instant::now() < self.delivery_time
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(!self.is_empty())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(1)
    }
}

impl SelectHandle for Channel {
    fn try_select(&self, token: &mut Token) -> bool {
        match self.try_recv() {
            Ok(msg) => {
                token.at = Some(msg);
                true
            }
            Err(TryRecvError::Disconnected) => {
                token.at = None;
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }
    fn deadline(&self) -> Option<Instant> {
        if self.received.load(Relaxed) {
            None
        } else {
            Some(self.delivery_time)
        }
    }
    fn register(&self, _oper: Operation, _cx: &Context) -> bool {
        self.is_ready()
    }
    fn unregister(&self, _oper: Operation) {}
    fn accept(&self, token: &mut Token, _cx: &Context) -> bool {
        self.try_select(token)
    }
    fn is_ready(&self) -> bool {
        !self.is_empty()
    }
    fn watch(&self, _oper: Operation, _cx: &Context) -> bool {
        self.is_ready()
    }
    fn unwatch(&self, _oper: Operation) {}
    fn stamp(&self) -> usize {
        // Only time makes it ready.
        0
    }
    fn abandon(&self, _token: &mut Token) {
        // Nothing is reserved: the tick (or deadline) is simply consumed.
    }
}
