// The channel workloads, shared by the runner (`peers/mod.rs`) and the
// `chan` bench program (`bin/chan.rs`), which both `include!` this file.
// The invoking module's parent must provide `over` and `per_op`.

/// The channel workloads for a crossbeam-channel-shaped module: `$chan`
/// has `bounded`/`unbounded`, `$select` is its `select!`, `$spawn` starts
/// a party (goroutine or thread) and returns a handle whose `join()`
/// gives a `std::thread::Result`.
macro_rules! chan_workloads {
    ($chan:path, $select:path, $spawn:path) => {
        use super::{over, per_op};
        use std::time::Instant;
        use $chan::{bounded, unbounded};
        use $select as select;

        /// Round trips over two zero-capacity channels.
        pub fn ping_pong(n: usize, deadline: Instant) -> f64 {
            let (ping_tx, ping_rx) = bounded::<usize>(0);
            let (pong_tx, pong_rx) = bounded::<usize>(0);
            let echo = $spawn(move || {
                for i in ping_rx {
                    pong_tx.send(i).unwrap();
                }
            });
            let t = Instant::now();
            let mut done = 0;
            while done < n && !over(done, 16, deadline) {
                ping_tx.send(done).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), done);
                done += 1;
            }
            let ns = per_op(t, done);
            drop(ping_tx);
            echo.join().unwrap();
            ns
        }

        /// Up to `n` messages from `producers` to `consumers` over one
        /// channel (`cap: None` is unbounded); every message counted.
        pub fn throughput(
            cap: Option<usize>,
            producers: usize,
            consumers: usize,
            n: usize,
            deadline: Instant,
        ) -> f64 {
            let (tx, rx) = match cap {
                Some(c) => bounded::<usize>(c),
                None => unbounded::<usize>(),
            };
            let each = n / producers;
            let t = Instant::now();
            let ps: Vec<_> = (0..producers)
                .map(|_| {
                    let tx = tx.clone();
                    $spawn(move || {
                        let mut sent = 0;
                        while sent < each && !over(sent, 256, deadline) {
                            tx.send(sent).unwrap();
                            sent += 1;
                        }
                        sent
                    })
                })
                .collect();
            drop(tx);
            let cs: Vec<_> = (0..consumers)
                .map(|_| {
                    let rx = rx.clone();
                    $spawn(move || rx.iter().count())
                })
                .collect();
            drop(rx);
            let sent: usize = ps.into_iter().map(|p| p.join().unwrap()).sum();
            let got: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
            let ns = per_op(t, got);
            assert_eq!(got, sent, "messages lost or duplicated");
            ns
        }

        /// One selecting receiver, 4 senders each on its own zero-capacity
        /// channel. The senders' originals stay alive until the receiver
        /// is done (a disconnected channel counts as ready); dropping the
        /// receivers stops the senders.
        pub fn select4(n: usize, deadline: Instant) -> f64 {
            let each = n / 4;
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| bounded::<usize>(0)).unzip();
            let t = Instant::now();
            let senders: Vec<_> = txs
                .iter()
                .map(|tx| {
                    let tx = tx.clone();
                    $spawn(move || (0..each).take_while(|&i| tx.send(i).is_ok()).count())
                })
                .collect();
            let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
            let mut got = 0;
            while got < 4 * each && !over(got, 16, deadline) {
                select! {
                    recv(r0) -> v => v.unwrap(),
                    recv(r1) -> v => v.unwrap(),
                    recv(r2) -> v => v.unwrap(),
                    recv(r3) -> v => v.unwrap(),
                };
                got += 1;
            }
            let ns = per_op(t, got);
            drop(rxs);
            let sent: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
            drop(txs);
            assert_eq!(got, sent, "messages lost or duplicated");
            ns
        }

        /// `select!` with a `default` arm over 4 empty zero-capacity
        /// channels whose senders are alive: nothing is ever ready.
        pub fn select_default(n: usize, deadline: Instant) -> f64 {
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..4).map(|_| bounded::<u8>(0)).unzip();
            let (r0, r1, r2, r3) = (&rxs[0], &rxs[1], &rxs[2], &rxs[3]);
            let t = Instant::now();
            let mut done = 0;
            while done < n && !over(done, 256, deadline) {
                select! {
                    recv(r0) -> _ => unreachable!(),
                    recv(r1) -> _ => unreachable!(),
                    recv(r2) -> _ => unreachable!(),
                    recv(r3) -> _ => unreachable!(),
                    default => {}
                }
                done += 1;
            }
            let ns = per_op(t, done);
            drop(txs);
            ns
        }
    };
}
