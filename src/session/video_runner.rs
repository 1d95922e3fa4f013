//! A video session: every frame stylised (warm-started from the previous one), each finished
//! frame kept in the session's `frames/`, so a stopped or killed session continues at the next
//! frame; then the clip is encoded with the source's timing and audio. `frames.csv` holds one
//! row per frame: `frame,iterations,loss,style,content,tv,flicker,seconds`.

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
    let recipe = format!(
        "content = {:?}\nweights = {:?}\n{}",
        record.content,
        weights,
        toml::to_string(&settings).unwrap_or_default()
    );
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
    }
}

fn append_frame_row(dir: &Path, f: &FrameReport) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    let l = &f.losses;
    let line = format!(
        "{},{},{:e},{:e},{:e},{:e},{:e},{:.3}\n",
        f.frame, f.iterations, l.total, l.style, l.content, l.tv, f.flicker, f.seconds
    );
    file.write_all(line.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// Keeps the header and the rows of the first `frames` frames.
fn truncate_frames_csv(dir: &Path, frames: u32) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out = String::from("frame,iterations,loss,style,content,tv,flicker,seconds\n");
    for line in text.lines().skip(1) {
        if line.split(',').next().and_then(|f| f.parse::<u32>().ok()).is_some_and(|f| f <= frames)
            && line.split(',').count() == 8
        {
            out += line;
            out.push('\n');
        }
    }
    crate::fsutil::write_atomic(&path, out.as_bytes())
}

/// (frame, flicker) of every frame in `frames.csv` (a partial last line is skipped).
pub fn read_flicker(dir: &Path) -> Vec<(u32, f64)> {
    let text = std::fs::read_to_string(dir.join(FRAMES_CSV)).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == 8).then_some(())?;
            Some((f[0].parse().ok()?, f[6].parse().ok()?))
        })
        .collect()
}
