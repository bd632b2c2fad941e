//! smoke
use gofer_chan::*;
use std::time::Duration;

#[test]
fn flavors_from_threads() {
    for cap in [None, Some(0), Some(1), Some(16)] {
        let (s, r) = match cap {
            None => unbounded(),
            Some(c) => bounded(c),
        };
        let h = std::thread::spawn(move || {
            for i in 0..10_000u64 {
                s.send(i).unwrap();
            }
        });
        let sum: u64 = r.iter().sum();
        h.join().unwrap();
        assert_eq!(sum, 10_000 * 9_999 / 2, "cap {cap:?}");
    }
}

#[test]
fn flavors_from_goroutines() {
    for cap in [None, Some(0), Some(1), Some(16)] {
        let (s, r) = match cap {
            None => unbounded(),
            Some(c) => bounded(c),
        };
        let h = gofer_runtime::spawn(move || {
            for i in 0..10_000u64 {
                s.send(i).unwrap();
            }
        });
        let c = gofer_runtime::spawn(move || r.iter().sum::<u64>());
        h.join().unwrap();
        assert_eq!(c.join().unwrap(), 10_000 * 9_999 / 2, "cap {cap:?}");
    }
}

#[test]
fn select_works() {
    let (s1, r1) = bounded::<i32>(0);
    let (s2, r2) = bounded::<i32>(0);
    let h = gofer_runtime::spawn(move || {
        for i in 0..1000 {
            if i % 2 == 0 {
                s1.send(i).unwrap()
            } else {
                s2.send(i).unwrap()
            }
        }
    });
    let mut n = 0;
    while n < 1000 {
        select! {
            recv(r1) -> v => { assert_eq!(v.unwrap() % 2, 0); n += 1; }
            recv(r2) -> v => { assert_eq!(v.unwrap() % 2, 1); n += 1; }
            default(Duration::from_secs(5)) => panic!("timeout"),
        }
    }
    h.join().unwrap();
}
