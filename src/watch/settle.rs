//! When a candidate file is complete.
//!
//! Filesystem events say that something happened to a path, not that a file is finished: a slow
//! writer produces many modifications, and `notify` may report a creation while the data is still
//! coming. So events only mark a path as *pending*; [`Settler::poll`] (called every few tens of
//! milliseconds while anything is pending) then judges each pending file by what is on disk:
//!
//! 1. while a writer is known to hold it open (the backend reports data written but not yet the
//!    close, which inotify does), it waits, however long the writer pauses;
//! 2. its size and mtime must be unchanged for the settle time;
//! 3. it is hashed (SHA-256); content already reported for this path is dropped silently, so a
//!    `touch` or a re-copy of the same bytes is not reported twice;
//! 4. it must decode. A file that does not decode keeps waiting (it may still grow) until it has
//!    been unchanged for the grace period (4 x settle); then it is reported with the decode error,
//!    so the caller can record a failed session instead of waiting forever.
//!
//! A pending file that disappears is dropped and reported as [`WatchEvent::Gone`].

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::util::hash::sha256_file;

use super::event::{ReadyFile, WatchEvent};

/// The long side a settled file is test-decoded at: enough to prove it decodes, read at a reduced
/// size so a decompression bomb dropped into the folder costs no more than a small picture.
const DECODE_CHECK_SIDE: u32 = 64;

/// How many settle times a file that does not decode must stay unchanged before it is reported.
pub const GRACE_FACTOR: u32 = 4;

/// Tracks pending candidates and decides when each is complete.
#[derive(Debug)]
pub struct Settler {
    settle: Duration,
    grace: Duration,
    /// Whether the backend reports a writer closing the file; without that, only stability counts.
    close_events: bool,
    pending: HashMap<PathBuf, Pending>,
    /// The hash last reported for each path, to report each content once.
    reported: HashMap<PathBuf, String>,
}

#[derive(Debug)]
struct Pending {
    seen: Option<Stamp>,
    stable_since: Instant,
    writing: bool,
    checked: Option<Checked>,
}

/// Size and mtime: what must stay unchanged for the settle time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: SystemTime,
}

/// The outcome of hashing and decoding one stamp of a file.
#[derive(Debug)]
struct Checked {
    stamp: Stamp,
    content: Result<String, String>,
    decode_error: Option<String>,
}

impl Settler {
    /// `close_events`: the backend reports when a writer closes a file (inotify does, polling and
    /// most other backends do not).
    pub fn new(settle: Duration, close_events: bool) -> Self {
        Settler {
            settle,
            grace: settle * GRACE_FACTOR,
            close_events,
            pending: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    /// How long a file must stay unchanged before it is judged.
    pub fn settle(&self) -> Duration {
        self.settle
    }

    /// Whether nothing is pending (the caller may then wait for events without a timeout).
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Something happened to `path`: judge it again.
    pub fn touched(&mut self, path: &Path) {
        self.entry(path);
    }

    /// Data was written to `path` by a writer that still holds it open.
    pub fn writing(&mut self, path: &Path) {
        let close_events = self.close_events;
        self.entry(path).writing = close_events;
    }

    /// A writer closed `path`, or it was renamed into place: no one is writing it any more.
    pub fn closed(&mut self, path: &Path) {
        self.entry(path).writing = false;
    }

    /// `path` was deleted or moved away. Reports [`WatchEvent::Gone`] if it was still pending.
    pub fn removed(&mut self, path: &Path) -> Option<WatchEvent> {
        self.reported.remove(path);
        self.pending.remove(path).map(|_| WatchEvent::Gone(path.to_path_buf()))
    }

    /// Everything under the folder `dir` was deleted or moved away.
    pub fn removed_under(&mut self, dir: &Path) -> Vec<WatchEvent> {
        self.reported.retain(|path, _| !path.starts_with(dir));
        let gone: Vec<PathBuf> = self.pending.keys().filter(|path| path.starts_with(dir)).cloned().collect();
        gone.into_iter().filter_map(|path| self.removed(&path)).collect()
    }

    /// Close events may have been lost (event queue overflow): stop waiting for them.
    pub fn forget_writers(&mut self) {
        self.pending.values_mut().for_each(|p| p.writing = false);
    }

    /// Judges every pending file as it is on disk now; returns what became ready or went away.
    pub fn poll(&mut self, now: Instant) -> Vec<WatchEvent> {
        let paths: Vec<PathBuf> = self.pending.keys().cloned().collect();
        paths.into_iter().filter_map(|path| self.judge(&path, now)).collect()
    }

    fn entry(&mut self, path: &Path) -> &mut Pending {
        self.pending.entry(path.to_path_buf()).or_insert_with(|| Pending {
            seen: None,
            stable_since: Instant::now(),
            writing: false,
            checked: None,
        })
    }

    fn judge(&mut self, path: &Path, now: Instant) -> Option<WatchEvent> {
        let stamp = match stamp(path) {
            Ok(Some(stamp)) => stamp,
            // A folder or other non-file under an image name: not ours.
            Ok(None) => {
                self.pending.remove(path);
                return None;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.removed(path),
            Err(e) => {
                self.pending.remove(path);
                return Some(WatchEvent::Error(format!("{}: cannot read: {e}", path.display())));
            }
        };
        let pending = self.pending.get_mut(path)?;
        if pending.seen != Some(stamp) {
            pending.seen = Some(stamp);
            pending.stable_since = now;
            return None;
        }
        let stable_for = now.saturating_duration_since(pending.stable_since);
        if pending.writing || stable_for < self.settle {
            return None;
        }
        if pending.checked.as_ref().is_none_or(|c| c.stamp != stamp) {
            let checked = check(path, stamp, self.reported.get(path));
            if stamp_or_none(path) != Some(stamp) {
                pending.seen = None; // changed while being read: start over
                return None;
            }
            pending.checked = Some(checked);
        }
        let checked = pending.checked.as_ref()?;
        let sha256 = match &checked.content {
            Ok(sha256) => sha256.clone(),
            Err(message) if stable_for >= self.grace => {
                let message = message.clone();
                self.pending.remove(path);
                return Some(WatchEvent::Error(message));
            }
            Err(_) => return None,
        };
        if self.reported.get(path) == Some(&sha256) {
            self.pending.remove(path);
            return None;
        }
        if checked.decode_error.is_some() && stable_for < self.grace {
            return None;
        }
        let ready = ReadyFile {
            path: path.to_path_buf(),
            size: stamp.size,
            mtime: stamp.mtime,
            sha256: sha256.clone(),
            error: checked.decode_error.clone(),
        };
        self.pending.remove(path);
        self.reported.insert(path.to_path_buf(), sha256);
        Some(WatchEvent::Ready(ready))
    }
}

/// The file's stamp, `None` when it is not a regular file (symbolic links are followed).
fn stamp(path: &Path) -> io::Result<Option<Stamp>> {
    let meta = fs::metadata(path)?;
    Ok(meta.is_file().then(|| Stamp { size: meta.len(), mtime: meta.modified().unwrap_or(UNIX_EPOCH) }))
}

fn stamp_or_none(path: &Path) -> Option<Stamp> {
    stamp(path).ok().flatten()
}

/// Hashes the file and, unless this content was already reported, decodes it.
fn check(path: &Path, stamp: Stamp, reported: Option<&String>) -> Checked {
    let content = sha256_file(path).map_err(|e| format!("{}: cannot read: {}", path.display(), e.source));
    let decode_error = match &content {
        Ok(sha256) if reported != Some(sha256) => {
            crate::imageio::load_rgb_for(path, Some(DECODE_CHECK_SIDE)).err().map(|e| e.to_string())
        }
        _ => None,
    };
    Checked { stamp, content, decode_error }
}
