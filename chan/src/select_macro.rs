//! `select!` and `select_biased!`: crossbeam-channel's syntax, Go's
//! `select` statement.
//!
//! The macro parses its arms into a normal form, binds each channel
//! expression once (in source order, each in a `match` so its temporaries
//! live through the select) to a fresh variable — hygiene makes the
//! `__select_chan` of every expansion step a distinct variable — builds
//! a slice of select handles on the stack, runs the select, and dispatches
//! on the chosen index. As in crossbeam, a send arm's message is evaluated
//! only if that arm is chosen.

/// Waits on several channel operations at once and runs the arm of the one
/// that completes — Go's `select` statement, with crossbeam-channel's
/// syntax.
///
/// ```text
/// select! {
///     recv(r) -> msg => { ... },          // msg: Result<T, RecvError>
///     send(s, value) -> res => { ... },   // res: Result<(), SendError<T>>
///     default => { ... },                 // optional: taken if nothing is ready now
///     default(timeout) => { ... },        // or: taken if nothing is ready in time
/// }
/// ```
///
/// Among arms that are ready, one is chosen uniformly at random (Go's
/// rule); [`select_biased!`](crate::select_biased) prefers earlier arms. A
/// disconnected channel counts as ready (its arm gets an `Err`). An arm on
/// [`never()`](crate::never) is never chosen: Go's nil channel. With no
/// arms and no default, `select! {}` blocks forever.
///
/// Channel expressions are evaluated once, in order, before selecting; a
/// send arm's value only if the arm is chosen. Waiting parks the calling
/// goroutine, or blocks the calling thread. A `default` arm with nothing
/// ready takes no lock.
///
/// ```
/// use gofer_chan::{select, unbounded};
/// use std::time::Duration;
///
/// let (s1, r1) = unbounded();
/// let (s2, r2) = unbounded::<i32>();
/// s1.send(10).unwrap();
///
/// select! {
///     recv(r1) -> msg => assert_eq!(msg, Ok(10)),
///     recv(r2) -> _ => panic!("nothing was sent on r2"),
///     default(Duration::from_secs(1)) => panic!("timed out"),
/// }
///
/// // Nothing ready: `default` runs at once.
/// let ran_default = select! {
///     recv(r2) -> _ => false,
///     default => true,
/// };
/// assert!(ran_default);
/// # drop(s2);
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(@parse (false) [] [] $($tokens)*)
    };
}

/// Like [`select!`](crate::select), but when several arms are ready it
/// chooses the first in source order instead of choosing at random.
///
/// ```
/// use gofer_chan::{select_biased, unbounded};
///
/// let (s1, r1) = unbounded();
/// let (s2, r2) = unbounded();
/// s1.send(1).unwrap();
/// s2.send(2).unwrap();
/// for _ in 0..10 {
///     select_biased! {
///         recv(r1) -> v => { assert_eq!(v, Ok(1)); s1.send(1).unwrap(); }
///         recv(r2) -> _ => panic!("r1 is always ready and comes first"),
///     }
/// }
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($tokens:tt)*) => {
        $crate::__select_internal!(@parse (true) [] [] $($tokens)*)
    };
}

/// The implementation of `select!`. Not a public API.
///
/// Stages: `@parse` normalises the arms into `(recv ...)`/`(send ...)`
/// cases plus an optional default; `@bind` gives each case a fresh
/// variable, an index and a dispatch branch; `@run` emits the select.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // ---- @parse: one arm at a time ----------------------------------
    // Bodies that are blocks, with or without a comma after them.
    (@parse $b:tt [$($cases:tt)*] $def:tt
        recv($r:expr $(,)?) -> $p:pat => $body:block , $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b [$($cases)* (recv ($r) ($p) $body)] $def $($rest)*)
    };
    (@parse $b:tt [$($cases:tt)*] $def:tt
        recv($r:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b [$($cases)* (recv ($r) ($p) $body)] $def $($rest)*)
    };
    (@parse $b:tt [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block , $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b [$($cases)* (send ($s) ($v) ($p) $body)] $def $($rest)*)
    };
    (@parse $b:tt [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b [$($cases)* (send ($s) ($v) ($p) $body)] $def $($rest)*)
    };
    // `default()` is `default`.
    (@parse $b:tt $cases:tt [] default() => $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $cases [] default => $($rest)*)
    };
    (@parse $b:tt $cases:tt [] default => $body:block , $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $cases [(now) $body] $($rest)*)
    };
    (@parse $b:tt $cases:tt [] default => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $cases [(now) $body] $($rest)*)
    };
    (@parse $b:tt $cases:tt [] default($t:expr $(,)?) => $body:block , $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $cases [(timeout $t) $body] $($rest)*)
    };
    (@parse $b:tt $cases:tt [] default($t:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $b $cases [(timeout $t) $body] $($rest)*)
    };
    // Bodies that are expressions: a comma, or the end, follows.
    (@parse $b:tt [$($cases:tt)*] $def:tt
        recv($r:expr $(,)?) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $b [$($cases)* (recv ($r) ($p) { $body })] $def $($($rest)*)?)
    };
    (@parse $b:tt [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $b [$($cases)* (send ($s) ($v) ($p) { $body })] $def $($($rest)*)?)
    };
    (@parse $b:tt $cases:tt [] default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $b $cases [(now) { $body }] $($($rest)*)?)
    };
    (@parse $b:tt $cases:tt [] default($t:expr $(,)?) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_internal!(@parse $b $cases [(timeout $t) { $body }] $($($rest)*)?)
    };
    // Mistakes, with messages that say what is wrong.
    (@parse $b:tt $cases:tt [$($def:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("there can be only one `default` arm in a `select!`")
    };
    (@parse $b:tt $cases:tt $def:tt recv($($args:tt)*) $($rest:tt)*) => {
        ::core::compile_error!("expected `recv(receiver) -> pattern => body`")
    };
    (@parse $b:tt $cases:tt $def:tt send($($args:tt)*) $($rest:tt)*) => {
        ::core::compile_error!("expected `send(sender, message) -> pattern => body`")
    };
    (@parse $b:tt $cases:tt $def:tt $bad:tt $($rest:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "expected `recv`, `send` or `default` in `select!`, found `",
            ::core::stringify!($bad),
            "`"
        ))
    };
    // All arms parsed.
    (@parse $b:tt $cases:tt $def:tt) => {
        $crate::__select_internal!(@bind $b $def __select_oper __select_index (0usize) [] [] [] $cases)
    };

    // ---- @bind: one case at a time --------------------------------------
    (@bind $b:tt $def:tt $oper:ident $index:ident ($($i:tt)*)
        [$($lets:tt)*] [$($handles:tt)*] [$($dispatch:tt)*]
        [(recv ($r:expr) ($p:pat) $body:block) $($cases:tt)*]) => {
        $crate::__select_internal!(@bind $b $def $oper $index ($($i)* + 1)
            [$($lets)* (recv __select_chan __select_arm $r)]
            [$($handles)* [{
                let (h, p) = $crate::__private::recv_arm_handle(&__select_arm);
                (h, $($i)*, p)
            } {
                let (h, p) = $crate::__private::recv_handle(__select_chan);
                (h, $($i)*, p)
            }]]
            [$($dispatch)* if $index == $($i)* {
                let $p = $oper.recv(__select_chan);
                $body
            } else]
            [$($cases)*])
    };
    (@bind $b:tt $def:tt $oper:ident $index:ident ($($i:tt)*)
        [$($lets:tt)*] [$($handles:tt)*] [$($dispatch:tt)*]
        [(send ($s:expr) ($v:expr) ($p:pat) $body:block) $($cases:tt)*]) => {
        $crate::__select_internal!(@bind $b $def $oper $index ($($i)* + 1)
            [$($lets)* (__select_chan $s)]
            [$($handles)* [{
                let (h, p) = $crate::__private::send_handle(__select_chan);
                (h, $($i)*, p)
            } {
                let (h, p) = $crate::__private::send_handle(__select_chan);
                (h, $($i)*, p)
            }]]
            [$($dispatch)* if $index == $($i)* {
                let $p = $oper.send(__select_chan, $v);
                $body
            } else]
            [$($cases)*])
    };
    (@bind $b:tt $def:tt $oper:ident $index:ident $i:tt
        $lets:tt $handles:tt $dispatch:tt []) => {
        $crate::__select_internal!(@run $b $def $oper $index $lets $handles $dispatch)
    };

    // ---- @nest: bind each channel expression with a `match`, so that
    // temporaries inside it (`r.unwrap_or(&never())`) live until the
    // select is over, as they would in crossbeam's macro.
    // A receive arm also gets its `RecvArm` (its packet lives here).
    (@nest [(recv $chan:ident $arm:ident $e:expr) $($rest:tt)*] $body:block) => {
        match &$e {
            $chan => {
                let $arm = $crate::__private::RecvArm::new($chan);
                $crate::__select_internal!(@nest [$($rest)*] $body)
            }
        }
    };
    (@nest [($chan:ident $e:expr) $($rest:tt)*] $body:block) => {
        match &$e {
            $chan => $crate::__select_internal!(@nest [$($rest)*] $body),
        }
    };
    (@nest [] $body:block) => {
        $body
    };

    // ---- @run: the select itself ------------------------------------------
    (@run ($biased:expr) [] $oper:ident $index:ident
        $lets:tt [$([$handle:block $plain:block])*] [$($dispatch:tt)*]) => {
        $crate::__select_internal!(@nest $lets {
            let __select_handles: &mut [$crate::__private::Handle<'_>] = &mut [$($handle,)*];
            let $oper = $crate::__private::select(__select_handles, $biased);
            let $index = $oper.index();
            $($dispatch)* {
                ::core::unreachable!("select! chose an operation it does not have")
            }
        })
    };
    // Nothing waits here, so receive arms need no packet: the plain
    // handles spare a `select!` with `default` the arms' set-up.
    (@run ($biased:expr) [(now) $default:block] $oper:ident $index:ident
        $lets:tt [$([$handle:block $plain:block])*] [$($dispatch:tt)*]) => {
        $crate::__select_internal!(@nest $lets {
            let __select_handles: &mut [$crate::__private::Handle<'_>] = &mut [$($plain,)*];
            match $crate::__private::try_select(__select_handles, $biased) {
                ::core::result::Result::Ok($oper) => {
                    let $index = $oper.index();
                    $($dispatch)* {
                        ::core::unreachable!("select! chose an operation it does not have")
                    }
                }
                ::core::result::Result::Err(_) => $default,
            }
        })
    };
    (@run ($biased:expr) [(timeout $t:expr) $default:block] $oper:ident $index:ident
        $lets:tt [$([$handle:block $plain:block])*] [$($dispatch:tt)*]) => {
        $crate::__select_internal!(@nest $lets {
            let __select_timeout: ::std::time::Duration = $t;
            let __select_handles: &mut [$crate::__private::Handle<'_>] = &mut [$($handle,)*];
            match $crate::__private::select_timeout(__select_handles, __select_timeout, $biased) {
                ::core::result::Result::Ok($oper) => {
                    let $index = $oper.index();
                    $($dispatch)* {
                        ::core::unreachable!("select! chose an operation it does not have")
                    }
                }
                ::core::result::Result::Err(_) => $default,
            }
        })
    };
}
