//! Motion between source frames: optical flow in both directions and Ruder et al.'s reliability
//! mask, either computed with DIS (`crate::flow`) or read from `.flo` files another tool wrote
//! (`--flow-dir`, artistic-videos' names).
//!
//! Frames are numbered from 1 in file names, as artistic-videos does: `backward_{t}_{s}.flo` is
//! the flow from frame `t` to the earlier frame `s` (for each pixel of `t`, where it was in `s`),
//! `forward_{s}_{t}.flo` the flow from `s` to `t`.

use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::engine::settings::FlowQuality;
use crate::error::{Error, Result};
use crate::flow::{self, Flow, Gray, Quality};

/// How frame `t` relates to an earlier frame `s`.
pub struct Motion {
    /// For each pixel of `t`, the displacement to its place in `s`.
    pub back: Flow,
    /// 1 where `back` is trustworthy (forward-backward consistent, no motion boundary), else 0.
    pub mask: Vec<f32>,
}

/// Where flows come from.
pub enum FlowSource {
    Computed(Quality),
    Files(PathBuf),
}

impl FlowSource {
    pub fn computed(quality: FlowQuality) -> Self {
        FlowSource::Computed(quality_of(quality))
    }

    /// The motion from frame `t` (grey `gt`) back to frame `s` (grey `gs`); 0-based frame
    /// numbers, which name the files of [`FlowSource::Files`].
    pub fn motion(&self, gt: &Gray, gs: &Gray, t: usize, s: usize) -> Result<Motion> {
        let (back, fwd, known) = match self {
            FlowSource::Computed(q) => {
                let (back, fwd) = rayon::join(|| flow::dis(gt, gs, *q), || flow::dis(gs, gt, *q));
                (back, fwd, None)
            }
            FlowSource::Files(dir) => {
                let (w, h) = (gt.width, gt.height);
                let (bp, fp) = flow_file_names(dir, t, s);
                let (back, known) = read_sized(&bp, w, h)?;
                (back, read_sized(&fp, w, h)?.0, Some(known))
            }
        };
        let mut mask = flow::reliability(&back, &fwd);
        // Vectors a file marks unknown (the format's 1e9 convention) are never trusted.
        for (m, k) in mask.iter_mut().zip(known.iter().flatten()) {
            if !k {
                *m = 0.0;
            }
        }
        Ok(Motion { back, mask })
    }
}

/// The engine's quality names mapped onto the flow module's presets.
pub fn quality_of(q: FlowQuality) -> Quality {
    match q {
        FlowQuality::Ultrafast => Quality::Ultrafast,
        FlowQuality::Fast => Quality::Fast,
        FlowQuality::Medium => Quality::Medium,
        FlowQuality::Fine => Quality::Fine,
    }
}

/// `(backward_{t}_{s}.flo, forward_{s}_{t}.flo)` for 0-based frames `t` and `s`.
pub fn flow_file_names(dir: &Path, t: usize, s: usize) -> (PathBuf, PathBuf) {
    (dir.join(format!("backward_{}_{}.flo", t + 1, s + 1)), dir.join(format!("forward_{}_{}.flo", s + 1, t + 1)))
}

/// Checks, before any work starts, that `dir` holds every flow a clip of `frames` frames of
/// `width`x`height` needs for the frame distances in `distances`, each with the right size.
pub fn check_flow_dir(dir: &Path, frames: usize, width: usize, height: usize, distances: &[u32]) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::input(dir, "the flow folder does not exist"));
    }
    for t in 1..frames {
        for &d in distances {
            let Some(s) = t.checked_sub(d as usize) else { continue };
            let (bp, fp) = flow_file_names(dir, t, s);
            for p in [bp, fp] {
                let (w, h) = read_flo_size(&p)?;
                if (w, h) != (width, height) {
                    return Err(Error::input(
                        &p,
                        format!(
                            "the flow is {w}x{h}, the frames are {width}x{height} (compute it at the working size)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The width and height a Middlebury `.flo` header declares (magic 202021.25, then two i32).
fn read_flo_size(path: &Path) -> Result<(usize, usize)> {
    use std::io::Read;
    let mut header = [0u8; 12];
    let mut file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "missing flow file"),
        _ => Error::io(path, e),
    })?;
    file.read_exact(&mut header).map_err(|_| Error::input(path, "not a .flo file (shorter than its header)"))?;
    let word = |i: usize| [header[i], header[i + 1], header[i + 2], header[i + 3]];
    if f32::from_le_bytes(word(0)) != 202021.25 {
        return Err(Error::input(path, "not a .flo file (bad magic number)"));
    }
    let (w, h) = (i32::from_le_bytes(word(4)), i32::from_le_bytes(word(8)));
    if w <= 0 || h <= 0 {
        return Err(Error::input(path, format!("not a .flo file (size {w}x{h})")));
    }
    Ok((w as usize, h as usize))
}

/// A `.flo` problem as the crate's error (the flow module's messages already start with the path).
pub fn flo_error(path: &Path, e: flow::FlowFileError) -> Error {
    match e {
        flow::FlowFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::input(path, "missing flow file")
        }
        flow::FlowFileError::Io { source, .. } => Error::io(path, source),
        e => {
            let text = e.to_string();
            let prefix = format!("{}: ", path.display());
            Error::input(path, text.strip_prefix(&prefix).unwrap_or(&text).to_string())
        }
    }
}

/// A flow file of the frames' size, with which of its vectors are known.
fn read_sized(path: &Path, w: usize, h: usize) -> Result<(Flow, Vec<bool>)> {
    let (f, known) = flow::read_flo_known(path).map_err(|e| flo_error(path, e))?;
    if (f.width, f.height) != (w, h) {
        return Err(Error::input(path, format!("the flow is {}x{}, the frames are {w}x{h}", f.width, f.height)));
    }
    Ok((f, known))
}

/// Grey versions of every frame, for the flow.
pub fn grays(frames: &[&RgbImage]) -> Vec<Gray> {
    frames.iter().map(|f| Gray::from_rgb8(f)).collect()
}

/// Ruder et al.'s long-term weights (eq. 8): for distances sorted closest first, frame `j`'s mask
/// keeps only the pixels no closer frame already covers: `max(0, c_j − Σ_{k closer} c_k)`.
pub fn long_term_weights(masks: &[&[f32]]) -> Vec<Vec<f32>> {
    let n = masks.first().map_or(0, |m| m.len());
    let mut covered = vec![0.0f32; n];
    masks
        .iter()
        .map(|m| {
            let w: Vec<f32> = m.iter().zip(&covered).map(|(&c, &k)| (c - k).max(0.0)).collect();
            for (k, &c) in covered.iter_mut().zip(m.iter()) {
                *k += c;
            }
            w
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_term_weights_keep_what_closer_frames_miss() {
        // Closest first: frame 1 reliable at pixels 0 and 1; frame 10 at 1 and 2; frame 20 at all.
        // Frame 10 keeps pixel 2 only (pixel 1 is frame 1's); frame 20 keeps pixel 3 only.
        let m1 = [1.0, 1.0, 0.0, 0.0];
        let m10 = [0.0, 1.0, 1.0, 0.0];
        let m20 = [1.0, 1.0, 1.0, 1.0];
        let w = long_term_weights(&[&m1, &m10, &m20]);
        assert_eq!(w[0], vec![1.0, 1.0, 0.0, 0.0]);
        assert_eq!(w[1], vec![0.0, 0.0, 1.0, 0.0]);
        assert_eq!(w[2], vec![0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn flow_names_follow_artistic_videos() {
        let (b, f) = flow_file_names(Path::new("d"), 4, 3);
        assert_eq!(b, Path::new("d/backward_5_4.flo"));
        assert_eq!(f, Path::new("d/forward_4_5.flo"));
    }
}
