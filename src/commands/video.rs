//! `brushwork video`: stylise a clip frame by frame and re-encode it with its audio.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use super::inputs::{load_images, load_network, with_json_error};
use super::overrides;
use super::report::Reporter;
use super::run::{absolute, check_output_dir};
use crate::cli::VideoArgs;
use crate::engine::device::parse_device;
use crate::engine::settings::WarmStart;
use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::video::job::{self, VideoEvent, VideoJob};
use crate::video::{decode::decode, init};

/// The preset `video` uses when none is given.
pub const DEFAULT_PRESET: &str = "video";

/// What the frames in a work folder were made from (the resume key).
#[derive(Serialize)]
struct WorkRecipe<'a> {
    brushwork: &'a str,
    input: PathBuf,
    input_bytes: u64,
    input_modified: u64,
    weights: PathBuf,
    device: &'a str,
    settings: &'a Settings,
}

pub fn video(args: &VideoArgs) -> Result<()> {
    with_json_error(args.json, || video_inner(args))
}

fn video_inner(args: &VideoArgs) -> Result<()> {
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    if let Some(n) = args.frame_iterations {
        settings.frame_iterations = n;
    }
    if let Some(w) = &args.warm_start {
        settings.warm_start = if w == "none" { WarmStart::None } else { WarmStart::Previous };
    }
    if settings.warm_start == WarmStart::Previous && settings.frame_iterations == 0 {
        return Err(Error::Usage("field `frame_iterations` must be positive".into()));
    }
    if settings.styles.is_empty() {
        return Err(Error::Usage("no style image: pass --style FILE (or a preset with `styles`)".into()));
    }
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.input, &preset.name));
    check_output_dir(&output)?;
    check_output_format(&output)?;
    let (styles, init_image) = load_images(&settings)?;
    init()?;
    let clip = decode(&args.input, settings.size)?;
    let frames = clip.frames.len() as u64;
    let device = parse_device(&args.device)?;
    let reporter = if args.json { Reporter::Json } else { Reporter::Bar(frame_bar(frames)) };
    let (net, weights, _) = load_network(&settings, &preset.name, args.weights.as_deref(), &device, &reporter)?;
    for s in &mut settings.styles {
        s.path = absolute(&s.path);
    }
    let recipe = work_recipe(&args.input, &weights, &args.device, &settings);
    let job = VideoJob {
        input: &args.input,
        output: &output,
        styles: &styles,
        settings: &settings,
        init_image: init_image.as_ref(),
        recipe,
    };
    let result = job::run(&net, &clip, &job, &mut |event| on_event(&reporter, event));
    reporter.finish();
    let out = result?;
    if args.json {
        let done = json!({
            "event": "done", "output": output.display().to_string(), "seconds": out.seconds,
            "loss": out.losses.total, "style": out.losses.style, "content": out.losses.content,
            "tv": out.losses.tv, "frames": out.frames, "resumed": out.resumed, "flicker": out.mean_flicker,
            "encoder": out.encoder, "width": out.size.0, "height": out.size.1,
        });
        println!("{done}");
    } else {
        eprintln!(
            "wrote {} ({}x{}, {} frames, {:.1} s, mean flicker {:+.4}, {})",
            output.display(),
            out.size.0,
            out.size.1,
            out.frames,
            out.seconds,
            out.mean_flicker,
            out.encoder
        );
    }
    Ok(())
}

/// `IN-STEM.PRESET.mp4` in the current folder.
pub fn default_output(input: &Path, preset: &str) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    PathBuf::from(format!("{stem}.{preset}.mp4"))
}

/// Containers the output may use (checked before any frame is stylised).
const OUTPUT_FORMATS: [&str; 4] = ["mp4", "m4v", "mov", "mkv"];

fn check_output_format(output: &Path) -> Result<()> {
    let ext = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext {
        Some(e) if OUTPUT_FORMATS.contains(&e.as_str()) => Ok(()),
        _ => Err(Error::input(output, "unsupported output format: use .mp4, .m4v, .mov or .mkv")),
    }
}

fn frame_bar(frames: u64) -> ProgressBar {
    let bar = ProgressBar::new(frames);
    let style =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} frames  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn work_recipe(input: &Path, weights: &Path, device: &str, settings: &Settings) -> String {
    let meta = std::fs::metadata(input).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let recipe = WorkRecipe {
        brushwork: env!("CARGO_PKG_VERSION"),
        input: absolute(input),
        input_bytes: meta.map_or(0, |m| m.len()),
        input_modified: modified,
        weights: absolute(weights),
        device,
        settings,
    };
    toml::to_string(&recipe).unwrap_or_default()
}

fn on_event(reporter: &Reporter, event: VideoEvent) {
    match (reporter, event) {
        (_, VideoEvent::Note(m)) => reporter.note(&m),
        (Reporter::Json, VideoEvent::Started { frames, resumed, work_dir, .. }) if resumed > 0 => {
            eprintln!("resuming at frame {} of {frames} ({})", resumed + 1, work_dir.display());
        }
        (Reporter::Bar(bar), VideoEvent::Started { frames, resumed, size, work_dir }) => {
            if resumed > 0 {
                bar.println(format!("resuming at frame {} of {frames} ({})", resumed + 1, work_dir.display()));
            }
            bar.set_position(resumed as u64);
            bar.reset_eta();
            bar.set_message(format!("{}x{}", size.0, size.1));
        }
        (Reporter::Bar(bar), VideoEvent::Iteration { frame, progress: p, .. }) => {
            bar.set_message(format!("frame {frame}: it {}/{}  loss {:.4e}", p.iteration, p.total, p.losses.total));
        }
        (Reporter::Bar(bar), VideoEvent::Frame(f)) => bar.set_position(f.frame as u64),
        (Reporter::Json, VideoEvent::Frame(f)) => {
            let line = json!({
                "event": "progress", "frame": f.frame, "frames": f.frames,
                "iteration": f.iterations, "total": f.iterations,
                "loss": f.losses.total, "style": f.losses.style, "content": f.losses.content, "tv": f.losses.tv,
                "flicker": f.flicker, "seconds": f.elapsed, "frame_seconds": f.seconds,
            });
            println!("{line}");
        }
        _ => {}
    }
}
