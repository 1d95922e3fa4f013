//! Shared test support for the weights tests: generated VGG tensors in several file formats and a
//! small loopback HTTP server.

pub mod files;
pub mod server;

pub use crate::cli_support::TempDir;
