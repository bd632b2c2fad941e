//! A TCP echo server: one goroutine per connection, plain blocking reads
//! and writes.
//!
//! ```text
//! cargo run --release --example echo [ADDR]     # default 127.0.0.1:7000
//! nc 127.0.0.1 7000                             # type lines, get them back
//! ```
//!
//! Ctrl-C closes the listener, which wakes the accept loop; the server
//! then reports how many connections it served and exits.

use gofer::net::TcpListener;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = Arc::new(TcpListener::bind(addr.as_str())?);
    println!("echo: listening on {}", listener.local_addr()?);

    let l = listener.clone();
    ctrlc::set_handler(move || {
        l.close();
    })
    .expect("cannot install the Ctrl-C handler");

    let served = Arc::new(AtomicUsize::new(0));
    loop {
        match listener.accept() {
            Ok((conn, _peer)) => {
                served.fetch_add(1, Ordering::Relaxed);
                gofer::go!(move || echo(conn));
            }
            // close() from the Ctrl-C handler ends the loop.
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => break,
            // Out of file descriptors and the like: wait and go on.
            Err(e) => {
                eprintln!("echo: accept: {e}");
                gofer::sleep(Duration::from_millis(100));
            }
        }
    }
    println!(
        "echo: shutting down after {} connections",
        served.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Copies everything the client sends back to it, until it hangs up.
fn echo(mut conn: gofer::net::TcpStream) {
    let mut buf = [0u8; 16 * 1024];
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
