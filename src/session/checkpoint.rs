//! `checkpoint/state.safetensors`: the [`ResumeState`] of a session, replaced atomically, so
//! there is always either the previous checkpoint or the new one, never half of one.

use std::fs;
use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::engine::tensor_image::fit_long_side;
use crate::engine::{ResumeState, Settings};
use crate::error::{Error, Result};

pub fn path(session_dir: &Path) -> PathBuf {
    session_dir.join("checkpoint").join("state.safetensors")
}

pub fn save(session_dir: &Path, state: &ResumeState) -> Result<()> {
    let file = path(session_dir);
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(crate::util::fs::write_atomic_with(&file, |w| state.write_to(w))?)
}

/// The session's checkpoint, `None` when it has none yet.
pub fn load(session_dir: &Path, device: &Device) -> Result<Option<ResumeState>> {
    let file = path(session_dir);
    // Read a tensor at a time: a 4096x3072 L-BFGS state is 1.6 GB.
    let f = match fs::File::open(&file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&file, e)),
    };
    let len = f.metadata().map_err(|e| Error::io(&file, e))?.len();
    ResumeState::read_from(&mut std::io::BufReader::new(f), len, device, &file).map(Some)
}

/// The session's checkpoint when it is one this session can continue from: every tensor finite,
/// the image of the size its scale needs (for content `content_w` x `content_h`), the optimiser's
/// tensors of the image's shape, and a position inside the schedule. `Err` names the file and
/// what is wrong (a damaged file included); the caller then starts over rather than continue
/// from it.
pub fn load_checked(
    session_dir: &Path,
    device: &Device,
    settings: &Settings,
    (content_w, content_h): (u32, u32),
) -> Result<Option<ResumeState>> {
    let Some(state) = load(session_dir, device)? else { return Ok(None) };
    sane(&state, settings, content_w, content_h).map_err(|m| Error::input(path(session_dir), m))?;
    Ok(Some(state))
}

fn sane(state: &ResumeState, settings: &Settings, content_w: u32, content_h: u32) -> std::result::Result<(), String> {
    let sizes = settings.scale_sizes();
    let Some(&size) = sizes.get(state.scale as usize) else {
        return Err(format!("it is at scale {} but the schedule has {}", state.scale + 1, sizes.len()));
    };
    if state.done_in_scale > settings.iterations
        || state.iteration != state.scale * settings.iterations + state.done_in_scale
    {
        return Err(format!(
            "its position (iteration {}, {} done at scale {}) is not in this schedule",
            state.iteration,
            state.done_in_scale,
            state.scale + 1
        ));
    }
    let (w, h) = fit_long_side(content_w, content_h, size);
    let want = [1, 3, h as usize, w as usize];
    let mut tensors: Vec<(String, &candle_core::Tensor)> = vec![("image".into(), &state.image)];
    tensors.extend(state.adam_m.iter().map(|t| ("adam.m".to_string(), t)));
    tensors.extend(state.adam_v.iter().map(|t| ("adam.v".to_string(), t)));
    for (i, (s, y, _)) in state.lbfgs.iter().enumerate() {
        tensors.push((format!("lbfgs.{i}.s"), s));
        tensors.push((format!("lbfgs.{i}.y"), y));
    }
    for (name, t) in tensors {
        if t.dims() != want {
            return Err(format!("{name} is {:?}; scale {} needs {want:?}", t.dims(), state.scale + 1));
        }
        let values: Vec<f64> = t
            .flatten_all()
            .and_then(|t| t.to_dtype(candle_core::DType::F64))
            .and_then(|t| t.to_vec1())
            .map_err(|e| format!("{name}: {e}"))?;
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(format!("{name} holds {bad}"));
        }
    }
    if let Some((i, rho)) = state.lbfgs.iter().enumerate().find(|(_, p)| !p.2.is_finite()) {
        return Err(format!("lbfgs pair {i} has rho {}", rho.2));
    }
    if !state.seconds.is_finite() || state.seconds < 0.0 {
        return Err(format!("its clock is {}", state.seconds));
    }
    Ok(())
}

/// Moves a refused checkpoint aside (`state.safetensors.refused`, kept to inspect), so the
/// session starts over without it.
pub fn set_aside(session_dir: &Path) -> Result<()> {
    let file = path(session_dir);
    let aside = file.with_file_name("state.safetensors.refused");
    match fs::rename(&file, &aside) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
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
