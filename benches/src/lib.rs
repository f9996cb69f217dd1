//! The benchmark harness behind the `ufom` binary.
pub mod harness;
pub mod process;
