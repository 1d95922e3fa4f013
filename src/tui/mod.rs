//! The dashboard (TUI): sessions, a session's detail with loss chart and live preview, the
//! new-session form with presets, watched folders and the log.
//!
//! It talks to a scheduler only through an `Arc<dyn Control>` (in process or over the socket)
//! and reads files in session folders (`preview.png`, `losses.csv`, `output.png`). The state
//! ([`App`]) is plain data driven by keys and events, so it is tested without a terminal; the
//! terminal loop ([`run_tui`]) owns the terminal and never waits on the scheduler or the disk:
//! worker threads do that (`effects.rs`, `worker.rs`) and send their results back as messages.

pub mod app;
pub mod browser;
pub mod decoder;
pub mod effects;
pub mod form;
pub mod form_fields;
mod form_keys;
pub mod graphics;
pub mod images;
pub mod key_help;
pub mod keys;
pub mod losses;
pub mod options;
mod runner;
pub mod sessions;
mod signals;
mod terminal;
pub mod view;
pub mod worker;

#[cfg(test)]
mod tests;

pub use app::App;
pub use options::{GraphicsChoice, TuiOptions};
pub use runner::run_tui;
