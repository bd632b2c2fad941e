//! `never()`: a channel that never delivers anything — Go's nil channel.
//! A select arm on it is never chosen; a receive on it blocks forever (or
//! until its deadline).

use crate::context::Context;
use crate::err::{RecvTimeoutError, TryRecvError};
use crate::rt;
use crate::select::{Operation, SelectHandle, Token};
use std::marker::PhantomData;
use std::time::Instant;

/// A channel that is never ready.
pub(crate) struct Channel<T> {
    _marker: PhantomData<T>,
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Self {
        Channel {
            _marker: PhantomData,
        }
    }

    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        Err(TryRecvError::Empty)
    }

    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        rt::sleep_until(deadline);
        Err(RecvTimeoutError::Timeout)
    }

    /// # Safety
    /// Never called with a successful token: `try_select` never succeeds.
    pub(crate) unsafe fn read(&self, _token: &mut Token) -> Result<T, ()> {
        Err(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    pub(crate) fn len(&self) -> usize {
        0
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        Some(0)
    }
}

impl<T> SelectHandle for Channel<T> {
    fn try_select(&self, _token: &mut Token) -> bool {
        false
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, _oper: Operation, _cx: &Context) -> bool {
        false
    }
    fn unregister(&self, _oper: Operation) {}
    fn accept(&self, _token: &mut Token, _cx: &Context) -> bool {
        false
    }
    fn is_ready(&self) -> bool {
        false
    }
    fn watch(&self, _oper: Operation, _cx: &Context) -> bool {
        false
    }
    fn unwatch(&self, _oper: Operation) {}
    fn stamp(&self) -> usize {
        // Never ready.
        0
    }
    fn abandon(&self, _token: &mut Token) {
        // Never selected.
    }
}
