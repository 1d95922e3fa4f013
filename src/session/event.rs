//! What a scheduler tells its observers (the TUI, `serve`'s socket clients, a following `run`):
//! small messages only. Images never travel in events; a `Preview` event says `preview.png` in
//! the session folder was replaced (the folder is the latest-wins slot).

use serde::{Deserialize, Serialize};

use super::record::SessionRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// One iteration finished. Field names follow the contract's `--json` progress event.
    Progress {
        id: String,
        iteration: u32,
        total: u32,
        scale: u32,
        loss: f64,
        style: f64,
        content: f64,
        tv: f64,
        seconds: f64,
        /// Video: the frame (1-based) these iterations belong to, of `frames`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frame: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frames: Option<u32>,
        /// Video, once a frame is finished: its flicker (see `video::flicker`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flicker: Option<f64>,
        /// Video: the weighted temporal loss (0 otherwise).
        #[serde(default, skip_serializing_if = "is_zero")]
        temporal: f64,
        /// Video, once a frame is finished: its warping error and the source's (see
        /// `video::warp_error`); absent for the first frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        warp_error: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_warp_error: Option<f64>,
    },
    /// A session was added or changed (status, error, progress summary, priority).
    Session { record: Box<SessionRecord> },
    /// A session was deleted.
    Removed { id: String },
    /// `preview.png` of this session was replaced.
    Preview { id: String },
    /// The watched folders changed (added, removed, a file queued or skipped).
    Watches { watches: Vec<super::watches::WatchStatus> },
    /// A warning or error for the log panel.
    Log { level: LogLevel, message: String },
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl Event {
    /// The session the event is about, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Event::Progress { id, .. } | Event::Removed { id } | Event::Preview { id } => Some(id),
            Event::Session { record } => Some(&record.id),
            Event::Log { .. } | Event::Watches { .. } => None,
        }
    }
}
