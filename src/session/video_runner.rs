//! A video session: every frame stylised (warm-started from the previous one), each finished
//! frame kept in the session's `frames/`, so a stopped or killed session continues at the next
//! frame; then the clip is encoded with the source's timing and audio. `frames.csv` holds one
//! row per frame: `frame,iterations,loss,style,content,tv,temporal,flicker,warp_error,
//! source_warp_error,seconds` (sessions made before the temporal work have the first eight
//! columns without `temporal`, `warp_error` and `source_warp_error`; both are read).

use std::fs::OpenOptions;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::engines::Engines;
use super::event::{Event, LogLevel};
use super::record::{now, ProgressSummary, SessionRecord, Status};
use super::runner::{progress_event, save, stopped, Outcome};
use super::stop::StopFlag;
use super::workspace::Workspace;
use crate::engine::device::parse_device;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic_with;
use crate::video::decode::decode;
use crate::video::job::{self, FrameReport, VideoEvent, VideoJob};

pub const FRAMES_CSV: &str = "frames.csv";
const FRAMES_HEADER: &str =
    "frame,iterations,loss,style,content,tv,temporal,flicker,warp_error,source_warp_error,seconds";

pub fn run_video(
    ws: &Workspace,
    dir: &Path,
    record: &mut SessionRecord,
    engines: &Engines,
    stop: &StopFlag,
    emit: &dyn Fn(Event),
    weights: PathBuf,
) -> Result<Outcome> {
    let settings = record.settings.clone();
    let device = parse_device(&record.device)?;
    let (styles, init_image) = crate::network::load_images(&settings)?;
    let note = |m: &str| emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {m}", record.id) });
    let (net, _) = engines.network(&settings, &record.preset, &weights, &device, &note)?;
    crate::video::init()?;
    let clip = decode(&record.content, settings.size)?;
    let output = record.export.clone().unwrap_or_else(|| dir.join("output.mp4"));
    let input = record.content.clone();
    let recipe = frames_recipe(&record.content, &weights, &settings)?;
    let job = VideoJob {
        input: &input,
        output: &output,
        styles: &styles,
        settings: &settings,
        init_image: init_image.as_ref(),
        recipe,
        work_dir: dir.join("frames"),
        keep_frames: true,
    };
    let id = record.id.clone();
    let mut failure: Option<Error> = None;
    // Seconds spent on the frames kept from an earlier run: elapsed time counts them, as an
    // image's checkpoint counts the time before an interruption.
    let mut before = 0.0;
    let result = job::run(&net, &clip, &job, &mut |event| match event {
        VideoEvent::Started { frames, resumed, .. } => {
            if let Some(message) = resume_message(resumed, frames) {
                emit(Event::Log { level: LogLevel::Info, message: format!("{id}: {message}") });
            }
            // Rows past the frames kept on disk belong to frames that are redone.
            if let Err(e) = truncate_frames_csv(dir, resumed) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            before = kept_seconds(dir);
            ControlFlow::Continue(())
        }
        VideoEvent::Iteration { frame, frames, progress: p } => {
            let mut event = progress_event(&id, p);
            if let Event::Progress { frame: f, frames: n, .. } = &mut event {
                // Per-iteration events of a frame carry the frame, not its scores.
                (*f, *n) = (Some(frame), Some(frames));
            }
            emit(event);
            if stop.get().is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        VideoEvent::Frame(f, image) => {
            let step = (|| -> Result<()> {
                append_frame_row(dir, &f)?;
                let preview = dir.join("preview.png");
                write_atomic_with(&preview, |file| {
                    image
                        .write_to(&mut std::io::BufWriter::new(file), image::ImageFormat::Png)
                        .map_err(std::io::Error::other)
                })?;
                emit(Event::Preview { id: id.clone() });
                emit(frame_event(&id, &f, before));
                record.progress = Some(ProgressSummary {
                    iteration: f.frame,
                    total: f.frames,
                    loss: f.losses.total,
                    seconds: before + f.elapsed,
                });
                ws.save(record)
            })();
            match step {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failure = Some(e);
                    ControlFlow::Break(())
                }
            }
        }
        VideoEvent::Note(m) => {
            emit(Event::Log { level: LogLevel::Warn, message: format!("{id}: {m}") });
            ControlFlow::Continue(())
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    match result {
        Ok(out) => {
            record.status = Status::Done;
            record.finished_at = Some(now());
            record.export = Some(output);
            record.progress = Some(ProgressSummary {
                iteration: out.frames,
                total: out.frames,
                loss: out.losses.total,
                seconds: before + out.seconds,
            });
            save(ws, record, emit)?;
            Ok(Outcome::Done)
        }
        Err(Error::Cancelled) => {
            let why = stop.get();
            if why == Some(super::stop::Stop::Cancel) {
                let frames = dir.join("frames");
                let _ = std::fs::remove_dir_all(&frames);
            }
            stopped(ws, dir, record, why, emit)
        }
        Err(e) => Err(e),
    }
}

/// The log line for a resumed job: frames count from 1, and a job whose frames were all kept
/// only has the clip left to write.
fn resume_message(resumed: u32, frames: u32) -> Option<String> {
    match resumed {
        0 => None,
        r if r >= frames => Some(format!("all {frames} frames kept; writing the clip")),
        r => Some(format!("resuming at frame {} of {frames}", r + 1)),
    }
}

/// The sum of the `seconds` column of `frames.csv` (the time spent on each kept frame).
fn kept_seconds(dir: &Path) -> f64 {
    let text = std::fs::read_to_string(dir.join(FRAMES_CSV)).unwrap_or_default();
    let mut lines = text.lines();
    let Some(col) = lines.next().and_then(|h| h.split(',').position(|c| c == "seconds")) else { return 0.0 };
    lines.filter_map(|l| l.split(',').nth(col)?.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0).sum()
}

/// `before`: seconds spent on the frames kept from an earlier run.
fn frame_event(id: &str, f: &FrameReport, before: f64) -> Event {
    Event::Progress {
        id: id.to_string(),
        iteration: f.iterations,
        total: f.iterations,
        scale: 0,
        loss: f.losses.total,
        style: f.losses.style,
        content: f.losses.content,
        tv: f.losses.tv,
        seconds: before + f.elapsed,
        frame: Some(f.frame),
        frames: Some(f.frames),
        flicker: Some(f.flicker),
        temporal: f.losses.temporal,
        warp_error: f.warp_error,
        source_warp_error: f.source_warp_error,
    }
}

/// What the saved frames were made from; a work folder with another recipe is started over.
fn frames_recipe(content: &Path, weights: &Path, settings: &crate::engine::Settings) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Recipe<'a> {
        content: &'a Path,
        weights: &'a Path,
        settings: &'a crate::engine::Settings,
    }
    toml::to_string(&Recipe { content, weights, settings })
        .map_err(|e| Error::Usage(format!("internal: cannot write the frames' recipe: {e}")))
}

fn append_frame_row(dir: &Path, f: &FrameReport) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    let l = &f.losses;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
    let line = format!(
        "{},{},{:e},{:e},{:e},{:e},{:e},{:e},{},{},{:.3}\n",
        f.frame,
        f.iterations,
        l.total,
        l.style,
        l.content,
        l.tv,
        l.temporal,
        f.flicker,
        opt(f.warp_error),
        opt(f.source_warp_error),
        f.seconds
    );
    file.write_all(line.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// Keeps the rows of the first `frames` frames, under the current header (rows of an older
/// layout are dropped: those frames keep their images, only their figures are not shown).
fn truncate_frames_csv(dir: &Path, frames: u32) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out = format!("{FRAMES_HEADER}\n");
    let columns = FRAMES_HEADER.split(',').count();
    let current = text.lines().next() == Some(FRAMES_HEADER);
    for line in text.lines().skip(1).filter(|_| current) {
        if line.split(',').next().and_then(|f| f.parse::<u32>().ok()).is_some_and(|f| f <= frames)
            && line.split(',').count() == columns
        {
            out += line;
            out.push('\n');
        }
    }
    crate::fsutil::write_atomic(&path, out.as_bytes())
}

/// One finished frame's figures as `frames.csv` has them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameScore {
    pub frame: u32,
    pub flicker: f64,
    pub warp_error: Option<f64>,
    pub source_warp_error: Option<f64>,
}

/// Every complete row of `frames.csv` (a partial last line is skipped), in either layout.
pub fn read_frame_scores(dir: &Path) -> Vec<FrameScore> {
    let text = std::fs::read_to_string(dir.join(FRAMES_CSV)).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let mut lines = complete.lines();
    let header: Vec<&str> = lines.next().map(|h| h.split(',').collect()).unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(frame), Some(flicker)) = (col("frame"), col("flicker")) else { return Vec::new() };
    let (warp, source) = (col("warp_error"), col("source_warp_error"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == header.len()).then_some(())?;
            let opt = |i: Option<usize>| i.and_then(|i| f[i].parse::<f64>().ok());
            Some(FrameScore {
                frame: f[frame].parse().ok()?,
                flicker: f[flicker].parse().ok()?,
                warp_error: opt(warp),
                source_warp_error: opt(source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_scores_in_both_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let old = "frame,iterations,loss,style,content,tv,flicker,seconds\n1,60,9e2,8e2,1e2,0,0,7.5\n2,15,8e2,7e2,1e2,0,-2e-2,1.5\n";
        std::fs::write(dir.path().join(FRAMES_CSV), old).unwrap();
        let rows = read_frame_scores(dir.path());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], FrameScore { frame: 2, flicker: -0.02, warp_error: None, source_warp_error: None });
        let new =
            format!("{FRAMES_HEADER}\n1,60,9e2,8e2,1e2,0,0,0,,,7.5\n2,15,8e2,7e2,1e2,0,5,1e-2,2e-3,5e-4,1.5\n3,15,8e2");
        std::fs::write(dir.path().join(FRAMES_CSV), new).unwrap();
        let rows = read_frame_scores(dir.path());
        assert_eq!(rows.len(), 2, "the cut last line is skipped");
        assert_eq!(rows[0].warp_error, None);
        assert_eq!(
            rows[1],
            FrameScore { frame: 2, flicker: 0.01, warp_error: Some(0.002), source_warp_error: Some(0.0005) }
        );
        truncate_frames_csv(dir.path(), 1).unwrap();
        assert_eq!(read_frame_scores(dir.path()).len(), 1);
        assert_eq!(kept_seconds(dir.path()), 7.5);
    }

    #[test]
    fn resume_messages_count_frames() {
        assert_eq!(resume_message(0, 60), None);
        assert_eq!(resume_message(30, 60).as_deref(), Some("resuming at frame 31 of 60"));
        assert_eq!(resume_message(60, 60).as_deref(), Some("all 60 frames kept; writing the clip"));
    }
}
