//! Stitching a finished plan: every frame checked present (missing ones named, by segment) and
//! then encoded at the source's timestamps with its audio, as `brushwork video` does. At each
//! seam the frames both segments rendered (the later one's warm-up) are crossfaded
//! ([`Plan::crossfade`]).

use std::path::Path;

use image::RgbImage;

use super::plan::{crossfade_weight, Plan};
use super::status::{missing_crossfade, missing_frames};
use crate::error::{Error, Result};
use crate::video::encode::{encode, EncodeSpec};
use crate::video::job::load_frame;
use crate::video::output::check_output;

/// Encodes the plan's frames into `output`. Refused before any encoding when a frame is missing
/// ([`Error::Unfinished`], naming the frames and their segments); a frame that is damaged or of
/// another size is named when it is reached, and the output is then not written (the encoder
/// writes to a temporary name).
pub fn stitch(dir: &Path, plan: &Plan, output: &Path) -> Result<(String, Vec<String>)> {
    let missing = missing_frames(dir, plan);
    if !missing.is_empty() {
        let count: usize = missing.iter().map(|(a, b)| b - a + 1).sum();
        let shown: Vec<String> = missing
            .iter()
            .take(8)
            .map(|&(a, b)| {
                let segment = plan.segment_of(a - 1);
                let frames = if a == b { format!("frame {a}") } else { format!("frames {a}–{b}") };
                format!("{frames} (segment {segment})")
            })
            .collect();
        let more = if missing.len() > 8 { ", ..." } else { "" };
        return Err(Error::Unfinished {
            path: dir.to_path_buf(),
            message: format!(
                "{count} of {} frames are not rendered yet: {}{more}; `brushwork video status` lists the segments to run",
                plan.frames,
                shown.join(", ")
            ),
        });
    }
    let missing = missing_crossfade(dir, plan);
    if let Some(&(segment, frame)) = missing.first() {
        let mut segments: Vec<usize> = missing.iter().map(|m| m.0).collect();
        segments.dedup();
        return Err(Error::Unfinished {
            path: Plan::warmup_dir(dir, segment),
            message: format!(
                "{} warm-up frames blended at the seams are missing (the first: frame {frame} of segment {segment}); \
                 render segment{} {} again",
                missing.len(),
                if segments.len() > 1 { "s" } else { "" },
                super::status::index_list(&segments)
            ),
        });
    }
    crate::video::init()?;
    let streams = check_output(&plan.source, output)?;
    let mut warnings = streams.warnings;
    let spec = EncodeSpec {
        source: &plan.source,
        time_base: ffmpeg_next::Rational(plan.time_base.0, plan.time_base.1),
        frame_rate: ffmpeg_next::Rational(plan.frame_rate.0, plan.frame_rate.1),
    };
    let size = (plan.width, plan.height);
    let (encoder, more) = encode(output, &spec, size, &plan.timestamps, &mut |k| stitched_frame(dir, plan, k))?;
    warnings.extend(more);
    Ok((encoder, warnings))
}

/// Frame `k` of the stitched clip: the kept frame, blended at a seam with the later segment's
/// warm-up render of it.
fn stitched_frame(dir: &Path, plan: &Plan, k: usize) -> Result<RgbImage> {
    let size = (plan.width, plan.height);
    let kept = load_frame(&Plan::kept_frame(dir, k), size)?;
    let next = plan.segment_of(k) + 1;
    let range = plan.crossfade(next);
    if !range.contains(&k) {
        return Ok(kept);
    }
    let warm = load_frame(&Plan::warmup_frame(dir, next, k), size)?;
    Ok(blend(&kept, &warm, crossfade_weight(&range, k)))
}

/// `(1 − t)·a + t·b` per channel, rounded to the nearest level.
pub fn blend(a: &RgbImage, b: &RgbImage, t: f32) -> RgbImage {
    let mut out = a.clone();
    for (o, &v) in out.iter_mut().zip(b.iter()) {
        *o = ((1.0 - t) * f32::from(*o) + t * f32::from(v)).round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_by_hand() {
        // At t = 0.25: 0.75·0 + 0.25·200 = 50 and 0.75·10 + 0.25·11 = 10.25, rounded to 10;
        // at t = 0.5: 100 and 10.5, rounded away from zero to 11.
        let a = RgbImage::from_raw(2, 1, vec![0, 0, 0, 10, 10, 10]).unwrap();
        let b = RgbImage::from_raw(2, 1, vec![200, 200, 200, 11, 11, 11]).unwrap();
        assert_eq!(blend(&a, &b, 0.25).as_raw(), &vec![50, 50, 50, 10, 10, 10]);
        assert_eq!(blend(&a, &b, 0.5).as_raw(), &vec![100, 100, 100, 11, 11, 11]);
        assert_eq!(blend(&a, &b, 0.0).as_raw(), a.as_raw());
        assert_eq!(blend(&a, &b, 1.0).as_raw(), b.as_raw());
    }
}
