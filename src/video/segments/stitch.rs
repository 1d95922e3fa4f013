//! Stitching a finished plan: every frame checked present (missing ones named, by segment) and
//! then encoded at the source's timestamps with its audio, as `brushwork video` does.

use std::path::Path;

use super::plan::Plan;
use super::status::missing_frames;
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
    crate::video::init()?;
    let streams = check_output(&plan.source, output)?;
    let mut warnings = streams.warnings;
    let spec = EncodeSpec {
        source: &plan.source,
        time_base: ffmpeg_next::Rational(plan.time_base.0, plan.time_base.1),
        frame_rate: ffmpeg_next::Rational(plan.frame_rate.0, plan.frame_rate.1),
    };
    let size = (plan.width, plan.height);
    let (encoder, more) =
        encode(output, &spec, size, &plan.timestamps, &mut |k| load_frame(&Plan::kept_frame(dir, k), size))?;
    warnings.extend(more);
    Ok((encoder, warnings))
}
