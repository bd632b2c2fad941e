//! Go's concurrent prime sieve, on gofer: a daisy chain of goroutines, one
//! per prime found so far, connected by unbuffered channels.
//!
//! A generator goroutine sends 2, 3, 4, ... down the first channel. Each
//! filter goroutine owns one prime: it passes on the numbers its prime does
//! not divide and drops the rest. Whatever comes out of the end of the chain
//! is the next prime, and gets a filter of its own appended to the chain.
//! This is the classic Go example (<https://go.dev/doc/play/sieve.go>),
//! written the same way.
//!
//! Go's version just returns from `main` and leaves the chain blocked.
//! Here it shuts down cleanly: once we have our primes we drop the
//! receiver at the end of the chain, the last filter's next `send` fails,
//! that filter returns and drops *its* receiver, and so on back to the
//! generator — every goroutine ends and is joined.
//!
//! Run it: `cargo run --release --example prime_sieve [-- N]` prints the
//! first N primes (default 100).

use gofer::chan::{self, Receiver, Sender};
use std::time::Instant;

/// Sends 2, 3, 4, ... to `ch` until nobody listens any more.
fn generate(ch: Sender<u64>) {
    for i in 2.. {
        if ch.send(i).is_err() {
            return; // the chain was dropped: we are done
        }
    }
}

/// Copies the numbers from `input` to `output`, leaving out those that
/// `prime` divides.
fn filter(input: Receiver<u64>, output: Sender<u64>, prime: u64) {
    for i in input {
        if !i.is_multiple_of(prime) && output.send(i).is_err() {
            return; // downstream is gone; dropping `input` tells upstream
        }
    }
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 100,
        Some(a) => a.parse().expect("usage: prime_sieve [N]"),
    };
    // Go's `main` is itself a goroutine; here we start one for the sieve,
    // so that every channel operation is between goroutines (a plain
    // thread could take part too, at the price of an OS wakeup each time).
    gofer::go!(sieve(n)).join().unwrap();
}

/// Prints the first `n` primes.
fn sieve(n: usize) {
    let start = Instant::now();

    // ch := make(chan int); go generate(ch)
    let (tx, mut ch) = chan::bounded(0);
    let mut goroutines = vec![gofer::go!(generate(tx))];

    let mut primes = Vec::with_capacity(n);
    for _ in 0..n {
        // The first number to make it through every filter is prime.
        let prime = ch.recv().expect("the generator never stops");
        primes.push(prime);
        // ch1 := make(chan int); go filter(ch, ch1, prime); ch = ch1
        let (tx1, ch1) = chan::bounded(0);
        let input = std::mem::replace(&mut ch, ch1);
        goroutines.push(gofer::go!(filter(input, tx1, prime)));
    }
    let found = start.elapsed();

    for row in primes.chunks(10) {
        let row: Vec<String> = row.iter().map(|p| format!("{p:>6}")).collect();
        println!("{}", row.join(""));
    }

    // Drop the end of the chain: the goroutines unwind it one by one.
    drop(ch);
    let spawned = goroutines.len();
    for g in goroutines {
        g.join().unwrap();
    }
    println!(
        "\nfirst {n} primes in {found:.2?}, through a chain of {spawned} goroutines \
         (all {spawned} stopped and joined after {:.2?})",
        start.elapsed()
    );
}
