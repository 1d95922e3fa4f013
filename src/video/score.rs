//! Scoring a finished clip against its source: the warping error of every frame after the first
//! (see [`super::warp_error`]) for the output and for the source, so any tool's result can be
//! compared with brushwork's, and with the floor the source itself sets.

use std::path::Path;

use super::decode::{decode, NATIVE};
use super::warp_error::Grader;
use crate::error::{Error, Result};
use crate::flow::Gray;

/// One scored frame (1-based, from 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameWarp {
    pub frame: u32,
    pub output: Option<f64>,
    pub source: Option<f64>,
}

/// The figures of a whole clip.
#[derive(Debug, Clone)]
pub struct ClipScore {
    pub size: (u32, u32),
    pub output_frames: usize,
    pub source_frames: usize,
    /// `min(output_frames, source_frames)`: frames are paired in order.
    pub compared: usize,
    pub frames: Vec<FrameWarp>,
    pub mean_output: Option<f64>,
    pub mean_source: Option<f64>,
}

/// Decodes `output` at its own size and `source` at the same size, and scores them.
pub fn score_clip(output: &Path, source: &Path) -> Result<ClipScore> {
    super::init()?;
    let out = decode(output, NATIVE)?;
    let src = decode(source, out.size.0.max(out.size.1))?;
    if src.size != out.size {
        return Err(Error::input(
            source,
            format!(
                "at the output's size the source is {}x{}, the output {}x{}: not the same picture shape",
                src.size.0, src.size.1, out.size.0, out.size.1
            ),
        ));
    }
    let compared = out.frames.len().min(src.frames.len());
    let grays: Vec<Gray> = src.frames[..compared].iter().map(|f| Gray::from_rgb8(&f.image)).collect();
    let frames: Vec<FrameWarp> = (1..compared)
        .map(|t| {
            let grader = Grader::new(&grays[t - 1], &grays[t]);
            FrameWarp {
                frame: t as u32 + 1,
                output: grader.score(&out.frames[t - 1].image, &out.frames[t].image),
                source: grader.score(&src.frames[t - 1].image, &src.frames[t].image),
            }
        })
        .collect();
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(ClipScore {
        size: out.size,
        output_frames: out.frames.len(),
        source_frames: src.frames.len(),
        compared,
        mean_output: mean(frames.iter().filter_map(|f| f.output).collect()),
        mean_source: mean(frames.iter().filter_map(|f| f.source).collect()),
        frames,
    })
}
