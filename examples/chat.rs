//! A line-based chat room over TCP: a goroutine per client reading lines,
//! a goroutine per client writing, and one hub goroutine that owns the
//! room and talks to everybody over channels — `select!` over arrivals,
//! departures, messages and shutdown.
//!
//! ```text
//! cargo run --release --example chat [ADDR]    # default 127.0.0.1:9000
//! nc 127.0.0.1 9000                            # in two or more terminals
//! ```
//!
//! A client whose outgoing queue fills up (it stopped reading) is dropped
//! rather than allowed to stall the room. Ctrl-C closes the listener;
//! closing the `done` channel then tells the hub to say goodbye and hang up
//! on everybody.

use gofer::chan::{self, Receiver, Sender};
use gofer::net::{TcpListener, TcpStream};
use gofer::select;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::sync::Arc;
use std::time::Duration;

/// What client goroutines tell the hub.
enum Event {
    Join {
        id: u64,
        name: String,
        outbox: Sender<Arc<str>>,
    },
    Say {
        id: u64,
        text: String,
    },
    Leave {
        id: u64,
    },
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = Arc::new(TcpListener::bind(addr.as_str())?);
    println!(
        "chat: listening on {} (connect with `nc`)",
        listener.local_addr()?
    );

    let l = listener.clone();
    ctrlc::set_handler(move || {
        l.close();
    })
    .expect("cannot install the Ctrl-C handler");

    let (events_tx, events_rx) = chan::unbounded::<Event>();
    let (done_tx, done_rx) = chan::bounded::<()>(0);
    let hub = gofer::go!(move || hub(events_rx, done_rx));

    let mut next_id = 0;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                next_id += 1;
                let events = events_tx.clone();
                gofer::go!(client(next_id, conn, events));
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => break,
            Err(e) => {
                eprintln!("chat: accept: {e}");
                gofer::sleep(Duration::from_millis(100));
            }
        }
    }
    println!("chat: shutting down");
    done_tx.close(); // Go's close(done): every receiver sees it
    let _ = hub.join();
    Ok(())
}

/// Owns the room: who is in it, and where their messages go.
fn hub(events: Receiver<Event>, done: Receiver<()>) {
    let mut members: HashMap<u64, (String, Sender<Arc<str>>)> = HashMap::new();
    loop {
        select! {
            recv(events) -> ev => match ev {
                Ok(Event::Join { id, name, outbox }) => {
                    broadcast(&mut members, &format!("* {name} joined"));
                    let _ = outbox.try_send(format!("* welcome, {name}; {} here", members.len() + 1).into());
                    members.insert(id, (name, outbox));
                }
                Ok(Event::Say { id, text }) => {
                    if let Some((name, _)) = members.get(&id) {
                        let line = format!("{name}: {text}");
                        broadcast(&mut members, &line);
                    }
                }
                Ok(Event::Leave { id }) => {
                    if let Some((name, _)) = members.remove(&id) {
                        broadcast(&mut members, &format!("* {name} left"));
                    }
                }
                Err(_) => return,
            },
            recv(done) -> _ => {
                broadcast(&mut members, "* the server is shutting down, bye");
                // Dropping the outboxes ends every writer, which hangs up.
                return;
            }
        }
    }
}

/// Sends `line` to everyone; drops members whose outbox is full.
fn broadcast(members: &mut HashMap<u64, (String, Sender<Arc<str>>)>, line: &str) {
    let line: Arc<str> = line.into();
    members.retain(|_, (_, outbox)| outbox.try_send(line.clone()).is_ok());
}

/// One connected client: asks for a name, then forwards its lines to the
/// hub while a second goroutine writes the room's lines back.
fn client(id: u64, conn: TcpStream, events: Sender<Event>) {
    let writer_conn = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut reader = BufReader::new(&conn);
    let _ = (&conn).write_all(b"your name? ");
    let mut name = String::new();
    match reader.read_line(&mut name) {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    let name = match name.trim() {
        "" => format!("guest{id}"),
        n => n.to_string(),
    };

    let (outbox, inbox) = chan::bounded::<Arc<str>>(64);
    let writer = gofer::go!(move || {
        for line in inbox {
            if writeln!(&writer_conn, "{line}").is_err() {
                break;
            }
        }
        // The hub dropped us (we left, were too slow, or it shut down).
        writer_conn.close();
    });
    if events.send(Event::Join { id, name, outbox }).is_err() {
        return;
    }

    for line in reader.lines() {
        let Ok(text) = line else { break };
        let text = text.trim().to_string();
        if !text.is_empty() && events.send(Event::Say { id, text }).is_err() {
            break;
        }
    }
    let _ = events.send(Event::Leave { id });
    let _ = writer.join();
}
