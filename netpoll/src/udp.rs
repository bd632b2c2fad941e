//! UDP: `UdpSocket`, shaped like `std::net::UdpSocket`.

use crate::fd::Dir;
use crate::socket::{Socket, each_addr, resolve};
use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A UDP socket — `std::net::UdpSocket` for goroutines: receives (and, on a
/// full send buffer, sends) park the calling goroutine (a thread blocks).
///
/// ```
/// use gofer_netpoll::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0")?;
/// let b = UdpSocket::bind("127.0.0.1:0")?;
/// a.send_to(b"ping", b.local_addr()?)?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    inner: Arc<Socket<net::UdpSocket>>,
}

impl UdpSocket {
    /// Creates a socket bound to `addr` (the first address that works).
    pub fn bind<A: ToSocketAddrs + Send>(addr: A) -> io::Result<UdpSocket> {
        let addrs = resolve(addr)?;
        UdpSocket::from_std(each_addr(&addrs, |a| net::UdpSocket::bind(a))?)
    }

    /// Wraps a std socket (switching it to non-blocking mode).
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            inner: Arc::new(Socket::new(socket)?),
        })
    }

    /// Receives one datagram, waiting for it; returns its size and sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.recv_from(buf))
    }

    /// Like `recv_from`, leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read(|s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr`.
    pub fn send_to<A: ToSocketAddrs + Send>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let addrs = resolve(addr)?;
        let target = addrs[0];
        self.inner.write(|s| s.send_to(buf, target))
    }

    /// Sets the default peer: `send` goes to it and `recv` only takes from
    /// it.
    pub fn connect<A: ToSocketAddrs + Send>(&self, addr: A) -> io::Result<()> {
        let addrs = resolve(addr)?;
        each_addr(&addrs, |a| self.inner.get().connect(a))
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(|s| s.send(buf))
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.recv(buf))
    }

    /// Like `recv`, leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(|s| s.peek(buf))
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
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        self.inner.check_open()?;
        Ok(UdpSocket {
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

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get().set_broadcast(on)
    }

    /// Gets `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get().broadcast()
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
    }

    /// Gets `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Joins an IPv4 multicast group.
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Takes the pending `SO_ERROR`.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Go's `Close`: operations waiting on the socket wake with an error of
    /// kind `ConnectionAborted`, later ones fail the same way. Returns
    /// `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.inner.close()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get().as_fd()
    }
}

impl TryFrom<net::UdpSocket> for UdpSocket {
    type Error = io::Error;

    fn try_from(s: net::UdpSocket) -> io::Result<UdpSocket> {
        UdpSocket::from_std(s)
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
