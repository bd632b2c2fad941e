//! Go's `context`: cancellation and deadlines that flow down a tree of
//! contexts, observable as a channel in `select!`.

use gofer_chan::{Receiver, Sender, after, bounded, never, select};
use std::error::Error;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Why a context is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextError {
    /// Its cancel function was called (or an ancestor's).
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl Error for ContextError {}

/// A cancellation signal, a deadline, or both, inherited by child
/// contexts: cancelling a context cancels all its descendants. Cheap to
/// clone and to pass down call chains, as in Go.
///
/// ```
/// use gofer_sync::context::{Context, ContextError};
/// use gofer_chan::{select, after};
/// use std::time::Duration;
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// let worker = {
///     let ctx = ctx.clone();
///     gofer_runtime::spawn(move || {
///         select! {
///             recv(ctx.done()) -> _ => ctx.err(),
///             recv(after(Duration::from_secs(10))) -> _ => None,
///         }
///     })
/// };
/// cancel.cancel();
/// assert_eq!(worker.join().unwrap(), Some(ContextError::Canceled));
/// ```
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
}

struct Node {
    /// Closed (by dropping/closing `done_tx`) when the context is done.
    done: Receiver<()>,
    done_tx: Mutex<Option<Sender<()>>>,
    err: OnceLock<ContextError>,
    deadline: Option<Instant>,
    children: Mutex<Vec<Weak<Node>>>,
    /// Keeps ancestors (and their cancel chains) alive.
    _parent: Option<Arc<Node>>,
}

/// Cancels the context it was made with (and its descendants). Dropping it
/// does *not* cancel (unlike some libraries); call [`cancel`](CancelFunc::cancel).
#[derive(Clone)]
pub struct CancelFunc {
    node: Weak<Node>,
}

impl CancelFunc {
    /// Cancels the context, if it is not done yet. Idempotent.
    pub fn cancel(&self) {
        if let Some(node) = self.node.upgrade() {
            node.cancel(ContextError::Canceled);
        }
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("CancelFunc { .. }")
    }
}

impl Node {
    fn cancel(&self, err: ContextError) {
        if self.err.set(err).is_err() {
            return; // already done
        }
        if let Some(tx) = self
            .done_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            tx.close();
        }
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|p| p.into_inner()));
        for child in children.iter().filter_map(Weak::upgrade) {
            child.cancel(err);
        }
    }
}

impl Context {
    /// The root context: never cancelled, no deadline (Go's
    /// `context.Background()`).
    pub fn background() -> Context {
        static ROOT: OnceLock<Context> = OnceLock::new();
        ROOT.get_or_init(|| Context {
            node: Arc::new(Node {
                done: never(),
                done_tx: Mutex::new(None),
                err: OnceLock::new(),
                deadline: None,
                children: Mutex::new(Vec::new()),
                _parent: None,
            }),
        })
        .clone()
    }

    /// A child that is done when `cancel` is called or this context is
    /// done.
    pub fn with_cancel(&self) -> (Context, CancelFunc) {
        let child = self.child(self.node.deadline);
        let cancel = CancelFunc {
            node: Arc::downgrade(&child.node),
        };
        (child, cancel)
    }

    /// A child that is also done once `deadline` passes (with
    /// [`ContextError::DeadlineExceeded`]); an earlier deadline of this
    /// context still applies.
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFunc) {
        if self.node.deadline.is_some_and(|d| d <= deadline) {
            // Go: "semantically equivalent to parent": no timer of its own.
            return self.with_cancel();
        }
        let effective = match self.node.deadline {
            Some(d) if d <= deadline => d,
            _ => deadline,
        };
        let child = self.child(Some(effective));
        if child.err().is_none() {
            if Instant::now() >= effective {
                child.node.cancel(ContextError::DeadlineExceeded);
            } else {
                // A goroutine parked on the earlier of the deadline and the
                // context being done (the runtime's timer wakes it).
                let weak = Arc::downgrade(&child.node);
                let done = child.node.done.clone();
                gofer_runtime::spawn(move || {
                    select! {
                        recv(after(effective.saturating_duration_since(Instant::now()))) -> _ => {
                            if let Some(node) = weak.upgrade() {
                                node.cancel(ContextError::DeadlineExceeded);
                            }
                        }
                        recv(done) -> _ => {}
                    }
                });
            }
        }
        let cancel = CancelFunc {
            node: Arc::downgrade(&child.node),
        };
        (child, cancel)
    }

    /// [`with_deadline`](Context::with_deadline) at now + `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelFunc) {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.with_deadline(deadline),
            None => self.with_cancel(),
        }
    }

    fn child(&self, deadline: Option<Instant>) -> Context {
        let (tx, rx) = bounded(0);
        let node = Arc::new(Node {
            done: rx,
            done_tx: Mutex::new(Some(tx)),
            err: OnceLock::new(),
            deadline,
            children: Mutex::new(Vec::new()),
            _parent: Some(self.node.clone()),
        });
        {
            let mut children = self.node.children.lock().unwrap_or_else(|p| p.into_inner());
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&node));
        }
        // The parent may have been cancelled before we registered.
        if let Some(&err) = self.node.err.get() {
            node.cancel(err);
        }
        Context { node }
    }

    /// A channel that is closed when the context is done — use it as
    /// `recv(ctx.done()) -> _ => ...` in `select!`, like Go's
    /// `<-ctx.Done()`. The background context's is never closed.
    pub fn done(&self) -> &Receiver<()> {
        &self.node.done
    }

    /// `None` while the context is live; why it is done afterwards.
    pub fn err(&self) -> Option<ContextError> {
        self.node.err.get().copied()
    }

    /// Is the context done?
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// The deadline, if this context or an ancestor has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.node.deadline)
            .field("err", &self.err())
            .finish()
    }
}
