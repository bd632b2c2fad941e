//! The public channel types: constructors, `Sender`, `Receiver`, and the
//! iterators. Each handle dispatches to its flavor.

use crate::context::Context;
use crate::counter;
use crate::err::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::flavors;
use crate::rt;
use crate::select::{Operation, SelectHandle, Token};
use std::fmt;
use std::iter::FusedIterator;
use std::mem;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes a channel of unbounded capacity: sends never block.
///
/// ```
/// let (s, r) = gofer_chan::unbounded();
/// for i in 0..1000 {
///     s.send(i).unwrap(); // never blocks
/// }
/// assert_eq!(r.len(), 1000);
/// assert_eq!(r.recv(), Ok(0));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    let (s, r) = counter::new(flavors::list::Channel::new());
    (
        Sender {
            flavor: SenderFlavor::List(s),
        },
        Receiver {
            flavor: ReceiverFlavor::List(r),
        },
    )
}

/// Capacities up to this use the locked flavor with Go's hand-off
/// (`flavors/small.rs`); larger ones the lock-free ring (`flavors/array.rs`).
/// Measured (1 worker, 1→1, ns/msg, small vs ring): capacity 1: 88 vs 126;
/// 2: 76 vs 69; 4: 62 vs 41; 8: 49 vs 31; 16: 42 vs 26.
const SMALL_MAX: usize = 1;

/// Makes a channel that holds up to `cap` messages; a send blocks while it
/// is full. `bounded(0)` makes a rendezvous channel — Go's unbuffered
/// `make(chan T)` — where every send waits for a receive and vice versa.
///
/// Blocking parks the calling goroutine (its worker runs others), or
/// blocks the calling thread.
///
/// ```
/// use std::time::Duration;
///
/// let (s, r) = gofer_chan::bounded(0);
/// let h = gofer_runtime::spawn(move || s.send("hi").unwrap());
/// gofer_runtime::sleep(Duration::from_millis(5));
/// assert_eq!(r.recv(), Ok("hi")); // the send completes only now
/// h.join().unwrap();
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    if cap == 0 {
        let (s, r) = counter::new(flavors::zero::Channel::new());
        (
            Sender {
                flavor: SenderFlavor::Zero(s),
            },
            Receiver {
                flavor: ReceiverFlavor::Zero(r),
            },
        )
    } else if cap <= SMALL_MAX {
        let (s, r) = counter::new(flavors::small::Channel::with_capacity(cap));
        (
            Sender {
                flavor: SenderFlavor::Small(s),
            },
            Receiver {
                flavor: ReceiverFlavor::Small(r),
            },
        )
    } else {
        let (s, r) = counter::new(flavors::array::Channel::with_capacity(cap));
        (
            Sender {
                flavor: SenderFlavor::Array(s),
            },
            Receiver {
                flavor: ReceiverFlavor::Array(r),
            },
        )
    }
}

/// A receiver that delivers one message, the current time, after
/// `duration` — Go's `time.After`. No timer thread is involved: a receive
/// or `select!` on it sleeps until then.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let r = gofer_chan::after(Duration::from_millis(10));
/// let at = r.recv().unwrap();
/// assert!(at >= start + Duration::from_millis(10));
/// ```
pub fn after(duration: Duration) -> Receiver<Instant> {
    match flavors::at::Channel::new_timeout(duration) {
        Some(chan) => Receiver {
            flavor: ReceiverFlavor::At(Arc::new(chan)),
        },
        None => never(),
    }
}

/// A receiver that delivers one message, `when`, at `when`.
pub fn at(when: Instant) -> Receiver<Instant> {
    Receiver {
        flavor: ReceiverFlavor::At(Arc::new(flavors::at::Channel::new_deadline(when))),
    }
}

/// A receiver that never delivers anything — Go's nil channel. Useful to
/// switch off a `select!` arm.
///
/// ```
/// use std::time::Duration;
/// use gofer_chan::{never, select, unbounded, Receiver};
///
/// let (s, r) = unbounded::<i32>();
/// let maybe: Option<Receiver<i32>> = None;
/// s.send(1).unwrap();
/// select! {
///     recv(maybe.unwrap_or_else(never)) -> _ => unreachable!(),
///     recv(r) -> v => assert_eq!(v, Ok(1)),
/// }
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        flavor: ReceiverFlavor::Never(flavors::never::Channel::new()),
    }
}

/// A receiver that delivers the current time every `duration` — Go's
/// `time.Tick`. A slow receiver misses ticks rather than queueing them.
///
/// ```
/// use std::time::Duration;
///
/// let t = gofer_chan::tick(Duration::from_millis(2));
/// let a = t.recv().unwrap();
/// let b = t.recv().unwrap();
/// assert!(b >= a + Duration::from_millis(2));
/// ```
pub fn tick(duration: Duration) -> Receiver<Instant> {
    match flavors::tick::Channel::new(duration) {
        Some(chan) => Receiver {
            flavor: ReceiverFlavor::Tick(Arc::new(chan)),
        },
        None => never(),
    }
}

/// The sending side of a channel. Clone it to have several senders.
///
/// ```
/// let (s, r) = gofer_chan::unbounded();
/// let s2 = s.clone();
/// s.send(1).unwrap();
/// s2.send(2).unwrap();
/// assert_eq!(r.iter().take(2).sum::<i32>(), 3);
/// ```
pub struct Sender<T> {
    flavor: SenderFlavor<T>,
}

enum SenderFlavor<T> {
    Array(counter::Sender<flavors::array::Channel<T>>),
    Small(counter::Sender<flavors::small::Channel<T>>),
    List(counter::Sender<flavors::list::Channel<T>>),
    Zero(counter::Sender<flavors::zero::Channel<T>>),
}

// SAFETY: the flavors synchronise all access; messages of type `T` move
// between threads, hence `T: Send`.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above; every method takes `&self` and is thread-safe.
unsafe impl<T: Send> Sync for Sender<T> {}

impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}

macro_rules! each_sender_flavor {
    ($flavor:expr, $chan:ident => $body:expr) => {
        match $flavor {
            SenderFlavor::Array($chan) => $body,
            SenderFlavor::Small($chan) => $body,
            SenderFlavor::List($chan) => $body,
            SenderFlavor::Zero($chan) => $body,
        }
    };
}

impl<T> Sender<T> {
    /// Sends a message if that can be done without waiting.
    ///
    /// Fails with `Full` if the channel is full (for a zero-capacity
    /// channel: no receiver is waiting), or `Disconnected` if every
    /// receiver is gone or the channel was closed.
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        each_sender_flavor!(&self.flavor, chan => chan.try_send(msg))
    }

    /// Sends a message, waiting while the channel is full. Fails only if
    /// every receiver is gone or the channel was closed.
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        rt::consume_budget();
        each_sender_flavor!(&self.flavor, chan => chan.send(msg, None)).map_err(|e| match e {
            SendTimeoutError::Disconnected(msg) => SendError(msg),
            SendTimeoutError::Timeout(_) => unreachable!("a send without a deadline timed out"),
        })
    }

    /// Like [`send`](Sender::send), waiting at most `timeout`.
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.send_deadline(msg, deadline),
            None => self.send(msg).map_err(SendTimeoutError::from),
        }
    }

    /// Like [`send`](Sender::send), waiting until at most `deadline`.
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        rt::consume_budget();
        each_sender_flavor!(&self.flavor, chan => chan.send(msg, Some(deadline)))
    }

    /// Closes the channel, like Go's `close(ch)`: later sends (from any
    /// sender) fail, blocked senders wake with an error, and receivers get
    /// what is still buffered and then see the channel disconnected.
    ///
    /// Returns `true` if this call closed it, `false` if it was already
    /// closed or disconnected. (Go panics on a second close; here it is
    /// harmless.)
    ///
    /// ```
    /// let (s, r) = gofer_chan::bounded(4);
    /// s.send(1).unwrap();
    /// s.send(2).unwrap();
    /// assert!(s.close());
    /// assert!(s.send(3).is_err());
    /// assert_eq!(r.iter().collect::<Vec<_>>(), [1, 2]); // drains, then ends
    /// ```
    pub fn close(&self) -> bool {
        match &self.flavor {
            SenderFlavor::Array(chan) => chan.disconnect(),
            SenderFlavor::Small(chan) => chan.disconnect(),
            SenderFlavor::List(chan) => chan.disconnect_senders(),
            SenderFlavor::Zero(chan) => chan.disconnect(),
        }
    }

    /// Is the channel empty? (Always true for a zero-capacity channel.)
    pub fn is_empty(&self) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.is_empty())
    }

    /// Is the channel full? (Always true for a zero-capacity channel.)
    pub fn is_full(&self) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.is_full())
    }

    /// Number of messages in the channel.
    pub fn len(&self) -> usize {
        each_sender_flavor!(&self.flavor, chan => chan.len())
    }

    /// The channel's capacity, or `None` if unbounded.
    pub fn capacity(&self) -> Option<usize> {
        each_sender_flavor!(&self.flavor, chan => chan.capacity())
    }

    /// Do both senders belong to the same channel?
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (SenderFlavor::Array(a), SenderFlavor::Array(b)) => a == b,
            (SenderFlavor::Small(a), SenderFlavor::Small(b)) => a == b,
            (SenderFlavor::List(a), SenderFlavor::List(b)) => a == b,
            (SenderFlavor::Zero(a), SenderFlavor::Zero(b)) => a == b,
            _ => false,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // SAFETY: each handle releases its reference exactly once, here.
        unsafe {
            match &self.flavor {
                SenderFlavor::Array(chan) => chan.release(|c| c.disconnect()),
                SenderFlavor::Small(chan) => chan.release(|c| c.disconnect()),
                SenderFlavor::List(chan) => chan.release(|c| c.disconnect_senders()),
                SenderFlavor::Zero(chan) => chan.release(|c| c.disconnect()),
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            SenderFlavor::Array(chan) => SenderFlavor::Array(chan.acquire()),
            SenderFlavor::Small(chan) => SenderFlavor::Small(chan.acquire()),
            SenderFlavor::List(chan) => SenderFlavor::List(chan.acquire()),
            SenderFlavor::Zero(chan) => SenderFlavor::Zero(chan.acquire()),
        };
        Sender { flavor }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Sender { .. }")
    }
}

/// The receiving side of a channel. Clone it to have several receivers;
/// each message goes to exactly one of them.
///
/// ```
/// use std::thread;
///
/// let (s, r) = gofer_chan::unbounded();
/// thread::spawn(move || {
///     for i in 0..3 {
///         s.send(i).unwrap();
///     }
/// }); // `s` dropped: the channel disconnects after the last message
/// assert_eq!(r.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub struct Receiver<T> {
    flavor: ReceiverFlavor<T>,
}

enum ReceiverFlavor<T> {
    Array(counter::Receiver<flavors::array::Channel<T>>),
    Small(counter::Receiver<flavors::small::Channel<T>>),
    List(counter::Receiver<flavors::list::Channel<T>>),
    Zero(counter::Receiver<flavors::zero::Channel<T>>),
    /// Only ever `Receiver<Instant>` (`after`, `at`).
    At(Arc<flavors::at::Channel>),
    /// Only ever `Receiver<Instant>` (`tick`).
    Tick(Arc<flavors::tick::Channel>),
    Never(flavors::never::Channel<T>),
}

// SAFETY: as for `Sender`.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: as for `Sender`.
unsafe impl<T: Send> Sync for Receiver<T> {}

impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

/// Converts an `Instant` into the message type of a timer receiver.
///
/// # Safety
/// Only for `At`/`Tick` flavors, which exist only as `Receiver<Instant>`.
unsafe fn instant_as<T>(t: Instant) -> T {
    assert_eq!(mem::size_of::<T>(), mem::size_of::<Instant>());
    // SAFETY: T is Instant by the caller's contract.
    unsafe { mem::transmute_copy::<Instant, T>(&t) }
}

impl<T> Receiver<T> {
    /// Receives a message if one is there, without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.try_recv(),
            ReceiverFlavor::Small(chan) => chan.try_recv(),
            ReceiverFlavor::List(chan) => chan.try_recv(),
            ReceiverFlavor::Zero(chan) => chan.try_recv(),
            // SAFETY: timer receivers are `Receiver<Instant>`.
            ReceiverFlavor::At(chan) => chan.try_recv().map(|t| unsafe { instant_as(t) }),
            // SAFETY: as above.
            ReceiverFlavor::Tick(chan) => chan.try_recv().map(|t| unsafe { instant_as(t) }),
            ReceiverFlavor::Never(chan) => chan.try_recv(),
        }
    }

    /// Receives a message, waiting until one arrives. Fails once the
    /// channel is empty and disconnected (every sender gone, or closed).
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_inner(None).map_err(|e| match e {
            RecvTimeoutError::Disconnected => RecvError,
            RecvTimeoutError::Timeout => unreachable!("a receive without a deadline timed out"),
        })
    }

    /// Like [`recv`](Receiver::recv), waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.recv_deadline(deadline),
            None => self.recv().map_err(RecvTimeoutError::from),
        }
    }

    /// Like [`recv`](Receiver::recv), waiting until at most `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_inner(Some(deadline))
    }

    fn recv_inner(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        rt::consume_budget();
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.recv(deadline),
            ReceiverFlavor::Small(chan) => chan.recv(deadline),
            ReceiverFlavor::List(chan) => chan.recv(deadline),
            ReceiverFlavor::Zero(chan) => chan.recv(deadline),
            // SAFETY: timer receivers are `Receiver<Instant>`.
            ReceiverFlavor::At(chan) => chan.recv(deadline).map(|t| unsafe { instant_as(t) }),
            // SAFETY: as above.
            ReceiverFlavor::Tick(chan) => chan.recv(deadline).map(|t| unsafe { instant_as(t) }),
            ReceiverFlavor::Never(chan) => chan.recv(deadline),
        }
    }

    /// Is the channel empty?
    pub fn is_empty(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.is_empty(),
            ReceiverFlavor::Small(chan) => chan.is_empty(),
            ReceiverFlavor::List(chan) => chan.is_empty(),
            ReceiverFlavor::Zero(chan) => chan.is_empty(),
            ReceiverFlavor::At(chan) => chan.is_empty(),
            ReceiverFlavor::Tick(chan) => chan.is_empty(),
            ReceiverFlavor::Never(chan) => chan.is_empty(),
        }
    }

    /// Is the channel full? (Always true for a zero-capacity channel.)
    pub fn is_full(&self) -> bool {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.is_full(),
            ReceiverFlavor::Small(chan) => chan.is_full(),
            ReceiverFlavor::List(chan) => chan.is_full(),
            ReceiverFlavor::Zero(chan) => chan.is_full(),
            ReceiverFlavor::At(chan) => !chan.is_empty(),
            ReceiverFlavor::Tick(chan) => !chan.is_empty(),
            ReceiverFlavor::Never(_) => true,
        }
    }

    /// Number of messages in the channel.
    pub fn len(&self) -> usize {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.len(),
            ReceiverFlavor::Small(chan) => chan.len(),
            ReceiverFlavor::List(chan) => chan.len(),
            ReceiverFlavor::Zero(chan) => chan.len(),
            ReceiverFlavor::At(chan) => chan.len(),
            ReceiverFlavor::Tick(chan) => chan.len(),
            ReceiverFlavor::Never(chan) => chan.len(),
        }
    }

    /// The channel's capacity, or `None` if unbounded.
    pub fn capacity(&self) -> Option<usize> {
        match &self.flavor {
            ReceiverFlavor::Array(chan) => chan.capacity(),
            ReceiverFlavor::Small(chan) => chan.capacity(),
            ReceiverFlavor::List(chan) => chan.capacity(),
            ReceiverFlavor::Zero(chan) => chan.capacity(),
            ReceiverFlavor::At(chan) => chan.capacity(),
            ReceiverFlavor::Tick(chan) => chan.capacity(),
            ReceiverFlavor::Never(chan) => chan.capacity(),
        }
    }

    /// A blocking iterator: yields messages until the channel is empty and
    /// disconnected — Go's `for v := range ch`.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// A non-blocking iterator over the messages there right now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }

    /// Do both receivers belong to the same channel?
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        match (&self.flavor, &other.flavor) {
            (ReceiverFlavor::Array(a), ReceiverFlavor::Array(b)) => a == b,
            (ReceiverFlavor::Small(a), ReceiverFlavor::Small(b)) => a == b,
            (ReceiverFlavor::List(a), ReceiverFlavor::List(b)) => a == b,
            (ReceiverFlavor::Zero(a), ReceiverFlavor::Zero(b)) => a == b,
            (ReceiverFlavor::At(a), ReceiverFlavor::At(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Tick(a), ReceiverFlavor::Tick(b)) => Arc::ptr_eq(a, b),
            (ReceiverFlavor::Never(_), ReceiverFlavor::Never(_)) => true,
            _ => false,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // SAFETY: each handle releases its reference exactly once, here.
        unsafe {
            match &self.flavor {
                ReceiverFlavor::Array(chan) => chan.release(|c| c.disconnect_receivers()),
                ReceiverFlavor::Small(chan) => chan.release(|c| c.disconnect_receivers()),
                ReceiverFlavor::List(chan) => chan.release(|c| c.disconnect_receivers()),
                ReceiverFlavor::Zero(chan) => chan.release(|c| c.disconnect()),
                ReceiverFlavor::At(_) | ReceiverFlavor::Tick(_) | ReceiverFlavor::Never(_) => {}
            }
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        let flavor = match &self.flavor {
            ReceiverFlavor::Array(chan) => ReceiverFlavor::Array(chan.acquire()),
            ReceiverFlavor::Small(chan) => ReceiverFlavor::Small(chan.acquire()),
            ReceiverFlavor::List(chan) => ReceiverFlavor::List(chan.acquire()),
            ReceiverFlavor::Zero(chan) => ReceiverFlavor::Zero(chan.acquire()),
            ReceiverFlavor::At(chan) => ReceiverFlavor::At(chan.clone()),
            ReceiverFlavor::Tick(chan) => ReceiverFlavor::Tick(chan.clone()),
            ReceiverFlavor::Never(_) => ReceiverFlavor::Never(flavors::never::Channel::new()),
        };
        Receiver { flavor }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Receiver { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        IntoIter { receiver: self }
    }
}

/// Blocking iterator over a receiver's messages; see [`Receiver::iter`].
pub struct Iter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("Iter { .. }")
    }
}

/// Non-blocking iterator; see [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("TryIter { .. }")
    }
}

/// Owning blocking iterator; see `IntoIterator for Receiver`.
pub struct IntoIter<T> {
    receiver: Receiver<T>,
}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad("IntoIter { .. }")
    }
}

impl<T> SelectHandle for Sender<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.sender().try_select(token))
    }
    fn deadline(&self) -> Option<Instant> {
        None
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.sender().register(oper, cx))
    }
    fn unregister(&self, oper: Operation) {
        each_sender_flavor!(&self.flavor, chan => chan.sender().unregister(oper))
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.sender().accept(token, cx))
    }
    fn is_ready(&self) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.sender().is_ready())
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        each_sender_flavor!(&self.flavor, chan => chan.sender().watch(oper, cx))
    }
    fn unwatch(&self, oper: Operation) {
        each_sender_flavor!(&self.flavor, chan => chan.sender().unwatch(oper))
    }
    fn stamp(&self) -> usize {
        each_sender_flavor!(&self.flavor, chan => chan.sender().stamp())
    }
    fn abandon(&self, token: &mut Token) {
        each_sender_flavor!(&self.flavor, chan => chan.sender().abandon(token))
    }
}

macro_rules! each_receiver_handle {
    ($flavor:expr, $h:ident => $body:expr) => {
        match $flavor {
            ReceiverFlavor::Array(chan) => {
                let $h = chan.receiver();
                $body
            }
            ReceiverFlavor::Small(chan) => {
                let $h = chan.receiver();
                $body
            }
            ReceiverFlavor::List(chan) => {
                let $h = chan.receiver();
                $body
            }
            ReceiverFlavor::Zero(chan) => {
                let $h = chan.receiver();
                $body
            }
            ReceiverFlavor::At(chan) => {
                let $h = &**chan;
                $body
            }
            ReceiverFlavor::Tick(chan) => {
                let $h = &**chan;
                $body
            }
            ReceiverFlavor::Never(chan) => {
                let $h = chan;
                $body
            }
        }
    };
}

impl<T> SelectHandle for Receiver<T> {
    fn try_select(&self, token: &mut Token) -> bool {
        each_receiver_handle!(&self.flavor, h => h.try_select(token))
    }
    fn deadline(&self) -> Option<Instant> {
        each_receiver_handle!(&self.flavor, h => h.deadline())
    }
    fn register(&self, oper: Operation, cx: &Context) -> bool {
        each_receiver_handle!(&self.flavor, h => h.register(oper, cx))
    }
    fn unregister(&self, oper: Operation) {
        each_receiver_handle!(&self.flavor, h => h.unregister(oper))
    }
    fn accept(&self, token: &mut Token, cx: &Context) -> bool {
        each_receiver_handle!(&self.flavor, h => h.accept(token, cx))
    }
    fn is_ready(&self) -> bool {
        each_receiver_handle!(&self.flavor, h => h.is_ready())
    }
    fn watch(&self, oper: Operation, cx: &Context) -> bool {
        each_receiver_handle!(&self.flavor, h => h.watch(oper, cx))
    }
    fn unwatch(&self, oper: Operation) {
        each_receiver_handle!(&self.flavor, h => h.unwatch(oper))
    }
    fn stamp(&self) -> usize {
        each_receiver_handle!(&self.flavor, h => h.stamp())
    }
    fn abandon(&self, token: &mut Token) {
        each_receiver_handle!(&self.flavor, h => h.abandon(token))
    }
}

impl<T> Receiver<T> {
    /// The rendezvous channel behind this receiver, if it is one: a
    /// `select!` receive arm on it keeps its packet in the select's frame.
    pub(crate) fn as_zero(&self) -> Option<&flavors::zero::Channel<T>> {
        match &self.flavor {
            ReceiverFlavor::Zero(chan) => Some(chan),
            _ => None,
        }
    }
}

/// Completes a send that `select` chose.
///
/// # Safety
/// `token` was filled by `s`'s `try_select` or `accept`.
pub(crate) unsafe fn write<T>(s: &Sender<T>, token: &mut Token, msg: T) -> Result<(), T> {
    // SAFETY: forwarded contract.
    unsafe { each_sender_flavor!(&s.flavor, chan => chan.write(token, msg)) }
}

/// Completes a receive that `select` chose.
///
/// # Safety
/// `token` was filled by `r`'s `try_select` or `accept`.
pub(crate) unsafe fn read<T>(r: &Receiver<T>, token: &mut Token) -> Result<T, ()> {
    // SAFETY: forwarded contract; timer receivers are `Receiver<Instant>`.
    unsafe {
        match &r.flavor {
            ReceiverFlavor::Array(chan) => chan.read(token),
            ReceiverFlavor::Small(chan) => chan.read(token),
            ReceiverFlavor::List(chan) => chan.read(token),
            ReceiverFlavor::Zero(chan) => chan.read(token),
            ReceiverFlavor::At(chan) => chan.read(token).map(|t| instant_as(t)),
            ReceiverFlavor::Tick(chan) => chan.read(token).map(|t| instant_as(t)),
            ReceiverFlavor::Never(chan) => chan.read(token),
        }
    }
}
