//! One process per segment (or group): a second render of the same part, a task the scheduler
//! started twice, is refused instead of racing the first. The kernel drops the lock when its
//! process dies, so a killed task never blocks its rerun.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// Held while this process renders a segment; a second render of the same segment (a task the
/// scheduler started twice) is refused rather than racing it.
pub struct SegmentLock {
    _file: File,
}

impl SegmentLock {
    pub fn acquire(dir: &Path, index: usize) -> Result<SegmentLock> {
        let locks = dir.join("locks");
        std::fs::create_dir_all(&locks).map_err(|e| Error::io(&locks, e))?;
        let path = locks.join(format!("{index:04}.lock"));
        let file =
            OpenOptions::new().write(true).create(true).truncate(false).open(&path).map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(SegmentLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::Conflict(format!(
                "segment {index} is being rendered by another process (lock {})",
                path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}
