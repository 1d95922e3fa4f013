//! brushwork: optimisation-based neural style transfer (Gatys, Ecker & Bethge 2015) on candle,
//! with presets, a weights manager, video mode, sessions and the dashboard behind the `brushwork`
//! binary (whose command line and commands live in `src/bin/brushwork/`, not here).
//!
//! The layers, lowest first; a module imports only from the ones above it in this list:
//!
//! | layer | what it is |
//! |---|---|
//! | [`util`] | atomic file writes, hashes, the user's folders, a seeded random source, text and figures |
//! | [`weights`] | VGG weights files: format, store, importers, fetchers (its own error type) |
//! | [`error`] | the library's error type; its variants decide the exit code |
//! | [`flow`] | DIS optical flow, masks and warping (pure numeric code) |
//! | [`engine`] | the network, losses, hand-written backward, optimisers; knows nothing of files or terminals |
//! | [`imageio`] | reading and writing pictures (bounded decodes, recipes in PNG and JPEG) |
//! | [`preset`] | presets as TOML files and the recipe stored in results |
//! | [`video`], [`watch`] | a clip stylised frame by frame (and in segments on many machines); a watched folder's arrivals |
//! | [`images`] | a folder of images split into groups for array tasks (video's plans and scripts) |
//! | [`session`] | sessions in a workspace: checks, runs, checkpoints, the scheduler, the socket |
//! | [`tui`] | the dashboard (ratatui); the only module that draws on a terminal |

pub mod util;
pub mod weights;

pub mod error;

pub mod flow;

pub mod engine;

pub mod imageio;

pub mod preset;

pub mod video;
pub mod watch;

pub mod images;

pub mod session;

pub mod tui;

pub use error::{Error, Result};
