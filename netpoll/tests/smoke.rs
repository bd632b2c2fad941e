//! smoke
use gofer_netpoll::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn echo_goroutines() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let srv = gofer_runtime::spawn(move || {
        for _ in 0..10 {
            let (mut c, _) = l.accept().unwrap();
            gofer_runtime::spawn(move || {
                let mut buf = [0; 1024];
                loop {
                    let n = c.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    c.write_all(&buf[..n]).unwrap();
                }
            });
        }
    });
    let hs: Vec<_> = (0..10)
        .map(|i| {
            gofer_runtime::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for j in 0..100 {
                    let msg = format!("hello {i} {j}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut buf = vec![0; msg.len()];
                    s.read_exact(&mut buf).unwrap();
                    assert_eq!(buf, msg.as_bytes());
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    srv.join().unwrap();
}

#[test]
fn thread_client() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"abc").unwrap();
    drop(s);
    assert_eq!(h.join().unwrap(), "abc");
}

#[test]
fn read_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = gofer_runtime::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let t = Instant::now();
        let e = (&s).read(&mut [0; 4]).unwrap_err();
        (e.kind(), t.elapsed())
    });
    let (_c, _) = l.accept().unwrap();
    let (k, el) = h.join().unwrap();
    assert_eq!(k, std::io::ErrorKind::TimedOut);
    assert!(el >= Duration::from_millis(50));
}

#[test]
fn close_wakes_reader() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let s = std::sync::Arc::new(TcpStream::connect(addr).unwrap());
    let (_c, _) = l.accept().unwrap();
    let s2 = s.clone();
    let h = gofer_runtime::spawn(move || (&*s2).read(&mut [0; 4]).unwrap_err().kind());
    std::thread::sleep(Duration::from_millis(50));
    assert!(s.close());
    assert_eq!(h.join().unwrap(), std::io::ErrorKind::ConnectionAborted);
}
