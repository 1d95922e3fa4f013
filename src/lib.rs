//! brushwork: optimisation-based neural style transfer (Gatys, Ecker & Bethge 2015) on candle,
//! with presets, a weights manager, video mode and the commands behind the `brushwork` binary.
//!
//! `engine` knows nothing of terminals; `commands` turns engine events into terminal output.

pub mod engine;
pub mod error;
pub mod flow;
pub mod imageio;
pub mod preset;
pub mod session;
pub mod tui;
pub mod util;
pub mod video;
pub mod watch;
pub mod weights;

pub use error::{Error, Result};
