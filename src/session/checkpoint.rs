//! `checkpoint/state.safetensors`: the [`ResumeState`] of a session, replaced atomically, so
//! there is always either the previous checkpoint or the new one, never half of one.

use std::fs;
use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::engine::ResumeState;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

pub fn path(session_dir: &Path) -> PathBuf {
    session_dir.join("checkpoint").join("state.safetensors")
}

pub fn save(session_dir: &Path, state: &ResumeState) -> Result<()> {
    let file = path(session_dir);
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(&file, &state.to_bytes()?)
}

/// The session's checkpoint, `None` when it has none yet.
pub fn load(session_dir: &Path, device: &Device) -> Result<Option<ResumeState>> {
    let file = path(session_dir);
    match fs::read(&file) {
        Ok(bytes) => ResumeState::from_bytes(&bytes, device, &file).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&file, e)),
    }
}

/// Removes the checkpoint (after the session finished or restarts from scratch).
pub fn remove(session_dir: &Path) -> Result<()> {
    let dir = session_dir.join("checkpoint");
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&dir, e)),
    }
}
