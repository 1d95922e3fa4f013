//! The frame loop: stylise every frame of a decoded clip, warm-starting each from the previous
//! stylised frame (moved along the optical flow with `warm_start = "warped"`, with a temporal loss
//! when `temporal_weight` > 0), keep finished frames in a work folder so a killed job resumes,
//! score each frame's warping error against the source's, then encode.
//!
//! Every frame after the first starts from, and is held to, the *saved* 8-bit frames before it
//! (not the optimiser's floats), and flows are recomputed deterministically, so a resumed job
//! produces the same frames as one that was never interrupted.
//!
//! The work folder is `<output dir>/.<output name>.frames/`: `recipe.toml` (what the frames were
//! made from) and `000001.png`, `000002.png`, ... A rerun with the same recipe continues at the
//! first missing frame; with another recipe the folder is started over. It is removed once the
//! video is written.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb32FImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::decode::Clip;
use super::encode::{encode, EncodeSpec};
use super::flicker::flicker;
use super::motion::{self, FlowSource, Motion};
use super::output::check_output;
pub use super::report::FrameReport;
use super::warp_error::Grader;
use crate::engine::objective::LossParts;
use crate::engine::settings::WarmStart;
use crate::engine::{stylize_cached, Progress, Settings, StyleCache, StyleInput, StylizeJob, TemporalImages, Vgg};
use crate::error::{Error, Result};
use crate::flow::{self, Gray};
use crate::imageio::{load_rgb, save_png, to_rgb8};
use crate::util::fs::write_atomic;

/// Everything a video job needs besides the network and the decoded clip.
pub struct VideoJob<'a> {
    /// The source file (its audio is copied).
    pub input: &'a Path,
    pub output: &'a Path,
    pub styles: &'a [StyleInput],
    /// The resolved preset; `size` is the output's long side.
    pub settings: &'a Settings,
    /// Start image of cold-started frames when `init = "file"`.
    pub init_image: Option<&'a Rgb32FImage>,
    /// What the frames are made from, kept in the work folder; a work folder made from another
    /// recipe is started over.
    pub recipe: FramesRecipe,
    /// Where finished frames are kept (see [`work_dir`] for the default next to the output).
    pub work_dir: PathBuf,
    /// Keep the frames after the video is written (a session keeps them in its `frames/`).
    pub keep_frames: bool,
}

/// What a work folder's frames were made from, kept as its `recipe.toml`: serialised by serde,
/// so any path TOML can hold (quotes, backslashes, any Unicode) is written and read back as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FramesRecipe {
    /// The source clip.
    pub content: PathBuf,
    pub weights: PathBuf,
    /// The resolved preset, style images included.
    pub settings: Settings,
}

impl FramesRecipe {
    /// The `recipe.toml` text; an error (never an empty recipe, which would match another job's)
    /// when it cannot be written.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Internal(format!("cannot write the frames' recipe: {e}")))
    }

    pub fn from_toml(text: &str) -> std::result::Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// What a running job reports.
pub enum VideoEvent<'a> {
    /// Decoding is done; `resumed` frames were taken from the work folder.
    Started { frames: u32, resumed: u32, size: (u32, u32), work_dir: &'a Path },
    /// One optimiser iteration of frame `frame` (1-based).
    Iteration { frame: u32, frames: u32, progress: &'a Progress },
    /// A frame is finished and saved (the stylised frame as 8-bit RGB).
    Frame(FrameReport, &'a RgbImage),
    /// A message for the user (encoder fallback, dropped subtitles, an orientation not honoured).
    Note(String),
}

/// A finished video.
#[derive(Debug, Clone)]
pub struct VideoOutput {
    pub frames: u32,
    pub resumed: u32,
    pub size: (u32, u32),
    /// Losses of the last frame stylised in this run (zero if every frame was resumed).
    pub losses: LossParts,
    /// Mean flicker over the frames after the first.
    pub mean_flicker: f64,
    /// Mean warping error of the output and of the source over the frames scored in this run.
    pub mean_warp_error: Option<f64>,
    pub mean_source_warp_error: Option<f64>,
    pub encoder: String,
    pub seconds: f64,
}

/// The work folder for `output`: `<dir>/.<name>.frames`.
pub fn work_dir(output: &Path) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.frames"))
}

fn frame_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("{:06}.png", k + 1))
}

/// Stylises every frame of `clip` and writes the video. See the module doc for the work folder.
/// `on_event` returning `Break` (on an iteration) stops the job with [`Error::Cancelled`]; the
/// finished frames stay in the work folder for a resume.
pub fn run(
    net: &Vgg,
    clip: &Clip,
    job: &VideoJob,
    on_event: &mut dyn FnMut(VideoEvent) -> ControlFlow<()>,
) -> Result<VideoOutput> {
    let start = Instant::now();
    // The output is checked before the first frame, not after hours of work.
    let streams = check_output(job.input, job.output)?;
    for w in clip.warnings.iter().chain(&streams.warnings) {
        let _ = on_event(VideoEvent::Note(w.clone()));
    }
    let n = clip.frames.len();
    let frames = n as u32;
    let mut settings = job.settings.clone();
    settings.size = clip.size.0.max(clip.size.1);
    let mut warm = settings.clone();
    warm.iterations = settings.frame_iterations;
    warm.scales = 1;
    let dir = job.work_dir.clone();
    let done = prepare_work_dir(&dir, &job.recipe.to_toml()?)?;
    let mut outs: Vec<RgbImage> = Vec::with_capacity(n);
    for k in 0..n.min(done) {
        match load_rgb(&frame_path(&dir, k)) {
            Ok(img) if img.dimensions() == clip.size => outs.push(to_rgb8(&img)),
            _ => break,
        }
    }
    let resumed = outs.len();
    let _ = on_event(VideoEvent::Started { frames, resumed: resumed as u32, size: clip.size, work_dir: &dir });
    let plan = FramePlan::new(&settings);
    let sources: Vec<&RgbImage> = clip.frames.iter().map(|f| &f.image).collect();
    let grays = motion::grays(&sources);
    let mut cache = StyleCache::default();
    let mut losses = LossParts::default();
    let (mut flickers, mut scores, mut floors) = (Vec::new(), Vec::new(), Vec::new());
    for k in resumed..n {
        let frame_start = Instant::now();
        let source = &clip.frames[k].image;
        let content = image::DynamicImage::ImageRgb8(source.clone()).to_rgb32f();
        let start_image = plan.start(&grays, &outs, &content, k)?;
        let (s, init) = match start_image.as_ref().and_then(|s| s.init.as_ref()) {
            Some(init) => (&warm, Some(init)),
            None => (&settings, job.init_image),
        };
        let temporal = start_image.as_ref().map(|s| &s.temporal);
        let sj =
            StylizeJob { content: &content, styles: job.styles, init_image: init, settings: s, resume: None, temporal };
        let frame = k as u32 + 1;
        let out = stylize_cached(net, &sj, &mut cache, &mut |p, _| {
            on_event(VideoEvent::Iteration { frame, frames, progress: p })
        })?;
        save_png(&frame_path(&dir, k), &out.image, &[])?;
        let rgb = to_rgb8(&out.image);
        let (f, warp_error, source_warp_error) = match (k.checked_sub(1), outs.last()) {
            (Some(j), Some(prev_out)) => {
                let prev_in = &clip.frames[j].image;
                let grader = Grader::new(&grays[j], &grays[k]);
                (
                    flicker(prev_out.as_raw(), rgb.as_raw(), prev_in.as_raw(), source.as_raw()),
                    grader.score(prev_out, &rgb),
                    grader.score(prev_in, source),
                )
            }
            _ => (0.0, None, None),
        };
        if k > 0 {
            flickers.push(f);
        }
        scores.extend(warp_error);
        floors.extend(source_warp_error);
        losses = out.losses;
        let report = FrameReport {
            frame,
            frames,
            iterations: out.iterations,
            evaluations: out.evaluations,
            losses,
            flicker: f,
            warp_error,
            source_warp_error,
            seconds: frame_start.elapsed().as_secs_f64(),
            elapsed: start.elapsed().as_secs_f64(),
        };
        let _ = on_event(VideoEvent::Frame(report, &rgb));
        outs.push(rgb);
    }
    let spec = EncodeSpec { source: job.input, time_base: clip.time_base, frame_rate: clip.frame_rate };
    let list: Vec<(&RgbImage, i64)> = outs.iter().zip(&clip.frames).map(|(o, f)| (o, f.pts)).collect();
    let (encoder, warnings) = encode(job.output, &spec, &list)?;
    for w in warnings {
        let _ = on_event(VideoEvent::Note(w));
    }
    if !job.keep_frames {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let mean_flicker = mean(&flickers).unwrap_or(0.0);
    Ok(VideoOutput {
        frames,
        resumed: resumed as u32,
        size: clip.size,
        losses,
        mean_flicker,
        mean_warp_error: mean(&scores),
        mean_source_warp_error: mean(&floors),
        encoder,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// How a frame after the first starts: its init image and its temporal term.
struct FrameStart {
    /// `None`: the frame runs like the first (cold), only with the temporal term.
    init: Option<Rgb32FImage>,
    temporal: TemporalImages,
}

/// What the settings ask of frames after the first: warm starts, flows, temporal terms.
struct FramePlan {
    warm_start: WarmStart,
    temporal_weight: f64,
    /// Frame distances of the temporal loss, closest first.
    distances: Vec<u32>,
    flows: FlowSource,
}

impl FramePlan {
    fn new(settings: &Settings) -> Self {
        let mut distances = settings.temporal_frames.clone();
        distances.sort_unstable();
        distances.dedup();
        let flows = match settings.flow_dir.clone() {
            Some(d) => FlowSource::Files(d),
            None => FlowSource::computed(settings.flow_quality),
        };
        Self { warm_start: settings.warm_start, temporal_weight: settings.temporal_weight, distances, flows }
    }

    /// `None`: frame `k` runs like the first (frame 1, or `warm_start = "none"` without a
    /// temporal term).
    fn start(&self, grays: &[Gray], outs: &[RgbImage], content: &Rgb32FImage, k: usize) -> Result<Option<FrameStart>> {
        let Some(prev) = k.checked_sub(1).and_then(|j| outs.get(j)) else { return Ok(None) };
        let temporal_on = self.temporal_weight > 0.0;
        if self.warm_start == WarmStart::None && !temporal_on {
            return Ok(None);
        }
        let prev = image::DynamicImage::ImageRgb8(prev.clone()).to_rgb32f();
        let need_flow = self.warm_start == WarmStart::Warped || temporal_on;
        if !need_flow {
            return Ok(Some(FrameStart { init: Some(prev), temporal: TemporalImages::default() }));
        }
        // Motions back to each earlier frame the temporal term (or the warped start) looks at.
        let distances: Vec<u32> = if temporal_on { self.distances.clone() } else { vec![1] };
        let mut motions: Vec<(usize, Motion)> = Vec::new();
        for &d in &distances {
            if let Some(s) = k.checked_sub(d as usize) {
                motions.push((s, self.flows.motion(grays, k, s)?));
            }
        }
        let warped: Vec<Rgb32FImage> = motions
            .iter()
            .map(|(s, m)| {
                let earlier = if *s == k - 1 {
                    prev.clone()
                } else {
                    image::DynamicImage::ImageRgb8(outs[*s].clone()).to_rgb32f()
                };
                flow::warp_rgb32f(&earlier, &m.back)
            })
            .collect();
        let init = match self.warm_start {
            WarmStart::Warped => match (motions.first(), warped.first()) {
                (Some((s, m)), Some(w)) if *s == k - 1 => Some(fill_unreliable(w, content, &m.mask)),
                _ => Some(prev.clone()),
            },
            WarmStart::Previous => Some(prev.clone()),
            WarmStart::None => None,
        };
        let temporal = if temporal_on {
            let masks: Vec<&[f32]> = motions.iter().map(|(_, m)| m.mask.as_slice()).collect();
            let weights = motion::long_term_weights(&masks);
            TemporalImages { weight: self.temporal_weight, targets: warped.into_iter().zip(weights).collect() }
        } else {
            TemporalImages::default()
        };
        Ok(Some(FrameStart { init, temporal }))
    }
}

/// `warped` where `mask` says the flow is reliable, `content` elsewhere (disoccluded regions,
/// motion boundaries, pixels that came in from outside the frame).
fn fill_unreliable(warped: &Rgb32FImage, content: &Rgb32FImage, mask: &[f32]) -> Rgb32FImage {
    let mut out = warped.clone();
    for ((px, c), &m) in out.pixels_mut().zip(content.pixels()).zip(mask) {
        if m < 0.5 {
            *px = *c;
        }
    }
    out
}

/// Creates the work folder, or keeps it when its recipe matches; returns how many frames it may
/// hold (0 when it was started over).
fn prepare_work_dir(dir: &Path, recipe: &str) -> Result<usize> {
    let recipe_path = dir.join("recipe.toml");
    if dir.is_dir() {
        if std::fs::read_to_string(&recipe_path).is_ok_and(|r| r == recipe) {
            return Ok(usize::MAX);
        }
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(&recipe_path, recipe.as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frames_recipe_keeps_quotes_and_backslashes_in_paths() {
        let recipe = FramesRecipe {
            content: PathBuf::from(r#"/clips/say "hi" \ C:\x\.mp4"#),
            weights: PathBuf::from("/w/vgg \u{e9}\t \"quoted\".safetensors"),
            settings: Settings::default(),
        };
        let text = recipe.to_toml().unwrap();
        let back = FramesRecipe::from_toml(&text).unwrap();
        assert_eq!(back.content, recipe.content, "{text}");
        assert_eq!(back.weights, recipe.weights, "{text}");
        assert_eq!(back, recipe);
        // The same recipe is the same text: a rerun keeps the work folder.
        assert_eq!(back.to_toml().unwrap(), text);
    }

    #[test]
    fn a_recipe_with_other_settings_is_other_text() {
        let recipe = FramesRecipe { content: "a.mp4".into(), weights: "w".into(), settings: Settings::default() };
        let other = FramesRecipe {
            settings: Settings { seed: recipe.settings.seed + 1, ..Settings::default() },
            ..recipe.clone()
        };
        assert_ne!(recipe.to_toml().unwrap(), other.to_toml().unwrap());
    }
}
