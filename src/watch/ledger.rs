//! The watch ledger: which file contents were already handled for which watch configuration.
//!
//! A watched folder outlives brushwork runs, so what was done must survive a restart or a crash.
//! The ledger is a JSON-lines file (`<workspace>/watch-ledger.jsonl`), one entry per handled file.
//! Work is identified by content, not by name: an entry matches when its `key` (the caller's
//! description of the watch configuration: folder, preset, styles) and its `sha256` are the same,
//! so a file renamed, moved or copied in again unchanged is never redone, and a file whose content
//! changed is new work. Failed outcomes count as done too (the caller decides what to record).
//!
//! Every [`Ledger::record`] rewrites the whole file atomically (temporary file, fsync, rename), so
//! a `kill -9` at any moment leaves either the old or the new ledger, never half a line. Loading
//! skips a malformed line (hand edits, a foreign tool) with a warning instead of failing: losing
//! one entry costs one redone image, refusing to start costs the whole watch.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::event::ReadyFile;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

/// One handled file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The watch configuration (folder, preset, styles), as the caller spells it.
    pub key: String,
    /// Where the file was when it was handled (for people; matching uses the hash).
    pub path: PathBuf,
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Lower-case hex SHA-256 of the content handled.
    pub sha256: String,
    /// The session that handled it.
    pub session: String,
    /// How it ended, as the caller spells it ("done", "failed: ...").
    pub outcome: String,
    /// When it was recorded, seconds since the Unix epoch.
    pub at: u64,
}

/// The ledger file and its entries.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    entries: Vec<LedgerEntry>,
    done: HashSet<(String, String)>,
    warnings: Vec<String>,
}

impl Ledger {
    /// Loads the ledger at `path`; a missing file is an empty ledger (created by the first record).
    /// Malformed lines are skipped and listed in [`warnings`](Self::warnings).
    pub fn open(path: &Path) -> Result<Ledger> {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut ledger =
            Ledger { path: path.to_path_buf(), entries: Vec::new(), done: HashSet::new(), warnings: Vec::new() };
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LedgerEntry>(line) {
                Ok(entry) => ledger.remember(entry),
                Err(e) => {
                    ledger.warnings.push(format!("{}:{}: skipped malformed entry: {e}", path.display(), index + 1))
                }
            }
        }
        Ok(ledger)
    }

    /// The ledger's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// One line per malformed line skipped by [`open`](Self::open), naming the file and line.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether this content was already handled under this watch configuration.
    pub fn is_done(&self, key: &str, file: &ReadyFile) -> bool {
        self.done.contains(&(key.to_string(), file.sha256.clone()))
    }

    /// The first entry that handled this content under this watch configuration, if any.
    pub fn done_by(&self, key: &str, file: &ReadyFile) -> Option<&LedgerEntry> {
        if !self.is_done(key, file) {
            return None;
        }
        self.entries.iter().find(|e| e.key == key && e.sha256 == file.sha256)
    }

    /// Records that `file` was handled by `session` with `outcome`, and saves the ledger before
    /// returning. On error the ledger is unchanged, in memory and on disk.
    pub fn record(&mut self, key: &str, file: &ReadyFile, session: &str, outcome: &str) -> Result<()> {
        let at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.record_entry(LedgerEntry {
            key: key.to_string(),
            path: file.path.clone(),
            size: file.size,
            mtime: file.mtime_unix(),
            sha256: file.sha256.clone(),
            session: session.to_string(),
            outcome: outcome.to_string(),
            at,
        })
    }

    /// Appends `entry` and saves the ledger before returning. On error the ledger is unchanged.
    pub fn record_entry(&mut self, entry: LedgerEntry) -> Result<()> {
        let mut text = String::new();
        for line in self.entries.iter().chain(std::iter::once(&entry)) {
            // Our own data that cannot be encoded is a bug, not the user's input.
            let json = serde_json::to_string(line)
                .map_err(|e| Error::Internal(format!("{}: cannot encode a ledger line: {e}", self.path.display())))?;
            text.push_str(&json);
            text.push('\n');
        }
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        write_atomic(&self.path, text.as_bytes())?;
        self.remember(entry);
        Ok(())
    }

    fn remember(&mut self, entry: LedgerEntry) {
        self.done.insert((entry.key.clone(), entry.sha256.clone()));
        self.entries.push(entry);
    }
}
