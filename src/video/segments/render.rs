//! Rendering one segment of a plan: the frames `start - preroll .. end` of the source, the
//! preroll kept apart in `warmup/IIII/` (the stitch crossfades its last frames into the segment
//! before) and the segment's own frames saved into the plan's `frames/`. Frames on
//! disk are skipped, so a rerun (a requeued array task) continues where the last one stopped and
//! writes the same bytes: the plan fixes every setting and the seed, and the engine is
//! deterministic.

use std::ops::ControlFlow;
use std::path::Path;

use image::Rgb32FImage;

use super::lock::SegmentLock;
use super::plan::{same_file, Plan};
use crate::engine::{StyleInput, Vgg};
use crate::error::{Error, Result};
use crate::video::decode::Frames;
use crate::video::job::{render, FrameRange, RenderSpec, Rendered, VideoEvent};

/// Environment variables that carry a segment index, tried in this order: SLURM array tasks,
/// then Kubernetes Indexed Jobs.
pub const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

/// The segment to render: `given`, else the first of [`INDEX_VARIABLES`] that is set (`env`
/// looks a variable up). A usage error when none is, or a variable is not a number.
pub fn segment_index(given: Option<usize>, env: &dyn Fn(&str) -> Option<String>) -> Result<usize> {
    if let Some(i) = given {
        return Ok(i);
    }
    for name in INDEX_VARIABLES {
        if let Some(value) = env(name) {
            return value.trim().parse().map_err(|_| {
                Error::Usage(format!("{name}={}: not a segment number", crate::util::text::escape_controls(&value)))
            });
        }
    }
    Err(Error::Usage(format!(
        "which segment? give --segment I (or run as an array task: {})",
        INDEX_VARIABLES.join(", ")
    )))
}

impl Plan {
    /// Checks the source, style and init images are the ones the plan was made from (by hash):
    /// a frame rendered from anything else would not match its neighbours.
    pub fn check_inputs(&self) -> Result<()> {
        same_file(&self.source, &self.source_sha256, "the source clip")?;
        for (style, sha) in self.settings.styles.iter().zip(&self.style_sha256) {
            same_file(&style.path, sha, "a style image")?;
        }
        if let (Some(init), Some(sha)) = (&self.settings.init_file, &self.init_sha256) {
            same_file(init, sha, "the init image")?;
        }
        Ok(())
    }

    /// Checks `weights` is the file the plan was made with.
    pub fn check_weights(&self, weights: &Path) -> Result<()> {
        same_file(weights, &self.weights_sha256, "the weights")
    }
}

/// What a segment render needs besides the plan: the network and the loaded images.
pub struct SegmentInputs<'a> {
    pub net: &'a Vgg,
    pub styles: &'a [StyleInput],
    pub init_image: Option<&'a Rgb32FImage>,
}

/// Renders segment `index` of the plan in `dir` (see the module doc). The caller has checked the
/// inputs ([`Plan::check_inputs`], [`Plan::check_weights`]).
pub fn render_segment(
    dir: &Path,
    plan: &Plan,
    index: usize,
    inputs: &SegmentInputs,
    on_event: &mut dyn FnMut(VideoEvent) -> ControlFlow<()>,
) -> Result<Rendered> {
    let segment = plan.segment(index)?;
    let _lock = SegmentLock::acquire(dir, index)?;
    let mut clip = Frames::open(&plan.source, plan.settings.size)?;
    if clip.info().size != (plan.width, plan.height) {
        let (w, h) = clip.info().size;
        return Err(Error::input(
            &plan.source,
            format!("decodes to {w}x{h} frames here, the plan's are {}x{}", plan.width, plan.height),
        ));
    }
    let kept = Plan::frames_dir(dir);
    let warmup = Plan::warmup_dir(dir, index);
    for d in [&kept, &warmup] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    let spec = RenderSpec {
        styles: inputs.styles,
        settings: &plan.settings,
        init_image: inputs.init_image,
        range: FrameRange {
            first: segment.start.saturating_sub(plan.preroll),
            keep_from: segment.start,
            end: segment.end,
        },
        frames: plan.frames as u32,
        kept: &kept,
        warmup: &warmup,
    };
    // The warm-up frames stay: the stitch blends the last of them into the segment before
    // (`Plan::crossfade`), and a rerun starts from the first frame missing anywhere in the range.
    render(inputs.net, &mut clip, &spec, on_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_comes_from_the_flag_then_slurm_then_kubernetes() {
        let none = |_: &str| None;
        let slurm = |n: &str| (n == "SLURM_ARRAY_TASK_ID").then(|| "3".to_string());
        let both = |n: &str| match n {
            "SLURM_ARRAY_TASK_ID" => Some("5".to_string()),
            "JOB_COMPLETION_INDEX" => Some("7".to_string()),
            _ => None,
        };
        let k8s = |n: &str| (n == "JOB_COMPLETION_INDEX").then(|| "2\n".to_string());
        assert_eq!(segment_index(Some(1), &both).unwrap(), 1);
        assert_eq!(segment_index(None, &slurm).unwrap(), 3);
        assert_eq!(segment_index(None, &both).unwrap(), 5);
        assert_eq!(segment_index(None, &k8s).unwrap(), 2);
        assert!(segment_index(None, &none).is_err());
        let bad = |n: &str| (n == "SLURM_ARRAY_TASK_ID").then(|| "x\u{1b}[2J".to_string());
        let e = segment_index(None, &bad).unwrap_err().to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID") && !e.contains('\u{1b}'), "{e}");
    }
}
