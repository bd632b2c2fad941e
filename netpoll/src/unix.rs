//! Unix-domain sockets: `UnixListener`, `UnixStream`, `UnixDatagram`,
//! shaped like `std::os::unix::net`'s.

use crate::fd::Dir;
use crate::socket::Socket;
use socket2::{Domain, SockAddr, Type};
use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A Unix-domain stream socket server; see `std::os::unix::net::UnixListener`.
pub struct UnixListener {
    inner: Arc<Socket<net::UnixListener>>,
}

/// A Unix-domain stream connection; see `std::os::unix::net::UnixStream`.
///
/// ```
/// use gofer_netpoll::UnixStream;
/// use std::io::{Read, Write};
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// let h = gofer_runtime::spawn(move || {
///     let mut buf = [0; 5];
///     b.read_exact(&mut buf).map(|()| buf)
/// });
/// a.write_all(b"hello")?;
/// assert_eq!(&h.join().unwrap()?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    inner: Arc<Socket<net::UnixStream>>,
}

/// A Unix-domain datagram socket; see `std::os::unix::net::UnixDatagram`.
pub struct UnixDatagram {
    inner: Arc<Socket<net::UnixDatagram>>,
}

impl UnixListener {
    /// Creates a listener bound to `path`.
    ///
    /// The backlog is the system's maximum, as for
    /// [`TcpListener::bind`](crate::TcpListener::bind).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let listener = net::UnixListener::bind(path)?;
        crate::socket::widen_backlog(&listener)?;
        UnixListener::from_std(listener)
    }

    /// Wraps a std listener (switching it to non-blocking mode).
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: Arc::new(Socket::new(listener)?),
        })
    }

    /// Accepts a connection, waiting until one arrives.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read(|l| l.accept())?;
        Ok((UnixStream::from_std(stream)?, addr))
    }

    /// An endless iterator of incoming connections.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// Another handle to the same listener (shared, not duplicated).
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        self.inner.check_open()?;
        Ok(UnixListener {
            inner: self.inner.clone(),
        })
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Go's `SetDeadline` for `accept`.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Read, deadline);
    }

    /// Go's `Close`; see [`TcpListener::close`](crate::TcpListener::close).
    pub fn close(&self) -> bool {
        self.inner.close()
    }
}

/// Iterator returned by [`UnixListener::incoming`].
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// Like std's, it waits while the listener's backlog is full (a
    /// non-blocking Unix connect then fails with `EAGAIN`, and no readiness
    /// event announces room: it is retried, after 1 ms, 2 ms, ... up to
    /// 50 ms apart).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let addr = SockAddr::unix(path)?;
        let socket =
            socket2::Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        let mut pause = Duration::from_millis(1);
        let in_progress = loop {
            match socket.connect(&addr) {
                Ok(()) => break false,
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => break true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The backlog is full.
                    gofer_runtime::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        let stream = UnixStream {
            inner: Arc::new(Socket::new(net::UnixStream::from(
                std::os::fd::OwnedFd::from(socket),
            ))?),
        };
        if in_progress {
            stream.inner.write(|s| match s.take_error()? {
                Some(e) => Err(e),
                None => match s.peer_addr() {
                    Ok(_) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                },
            })?;
        }
        Ok(stream)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a std stream (switching it to non-blocking mode).
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: Arc::new(Socket::new(stream)?),
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.forget_drained();
        self.inner.get().shutdown(how)
    }

    /// Another handle to the same connection (shared, not duplicated).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        self.inner.check_open()?;
        Ok(UnixStream {
            inner: self.inner.clone(),
        })
    }

    /// Each read waits at most `timeout`, then fails with `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Dir::Read, timeout)
    }

    /// Each write waits at most `timeout`.
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

    /// Go's `SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Write, deadline);
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Go's `Close`; see [`TcpStream::close`](crate::TcpStream::close).
    pub fn close(&self) -> bool {
        self.inner.close()
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        self.inner.read_stream(len, |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.inner.read_stream(len, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &UnixStream {
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

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for UnixStream {
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

impl UnixDatagram {
    /// A socket bound to `path`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::bind(path)?)
    }

    /// A socket not bound to any address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a std socket (switching it to non-blocking mode).
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            inner: Arc::new(Socket::new(socket)?),
        })
    }

    /// Sets the default peer.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.get().connect(path)
    }

    /// Sends one datagram to `path`.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write(|s| s.send_to(buf, path))
    }

    /// Receives one datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// Another handle to the same socket (shared, not duplicated).
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        self.inner.check_open()?;
        Ok(UnixDatagram {
            inner: self.inner.clone(),
        })
    }

    /// Each receive waits at most `timeout`, then fails with `TimedOut`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Dir::Read, timeout)
    }

    /// Each send waits at most `timeout`.
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

    /// Go's `SetReadDeadline`.
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Read, deadline);
    }

    /// Go's `SetWriteDeadline`.
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.inner.set_deadline(Dir::Write, deadline);
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get().shutdown(how)
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Go's `Close`; see [`UdpSocket::close`](crate::UdpSocket::close).
    pub fn close(&self) -> bool {
        self.inner.close()
    }
}

macro_rules! unix_fd_impls {
    ($t:ident, $std:ty) => {
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

        impl TryFrom<$std> for $t {
            type Error = io::Error;

            fn try_from(s: $std) -> io::Result<$t> {
                $t::from_std(s)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

unix_fd_impls!(UnixListener, net::UnixListener);
unix_fd_impls!(UnixStream, net::UnixStream);
unix_fd_impls!(UnixDatagram, net::UnixDatagram);
