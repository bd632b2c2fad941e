//! Channels used from a plain thread's thread-local destructors, after the
//! runtime's own per-thread state for that thread is gone.

use gofer_chan::{Receiver, bounded};
use std::cell::RefCell;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Receives one message when its thread's thread-locals are destroyed,
/// and reports it.
struct RecvOnExit {
    rx: Option<Receiver<u32>>,
    report: mpsc::Sender<u32>,
}

impl Drop for RecvOnExit {
    fn drop(&mut self) {
        let msg = self.rx.take().unwrap().recv().unwrap();
        self.report.send(msg).unwrap();
    }
}

thread_local! {
    static ON_EXIT: RefCell<Option<RecvOnExit>> = const { RefCell::new(None) };
}

#[test]
fn a_thread_local_destructor_blocked_in_recv_is_woken_by_a_send() {
    let (s, r) = bounded::<u32>(0);
    let (report, reported) = mpsc::channel();
    thread::spawn(move || {
        // Registered first, so destroyed after the runtime's per-thread
        // task, which the blocking receive below creates.
        ON_EXIT.with(|slot| {
            *slot.borrow_mut() = Some(RecvOnExit {
                rx: Some(r),
                report,
            })
        });
        let (_keep, idle) = bounded::<u32>(0);
        assert!(idle.recv_timeout(Duration::from_millis(1)).is_err());
    });
    // Let the destructor block first, so that the send wakes it (rather
    // than the receive finding the sender already waiting).
    thread::sleep(Duration::from_millis(50));
    s.send(1).unwrap();
    // Generous: only a lost wakeup takes this long. It was one: the
    // receive listed one stand-in task and parked on another.
    let got = reported
        .recv_timeout(Duration::from_secs(30))
        .expect("the destructor's recv was never woken by the send");
    assert_eq!(got, 1);
}
