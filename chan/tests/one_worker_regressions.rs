//! Regressions that only show with a single worker (GOMAXPROCS = 1), where
//! a task that spins without yielding starves the very goroutine it waits
//! for.

use gofer_chan::{Select, bounded};
use std::sync::mpsc;
use std::time::Duration;

fn one_worker() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gofer_runtime::Config::new()
            .max_procs(1)
            .apply()
            .expect("configured before first use");
    });
}

/// Found by the loom models: a receiver that finds a `bounded(1)` slot
/// claimed by a select-send that has not written it yet used to spin
/// without yielding, so the select (parked or yielded on the same worker)
/// never got to complete.
#[test]
fn a_receiver_waiting_for_a_select_send_to_complete_yields_to_it() {
    one_worker();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (s, r) = bounded::<u32>(1);
        let a = gofer_runtime::spawn(move || {
            let mut sel = Select::new();
            sel.send(&s);
            let oper = sel.select(); // claims the slot
            let b = gofer_runtime::spawn(move || r.recv().unwrap());
            gofer_runtime::yield_now(); // as a message expression may
            oper.send(&s, 1).unwrap();
            b.join().unwrap()
        });
        assert_eq!(a.join().unwrap(), 1);
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("hung: the receiver spins without yielding");
}
