//! Go's `context`: `background` is never done; `with_cancel`'s cancel
//! closes `done()` and sets `err()`, and propagates to children and
//! grandchildren but never up to the parent or across to siblings;
//! `with_timeout`/`with_deadline` fire `DeadlineExceeded` (never early:
//! lower bounds only), a child's deadline is capped by its parent's, and a
//! goroutine or thread blocked in `select!` on `ctx.done()` wakes on
//! cancel and on the deadline.

#[macro_use]
mod common;

use common::*;
use gofer_chan::{RecvError, TryRecvError, after, select};
use gofer_sync::context::{Context, ContextError};

/// Receives on `ctx.done()` in a `select!` with a long fallback timeout:
/// what Go code does with `<-ctx.Done()`. Returns `ctx.err()` then, or
/// `None` if the fallback fired.
fn wait_done(ctx: &Context) -> Option<ContextError> {
    select! {
        recv(ctx.done()) -> r => {
            assert_eq!(r, Err(RecvError), "done() is closed, never sent on");
            ctx.err()
        }
        recv(after(LONG)) -> _ => None,
    }
}

#[test]
fn background_is_never_done() {
    let bg = Context::background();
    assert_eq!(bg.err(), None);
    assert!(!bg.is_done());
    assert_eq!(bg.deadline(), None);
    assert_eq!(bg.done().try_recv(), Err(TryRecvError::Empty));
    let fired = select! {
        recv(bg.done()) -> _ => false,
        recv(after(Duration::from_millis(20))) -> _ => true,
    };
    assert!(fired, "background's done() became ready");
    // Cancelling a child leaves the shared root alone.
    let (_child, cancel) = Context::background().with_cancel();
    cancel.cancel();
    assert_eq!(Context::background().err(), None);
}

fn cancel_closes_done_and_sets_err(mode: Mode) {
    run(mode, || {
        let (ctx, cancel) = Context::background().with_cancel();
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(ctx.deadline(), None);
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert!(ctx.is_done());
        assert_eq!(ctx.done().recv(), Err(RecvError));
        assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Disconnected));
        cancel.cancel(); // idempotent
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert_eq!(ctx.clone().err(), Some(ContextError::Canceled));
    });
}
mode_tests!(cancel_closes_done_and_sets_err);

#[test]
fn errors_display_as_in_go() {
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let e: Box<dyn std::error::Error> = Box::new(ContextError::Canceled);
    assert_eq!(e.to_string(), "context canceled");
}

#[test]
fn cancel_propagates_to_children_and_grandchildren() {
    let (root, cancel) = Context::background().with_cancel();
    let (a, _ca) = root.with_cancel();
    let (b, _cb) = root.with_timeout(LONG);
    let (a1, _ca1) = a.with_cancel();
    let (a2, _ca2) = a.with_deadline(Instant::now() + LONG);
    let (b1, _cb1) = b.with_cancel();
    let all = [&root, &a, &b, &a1, &a2, &b1];
    assert!(all.iter().all(|c| c.err().is_none()));
    cancel.cancel();
    for c in all {
        assert_eq!(c.err(), Some(ContextError::Canceled));
        assert_eq!(c.done().try_recv(), Err(TryRecvError::Disconnected));
    }
}

#[test]
fn cancelling_a_child_cancels_neither_its_parent_nor_its_siblings() {
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (a, cancel_a) = parent.with_cancel();
    let (b, _cb) = parent.with_cancel();
    let (a1, _ca1) = a.with_cancel();
    cancel_a.cancel();
    assert_eq!(a.err(), Some(ContextError::Canceled));
    assert_eq!(a1.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None);
    assert_eq!(b.err(), None);
    assert_eq!(parent.done().try_recv(), Err(TryRecvError::Empty));
    cancel_parent.cancel();
    assert_eq!(b.err(), Some(ContextError::Canceled));
}

#[test]
fn a_child_of_a_done_context_is_born_done() {
    let (parent, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (child, _c) = parent.with_cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    let (timed, _c) = parent.with_timeout(LONG);
    assert_eq!(timed.err(), Some(ContextError::Canceled));
}

fn with_timeout_fires_deadline_exceeded_after_the_timeout(mode: Mode) {
    run(mode, || {
        let t = Instant::now();
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(30));
        let deadline = ctx.deadline().expect("a deadline");
        assert!(deadline >= t + Duration::from_millis(30));
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.done().recv(), Err(RecvError));
        assert_waited(t.elapsed(), Duration::from_millis(30));
        assert!(Instant::now() >= deadline);
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}
mode_tests!(with_timeout_fires_deadline_exceeded_after_the_timeout);

#[test]
fn a_deadline_in_the_past_is_exceeded_at_once() {
    let past = Instant::now() - Duration::from_millis(1);
    let (ctx, _c) = Context::background().with_deadline(past);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Disconnected));
    let (zero, _c) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(zero.err(), Some(ContextError::DeadlineExceeded));
}

/// A child asking for a later deadline than its parent's gets the
/// parent's, and is done (`DeadlineExceeded`) when the parent's passes.
fn a_childs_deadline_is_capped_by_its_parents(mode: Mode) {
    run(mode, || {
        let t = Instant::now();
        let (parent, _cp) = Context::background().with_timeout(Duration::from_millis(30));
        let (child, _cc) = parent.with_timeout(LONG);
        let (grandchild, _cg) = child.with_cancel();
        assert_eq!(child.deadline(), parent.deadline());
        assert_eq!(grandchild.deadline(), parent.deadline());
        assert_eq!(wait_done(&grandchild), Some(ContextError::DeadlineExceeded));
        assert_waited(t.elapsed(), Duration::from_millis(30));
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(wait_done(&parent), Some(ContextError::DeadlineExceeded));
    });
}
mode_tests!(a_childs_deadline_is_capped_by_its_parents);

/// Go: "If the parent's deadline is already earlier than d,
/// WithDeadline(parent, d) is semantically equivalent to parent" — the
/// child gets no timer of its own and is done through the parent, so once
/// the child is done the parent's `Err()` is set.
///
/// (`with_deadline` once started a timer goroutine for the capped child
/// too, which could fire before the parent's: the child was done while
/// `parent.err()` was still `None`, in about half the runs. Fixed in
/// 70dbde9: a capped child is a plain `with_cancel` child.)
fn a_capped_child_is_done_only_after_its_parent_as_in_go(mode: Mode) {
    run(mode, || {
        for _ in 0..10 {
            let (parent, _cp) = Context::background().with_timeout(Duration::from_millis(5));
            let (child, _cc) = parent.with_timeout(LONG);
            assert_eq!(wait_done(&child), Some(ContextError::DeadlineExceeded));
            assert_eq!(
                parent.err(),
                Some(ContextError::DeadlineExceeded),
                "the capped child was done before its parent"
            );
        }
    });
}
mode_tests!(a_capped_child_is_done_only_after_its_parent_as_in_go:
    threads,
    goroutines,
);

/// A child's earlier deadline fires first and leaves the parent live.
fn a_childs_earlier_deadline_fires_without_the_parent(mode: Mode) {
    run(mode, || {
        let (parent, cancel) = Context::background().with_timeout(LONG);
        let t = Instant::now();
        let (child, _cc) = parent.with_timeout(Duration::from_millis(20));
        assert!(child.deadline() < parent.deadline());
        assert_eq!(wait_done(&child), Some(ContextError::DeadlineExceeded));
        assert_waited(t.elapsed(), Duration::from_millis(20));
        assert_eq!(parent.err(), None);
        cancel.cancel();
        assert_eq!(parent.err(), Some(ContextError::Canceled));
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded)); // first reason stays
    });
}
mode_tests!(a_childs_earlier_deadline_fires_without_the_parent);

/// Cancelled before its deadline: `Canceled`, and it stays so after the
/// deadline passes.
fn cancel_before_the_deadline_gives_canceled(mode: Mode) {
    run(mode, || {
        let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(20));
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        sleep(Duration::from_millis(40));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}
mode_tests!(cancel_before_the_deadline_gives_canceled);

/// A task blocked in `select!` on `ctx.done()` (plus a long fallback) is
/// woken by `cancel` from another task.
fn a_task_blocked_in_select_on_done_wakes_on_cancel(mode: Mode) {
    let (ctx, cancel) = Context::background().with_cancel();
    scope(mode, |s| {
        let waiter = s.spawn(|| {
            let t = Instant::now();
            (wait_done(&ctx), t.elapsed())
        });
        sleep(Duration::from_millis(10)); // usually blocked by now
        cancel.cancel();
        let (err, waited) = waiter.join();
        assert_eq!(err, Some(ContextError::Canceled));
        assert!(waited < LONG);
    });
}
all_modes!(a_task_blocked_in_select_on_done_wakes_on_cancel);

/// ... and by the deadline, with nobody cancelling.
fn a_task_blocked_in_select_on_done_wakes_on_the_deadline(mode: Mode) {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(30));
    let t = Instant::now();
    scope(mode, |s| {
        let waiter = s.spawn(|| wait_done(&ctx));
        assert_eq!(waiter.join(), Some(ContextError::DeadlineExceeded));
    });
    assert_waited(t.elapsed(), Duration::from_millis(30));
}
all_modes!(a_task_blocked_in_select_on_done_wakes_on_the_deadline);

/// Many tasks wait on one context (and on children of it); one cancel
/// wakes them all.
fn one_cancel_wakes_every_waiter_in_the_tree(mode: Mode) {
    let (root, cancel) = Context::background().with_cancel();
    scope(mode, |s| {
        let waiters: Vec<_> = (0..8)
            .map(|i| {
                let ctx = if i % 2 == 0 {
                    root.clone()
                } else {
                    root.with_timeout(LONG).0
                };
                s.spawn(move || wait_done(&ctx))
            })
            .collect();
        sleep(Duration::from_millis(10));
        cancel.cancel();
        for w in waiters {
            assert_eq!(w.join(), Some(ContextError::Canceled));
        }
    });
}
all_modes!(one_cancel_wakes_every_waiter_in_the_tree);

/// Children created concurrently with the parent's cancel are all done
/// afterwards: each either registered in time to be cancelled, or saw the
/// parent already done when it registered.
fn children_created_while_the_parent_is_cancelled_are_all_done(mode: Mode) {
    for _ in 0..20 {
        let (root, cancel) = Context::background().with_cancel();
        let children = scope(mode, |s| {
            let makers: Vec<_> = (0..3)
                .map(|_| {
                    let root = root.clone();
                    s.spawn(move || {
                        (0..20)
                            .map(|i| {
                                if i % 2 == 0 {
                                    root.with_cancel().0
                                } else {
                                    root.with_timeout(LONG).0
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            relax();
            cancel.cancel();
            makers
                .into_iter()
                .flat_map(|m| m.join())
                .collect::<Vec<_>>()
        });
        for c in children {
            assert_eq!(c.err(), Some(ContextError::Canceled));
            assert_eq!(c.done().try_recv(), Err(TryRecvError::Disconnected));
        }
    }
}
all_modes!(children_created_while_the_parent_is_cancelled_are_all_done);

/// Dropping the cancel function does not cancel (Go's `CancelFunc` is a
/// function, not a guard); the context lives on until its deadline.
#[test]
fn dropping_the_cancel_func_does_not_cancel() {
    let (ctx, cancel) = Context::background().with_cancel();
    drop(cancel);
    assert_eq!(ctx.err(), None);
    let (timed, cancel) = Context::background().with_timeout(Duration::from_millis(20));
    drop(cancel);
    assert_eq!(wait_done(&timed), Some(ContextError::DeadlineExceeded));
}
