//! The error types: the same names, variants, trait impls, conversions,
//! accessors and messages as crossbeam-channel 0.5, and the errors each
//! operation actually returns.

use gofer_chan::*;
use std::error::Error;
use std::fmt::{Debug, Display};
use std::time::{Duration, Instant};

fn is_error<E: Error + Send + Sync + 'static>() {}
fn is_value<E: Clone + Copy + PartialEq + Eq + Debug + Display>() {}

#[test]
fn every_error_is_a_std_error_and_a_plain_value() {
    is_error::<SendError<i32>>();
    is_error::<TrySendError<i32>>();
    is_error::<SendTimeoutError<i32>>();
    is_error::<RecvError>();
    is_error::<TryRecvError>();
    is_error::<RecvTimeoutError>();
    is_error::<TrySelectError>();
    is_error::<SelectTimeoutError>();
    is_error::<TryReadyError>();
    is_error::<ReadyTimeoutError>();

    is_value::<SendError<i32>>();
    is_value::<TrySendError<i32>>();
    is_value::<SendTimeoutError<i32>>();
    is_value::<RecvError>();
    is_value::<TryRecvError>();
    is_value::<RecvTimeoutError>();
    is_value::<TrySelectError>();
    is_value::<SelectTimeoutError>();
    is_value::<TryReadyError>();
    is_value::<ReadyTimeoutError>();

    // Boxable as `dyn Error`, so `?` works in functions returning one.
    let e: Box<dyn Error + Send + Sync> = Box::new(SendError(1));
    assert_eq!(e.to_string(), "sending on a disconnected channel");
}

#[test]
fn display_messages_match_crossbeam() {
    assert_eq!(
        SendError(1).to_string(),
        "sending on a disconnected channel"
    );
    assert_eq!(
        TrySendError::Full(1).to_string(),
        "sending on a full channel"
    );
    assert_eq!(
        TrySendError::Disconnected(1).to_string(),
        "sending on a disconnected channel"
    );
    assert_eq!(
        SendTimeoutError::Timeout(1).to_string(),
        "timed out waiting on send operation"
    );
    assert_eq!(
        SendTimeoutError::Disconnected(1).to_string(),
        "sending on a disconnected channel"
    );
    assert_eq!(
        RecvError.to_string(),
        "receiving on an empty and disconnected channel"
    );
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    assert_eq!(
        TryRecvError::Disconnected.to_string(),
        "receiving on an empty and disconnected channel"
    );
    assert_eq!(
        RecvTimeoutError::Timeout.to_string(),
        "timed out waiting on receive operation"
    );
    assert_eq!(
        RecvTimeoutError::Disconnected.to_string(),
        "channel is empty and disconnected"
    );
    assert_eq!(
        TrySelectError.to_string(),
        "all operations in select would block"
    );
    assert_eq!(
        SelectTimeoutError.to_string(),
        "timed out waiting on select"
    );
    assert_eq!(
        TryReadyError.to_string(),
        "all operations in select would block"
    );
    assert_eq!(ReadyTimeoutError.to_string(), "timed out waiting on ready");
}

#[test]
fn debug_of_errors_without_payload_names_the_variant() {
    assert_eq!(format!("{:?}", RecvError), "RecvError");
    assert_eq!(format!("{:?}", TryRecvError::Empty), "Empty");
    assert_eq!(format!("{:?}", TryRecvError::Disconnected), "Disconnected");
    assert_eq!(format!("{:?}", RecvTimeoutError::Timeout), "Timeout");
    assert_eq!(format!("{:?}", TrySelectError), "TrySelectError");
    assert_eq!(format!("{:?}", SelectTimeoutError), "SelectTimeoutError");
    assert_eq!(format!("{:?}", TryReadyError), "TryReadyError");
    assert_eq!(format!("{:?}", ReadyTimeoutError), "ReadyTimeoutError");
}

#[test]
fn debug_of_errors_with_payload_hides_the_message() {
    // The message need not be Debug, and is not printed.
    struct Opaque;
    assert_eq!(format!("{:?}", TrySendError::Full(Opaque)), "Full(..)");
    assert_eq!(
        format!("{:?}", TrySendError::Disconnected(Opaque)),
        "Disconnected(..)"
    );
    let _ = format!("{:?}", SendError(Opaque));
    let _ = format!("{:?}", SendTimeoutError::Timeout(Opaque));
}

#[test]
fn debug_of_send_error_and_send_timeout_error_match_crossbeam() {
    assert_eq!(format!("{:?}", SendError(1)), "SendError(..)");
    assert_eq!(
        format!("{:?}", SendTimeoutError::Timeout(1)),
        "SendTimeoutError(..)"
    );
    assert_eq!(
        format!("{:?}", SendTimeoutError::Disconnected(1)),
        "SendTimeoutError(..)"
    );
}

#[test]
fn into_inner_returns_the_message() {
    assert_eq!(SendError("a").into_inner(), "a");
    assert_eq!(SendError("a").0, "a");
    assert_eq!(TrySendError::Full("b").into_inner(), "b");
    assert_eq!(TrySendError::Disconnected("c").into_inner(), "c");
    assert_eq!(SendTimeoutError::Timeout("d").into_inner(), "d");
    assert_eq!(SendTimeoutError::Disconnected("e").into_inner(), "e");
}

#[test]
fn predicates_tell_the_variants_apart() {
    assert!(TrySendError::Full(()).is_full());
    assert!(!TrySendError::Full(()).is_disconnected());
    assert!(TrySendError::Disconnected(()).is_disconnected());
    assert!(!TrySendError::Disconnected(()).is_full());

    assert!(SendTimeoutError::Timeout(()).is_timeout());
    assert!(!SendTimeoutError::Timeout(()).is_disconnected());
    assert!(SendTimeoutError::Disconnected(()).is_disconnected());
    assert!(!SendTimeoutError::Disconnected(()).is_timeout());

    assert!(TryRecvError::Empty.is_empty());
    assert!(!TryRecvError::Empty.is_disconnected());
    assert!(TryRecvError::Disconnected.is_disconnected());
    assert!(!TryRecvError::Disconnected.is_empty());

    assert!(RecvTimeoutError::Timeout.is_timeout());
    assert!(!RecvTimeoutError::Timeout.is_disconnected());
    assert!(RecvTimeoutError::Disconnected.is_disconnected());
    assert!(!RecvTimeoutError::Disconnected.is_timeout());
}

#[test]
fn conversions_from_the_blocking_errors() {
    assert_eq!(
        TrySendError::from(SendError(5)),
        TrySendError::Disconnected(5)
    );
    assert_eq!(
        SendTimeoutError::from(SendError(5)),
        SendTimeoutError::Disconnected(5)
    );
    assert_eq!(TryRecvError::from(RecvError), TryRecvError::Disconnected);
    assert_eq!(
        RecvTimeoutError::from(RecvError),
        RecvTimeoutError::Disconnected
    );

    // And through `?`.
    fn try_send_like(s: &Sender<i32>) -> Result<(), TrySendError<i32>> {
        s.send(1)?;
        Ok(())
    }
    fn recv_timeout_like(r: &Receiver<i32>) -> Result<i32, RecvTimeoutError> {
        Ok(r.recv()?)
    }
    let (s, r) = unbounded::<i32>();
    drop(r);
    assert_eq!(try_send_like(&s), Err(TrySendError::Disconnected(1)));
    let (s, r) = unbounded::<i32>();
    drop(s);
    assert_eq!(recv_timeout_like(&r), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn operations_return_the_documented_errors() {
    let short = Duration::from_millis(1);
    for cap in [Some(0), Some(1)] {
        let (s, r) = bounded::<i32>(cap.unwrap());
        if cap == Some(1) {
            s.send(0).unwrap();
        }
        assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(s.send_timeout(2, short), Err(SendTimeoutError::Timeout(2)));
        assert_eq!(
            s.send_deadline(3, Instant::now()),
            Err(SendTimeoutError::Timeout(3))
        );
        drop(r);
        assert_eq!(s.send(4), Err(SendError(4)));
        assert_eq!(s.try_send(5), Err(TrySendError::Disconnected(5)));
        assert_eq!(
            s.send_timeout(6, short),
            Err(SendTimeoutError::Disconnected(6))
        );
    }
    let (s, r) = unbounded::<i32>();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.recv_timeout(short), Err(RecvTimeoutError::Timeout));
    assert_eq!(
        r.recv_deadline(Instant::now()),
        Err(RecvTimeoutError::Timeout)
    );
    drop(s);
    assert_eq!(r.recv(), Err(RecvError));
    assert_eq!(r.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(r.recv_timeout(short), Err(RecvTimeoutError::Disconnected));

    let (_s, r) = unbounded::<i32>();
    let mut sel = Select::new();
    sel.recv(&r);
    assert_eq!(sel.try_select().map(|_| ()).unwrap_err(), TrySelectError);
    assert_eq!(
        sel.select_timeout(short).map(|_| ()).unwrap_err(),
        SelectTimeoutError
    );
    assert_eq!(
        sel.select_deadline(Instant::now()).map(|_| ()).unwrap_err(),
        SelectTimeoutError
    );
    assert_eq!(sel.try_ready(), Err(TryReadyError));
    assert_eq!(sel.ready_timeout(short), Err(ReadyTimeoutError));
    assert_eq!(sel.ready_deadline(Instant::now()), Err(ReadyTimeoutError));
}

#[test]
fn errors_match_by_pattern_as_in_crossbeam() {
    let (s, r) = bounded::<String>(0);
    match s.try_send("x".to_string()) {
        Err(TrySendError::Full(msg)) => assert_eq!(msg, "x"),
        other => panic!("{other:?}"),
    }
    match r.recv_timeout(Duration::from_millis(1)) {
        Err(RecvTimeoutError::Timeout) => {}
        other => panic!("{other:?}"),
    }
    drop(r);
    match s.send_timeout("y".to_string(), Duration::from_millis(1)) {
        Err(SendTimeoutError::Disconnected(msg)) => assert_eq!(msg, "y"),
        other => panic!("{other:?}"),
    }
}
