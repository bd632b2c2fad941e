//! TCP: `TcpListener` and `TcpStream`, shaped like `std::net`'s.

use crate::fd::Dir;
use crate::socket::{Socket, each_addr, resolve};
use socket2::{Domain, Protocol, SockAddr, Type};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP socket server, listening for connections — `std::net::TcpListener`
/// for goroutines: `accept` parks the calling goroutine until a connection
/// arrives (a plain thread blocks).
///
/// ```no_run
/// use gofer_netpoll::TcpListener;
/// use std::io::{Read, Write};
///
/// let listener = TcpListener::bind("127.0.0.1:8080")?;
/// for stream in listener.incoming() {
///     let mut stream = stream?;
///     gofer_runtime::spawn(move || {
///         let mut buf = [0; 1024];
///         while let Ok(n @ 1..) = stream.read(&mut buf) {
///             if stream.write_all(&buf[..n]).is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    inner: Arc<Socket<net::TcpListener>>,
}

/// A TCP connection — `std::net::TcpStream` for goroutines: reads, writes
/// and `connect` park the calling goroutine until the socket is ready (a
/// plain thread blocks). `Read` and `Write` are implemented for
/// `TcpStream` and `&TcpStream`, so one goroutine can read while another
/// writes.
pub struct TcpStream {
    inner: Arc<Socket<net::TcpStream>>,
}

impl TcpListener {
    /// Creates a listener bound to `addr` (the first address that works).
    /// Name resolution runs off the worker (see [`gofer_runtime::blocking`]).
    ///
    /// The accept backlog is the system's maximum (`net.core.somaxconn`),
    /// as in Go, rather than std's 128: a server with a goroutine per
    /// connection is expected to take thousands of connections at once,
    /// and a full backlog drops connection attempts (they retry after a
    /// second).
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        let listener = each_addr(&addrs, |a| net::TcpListener::bind(a))?;
        crate::socket::widen_backlog(&listener)?;
        TcpListener::from_std(listener)
    }

    /// Wraps a std listener (switching it to non-blocking mode).
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            inner: Arc::new(Socket::new(listener)?),
        })
    }

    /// Accepts a connection, waiting until one arrives (or the deadline
    /// set with [`set_deadline`](TcpListener::set_deadline) passes).
    ///
    /// Errors from `accept(2)`, such as running out of file descriptors
    /// (`EMFILE`), are returned; the listener stays usable and the next
    /// call succeeds once descriptors are free again.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.read(|l| l.accept())?;
        Ok((TcpStream::from_std(stream)?, addr))
    }

    /// An endless iterator of incoming connections (`accept` in a loop).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Another handle to the same listener (shared, not duplicated: its
    /// deadline and `close` apply to both).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        self.inner.check_open()?;
        Ok(TcpListener {
            inner: self.inner.clone(),
        })
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// Gets `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Go's `SetDeadline`: `accept` fails with `TimedOut` after `deadline`
    /// (`None` clears it).
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Read, deadline);
    }

    /// Go's `Close`: stops listening for every handle; an `accept` in
    /// progress (in another goroutine or thread) wakes with an error of
    /// kind `ConnectionAborted`, and later calls fail the same way. The
    /// descriptor is closed when the last handle is dropped. Returns
    /// `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.inner.close()
    }
}

/// Iterator returned by [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn), parking until
    /// the connection is established or refused.
    pub fn connect<A: ToSocketAddrs + Send>(addr: A) -> io::Result<TcpStream> {
        let addrs = resolve(addr)?;
        each_addr(&addrs, |a| TcpStream::connect_inner(a, None))
    }

    /// Connects to `addr`, giving up with `TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_inner(addr, Instant::now().checked_add(timeout))
    }

    fn connect_inner(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let socket = socket2::Socket::new(
            Domain::for_address(*addr),
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )?;
        let in_progress = match socket.connect(&SockAddr::from(*addr)) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        let stream = TcpStream::from_registered(net::TcpStream::from(socket))?;
        if in_progress {
            stream.inner.set_deadline(Dir::Write, deadline);
            let connected = stream.inner.write(|s| match s.take_error()? {
                Some(e) => Err(e),
                None => match s.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                },
            });
            stream.inner.set_deadline(Dir::Write, None);
            connected?;
        }
        Ok(stream)
    }

    /// Wraps a std stream (switching it to non-blocking mode).
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_registered(stream)
    }

    fn from_registered(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Socket::new(stream)?),
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.forget_drained();
        self.inner.get().shutdown(how)
    }

    /// Another handle to the same connection (shared, not duplicated:
    /// timeouts, deadlines and `close` apply to both).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        self.inner.check_open()?;
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get().set_nodelay(nodelay)
    }

    /// Gets `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get().nodelay()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// Gets `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Each read waits at most `timeout`, then fails with `TimedOut`
    /// (std's reads would fail with `WouldBlock`; gofer uses `TimedOut`
    /// everywhere). `Some(Duration::ZERO)` is an error, as in std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Dir::Read, timeout)
    }

    /// Each write waits at most `timeout`; see
    /// [`set_read_timeout`](TcpStream::set_read_timeout).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Dir::Write, timeout)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Dir::Read))
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Dir::Write))
    }

    /// Go's `SetReadDeadline`: reads fail with `TimedOut` once `deadline`
    /// has passed, including one already waiting (`None` clears it).
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Write, deadline);
    }

    /// Go's `SetDeadline`: both directions.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Receives data without removing it from the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
    }

    /// Go's `Close`: closes the connection for every handle. Reads and
    /// writes in progress (in other goroutines or threads) wake with an
    /// error of kind `ConnectionAborted`, later ones fail the same way, and
    /// the peer sees the connection end. The descriptor is closed when the
    /// last handle is dropped. Returns `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.inner.close()
    }

    /// Gives back the std stream, in non-blocking mode, if this is the
    /// only handle.
    pub fn into_std(self) -> Result<net::TcpStream, TcpStream> {
        match Arc::try_unwrap(self.inner) {
            Ok(socket) => Ok(socket.into_inner()),
            Err(inner) => Err(TcpStream { inner }),
        }
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.inner.read_stream(len, |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner.read_stream(len, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write(|mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! fd_impls {
    ($t:ty) => {
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.get().as_raw_fd()
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.get().as_fd()
            }
        }

        impl TryFrom<$t> for std::os::fd::OwnedFd {
            type Error = $t;

            /// The descriptor, in non-blocking mode, if this is the only
            /// handle.
            fn try_from(s: $t) -> Result<Self, $t> {
                match Arc::try_unwrap(s.inner) {
                    Ok(socket) => Ok(socket.into_inner().into()),
                    Err(inner) => Err(Self::Error { inner }),
                }
            }
        }
    };
}

fd_impls!(TcpListener);
fd_impls!(TcpStream);

impl TryFrom<net::TcpStream> for TcpStream {
    type Error = io::Error;

    fn try_from(s: net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(s)
    }
}

impl TryFrom<net::TcpListener> for TcpListener {
    type Error = io::Error;

    fn try_from(l: net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(l)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
