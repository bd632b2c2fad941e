//! gofer: Go-style goroutines for Rust.
pub use gofer_runtime::*;
