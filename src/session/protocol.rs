//! The requests a scheduler answers, in process (the TUI) or over the workspace's Unix socket
//! (`serve`'s clients) as JSON lines: one request object per line, one response object per line.
//! After `subscribe` the connection carries [`Event`]s, one per line, until either side closes.

use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use serde::{Deserialize, Serialize};

use super::event::Event;
use super::record::{SessionRecord, SessionSpec};
use super::watches::{WatchConfig, WatchStatus};
use crate::error::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Every session, oldest first.
    List,
    Show {
        id: String,
    },
    /// Queue a new session (also how "duplicate with changes" is done: show, edit, submit).
    Submit {
        spec: Box<SessionSpec>,
    },
    /// Checkpoint and stop a running session, or hold a queued one.
    Pause {
        id: String,
    },
    /// Queue a paused session again; it continues from its checkpoint.
    Resume {
        id: String,
    },
    Cancel {
        id: String,
    },
    /// Delete the session and its folder (cancelling it first if it runs).
    Remove {
        id: String,
    },
    /// Queue a failed or cancelled session again from the start.
    Retry {
        id: String,
    },
    SetPriority {
        id: String,
        priority: i32,
    },
    /// Watch a folder: each image that lands there becomes a session (replaces a watch of the
    /// same folder).
    Watch {
        config: Box<WatchConfig>,
    },
    /// Stop watching a folder.
    Unwatch {
        dir: PathBuf,
    },
    /// The watched folders.
    Watches,
    /// Switch the connection to a stream of events.
    Subscribe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    Ok,
    Sessions { sessions: Vec<SessionRecord> },
    Session { record: Box<SessionRecord> },
    Watches { watches: Vec<WatchStatus> },
    Error { message: String, exit_code: i32 },
}

/// A way to drive a scheduler: the scheduler itself, or a client of a `serve` process.
pub trait Control: Send + Sync {
    /// Answers one request. Failures the scheduler reports (unknown id, bad state) come back as
    /// `Err`, with the same message and exit code either way.
    fn request(&self, request: Request) -> Result<Response>;
    /// A stream of events from now on.
    fn subscribe(&self) -> Result<Receiver<Event>>;
}
