//! `same_channel`: clones of a handle are the same channel, separately
//! made channels are not, for every flavor — crossbeam-channel's
//! `tests/same_channel.rs`.

mod common;

use common::ms;
use gofer_chan::*;

#[test]
fn after_clones_are_the_same_channel() {
    let r = after(ms(50));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let r3 = after(ms(50));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
    let r4 = after(ms(100));
    assert!(!r.same_channel(&r4));
}

#[test]
fn array_clones_are_the_same_channel() {
    let (s, r) = bounded::<usize>(1);
    let s2 = s.clone();
    assert!(s.same_channel(&s2));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let (s3, r3) = bounded::<usize>(1);
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
fn list_clones_are_the_same_channel() {
    let (s, r) = unbounded::<usize>();
    let s2 = s.clone();
    assert!(s.same_channel(&s2));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let (s3, r3) = unbounded::<usize>();
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
fn never_channels_are_all_the_same_channel() {
    let r = never::<usize>();
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let r3 = never::<usize>();
    assert!(r.same_channel(&r3));
    assert!(r2.same_channel(&r3));
}

#[test]
fn tick_clones_are_the_same_channel() {
    let r = tick(ms(50));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let r3 = tick(ms(50));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
    let r4 = tick(ms(100));
    assert!(!r.same_channel(&r4));
}

#[test]
fn zero_clones_are_the_same_channel() {
    let (s, r) = bounded::<usize>(0);
    let s2 = s.clone();
    assert!(s.same_channel(&s2));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
    let (s3, r3) = bounded::<usize>(0);
    assert!(!s.same_channel(&s3));
    assert!(!s2.same_channel(&s3));
    assert!(!r.same_channel(&r3));
    assert!(!r2.same_channel(&r3));
}

#[test]
fn channels_of_different_flavors_are_different() {
    let (s0, r0) = bounded::<usize>(0);
    let (s1, r1) = bounded::<usize>(1);
    let (su, ru) = unbounded::<usize>();
    assert!(!s0.same_channel(&su));
    assert!(!r0.same_channel(&ru));
    assert!(!s0.same_channel(&s1));
    assert!(!r1.same_channel(&ru));
    assert!(!ru.same_channel(&never()));
    let a = after(ms(10));
    let t = tick(ms(10));
    assert!(!a.same_channel(&t));
    assert!(!a.same_channel(&never()));
    assert!(!t.same_channel(&never()));
}

#[test]
fn a_closed_channel_is_still_the_same_channel() {
    let (s, r) = bounded::<usize>(1);
    let s2 = s.clone();
    assert!(s.close());
    assert!(s.same_channel(&s2));
    let r2 = r.clone();
    assert!(r.same_channel(&r2));
}
