//! Helpers shared by the netpoll integration tests: bounded joins, child
//! processes (this test binary re-executed with an env var selecting a
//! role), the file-descriptor limit, deterministic data and checksums,
//! and loopback connection pairs.
//!
//! Every wait here is bounded: a hang becomes a test failure that says
//! what did not finish, never a stuck `cargo test`.

#![allow(dead_code)]

use gofer_netpoll::{TcpListener, TcpStream};
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Generous upper bound for things that should take milliseconds.
pub const LONG: Duration = Duration::from_secs(10);

/// Joins a goroutine, failing the test if it has not finished within
/// `limit` (the goroutine is then left behind, still blocked) or if it
/// panicked (the panic is re-raised with its message).
pub fn join_within<T>(h: gofer_runtime::JoinHandle<T>, limit: Duration, what: &str) -> T {
    let start = Instant::now();
    while !h.is_finished() {
        assert!(
            start.elapsed() < limit,
            "{what}: goroutine still running after {limit:?} (hung?)"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    match h.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Joins a thread, failing the test if it has not finished within `limit`.
pub fn join_thread_within<T>(h: std::thread::JoinHandle<T>, limit: Duration, what: &str) -> T {
    let start = Instant::now();
    while !h.is_finished() {
        assert!(
            start.elapsed() < limit,
            "{what}: thread still running after {limit:?} (hung?)"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    match h.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Where a test body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    Goroutine,
    Thread,
}

/// Runs `f` once in a goroutine and once in a plain thread (one after the
/// other), each bounded by [`LONG`].
pub fn in_goroutine_and_thread<F>(f: F)
where
    F: Fn(Ctx) + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let g = f.clone();
    let h = gofer_runtime::spawn(move || {
        assert!(gofer_runtime::park::in_goroutine());
        g(Ctx::Goroutine)
    });
    join_within(h, LONG, "goroutine run");
    let h = std::thread::spawn(move || {
        assert!(!gofer_runtime::park::in_goroutine());
        f(Ctx::Thread)
    });
    join_thread_within(h, LONG, "thread run");
}

/// Runs `f` in a goroutine or in a plain thread and waits for it.
pub fn run_in<T, F>(ctx: Ctx, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match ctx {
        Ctx::Goroutine => join_within(gofer_runtime::spawn(f), LONG, "goroutine"),
        Ctx::Thread => join_thread_within(std::thread::spawn(f), LONG, "thread"),
    }
}

/// Sleeps the way the context should: parks a goroutine, blocks a thread.
pub fn nap(d: Duration) {
    if gofer_runtime::park::in_goroutine() {
        gofer_runtime::sleep(d);
    } else {
        std::thread::sleep(d);
    }
}

/// A connected loopback pair: (client side, server side).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// A loopback port nobody listens on (bound once, then released).
pub fn unused_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A fresh path for a Unix socket in the temp dir, unique in this process
/// and across processes; removed first if it exists.
pub fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("gofer-np-{}-{n}-{tag}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Removes a socket path when dropped.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- deterministic data and checksums --------------------------------

/// xorshift64*: a cheap deterministic byte stream, so a receiver can
/// regenerate exactly what the sender sent. The stream does not depend on
/// how it is cut into `fill` calls.
pub struct Prng {
    state: u64,
    spare: [u8; 8],
    used: usize,
}

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spare: [0; 8],
            used: 8,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf` with the next bytes of the stream. In a goroutine it
    /// yields every 64 KiB: generating a megabyte takes long enough in a
    /// debug build for sysmon to report a hog.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for piece in buf.chunks_mut(64 << 10) {
            self.fill_piece(piece);
            if gofer_runtime::park::in_goroutine() {
                gofer_runtime::yield_now();
            }
        }
    }

    fn fill_piece(&mut self, mut buf: &mut [u8]) {
        // Leftover bytes of the last word first, then whole words.
        while self.used < 8 && !buf.is_empty() {
            buf[0] = self.spare[self.used];
            self.used += 1;
            buf = &mut buf[1..];
        }
        let mut words = buf.chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.spare = self.next_u64().to_le_bytes();
            let n = tail.len();
            tail.copy_from_slice(&self.spare[..n]);
            self.used = n;
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// An order-sensitive running checksum (FNV-1a, 64-bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

/// The checksum of `len` bytes of `Prng::new(seed)`'s stream, generated in
/// `chunk`-sized pieces exactly as the writers here do.
pub fn stream_checksum(seed: u64, len: usize, chunk: usize) -> Fnv {
    let mut rng = Prng::new(seed);
    let mut sum = Fnv::new();
    let mut buf = vec![0; chunk];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk);
        rng.fill(&mut buf[..n]);
        sum.update(&buf[..n]);
        left -= n;
    }
    sum
}

/// Reads to end-of-stream with a `buf_size` buffer; returns the byte count
/// and checksum.
pub fn drain(mut r: impl Read, buf_size: usize) -> io::Result<(usize, Fnv)> {
    let mut buf = vec![0; buf_size];
    let mut sum = Fnv::new();
    let mut total = 0;
    loop {
        match r.read(&mut buf)? {
            0 => return Ok((total, sum)),
            n => {
                sum.update(&buf[..n]);
                total += n;
                // Checksumming is slow in a debug build: let others run.
                if total % (1 << 20) < n && gofer_runtime::park::in_goroutine() {
                    gofer_runtime::yield_now();
                }
            }
        }
    }
}

// ---- child processes ---------------------------------------------------

/// The role this process was started in, if it is a child (see
/// [`run_child`]).
pub fn child_role() -> Option<String> {
    std::env::var("GOFER_NETPOLL_TEST_ROLE").ok()
}

/// Runs the test named `test` of this same binary in a child process,
/// with `GOFER_NETPOLL_TEST_ROLE=role` and `env`, and waits for it at most
/// `limit` (killing it if it takes longer). Returns its output; fails the
/// test if it did not succeed.
pub fn run_child(test: &str, role: &str, env: &[(&str, String)], limit: Duration) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("GOFER_NETPOLL_TEST_ROLE", role)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("cannot start the child process");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let (o, e) = (out.join().unwrap(), err.join().unwrap());
            panic!(
                "child `{test}` ({role}) still running after {limit:?}; killed.\n\
                 --- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        output.status.success() && child_ran_the_test(&output),
        "child `{test}` ({role}) failed: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// libtest exits 0 when `--exact` matches nothing; make sure it ran one.
fn child_ran_the_test(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stdout).contains("1 passed")
}

// ---- the file-descriptor limit -----------------------------------------

use rlimit::Resource;

/// (soft, hard) `RLIMIT_NOFILE`.
pub fn fd_limit() -> (u64, u64) {
    Resource::NOFILE.get().expect("getrlimit(RLIMIT_NOFILE)")
}

/// Sets the soft `RLIMIT_NOFILE` (the hard limit stays).
pub fn set_soft_fd_limit(soft: u64) {
    let (_, hard) = fd_limit();
    Resource::NOFILE
        .set(soft.min(hard), hard)
        .expect("setrlimit(RLIMIT_NOFILE)");
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns it.
pub fn raise_fd_limit() -> u64 {
    let (_, hard) = fd_limit();
    set_soft_fd_limit(hard);
    fd_limit().0
}

/// How many descriptors this process has open right now.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
