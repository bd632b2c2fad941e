//! A small Redis-compatible server: RESP over TCP, a goroutine per
//! client, a sharded in-memory map, and a goroutine that expires keys on a
//! `tick` channel.
//!
//! Commands: PING, ECHO, GET, SET (with EX/PX/NX/XX), DEL, EXISTS, INCR,
//! INCRBY, EXPIRE, TTL, plus enough of CONFIG/COMMAND/QUIT for the stock
//! clients. Pipelined requests are answered in one write.
//!
//! ```text
//! cargo run --release --example mini_redis [ADDR]       # default 127.0.0.1:6379
//! redis-cli -p 6379 set greeting hello; redis-cli -p 6379 get greeting
//! redis-benchmark -p 6379 -t ping,set,get,incr -n 100000 -q
//! ```
//!
//! Ctrl-C closes the listener and the server exits.

use gofer::chan;
use gofer::net::{TcpListener, TcpStream};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:6379".into());
    let listener = Arc::new(TcpListener::bind(addr.as_str())?);
    println!("mini_redis: listening on {}", listener.local_addr()?);

    let l = listener.clone();
    ctrlc::set_handler(move || {
        l.close();
    })
    .expect("cannot install the Ctrl-C handler");

    let db = Arc::new(Db::new(64));
    let sweeper = db.clone();
    gofer::go!(move || {
        // Go's `for range time.Tick(time.Second)`.
        for _ in chan::tick(Duration::from_secs(1)) {
            sweeper.sweep();
        }
    });

    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                let db = db.clone();
                gofer::go!(move || serve(conn, &db));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => break,
            Err(e) => {
                eprintln!("mini_redis: accept: {e}");
                gofer::sleep(Duration::from_millis(100));
            }
        }
    }
    println!("mini_redis: shutting down with {} keys", db.len());
    Ok(())
}

// ---- the store --------------------------------------------------------

struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| t > now)
    }
}

/// A map split into shards, each behind its own lock. The critical
/// sections are a hash-map operation, so a std mutex is fine: nobody parks
/// while holding one.
struct Db {
    shards: Vec<Mutex<HashMap<Vec<u8>, Entry>>>,
}

impl Db {
    fn new(n: usize) -> Db {
        Db {
            shards: (0..n).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        let i = h.finish() as usize % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops expired keys (the lazy check on access covers the rest).
    fn sweep(&self) {
        let now = Instant::now();
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, e| e.live(now));
        }
    }

    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

// ---- the protocol -----------------------------------------------------

/// Serves one client until it disconnects or sends QUIT.
fn serve(mut conn: TcpStream, db: &Db) {
    let _ = conn.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    let mut out = Vec::with_capacity(16 * 1024);
    loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut consumed = 0;
        let mut quit = false;
        loop {
            match parse(&buf[consumed..]) {
                Parsed::Command(args, len) => {
                    consumed += len;
                    quit = execute(db, &args, &mut out);
                    if quit {
                        break;
                    }
                }
                Parsed::Incomplete => break,
                Parsed::Invalid(why) => {
                    error(&mut out, &format!("Protocol error: {why}"));
                    quit = true;
                    break;
                }
            }
        }
        buf.drain(..consumed);
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if quit {
            return;
        }
    }
}

enum Parsed {
    Command(Vec<Vec<u8>>, usize),
    Incomplete,
    Invalid(&'static str),
}

/// One command from the front of `buf`: a RESP array of bulk strings, or
/// an inline command (a line of words, as typed into telnet).
fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Incomplete;
    }
    if buf[0] != b'*' {
        let Some(end) = find_crlf(buf, 0) else {
            return Parsed::Incomplete;
        };
        let args = buf[..end]
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        return Parsed::Command(args, end + 2);
    }
    let Some((count, mut pos)) = read_number(buf, 1) else {
        return Parsed::Incomplete;
    };
    if !(0..=1024 * 1024).contains(&count) {
        return Parsed::Invalid("invalid multibulk length");
    }
    let mut args = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Parsed::Incomplete;
        }
        if buf[pos] != b'$' {
            return Parsed::Invalid("expected '$'");
        }
        let Some((len, start)) = read_number(buf, pos + 1) else {
            return Parsed::Incomplete;
        };
        if !(0..=512 * 1024 * 1024).contains(&len) {
            return Parsed::Invalid("invalid bulk length");
        }
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Parsed::Incomplete;
        }
        args.push(buf[start..end].to_vec());
        pos = end + 2;
    }
    Parsed::Command(args, pos)
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

/// A decimal number ending in CRLF at `from`; returns it and the position
/// after the CRLF.
fn read_number(buf: &[u8], from: usize) -> Option<(i64, usize)> {
    let end = find_crlf(buf, from)?;
    let n = std::str::from_utf8(&buf[from..end]).ok()?.parse().ok()?;
    Some((n, end + 2))
}

fn simple(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(format!("+{s}\r\n").as_bytes());
}

fn error(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(format!("-ERR {s}\r\n").as_bytes());
}

fn integer(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
}

fn bulk(out: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        None => out.extend_from_slice(b"$-1\r\n"),
        Some(d) => {
            out.extend_from_slice(format!("${}\r\n", d.len()).as_bytes());
            out.extend_from_slice(d);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Runs one command, appending its reply. Returns `true` for QUIT.
fn execute(db: &Db, args: &[Vec<u8>], out: &mut Vec<u8>) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    let name = name.to_ascii_uppercase();
    let now = Instant::now();
    let arity = |n: usize, out: &mut Vec<u8>| {
        if args.len() == n {
            true
        } else {
            error(
                out,
                &format!(
                    "wrong number of arguments for '{}' command",
                    String::from_utf8_lossy(&args[0]).to_lowercase()
                ),
            );
            false
        }
    };
    match name.as_slice() {
        b"PING" => match args.len() {
            1 => simple(out, "PONG"),
            2 => bulk(out, Some(&args[1])),
            _ => {
                arity(1, out);
            }
        },
        b"ECHO" => {
            if arity(2, out) {
                bulk(out, Some(&args[1]));
            }
        }
        b"GET" => {
            if arity(2, out) {
                let shard = db.shard(&args[1]);
                let value = shard
                    .get(&args[1])
                    .filter(|e| e.live(now))
                    .map(|e| e.value.as_slice());
                bulk(out, value);
            }
        }
        b"SET" => set(db, args, out, now),
        b"DEL" | b"EXISTS" => {
            if args.len() < 2 {
                arity(2, out);
                return false;
            }
            let delete = name.as_slice() == b"DEL";
            let mut n = 0;
            for key in &args[1..] {
                let mut shard = db.shard(key);
                let live = shard.get(key).is_some_and(|e| e.live(now));
                if live {
                    n += 1;
                }
                if delete {
                    shard.remove(key);
                }
            }
            integer(out, n);
        }
        b"INCR" | b"INCRBY" => {
            let by = if name.as_slice() == b"INCR" {
                if !arity(2, out) {
                    return false;
                }
                1
            } else {
                if !arity(3, out) {
                    return false;
                }
                match std::str::from_utf8(&args[2])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    Some(n) => n,
                    None => {
                        error(out, "value is not an integer or out of range");
                        return false;
                    }
                }
            };
            let mut shard = db.shard(&args[1]);
            let current = match shard.get(&args[1]).filter(|e| e.live(now)) {
                None => Some(0),
                Some(e) => std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok()),
            };
            match current.and_then(|c| c.checked_add(by)) {
                Some(n) => {
                    let expires = shard
                        .get(&args[1])
                        .and_then(|e| e.expires)
                        .filter(|&t| t > now);
                    shard.insert(
                        args[1].clone(),
                        Entry {
                            value: n.to_string().into_bytes(),
                            expires,
                        },
                    );
                    integer(out, n);
                }
                None => error(out, "value is not an integer or out of range"),
            }
        }
        b"EXPIRE" => {
            if !arity(3, out) {
                return false;
            }
            let Some(secs) = std::str::from_utf8(&args[2])
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
            else {
                error(out, "value is not an integer or out of range");
                return false;
            };
            let mut shard = db.shard(&args[1]);
            match shard.get_mut(&args[1]).filter(|e| e.live(now)) {
                Some(e) => {
                    e.expires = Some(now + Duration::from_secs(secs.max(0) as u64));
                    integer(out, 1);
                }
                None => integer(out, 0),
            }
        }
        b"TTL" => {
            if arity(2, out) {
                let shard = db.shard(&args[1]);
                let ttl = match shard.get(&args[1]).filter(|e| e.live(now)) {
                    None => -2,
                    Some(Entry { expires: None, .. }) => -1,
                    Some(Entry {
                        expires: Some(t), ..
                    }) => t.duration_since(now).as_secs_f64().round() as i64,
                };
                integer(out, ttl);
            }
        }
        // What redis-cli and redis-benchmark ask on connect.
        b"CONFIG" | b"COMMAND" => out.extend_from_slice(b"*0\r\n"),
        b"QUIT" => {
            simple(out, "OK");
            return true;
        }
        _ => error(
            out,
            &format!("unknown command '{}'", String::from_utf8_lossy(&args[0])),
        ),
    }
    false
}

/// SET key value [EX seconds | PX milliseconds] [NX | XX]
fn set(db: &Db, args: &[Vec<u8>], out: &mut Vec<u8>, now: Instant) {
    if args.len() < 3 {
        error(out, "wrong number of arguments for 'set' command");
        return;
    }
    let mut expires = None;
    let (mut nx, mut xx) = (false, false);
    let mut i = 3;
    while i < args.len() {
        let opt = args[i].to_ascii_uppercase();
        match opt.as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"EX" | b"PX" => {
                let Some(n) = args
                    .get(i + 1)
                    .and_then(|a| std::str::from_utf8(a).ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .filter(|&n| n > 0)
                else {
                    error(out, "invalid expire time in 'set' command");
                    return;
                };
                let d = if opt.as_slice() == b"EX" {
                    Duration::from_secs(n)
                } else {
                    Duration::from_millis(n)
                };
                expires = Some(now + d);
                i += 1;
            }
            _ => {
                error(out, "syntax error");
                return;
            }
        }
        i += 1;
    }
    let mut shard = db.shard(&args[1]);
    let exists = shard.get(&args[1]).is_some_and(|e| e.live(now));
    if (nx && exists) || (xx && !exists) {
        bulk(out, None);
        return;
    }
    shard.insert(
        args[1].clone(),
        Entry {
            value: args[2].clone(),
            expires,
        },
    );
    simple(out, "OK");
}
