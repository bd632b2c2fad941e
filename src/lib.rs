//! gofer: Go-style goroutines for Rust.
pub use gofer_runtime::*;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
