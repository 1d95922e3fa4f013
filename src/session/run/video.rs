//! A video session: every frame stylised (warm-started from the previous one), each finished
//! frame kept in the session's `frames/`, so a stopped or killed session continues at the next
//! frame; then the clip is encoded with the source's timing and audio.
//! `frames.csv` (see [`crate::session::frames`]) holds each frame's figures.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use candle_core::Device;

use super::{load, progress_event, save, stopped, Loaded, Outcome};
use crate::error::{Error, Result};
use crate::session::engines::Engines;
use crate::session::event::{Event, FrameProgress, LogLevel};
use crate::session::frames::{append_frame_row, kept_seconds, truncate_frames_csv};
use crate::session::losses::LossRow;
use crate::session::record::{now, ProgressSummary, SessionRecord, Status};
use crate::session::stop::{Stop, StopFlag};
use crate::session::workspace::Workspace;
use crate::util::fs::write_atomic_with;
use crate::video::job::{self, FrameReport, FramesRecipe, VideoEvent, VideoJob};

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    ws: &Workspace,
    dir: &Path,
    record: &mut SessionRecord,
    engines: &Engines,
    stop: &StopFlag,
    emit: &dyn Fn(Event),
    device: &Device,
    weights: PathBuf,
) -> Result<Outcome> {
    let settings = record.job.settings.clone();
    let Loaded { net, styles, init_image, .. } = load(record, engines, &weights, device, emit)?;
    crate::video::init()?;
    let output = record.job.export.clone().unwrap_or_else(|| dir.join("output.mp4"));
    let input = record.job.content.clone();
    let recipe =
        FramesRecipe { content: record.job.content.clone(), weights: weights.clone(), settings: settings.clone() };
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
    let result = job::run(&net, &job, &mut |event| match event {
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
            if let Event::Progress { video, .. } = &mut event {
                // Per-iteration events of a frame carry the frame, not its scores.
                *video =
                    Some(FrameProgress { frame, frames, flicker: None, warp_error: None, source_warp_error: None });
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
                    image.write_to(file, image::ImageFormat::Png).map_err(std::io::Error::other)
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
            // It ended by itself: a later start is not a crash loop (see `run_session`).
            record.unfinished_starts = 0;
            record.job.export = Some(output);
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
            if why == Some(Stop::Cancel) {
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

/// `before`: seconds spent on the frames kept from an earlier run.
fn frame_event(id: &str, f: &FrameReport, before: f64) -> Event {
    let row = LossRow {
        iteration: f.iterations,
        scale: 0,
        loss: f.losses.total,
        style: f.losses.style,
        content: f.losses.content,
        tv: f.losses.tv,
        seconds: before + f.elapsed,
    };
    let video = FrameProgress {
        frame: f.frame,
        frames: f.frames,
        flicker: Some(f.flicker),
        warp_error: f.warp_error,
        source_warp_error: f.source_warp_error,
    };
    Event::Progress {
        id: id.to_string(),
        total: f.iterations,
        row,
        temporal: f.losses.temporal,
        evaluations: f.evaluations,
        video: Some(video),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_messages_count_frames() {
        assert_eq!(resume_message(0, 60), None);
        assert_eq!(resume_message(30, 60).as_deref(), Some("resuming at frame 31 of 60"));
        assert_eq!(resume_message(60, 60).as_deref(), Some("all 60 frames kept; writing the clip"));
    }
}
