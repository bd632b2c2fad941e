//! Blocking-style sockets at event-loop speed — the networking of
//! [gofer], re-exported as `gofer::net`.
//!
//! The types mirror `std::net` and `std::os::unix::net` (same method
//! names and signatures where they exist, `Read`/`Write` for streams and
//! for `&` streams): [`TcpListener`], [`TcpStream`], [`UdpSocket`],
//! [`UnixListener`], [`UnixStream`], [`UnixDatagram`]. Write a server the
//! plain way — a goroutine per connection, blocking reads and writes — and
//! it runs like an event loop: a goroutine that would block parks, and its
//! worker runs other goroutines until the socket is ready.
//!
//! ```no_run
//! use gofer_netpoll::TcpListener;
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:7000")?;
//! loop {
//!     let (mut conn, _) = listener.accept()?;
//!     gofer_runtime::go!(move || {
//!         let mut buf = [0u8; 4096];
//!         while let Ok(n @ 1..) = conn.read(&mut buf) {
//!             conn.write_all(&buf[..n]).ok();
//!         }
//!     });
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it works
//!
//! * Every socket is non-blocking. Each worker has its own epoll instance
//!   (a shard), and a socket joins the shard of a worker the first time a
//!   goroutine there waits on it — edge-triggered, both directions — so
//!   its events reach the worker its goroutines live on (`poller.rs`).
//! * An operation tries the system call first and waits only on `EAGAIN`:
//!   a goroutine registers in the socket's wait list and parks (re-checking
//!   the readiness sequence number under the list's lock, so an edge that
//!   arrives in between is never lost); a plain thread waits in `poll(2)`
//!   (`fd.rs`).
//! * The workers poll their epoll themselves, as Go's scheduler does:
//!   without blocking every 61st scheduling tick and before they sleep,
//!   and then they sleep *in* `epoll_wait` rather than on a futex, so a
//!   socket turning ready wakes its worker straight from the kernel, with
//!   no thread in between. A netpoller thread polls every 10 ms the shards
//!   of workers that are busy, which bounds how long a ready socket can go
//!   unnoticed behind a goroutine that never yields.
//! * A stream read that returns less than it asked for has emptied the
//!   socket, so a goroutine's next read waits for the poller's next edge
//!   instead of asking the kernel first (one system call less per request
//!   in a request-response protocol; `fd.rs`, `Registration::read_stream`).
//! * Timeouts (`set_read_timeout`, std's) and deadlines
//!   (`set_read_deadline`, Go's) are the parked goroutine's own timer:
//!   when one passes, the operation fails with [`ErrorKind::TimedOut`]
//!   (std would say `WouldBlock` for a timed-out read; gofer uses
//!   `TimedOut` for every timeout, consistently).
//! * [`TcpStream::close`] (and the other types' `close`) is Go's `Close`:
//!   it wakes every operation waiting on the socket, in any goroutine or
//!   thread, with an error of kind [`ErrorKind::ConnectionAborted`]. A
//!   `try_clone` shares the socket rather than duplicating the descriptor,
//!   so a close through one handle is seen through all.
//! * Name resolution (`ToSocketAddrs`) may block in the system resolver,
//!   so inside a goroutine it runs through [`gofer_runtime::blocking`].
//!   That is also why address arguments must be `Send`.
//! * Registrations come from a slab that is never freed, and epoll events
//!   carry a generation number (Go's `pollCache` and `fdseq`): an event for
//!   a socket closed since is recognised and dropped, with no memory
//!   reclamation needed.
//!
//! [gofer]: https://docs.rs/gofer
//! [`ErrorKind::TimedOut`]: std::io::ErrorKind::TimedOut
//! [`ErrorKind::ConnectionAborted`]: std::io::ErrorKind::ConnectionAborted

mod fd;
mod poller;
mod socket;
mod tcp;
mod udp;
mod unix;

pub use crate::tcp::{Incoming, TcpListener, TcpStream};
pub use crate::udp::UdpSocket;
pub use crate::unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};
pub use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs,
};
