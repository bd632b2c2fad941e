//! `go!`: Go's `go` statement.

/// Starts a goroutine, like Go's `go` statement; returns its
/// [`JoinHandle`](crate::JoinHandle).
///
/// Three forms:
///
/// * a closure: `go!(move || work(x))`;
/// * a call, as in Go: `go!(worker(i, tx.clone()))` evaluates the function
///   and its arguments here, in the caller, and makes the call in the new
///   goroutine. Method calls on a variable work too: `go!(srv.handle(conn))`
///   (the receiver is moved into the goroutine);
/// * options before either: `go!(name = "w", stack_size = 64 << 10, move || ...)`.
///
/// Panics if no stack can be had for the goroutine; use
/// [`Builder::spawn`](crate::Builder::spawn) to handle that as an error.
///
/// ```
/// use gofer_runtime::go;
///
/// fn square(x: u64) -> u64 { x * x }
///
/// let a = go!(move || 1 + 1);
/// let b = go!(square(7));                 // like Go's `go square(7)`
/// let c = go!(name = "named", || gofer_runtime::current().unwrap().name().map(String::from));
/// assert_eq!(a.join().unwrap(), 2);
/// assert_eq!(b.join().unwrap(), 49);
/// assert_eq!(c.join().unwrap().as_deref(), Some("named"));
/// ```
#[macro_export]
macro_rules! go {
    (name = $name:expr, $($rest:tt)+) => {
        $crate::__go_with!([.name($name)] $($rest)+)
    };
    (stack_size = $size:expr, $($rest:tt)+) => {
        $crate::__go_with!([.stack_size($size)] $($rest)+)
    };
    ($($body:tt)+) => {
        $crate::spawn($crate::__go_fn!($($body)+))
    };
}

/// Accumulates `go!` options into a `Builder` call chain.
#[doc(hidden)]
#[macro_export]
macro_rules! __go_with {
    ([$($opts:tt)*] name = $name:expr, $($rest:tt)+) => {
        $crate::__go_with!([$($opts)* .name($name)] $($rest)+)
    };
    ([$($opts:tt)*] stack_size = $size:expr, $($rest:tt)+) => {
        $crate::__go_with!([$($opts)* .stack_size($size)] $($rest)+)
    };
    ([$($opts:tt)*] $($body:tt)+) => {
        match $crate::Builder::new() $($opts)* .spawn($crate::__go_fn!($($body)+)) {
            ::core::result::Result::Ok(handle) => handle,
            ::core::result::Result::Err(e) => ::core::panic!("go!: {}", e),
        }
    };
}

/// Turns the body of a `go!` into a closure. For the call form it binds
/// each argument to a fresh variable first (macro hygiene makes the
/// `__go_arg` of every recursion step a distinct variable), so arguments
/// are evaluated by the caller, in order, as in Go.
#[doc(hidden)]
#[macro_export]
macro_rules! __go_fn {
    (@bind [$($bound:ident)*] [$head:expr $(, $tail:expr)*] $target:tt) => {{
        let __go_arg = $head;
        $crate::__go_fn!(@bind [$($bound)* __go_arg] [$($tail),*] $target)
    }};
    (@bind [$($bound:ident)*] [] (@call $($path:ident)::+)) => {
        move || $($path)::+($($bound),*)
    };
    (@bind [$($bound:ident)*] [] (@method $recv:ident $method:ident)) => {{
        let __go_recv = $recv;
        move || __go_recv.$method($($bound),*)
    }};
    (move $($closure:tt)*) => { move $($closure)* };
    (|| $($closure:tt)*) => { || $($closure)* };
    (| $($closure:tt)*) => { | $($closure)* };
    ($recv:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        $crate::__go_fn!(@bind [] [$($arg),*] (@method $recv $method))
    };
    ($($path:ident)::+ ( $($arg:expr),* $(,)? )) => {
        $crate::__go_fn!(@bind [] [$($arg),*] (@call $($path)::+))
    };
    ($f:expr) => { $f };
}
