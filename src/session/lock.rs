//! Advisory file locks (`flock`): the workspace's `lock` is held by the one scheduler that owns
//! the workspace, each session's `lock` by the process running it. The kernel drops a lock when
//! its process dies, even by `kill -9`, so a stale lock never blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Takes the lock, or returns `None` when another process holds it. The holder's pid is
    /// written into the file for messages.
    pub fn try_acquire(path: &Path) -> Result<Option<FileLock>> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let written = file.set_len(0).and_then(|_| file.seek(SeekFrom::Start(0))).and_then(|_| {
            writeln!(file, "{}", std::process::id())?;
            file.flush()
        });
        written.map_err(|e| Error::io(path, e))?;
        Ok(Some(FileLock { _file: file, path: path.to_path_buf() }))
    }

    /// Whether some live process holds the lock at `path` (false when the file does not exist).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else { return false };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(_) => true,
        }
    }

    /// The pid written by the holder, if readable.
    pub fn holder(path: &Path) -> Option<u32> {
        let mut text = String::new();
        File::open(path).ok()?.read_to_string(&mut text).ok()?;
        text.trim().parse().ok()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
