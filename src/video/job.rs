//! The frame loop: stylise every frame of a decoded clip, warm-starting each from the previous
//! stylised frame, keep finished frames in a work folder so a killed job resumes, then encode.
//!
//! The work folder is `<output dir>/.<output name>.frames/`: `recipe.toml` (what the frames were
//! made from) and `000001.png`, `000002.png`, ... A rerun with the same recipe continues at the
//! first missing frame; with another recipe the folder is started over. It is removed once the
//! video is written.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::{Rgb32FImage, RgbImage};

use super::decode::Clip;
use super::encode::{encode, EncodeSpec};
use super::flicker::flicker;
use crate::engine::objective::LossParts;
use crate::engine::settings::WarmStart;
use crate::engine::{stylize_cached, Progress, Settings, StyleCache, StyleInput, StylizeJob, Vgg};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::imageio::{load_rgb, save_png, to_rgb8};

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
    /// Text naming the inputs and settings; a work folder made from another recipe is started over.
    pub recipe: String,
    /// Where finished frames are kept (see [`work_dir`] for the default next to the output).
    pub work_dir: PathBuf,
    /// Keep the frames after the video is written (a session keeps them in its `frames/`).
    pub keep_frames: bool,
}

/// What a running job reports.
pub enum VideoEvent<'a> {
    /// Decoding is done; `resumed` frames were taken from the work folder.
    Started { frames: u32, resumed: u32, size: (u32, u32), work_dir: &'a Path },
    /// One optimiser iteration of frame `frame` (1-based).
    Iteration { frame: u32, frames: u32, progress: &'a Progress },
    /// A frame is finished and saved (the stylised frame as 8-bit RGB).
    Frame(FrameReport, &'a RgbImage),
    /// A message for the user (encoder fallback).
    Note(String),
}

/// One finished frame.
#[derive(Debug, Clone)]
pub struct FrameReport {
    /// 1-based.
    pub frame: u32,
    pub frames: u32,
    /// Iterations run on this frame.
    pub iterations: u32,
    pub losses: LossParts,
    /// See [`super::flicker::flicker`]; 0 for the first frame.
    pub flicker: f64,
    /// Seconds spent on this frame.
    pub seconds: f64,
    /// Seconds since the job started.
    pub elapsed: f64,
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
    let n = clip.frames.len();
    let frames = n as u32;
    let mut settings = job.settings.clone();
    settings.size = clip.size.0.max(clip.size.1);
    let mut warm = settings.clone();
    warm.iterations = settings.frame_iterations;
    warm.scales = 1;
    let dir = job.work_dir.clone();
    let done = prepare_work_dir(&dir, &job.recipe)?;
    let mut outs: Vec<RgbImage> = Vec::with_capacity(n);
    let mut prev: Option<Rgb32FImage> = None;
    for k in 0..n {
        match load_rgb(&frame_path(&dir, k)) {
            Ok(img) if k < done && img.dimensions() == clip.size => {
                outs.push(to_rgb8(&img));
                prev = Some(img);
            }
            _ => break,
        }
    }
    let resumed = outs.len();
    let _ = on_event(VideoEvent::Started { frames, resumed: resumed as u32, size: clip.size, work_dir: &dir });
    let mut cache = StyleCache::default();
    let mut losses = LossParts::default();
    let mut flickers = Vec::new();
    for k in resumed..n {
        let frame_start = Instant::now();
        let source = &clip.frames[k].image;
        let content = image::DynamicImage::ImageRgb8(source.clone()).to_rgb32f();
        let warm_start = settings.warm_start == WarmStart::Previous && prev.is_some();
        let (s, init) = if warm_start { (&warm, prev.as_ref()) } else { (&settings, job.init_image) };
        let sj = StylizeJob { content: &content, styles: job.styles, init_image: init, settings: s, resume: None };
        let frame = k as u32 + 1;
        let out = stylize_cached(net, &sj, &mut cache, &mut |p, _| {
            on_event(VideoEvent::Iteration { frame, frames, progress: p })
        })?;
        save_png(&frame_path(&dir, k), &out.image, &[])?;
        let rgb = to_rgb8(&out.image);
        let f = match (k.checked_sub(1), outs.last()) {
            (Some(j), Some(prev_out)) => {
                flicker(prev_out.as_raw(), rgb.as_raw(), clip.frames[j].image.as_raw(), source.as_raw())
            }
            _ => 0.0,
        };
        if k > 0 {
            flickers.push(f);
        }
        losses = out.losses;
        let report = FrameReport {
            frame,
            frames,
            iterations: out.iterations,
            losses,
            flicker: f,
            seconds: frame_start.elapsed().as_secs_f64(),
            elapsed: start.elapsed().as_secs_f64(),
        };
        let _ = on_event(VideoEvent::Frame(report, &rgb));
        outs.push(rgb);
        prev = Some(out.image);
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
    let mean_flicker = if flickers.is_empty() { 0.0 } else { flickers.iter().sum::<f64>() / flickers.len() as f64 };
    Ok(VideoOutput {
        frames,
        resumed: resumed as u32,
        size: clip.size,
        losses,
        mean_flicker,
        encoder,
        seconds: start.elapsed().as_secs_f64(),
    })
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
