//! Rendezvous hand-offs between plain threads, small enough for Miri:
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
//! to its owner with the permission to free it. Under plain `cargo test`
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
    for i in 0..ROUNDS as u32 {
        let (s, r) = bounded::<u32>(0);
        let h = thread::spawn(move || s.send(i).unwrap());
        let mut sel = Select::new();
        let idx = sel.recv(&r);
        let op = sel.select();
        assert_eq!(op.index(), idx);
        assert_eq!(op.recv(&r), Ok(i));
        h.join().unwrap();
    }
}
