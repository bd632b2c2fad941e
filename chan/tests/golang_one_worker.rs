//! Go's rendezvous-heavy channel tests at GOMAXPROCS=1: TestSelfSelect,
//! test/chan/doubleselect.go, select6.go, goroutines.go, fifo.go (SynchFifo)
//! and nonblock.go, with every goroutine on ONE worker thread.
//!
//! On one worker, a goroutine that waits for a peer must give the worker
//! up (park or yield) for the peer to run at all, and two goroutines that
//! share the worker's thread must still be distinct parties: they pair on
//! an unbuffered channel, and a select never pairs with itself. The
//! runtime's configuration is fixed when it starts, hence this separate
//! test binary; every test configures it before touching anything else.

mod go_common;

use go_common::*;
use std::sync::Once;

static CONFIG: Once = Once::new();

fn setup(name: &'static str) -> Watchdog {
    CONFIG.call_once(|| {
        gofer_runtime::Config::new()
            .max_procs(1)
            .hog_reports(false)
            .apply()
            .expect("configure the runtime before it starts");
    });
    assert_eq!(gofer_runtime::max_procs(), 1);
    watchdog(name)
}

#[test]
fn one_worker_self_select_never_receives_own_value() {
    let _w = setup("one_worker_self_select_never_receives_own_value");
    for cap in [0, 10] {
        self_select(cap, [G, G]);
    }
}

#[test]
fn one_worker_self_select_goroutine_and_thread() {
    let _w = setup("one_worker_self_select_goroutine_and_thread");
    for cap in [0, 10] {
        self_select(cap, [G, T]);
        self_select(cap, [T, G]);
    }
}

#[test]
fn one_worker_doubleselect_only_one_case_fires() {
    let _w = setup("one_worker_doubleselect_only_one_case_fires");
    double_select(20_000, G, [G; 4], G);
    double_select(2_000, T, [G, G, T, G], G);
}

#[test]
fn one_worker_select_loser_leaves_queue_intact() {
    let _w = setup("one_worker_select_loser_leaves_queue_intact");
    select_loser_leaves_queue_intact(500, [G; 4]);
    select_loser_leaves_queue_intact(50, [G, T, G, G]);
}

#[test]
fn one_worker_chain_of_10000_goroutines_passes_one_value() {
    let _w = setup("one_worker_chain_of_10000_goroutines_passes_one_value");
    assert_eq!(run(G, || chain(10_000, |_| G)), 10_000);
}

#[test]
fn one_worker_unbuffered_values_arrive_in_send_order() {
    let _w = setup("one_worker_unbuffered_values_arrive_in_send_order");
    run(G, || synch_fifo(100, |_| G));
    synch_fifo(20, |i| if i.is_multiple_of(5) { T } else { G });
}

#[test]
fn one_worker_nonblocking_ops_succeed_once_peer_blocks() {
    let _w = setup("one_worker_nonblocking_ops_succeed_once_peer_blocks");
    // The retrying goroutine and its peer share the worker: the retry loop
    // must let the peer run and block.
    run(G, || nonblock_all_types(G));
    run(G, || nonblock_all_types(T));
    nonblock_all_types(G);
}
