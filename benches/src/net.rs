//! The network side: the per-connection logic of the echo and HTTP
//! servers (written once for blocking sockets — gofer, may, std threads —
//! and once async for tokio), the echo load client, and `wrk`.
//!
//! The client is the same for every server: one OS thread running a
//! tokio current-thread runtime in the runner's process, connections
//! opened one after another before timing starts. It is a fixed load
//! generator, not a peer.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BODY: &[u8] = b"Hello, World!";

/// Copies everything the client sends back to it, until it hangs up.
pub fn echo<S: Read + Write>(mut conn: S) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// Serves HTTP requests on one connection until the client closes it, asks
/// to close it, or sends something that is not HTTP. The logic of
/// `examples/http_hello.rs`: keep-alive and pipelining, `httparse`.
pub fn serve_http<S: Read + Write>(mut conn: S) {
    let mut buf = vec![0u8; 8 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        let (consumed, keep_alive) = answer(&buf[..filled], &mut out);
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if !keep_alive {
            return;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            return; // a request larger than the buffer: not for this server
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

/// The same as [`serve_http`], for tokio.
pub async fn serve_http_async(mut conn: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 8 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        let (consumed, keep_alive) = answer(&buf[..filled], &mut out);
        if !out.is_empty() {
            if conn.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        if !keep_alive {
            return;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            return;
        }
        match conn.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
}

/// The same as [`echo`], for tokio.
pub async fn echo_async(mut conn: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Answers every complete request in `input` (pipelining) into `out`;
/// returns the bytes consumed and whether to keep the connection.
fn answer(input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut consumed = 0;
    while consumed < input.len() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&input[consumed..]) {
            Ok(httparse::Status::Complete(len)) => {
                let keep_alive = wants_keep_alive(&req);
                respond(out, keep_alive);
                consumed += len;
                if !keep_alive {
                    return (consumed, false);
                }
            }
            Ok(httparse::Status::Partial) => break,
            Err(_) => {
                out.extend_from_slice(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return (input.len(), false);
            }
        }
    }
    (consumed, true)
}

/// HTTP/1.1 keeps the connection unless told to close; 1.0 only if asked.
fn wants_keep_alive(req: &httparse::Request<'_, '_>) -> bool {
    let connection = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("connection"))
        .map(|h| h.value.to_ascii_lowercase());
    match (req.version, connection.as_deref()) {
        (_, Some(b"close")) => false,
        (Some(0), Some(b"keep-alive")) => true,
        (Some(0), _) => false,
        _ => true,
    }
}

fn respond(out: &mut Vec<u8>, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ");
    out.extend_from_slice(BODY.len().to_string().as_bytes());
    if !keep_alive {
        out.extend_from_slice(b"\r\nConnection: close");
    }
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(BODY);
}

/// Drives an echo server at `addr` with `conns` connections: after a
/// warm-up, measures for `measure`. Round trips (`stream == false`): each
/// connection keeps one 64-byte message in flight; gives the mean round
/// trip in µs. Streaming: each connection writes 16 KiB chunks while it
/// has less than 64 KiB in flight, and reads the echo concurrently; gives
/// MB/s echoed in total.
pub fn echo_client(
    addr: SocketAddr,
    conns: usize,
    stream: bool,
    warm_up: Duration,
    measure: Duration,
) -> Result<f64, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let mut streams = Vec::with_capacity(conns);
        for _ in 0..conns {
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            streams.push(s);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0)); // round trips, or bytes
        let mut tasks = Vec::new();
        for s in streams {
            let (stop, count) = (stop.clone(), count.clone());
            tasks.push(if stream {
                tokio::spawn(stream_conn(s, stop, count))
            } else {
                tokio::spawn(round_trips(s, stop, count))
            });
        }
        tokio::time::sleep(warm_up).await;
        let (c0, t0) = (count.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(measure).await;
        let (c1, t1) = (count.load(Ordering::Relaxed), Instant::now());
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            // A task still blocked in a read ends when the server is killed.
            t.abort();
        }
        let done = (c1 - c0) as f64;
        if done == 0.0 {
            return Err("no progress during the measurement".into());
        }
        let secs = (t1 - t0).as_secs_f64();
        Ok(if stream {
            done / secs / 1e6
        } else {
            secs * 1e6 * conns as f64 / done
        })
    })
}

async fn round_trips(mut s: tokio::net::TcpStream, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let msg = [7u8; 64];
    let mut back = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        if s.write_all(&msg).await.is_err() || s.read_exact(&mut back).await.is_err() {
            return;
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Bytes a streaming connection keeps in flight at most: bounded, so that
/// 1,000 connections stay within the kernel's TCP memory (unbounded
/// writers drove loopback into memory pressure, drops and retransmission
/// stalls: a test of the kernel, not of the server).
const WINDOW: usize = 64 * 1024;

async fn stream_conn(mut s: tokio::net::TcpStream, stop: Arc<AtomicBool>, count: Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut r, mut w) = s.split();
    let chunk = vec![7u8; 16 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let mut in_flight = 0;
    while !stop.load(Ordering::Relaxed) {
        // Both branches are cancel-safe: a lost race reads or writes nothing.
        tokio::select! {
            r = r.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    in_flight -= n;
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            },
            w = w.write(&chunk[..chunk.len().min(WINDOW - in_flight)]), if in_flight < WINDOW => match w {
                Ok(0) | Err(_) => return,
                Ok(n) => in_flight += n,
            },
        }
    }
}

/// Is `wrk` installed?
pub fn have_wrk() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// `wrk -t1 -c<conns> -d<secs>` against `addr`; requests per second.
pub fn wrk(addr: SocketAddr, conns: usize, duration: Duration) -> Result<f64, String> {
    let secs = duration.as_secs().max(1);
    let out = std::process::Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            &format!("http://{addr}/"),
        ])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx")) {
        return Err(format!("wrk: {}", line.trim()));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("wrk gave no figure: {}", text.trim()))
}
