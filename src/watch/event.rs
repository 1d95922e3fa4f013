//! What the folder watcher reports to its caller.
//!
//! A file is reported once per content (`sha256`), so the caller can key its ledger on the hash: a
//! file renamed or copied in again unchanged carries the same hash, a file whose content changed
//! carries a new one.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// A candidate image that has finished arriving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFile {
    /// The file, under the watched folder (canonical folder path joined with the names below it).
    pub path: PathBuf,
    /// Size in bytes when it was judged complete.
    pub size: u64,
    /// Modification time when it was judged complete.
    pub mtime: SystemTime,
    /// Lower-case hex SHA-256 of the content that was judged complete.
    pub sha256: String,
    /// `None` when the file decodes as an image. `Some(one line naming the file and the problem)`
    /// when it stayed unchanged for the grace period but never decoded (truncated, or not an image):
    /// the caller records a failed session with this message instead of waiting forever.
    pub error: Option<String>,
}

impl ReadyFile {
    /// The modification time as whole seconds since the Unix epoch (0 for times before it).
    pub fn mtime_unix(&self) -> u64 {
        self.mtime.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// One report from a [`FolderWatcher`](super::FolderWatcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A candidate is complete (see [`ReadyFile::error`] for files that never decoded).
    Ready(ReadyFile),
    /// A candidate disappeared (deleted or moved away) before it was complete; for logging only.
    Gone(PathBuf),
    /// The watcher had a problem: a folder or candidate file that cannot be read (reported once the
    /// file has been unchanged for the grace period; a later change makes it a candidate again), a
    /// notify error, or native events unavailable so the folder is polled. One line; the watcher
    /// keeps going; this is for the log.
    Error(String),
}
