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
    let result = job::run(&net, &clip, &job, &mut |event| match event {
        VideoEvent::Started { frames, resumed, .. } => {
            if resumed > 0 {
                emit(Event::Log {
                    level: LogLevel::Info,
                    message: format!("{id}: resuming at frame {} of {frames}", resumed + 1),
                });
            }
            // Rows past the frames kept on disk belong to frames that are redone.
            if let Err(e) = truncate_frames_csv(dir, resumed) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
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
                emit(frame_event(&id, &f));
                record.progress = Some(ProgressSummary {
                    iteration: f.frame,
                    total: f.frames,
                    loss: f.losses.total,
                    seconds: f.elapsed,
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
                seconds: out.seconds,
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

fn frame_event(id: &str, f: &FrameReport) -> Event {
    Event::Progress {
        id: id.to_string(),
        iteration: f.iterations,
        total: f.iterations,
        scale: 0,
        loss: f.losses.total,
        style: f.losses.style,
        content: f.losses.content,
        tv: f.losses.tv,
        seconds: f.elapsed,
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
    }
}
