//! Rendezvous and `bounded(1)` hand-offs between plain threads, small
//! enough for Miri:
//!
//! ```text
//! MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-many-seeds=0..4" \
//!     cargo +nightly miri test -p gofer-chan --test miri
//! ```
//!
//! The side that arrives second on a `bounded(0)` channel releases the
//! waiting side, whose packet (and context) live in the waiter's frame;
//! the waiter may leave as soon as the last store of the release lands.
//! Miri checks that no reference into that frame is still live then (a
//! reference *argument* would be: it must stay valid until its function
//! returns), and that a boxed packet (a dynamic `Select` arm's) comes back
//! to its owner with the permission to free it. The `bounded(1)` tests
//! also cover a select-sender, which leaves its frame as soon as its
//! select word is decided (a use-after-free of its borrowed context here
//! was fixed by counting it before the pick). Under plain `cargo test`
//! these are ordinary smoke tests.

use gofer_chan::{Select, bounded, select};
use std::thread;

const ROUNDS: usize = 20;

#[test]
fn a_blocked_sender_and_a_blocked_receiver_are_released_from_their_frames() {
    for _ in 0..ROUNDS {
        let (s, r) = bounded::<u32>(0);
        let h = thread::spawn(move || r.recv().unwrap());
        s.send(7).unwrap();
        assert_eq!(h.join().unwrap(), 7);

        let (s, r) = bounded::<u32>(0);
        let h = thread::spawn(move || s.send(8).unwrap());
        assert_eq!(r.recv().unwrap(), 8);
        h.join().unwrap();
    }
}

#[test]
fn select_arms_are_released_from_their_frames() {
    for _ in 0..ROUNDS {
        // A select-sender, woken by the receiver that picks it.
        let (s, r) = bounded::<u32>(0);
        let h = thread::spawn(move || select! { send(s, 7) -> res => res.unwrap() });
        assert_eq!(r.recv().unwrap(), 7);
        h.join().unwrap();

        // A select! receive arm, whose packet is in the select's frame.
        let (s, r) = bounded::<u32>(0);
        let h = thread::spawn(move || select! { recv(r) -> v => v.unwrap() });
        s.send(8).unwrap();
        assert_eq!(h.join().unwrap(), 8);
    }
}

#[test]
fn a_dynamic_select_receive_frees_the_box_it_was_handed_back() {
    dynamic_select_receives(0);
}

/// Rounds of a dynamic `Select` receive (a boxed packet) paired with a
/// plain send on a channel of capacity `cap`.
fn dynamic_select_receives(cap: usize) {
    for i in 0..ROUNDS as u32 {
        let (s, r) = bounded::<u32>(cap);
        let h = thread::spawn(move || s.send(i).unwrap());
        let mut sel = Select::new();
        let idx = sel.recv(&r);
        let op = sel.select();
        assert_eq!(op.index(), idx);
        assert_eq!(op.recv(&r), Ok(i));
        h.join().unwrap();
    }
}

// `bounded(1)` (the `small.rs` flavor): a picker moves the message under
// the lock and, after the unlock, unparks the waiter and stores its
// packet's `ready`. The waiter's packet and context are borrowed from its
// frame until that store.

#[test]
fn bounded_one_blocked_senders_and_receivers_are_released_from_their_frames() {
    for i in 0..ROUNDS as u32 {
        // A sender blocked on a full buffer: the receiver moves its
        // message into the slot it frees.
        let (s, r) = bounded::<u32>(1);
        s.send(i).unwrap();
        let h = thread::spawn(move || s.send(i + 1).unwrap());
        assert_eq!(r.recv().unwrap(), i);
        assert_eq!(r.recv().unwrap(), i + 1);
        h.join().unwrap();

        // A receiver blocked on an empty buffer: the sender hands it over.
        let (s, r) = bounded::<u32>(1);
        let h = thread::spawn(move || r.recv().unwrap());
        s.send(i).unwrap();
        assert_eq!(h.join().unwrap(), i);
    }
}

#[test]
fn bounded_one_select_arms_are_released_from_their_frames() {
    for i in 0..ROUNDS as u32 {
        // A select-sender on a full buffer, granted a slot.
        let (s, r) = bounded::<u32>(1);
        s.send(i).unwrap();
        let h = thread::spawn(move || select! { send(s, i + 1) -> res => res.unwrap() });
        assert_eq!(r.recv().unwrap(), i);
        assert_eq!(r.recv().unwrap(), i + 1);
        h.join().unwrap();

        // A select! receive arm, handed a message in its boxed packet.
        let (s, r) = bounded::<u32>(1);
        let h = thread::spawn(move || select! { recv(r) -> v => v.unwrap() });
        s.send(i).unwrap();
        assert_eq!(h.join().unwrap(), i);

        // Both arms on two channels: whichever is picked, the other is
        // unlisted before the select's frame ends.
        let (s1, r1) = bounded::<u32>(1);
        let (s2, r2) = bounded::<u32>(1);
        s2.send(0).unwrap();
        let h = thread::spawn(move || {
            select! {
                recv(r1) -> v => v.unwrap(),
                send(s2, i) -> res => { res.unwrap(); u32::MAX }
            }
        });
        s1.send(i).unwrap();
        let _ = r2.recv().unwrap();
        let got = h.join().unwrap();
        assert!(got == i || got == u32::MAX);
    }
}

#[test]
fn bounded_one_dynamic_select_receive_frees_the_box_it_was_handed() {
    dynamic_select_receives(1);
}

#[test]
fn bounded_one_close_wakes_parked_waiters() {
    for i in 0..ROUNDS as u32 {
        // A blocked sender gets its message back.
        let (s, r) = bounded::<u32>(1);
        s.send(i).unwrap();
        let s2 = s.clone();
        let h = thread::spawn(move || s2.send(i + 1));
        assert!(s.close());
        // Nobody receives before the close: the message comes back.
        assert!(h.join().unwrap().is_err());
        assert_eq!(r.recv(), Ok(i));
        assert!(r.recv().is_err());

        // A blocked receiver is told, or gets the message sent first.
        let (s, r) = bounded::<u32>(1);
        let h = thread::spawn(move || r.recv());
        if i % 2 == 0 {
            let _ = s.send(i);
        }
        drop(s);
        let _ = h.join().unwrap();

        // A select waiting on both sides of two channels, disconnected.
        let (s1, r1) = bounded::<u32>(1);
        let (s2, r2) = bounded::<u32>(1);
        s2.send(0).unwrap();
        let h = thread::spawn(move || {
            select! {
                recv(r1) -> v => v.is_err(),
                send(s2, 1) -> res => res.is_err(),
            }
        });
        drop(s1);
        drop(r2);
        let _ = h.join().unwrap();
    }
}

#[test]
fn bounded_one_waits_that_time_out_while_being_picked() {
    use std::time::Duration;
    for i in 0..ROUNDS as u32 {
        let (s, r) = bounded::<u32>(1);
        let h = thread::spawn(move || r.recv_timeout(Duration::from_micros(50)).ok());
        let _ = s.send(i);
        let _ = h.join().unwrap();

        let (s, r) = bounded::<u32>(1);
        s.send(i).unwrap();
        let h = thread::spawn(move || s.send_timeout(i + 1, Duration::from_micros(50)).is_ok());
        let _ = r.recv();
        let sent = h.join().unwrap();
        if sent {
            assert_eq!(r.try_recv(), Ok(i + 1));
        }
    }
}
