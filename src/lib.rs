//! gofer: Go-style M:N goroutines for Rust.
//!
//! Goroutines are stackful coroutines multiplexed onto a few OS worker
//! threads (GOMAXPROCS of them) by a G/M/P scheduler. Code inside them is
//! plain, sequential and blocking: when a goroutine waits — on another
//! goroutine, a timer, a blocking call — it parks, and its worker runs
//! other goroutines meanwhile.
//!
//! # A tour
//!
//! Spawn goroutines with [`go!`] (or [`spawn`] / [`Builder`]) and join
//! them:
//!
//! ```
//! use gofer::go;
//!
//! fn add(a: u64, b: u64) -> u64 { a + b }
//!
//! let h = go!(add(2, 3));               // Go's `go add(2, 3)`
//! let c = go!(move || h.join().unwrap() * 10);
//! assert_eq!(c.join().unwrap(), 50);
//! ```
//!
//! Borrow from the caller with [`scope`], like `std::thread::scope`:
//!
//! ```
//! let data = vec![1, 2, 3, 4];
//! let (a, b) = data.split_at(2);
//! let (sa, sb) = gofer::scope(|s| {
//!     let ha = s.spawn(|| a.iter().sum::<i32>());
//!     let hb = s.spawn(|| b.iter().sum::<i32>());
//!     (ha.join().unwrap(), hb.join().unwrap())
//! });
//! assert_eq!(sa + sb, 10);
//! ```
//!
//! Sleep, yield, and push blocking work off the worker:
//!
//! ```
//! use std::time::Duration;
//!
//! let h = gofer::go!(|| {
//!     gofer::sleep(Duration::from_millis(1));   // parks; the worker runs others
//!     gofer::yield_now();
//!     gofer::blocking(|| std::fs::read_dir(".").is_ok())  // runs on a pool thread
//! });
//! assert!(h.join().unwrap());
//! ```
//!
//! Talk over channels, and wait on several at once with [`select!`] — Go's
//! unbuffered rendezvous, buffered queues, `close`, timeouts:
//!
//! ```
//! use gofer::chan;
//! use std::time::Duration;
//!
//! let (jobs, todo) = chan::bounded::<u32>(0);     // Go's make(chan uint32)
//! let (results, done) = chan::unbounded();
//! for _ in 0..4 {
//!     let (todo, results) = (todo.clone(), results.clone());
//!     gofer::go!(move || {
//!         for n in todo.iter() {                   // until jobs is closed
//!             results.send(n * n).unwrap();
//!         }
//!     });
//! }
//! drop(results);
//! for n in 1..=10 {
//!     jobs.send(n).unwrap();
//! }
//! jobs.close();
//! assert_eq!(done.iter().sum::<u32>(), 385);
//!
//! let (_keep, quiet) = chan::unbounded::<()>();
//! let timed_out = gofer::select! {
//!     recv(quiet) -> _ => false,
//!     recv(chan::after(Duration::from_millis(5))) -> _ => true,
//! };
//! assert!(timed_out);
//! ```
//!
//! Sockets look like `std::net` and park the goroutine on `EAGAIN`:
//!
//! ```
//! use gofer::net::{TcpListener, TcpStream};
//! use std::io::{Read, Write};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! gofer::go!(move || {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     let mut buf = [0; 5];
//!     conn.read_exact(&mut buf).unwrap();
//!     conn.write_all(&buf).unwrap();                // echo
//! });
//! let mut c = TcpStream::connect(addr)?;
//! c.write_all(b"hello")?;
//! let mut back = [0; 5];
//! c.read_exact(&mut back)?;
//! assert_eq!(&back, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! And coordinate with [`sync`] (locks that park, `WaitGroup`, ...) and
//! [`context`] (Go's cancellation trees).
//!
//! Everything works from plain threads too: there a join, a sleep or a
//! park blocks the thread. The runtime starts on first use; configure it
//! before that with [`Config`] or the `GOFER_MAXPROCS` and
//! `GOFER_STACK_SIZE` environment variables.
//!
//! # Soundness
//!
//! A goroutine that has started only ever resumes on the OS thread that
//! started it; idle workers take over goroutines that have not started
//! yet. That keeps thread-locals, `std::thread::current()` and std's
//! per-thread panic state correct inside goroutines without asking you to
//! audit your dependencies. Go-style migration of running goroutines is an
//! `unsafe` opt-in: [`Builder::migratable`], [`Config::allow_migration`].
//!
//! Inside a goroutine, `std::thread::sleep`, std's `Mutex`/`Condvar`,
//! `std::thread::park` and blocking std I/O block the *worker*, not just
//! the goroutine: use gofer's own calls, or wrap the blocking call in
//! [`blocking`].
//!
//! # Crates
//!
//! This facade re-exports `gofer-runtime` (scheduler, goroutines, parking)
//! at its root, `gofer-chan` as [`chan`] (plus [`select!`] at the root),
//! `gofer-netpoll` as [`net`], and `gofer-sync` as [`sync`] and
//! [`context`].

pub use gofer_runtime::*;

/// Channels and `select!`: crossbeam-channel's API with Go's semantics,
/// parking goroutines instead of threads. See [`gofer_chan`].
pub mod chan {
    pub use gofer_chan::*;
}

pub use gofer_chan::{select, select_biased};

/// Goroutine-aware locks and coordination: `Mutex`, `RwLock`, `Condvar`,
/// `Once`, `OnceLock`, `Barrier`, `WaitGroup`, `Semaphore`. See
/// [`gofer_sync`].
pub mod sync {
    pub use gofer_sync::{
        Barrier, BarrierWaitResult, Condvar, Mutex, MutexGuard, Once, OnceLock, RwLock,
        RwLockReadGuard, RwLockWriteGuard, Semaphore, SemaphorePermit, WaitGroup,
        WaitTimeoutResult,
    };
}

/// Go's `context`: cancellation and deadlines down a tree, observable in
/// `select!`. See [`gofer_sync::context`].
pub mod context {
    pub use gofer_sync::context::*;
}

/// Blocking-style sockets that park goroutines: `TcpListener`, `TcpStream`,
/// `UdpSocket` and the Unix-domain sockets, mirroring `std::net`. See
/// [`gofer_netpoll`].
pub mod net {
    pub use gofer_netpoll::*;
}

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
