//! `tick(d)`: a channel that delivers the current time every period.
//!
//! Like `at`, it has no timer: it keeps the next delivery time and makes
//! the message when a receiver comes at or after it. Receiving moves the
//! next delivery to one period after *now*, so ticks missed by a slow
//! receiver are dropped, not queued (Go's `time.Ticker` does the same).
//! The next delivery time is kept as nanoseconds since the channel was
//! made, so it fits in one atomic word.

use crate::context::Context;
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::rt;
use crate::select::{Operation, SelectHandle, Token};
use crate::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

/// The message a receive operation claimed.
pub(crate) type TickToken = Option<Instant>;

/// A periodic timer channel.
pub(crate) struct Channel {
    epoch: Instant,
    /// Next delivery, in nanoseconds since `epoch`.
    next: AtomicUsize,
    period: Duration,
}

impl Channel {
    /// `None` if the first tick would lie beyond what `Instant` can hold.
    pub(crate) fn new(period: Duration) -> Option<Self> {
        let epoch = Instant::now();
        epoch.checked_add(period)?;
        Some(Channel {
            epoch,
            next: AtomicUsize::new(nanos(period)),
            period,
        })
    }

    fn at(&self, n: usize) -> Instant {
        self.epoch + Duration::from_nanos(n as u64)
    }

    fn since_epoch(&self, t: Instant) -> usize {
        nanos(t.saturating_duration_since(self.epoch))
    }

    pub(crate) fn try_recv(&self) -> Result<Instant, TryRecvError> {
        loop {
            let now = Instant::now();
            let next = self.next.load(SeqCst);
            let delivery = self.at(next);
            if now < delivery {
                return Err(TryRecvError::Empty);
            }
            let following = self.since_epoch(now).saturating_add(nanos(self.period));
            if self
                .next
                .compare_exchange(next, following, SeqCst, SeqCst)
                .is_ok()
            {
                return Ok(delivery);
            }
        }
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<Instant, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(t) => return Ok(t),
                Err(TryRecvError::Disconnected) => unreachable!("tick channels never disconnect"),
                Err(TryRecvError::Empty) => {}
            }
            let delivery = self.at(self.next.load(SeqCst));
            match deadline {
                Some(d) if d < delivery => {
                    if Instant::now() >= d {
                        return Err(RecvTimeoutError::Timeout);
                    }
                    rt::sleep_until(Some(d));
                }
                _ => rt::sleep_until(Some(delivery)),
            }
        }
    }

    /// # Safety
    /// `token` was filled by this channel's `try_select`.
    pub(crate) unsafe fn read(&self, token: &mut Token) -> Result<Instant, ()> {
        token.tick.take().ok_or(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        Instant::now() < self.at(self.next.load(SeqCst))
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(!self.is_empty())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(1)
    }
}

fn nanos(d: Duration) -> usize {
    usize::try_from(d.as_nanos()).unwrap_or(usize::MAX)
}

impl SelectHandle for Channel {
    fn try_select(&self, token: &mut Token) -> bool {
        match self.try_recv() {
            Ok(msg) => {
                token.tick = Some(msg);
                true
            }
            Err(TryRecvError::Disconnected) => {
                token.tick = None;
                true
            }
            Err(TryRecvError::Empty) => false,
        }
    }
    fn deadline(&self) -> Option<Instant> {
        Some(self.at(self.next.load(SeqCst)))
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
