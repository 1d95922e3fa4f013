//! The frame loop: stylise every frame of a clip as it is decoded, warm-starting each from the previous
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

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb32FImage, RgbImage};
use serde::{Deserialize, Serialize};

use super::decode::{timestamps, Frames};
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
use crate::imageio::{save_png, to_rgb8};
use crate::util::fs::write_atomic;

/// Everything a video job needs besides the network.
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

/// Frame `k`'s file (0-based `k`, 1-based name) in `dir`.
pub fn frame_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("{:06}.png", k + 1))
}

/// Stylises every frame of `job.input` and writes the video. The clip is streamed: decoded one
/// frame at a time, each finished frame saved to the work folder (see the module doc) and the
/// video encoded from there, so memory does not grow with the clip. `on_event` returning `Break`
/// (on an iteration) stops the job with [`Error::Cancelled`]; the finished frames stay in the work
/// folder for a resume.
pub fn run(net: &Vgg, job: &VideoJob, on_event: &mut dyn FnMut(VideoEvent) -> ControlFlow<()>) -> Result<VideoOutput> {
    let start = Instant::now();
    // The output is checked before the first frame, not after hours of work.
    let streams = check_output(job.input, job.output)?;
    let (info, pts) = timestamps(job.input, job.settings.size)?;
    for w in info.warnings.iter().chain(&streams.warnings) {
        let _ = on_event(VideoEvent::Note(w.clone()));
    }
    let n = pts.len();
    let dir = job.work_dir.clone();
    prepare_work_dir(&dir, &job.recipe.to_toml()?)?;
    let mut clip = Frames::open(job.input, job.settings.size)?;
    let spec = RenderSpec {
        styles: job.styles,
        settings: job.settings,
        init_image: job.init_image,
        range: FrameRange { first: 0, keep_from: 0, end: n },
        frames: n as u32,
        kept: &dir,
        warmup: &dir,
    };
    let rendered = render(net, &mut clip, &spec, on_event)?;
    drop(clip);
    let encode_spec = EncodeSpec { source: job.input, time_base: info.time_base, frame_rate: info.frame_rate };
    let (encoder, warnings) =
        encode(job.output, &encode_spec, info.size, &pts, &mut |k| load_frame(&frame_path(&dir, k), info.size))?;
    for w in warnings {
        let _ = on_event(VideoEvent::Note(w));
    }
    if !job.keep_frames {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(VideoOutput {
        frames: n as u32,
        resumed: rendered.resumed,
        size: info.size,
        losses: rendered.losses,
        mean_flicker: mean(&rendered.flickers).unwrap_or(0.0),
        mean_warp_error: mean(&rendered.scores),
        mean_source_warp_error: mean(&rendered.floors),
        encoder,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Which frames a render covers (0-based, `first <= keep_from <= end`): it starts cold at
/// `first`, and frames before `keep_from` are a warm-up whose frames are kept apart (a segment's
/// preroll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRange {
    pub first: usize,
    pub keep_from: usize,
    pub end: usize,
}

/// What [`render`] needs besides the network and the clip.
pub struct RenderSpec<'a> {
    pub styles: &'a [StyleInput],
    /// The resolved preset; `size` is the output's long side.
    pub settings: &'a Settings,
    pub init_image: Option<&'a Rgb32FImage>,
    pub range: FrameRange,
    /// The clip's frame count (for the events).
    pub frames: u32,
    /// Where the kept frames go, and the warm-up frames (before `keep_from`).
    pub kept: &'a Path,
    pub warmup: &'a Path,
}

impl RenderSpec<'_> {
    fn path(&self, k: usize) -> PathBuf {
        frame_path(if k < self.range.keep_from { self.warmup } else { self.kept }, k)
    }
}

/// What a render did.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Kept frames found finished on disk.
    pub resumed: u32,
    /// Losses of the last frame stylised (zero if none was).
    pub losses: LossParts,
    pub flickers: Vec<f64>,
    pub scores: Vec<f64>,
    pub floors: Vec<f64>,
}

/// A frame the loop has passed and may look back to.
struct Past {
    k: usize,
    source: RgbImage,
    gray: Gray,
    out: RgbImage,
}

/// The frames the loop looks back to, newest last, at most `depth` of them.
struct Window {
    depth: usize,
    frames: VecDeque<Past>,
}

impl Window {
    fn push(&mut self, past: Past) {
        if self.frames.len() == self.depth {
            self.frames.pop_front();
        }
        self.frames.push_back(past);
    }

    fn get(&self, k: usize) -> Option<&Past> {
        self.frames.iter().find(|p| p.k == k)
    }
}

/// Stylises the frames of `spec.range` from `clip` (a stream at its first frame), each saved as
/// it is finished; frames already on disk are kept and the render continues at the first missing
/// one, from the saved frames before it. Only the frames the warm start, the temporal loss and
/// the scores look back to are held in memory.
pub fn render(
    net: &Vgg,
    clip: &mut Frames,
    spec: &RenderSpec,
    on_event: &mut dyn FnMut(VideoEvent) -> ControlFlow<()>,
) -> Result<Rendered> {
    let start = Instant::now();
    let FrameRange { first, keep_from, end } = spec.range;
    let size = clip.info().size;
    let mut settings = spec.settings.clone();
    settings.size = size.0.max(size.1);
    let mut warm = settings.clone();
    warm.iterations = settings.frame_iterations;
    warm.scales = 1;
    let plan = FramePlan::new(&settings);
    // The first frame of the range not on disk (warm-up frames included: a segment's are kept
    // for the stitch's crossfade); every frame before it is on disk, so the window it looks back
    // to is read from there.
    let missing = |k: &usize| !spec.path(*k).exists();
    let resume = (first..end).find(missing).unwrap_or(end);
    let mut rendered = Rendered { resumed: resume.saturating_sub(keep_from) as u32, ..Rendered::default() };
    let _ = on_event(VideoEvent::Started { frames: spec.frames, resumed: rendered.resumed, size, work_dir: spec.kept });
    if resume >= end {
        return Ok(rendered);
    }
    let mut window = Window { depth: plan.depth(), frames: VecDeque::new() };
    let mut cache = StyleCache::default();
    for k in 0..end {
        if k < first || k + window.depth < resume {
            clip.skip_frame()?.ok_or_else(|| ended_early(spec, k))?;
            continue;
        }
        let source = clip.next_frame()?.ok_or_else(|| ended_early(spec, k))?.image;
        let gray = Gray::from_rgb8(&source);
        if k < resume {
            let out = load_frame(&spec.path(k), size)?;
            window.push(Past { k, source, gray, out });
            continue;
        }
        let frame_start = Instant::now();
        let content = image::DynamicImage::ImageRgb8(source.clone()).to_rgb32f();
        let start_image = plan.start(&window, &gray, &content, k)?;
        let (s, init) = match start_image.as_ref().and_then(|s| s.init.as_ref()) {
            Some(init) => (&warm, Some(init)),
            None => (&settings, spec.init_image),
        };
        let temporal = start_image.as_ref().map(|s| &s.temporal);
        let sj = StylizeJob {
            content: &content,
            styles: spec.styles,
            init_image: init,
            settings: s,
            resume: None,
            temporal,
        };
        let (frame, frames) = (k as u32 + 1, spec.frames);
        let out = stylize_cached(net, &sj, &mut cache, &mut |p, _| {
            on_event(VideoEvent::Iteration { frame, frames, progress: p })
        })?;
        save_png(&spec.path(k), &out.image, &[])?;
        let rgb = to_rgb8(&out.image);
        let previous = k.checked_sub(1).and_then(|j| window.get(j));
        let (f, warp_error, source_warp_error) = match previous {
            Some(prev) => {
                let grader = Grader::new(&prev.gray, &gray);
                (
                    flicker(prev.out.as_raw(), rgb.as_raw(), prev.source.as_raw(), source.as_raw()),
                    grader.score(&prev.out, &rgb),
                    grader.score(&prev.source, &source),
                )
            }
            None => (0.0, None, None),
        };
        rendered.losses = out.losses;
        if k >= keep_from {
            if previous.is_some() {
                rendered.flickers.push(f);
            }
            rendered.scores.extend(warp_error);
            rendered.floors.extend(source_warp_error);
            let report = FrameReport {
                frame,
                frames,
                iterations: out.iterations,
                evaluations: out.evaluations,
                losses: out.losses,
                flicker: f,
                warp_error,
                source_warp_error,
                seconds: frame_start.elapsed().as_secs_f64(),
                elapsed: start.elapsed().as_secs_f64(),
            };
            let _ = on_event(VideoEvent::Frame(report, &rgb));
        }
        window.push(Past { k, source, gray, out: rgb });
    }
    Ok(rendered)
}

fn ended_early(spec: &RenderSpec, k: usize) -> Error {
    Error::Internal(format!("the clip ended at frame {}, before frame {} of {}", k + 1, spec.range.end, spec.frames))
}

/// A finished frame read back: a PNG of `size`. Anything else (truncated, damaged, another size)
/// is an input error naming the file, and the file is left as it is.
pub fn load_frame(path: &Path, size: (u32, u32)) -> Result<RgbImage> {
    let image = image::open(path).map_err(|e| match e {
        image::ImageError::IoError(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Error::input(path, "missing frame")
        }
        e => Error::input(path, format!("not a finished frame ({e}); remove it to render it again")),
    })?;
    if (image.width(), image.height()) != size {
        let (w, h) = (image.width(), image.height());
        return Err(Error::input(
            path,
            format!("the frame is {w}x{h}, the clip's frames are {}x{}; remove it to render it again", size.0, size.1),
        ));
    }
    Ok(image.to_rgb8())
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

    /// How many frames back the loop looks: the temporal loss's farthest distance, at least the
    /// previous frame (warm start and scores).
    fn depth(&self) -> usize {
        let temporal = if self.temporal_weight > 0.0 { self.distances.last().copied().unwrap_or(1) } else { 1 };
        temporal.max(1) as usize
    }

    /// `None`: frame `k` runs like the first (the first of its range, or `warm_start = "none"`
    /// without a temporal term).
    fn start(&self, window: &Window, gray: &Gray, content: &Rgb32FImage, k: usize) -> Result<Option<FrameStart>> {
        let Some(prev) = k.checked_sub(1).and_then(|j| window.get(j)) else { return Ok(None) };
        let temporal_on = self.temporal_weight > 0.0;
        if self.warm_start == WarmStart::None && !temporal_on {
            return Ok(None);
        }
        let prev = image::DynamicImage::ImageRgb8(prev.out.clone()).to_rgb32f();
        let need_flow = self.warm_start == WarmStart::Warped || temporal_on;
        if !need_flow {
            return Ok(Some(FrameStart { init: Some(prev), temporal: TemporalImages::default() }));
        }
        // Motions back to each earlier frame the temporal term (or the warped start) looks at.
        let distances: Vec<u32> = if temporal_on { self.distances.clone() } else { vec![1] };
        let mut motions: Vec<(usize, Motion)> = Vec::new();
        for &d in &distances {
            if let Some(earlier) = k.checked_sub(d as usize).and_then(|s| window.get(s)) {
                motions.push((earlier.k, self.flows.motion(gray, &earlier.gray, k, earlier.k)?));
            }
        }
        let warped: Vec<Rgb32FImage> = motions
            .iter()
            .map(|(s, m)| {
                let earlier = match window.get(*s) {
                    Some(p) if *s != k - 1 => image::DynamicImage::ImageRgb8(p.out.clone()).to_rgb32f(),
                    _ => prev.clone(),
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

/// Creates the work folder, or keeps it (and its frames) when its recipe matches.
fn prepare_work_dir(dir: &Path, recipe: &str) -> Result<()> {
    let recipe_path = dir.join("recipe.toml");
    if dir.is_dir() {
        if std::fs::read_to_string(&recipe_path).is_ok_and(|r| r == recipe) {
            return Ok(());
        }
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    Ok(write_atomic(&recipe_path, recipe.as_bytes())?)
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
