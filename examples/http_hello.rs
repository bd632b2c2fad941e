//! A minimal HTTP/1.1 server that answers every request with
//! "Hello, World!": a goroutine per connection, keep-alive and pipelining,
//! requests parsed with `httparse`.
//!
//! ```text
//! cargo run --release --example http_hello [ADDR]   # default 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/
//! wrk -t2 -c100 -d10s http://127.0.0.1:8080/
//! ```
//!
//! Ctrl-C closes the listener and the server exits.

use gofer::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

const BODY: &[u8] = b"Hello, World!";

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = Arc::new(TcpListener::bind(addr.as_str())?);
    println!(
        "http_hello: listening on http://{}/",
        listener.local_addr()?
    );

    let l = listener.clone();
    ctrlc::set_handler(move || {
        l.close();
    })
    .expect("cannot install the Ctrl-C handler");

    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                gofer::go!(move || serve(conn));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => break,
            Err(e) => {
                eprintln!("http_hello: accept: {e}");
                gofer::sleep(Duration::from_millis(100));
            }
        }
    }
    println!("http_hello: shutting down");
    Ok(())
}

/// Serves requests on one connection until the client closes it, asks to
/// close it, or sends something that is not HTTP.
fn serve(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 8 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        // Answer every complete request in the buffer (pipelining).
        let mut keep_alive = true;
        let mut consumed = 0;
        while consumed < filled {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf[consumed..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    keep_alive = wants_keep_alive(&req);
                    respond(&mut out, keep_alive);
                    consumed += len;
                    if !keep_alive {
                        break;
                    }
                }
                Ok(httparse::Status::Partial) => break,
                Err(_) => {
                    out.extend_from_slice(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    keep_alive = false;
                    consumed = filled;
                    break;
                }
            }
        }
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
            return; // a request larger than our buffer: not for this example
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
    }
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
