//! A tour of gofer. Run it with `cargo run --release --example tour`.
//!
//! Part 1 — goroutines: spawn, join, panic, borrow, block.
//! Part 2 — channels: an unbuffered ping-pong, a `select!` with a timeout,
//! closing and draining a buffered channel.
//! Part 3 — the network: a loopback echo server with a goroutine per
//! connection, and clients that are goroutines too.
//! Part 4 — a million goroutines parked at once on one channel, woken all
//! together by closing it, and what that cost.
//! (`--quick` runs 100,000 goroutines and fewer round trips instead.)

use gofer::net::{TcpListener, TcpStream};
use gofer::{chan, select};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    println!(
        "gofer tour — {} worker threads (GOMAXPROCS)\n",
        gofer::max_procs()
    );
    basics();
    channels(if quick { 20_000 } else { 200_000 });
    network(if quick { 100 } else { 1_000 });
    million(if quick { 100_000 } else { 1_000_000 });
}

fn basics() {
    println!("== goroutines");
    // `go!` takes a closure, or a call whose arguments are evaluated here.
    fn fib(n: u64) -> u64 {
        if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
    }
    let h = gofer::go!(fib(30));
    println!("fib(30) computed in a goroutine: {}", h.join().unwrap());

    // A panicking goroutine gives an Err to whoever joins it; nothing else
    // is affected.
    let bad = gofer::go!(name = "doomed", || -> () { panic!("on purpose") });
    println!("a panicking goroutine joined as: {:?}", bad.join().is_err());

    // Scoped goroutines borrow from the caller.
    let words = ["stackful", "goroutines", "for", "rust"];
    let mut lens = [0; 4];
    gofer::scope(|s| {
        for (w, l) in words.iter().zip(lens.iter_mut()) {
            s.spawn(move || *l = w.len());
        }
    });
    println!("lengths computed by scoped goroutines: {lens:?}");

    // Blocking work runs on a pool thread while the goroutine parks.
    let h =
        gofer::go!(|| gofer::blocking(|| std::fs::read_dir(".").map(|d| d.count()).unwrap_or(0)));
    println!(
        "entries in . (read in gofer::blocking): {}\n",
        h.join().unwrap()
    );
}

fn channels(round_trips: usize) {
    println!("== channels");
    // Unbuffered (zero-capacity) channels: every send waits for a receive,
    // so each round trip is two rendezvous between two goroutines. The
    // player starts the echo goroutine itself, so that both usually share a
    // worker thread and a hand-off is a switch between goroutines; if an
    // idle worker takes the echo first, each hand-off wakes the other
    // worker's thread and costs far more. (A plain thread could take either
    // end too, at the price of an OS-thread wakeup.)
    let player = gofer::go!(move || {
        let (ping_tx, ping_rx) = chan::bounded::<usize>(0);
        let (pong_tx, pong_rx) = chan::bounded::<usize>(0);
        let echo = gofer::go!(move || {
            for n in ping_rx {
                pong_tx.send(n + 1).unwrap();
            }
        });
        // Up to `round_trips` of them, within a quarter of a second.
        let t = Instant::now();
        let mut n = 0;
        while n < round_trips {
            if n.is_multiple_of(16) && t.elapsed() > Duration::from_millis(250) {
                break;
            }
            ping_tx.send(n).unwrap();
            n = pong_rx.recv().unwrap();
        }
        let took = t.elapsed();
        drop(ping_tx); // the echo goroutine's `for` loop ends
        echo.join().unwrap();
        (n, took)
    });
    let (n, took) = player.join().unwrap();
    println!(
        "ping-pong on unbuffered channels: {n} round trips in {took:.2?} ({:.0} ns each)",
        took.as_nanos() as f64 / n as f64
    );

    // `select!` waits on several operations at once; `chan::after` is Go's
    // time.After. Nobody ever sends on `quiet`, so the timeout wins.
    let (_keep, quiet) = chan::bounded::<&str>(0);
    let t = Instant::now();
    let outcome = select! {
        recv(quiet) -> msg => format!("received {msg:?}"),
        recv(chan::after(Duration::from_millis(20))) -> _ => "timed out".to_string(),
    };
    println!(
        "select on a silent channel with a 20 ms timeout: {outcome} after {:.1?}",
        t.elapsed()
    );

    // Go's close(ch): later sends fail, receivers drain what is buffered and
    // then see the end of the channel.
    let (tx, rx) = chan::bounded(8);
    for word in ["close", "then", "drain"] {
        tx.send(word).unwrap();
    }
    tx.close();
    println!(
        "send after close: {:?}; drained: {:?}\n",
        tx.send("late").map_err(|e| e.to_string()),
        rx.iter().collect::<Vec<_>>()
    );
}

fn network(clients: usize) {
    println!("== the network");
    // A server as Go would write it: accept in a loop, a goroutine per
    // connection, plain blocking reads and writes. Each goroutine that
    // waits for data parks on the netpoller; its worker runs others.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    gofer::go!(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            gofer::go!(move || {
                let mut lines = BufReader::new(&conn);
                let mut line = String::new();
                while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if (&conn).write_all(line.as_bytes()).is_err() {
                        break;
                    }
                    line.clear();
                }
            });
        }
    });
    // Clients, all connected at once, each sending a few lines and checking
    // they come back.
    let t = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            gofer::go!(move || {
                let conn = TcpStream::connect(addr).expect("connect to the echo server");
                let mut replies = BufReader::new(&conn);
                let mut reply = String::new();
                for j in 0..10 {
                    let msg = format!("client {i} line {j}\n");
                    (&conn).write_all(msg.as_bytes()).unwrap();
                    reply.clear();
                    replies.read_line(&mut reply).unwrap();
                    assert_eq!(reply, msg, "the echo differs");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    println!(
        "{clients} client goroutines, 10 echoed lines each, over loopback TCP: {:.1?}\n",
        t.elapsed()
    );
}

fn million(n: usize) {
    println!("== {n} goroutines parked at once");
    // Go's idiom for "wait until I say go": everybody blocks receiving from
    // one unbuffered channel, and closing it wakes them all at once (a
    // receive on a closed channel returns immediately, here as an `Err`).
    let (start, gate) = chan::bounded::<()>(0);
    let arrived = Arc::new(AtomicUsize::new(0));
    let rss0 = rss_kib();
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (gate, arrived) = (gate.clone(), arrived.clone());
            gofer::go!(move || {
                arrived.fetch_add(1, Ordering::Relaxed);
                gate.recv().is_err() // parks here until `close`
            })
        })
        .collect();
    drop(gate);
    // Each goroutine parks right after it counts itself: once all have
    // counted, give the last few a moment to reach `recv`.
    while arrived.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(1));
    let spawned = t.elapsed();
    let rss = rss_kib().saturating_sub(rss0);
    println!(
        "spawned and parked: {spawned:.2?} ({:.0} ns per goroutine)",
        spawned.as_nanos() as f64 / n as f64
    );
    println!("live goroutines:    {}", gofer::num_goroutines());
    println!(
        "memory:             {} MiB RSS, {:.2} KiB per parked goroutine (stack page, goroutine, handle)",
        rss / 1024,
        rss as f64 / n as f64
    );
    let t = Instant::now();
    start.close(); // Go's close(start): every blocked receiver wakes
    let mut woken = 0;
    for h in handles {
        woken += h.join().unwrap() as usize;
    }
    assert_eq!(woken, n);
    println!("woken and joined:   {:.2?}", t.elapsed());
}

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
