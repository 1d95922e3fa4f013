//! Runs one session from its folder to its end: loads the inputs, continues from the checkpoint
//! if there is one, appends to `losses.csv`, replaces `preview.png` about once a second, writes a
//! checkpoint every `checkpoint_every` iterations or `checkpoint_seconds`, and on a stop request
//! checkpoints before it returns. Status changes are saved in `session.toml` and sent as events.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use super::checkpoint;
use super::engines::Engines;
use super::event::{Event, LogLevel};
use super::lock::FileLock;
use super::losses::{LossLog, LossRow};
use super::record::{now, Kind, ProgressSummary, SessionRecord, Status};
use super::stop::{Stop, StopFlag};
use super::workspace::Workspace;
use crate::engine::device::parse_device;
use crate::engine::{stylize_cached, Progress, Snapshot, StylizeJob};
use crate::error::{Error, Result};
use crate::fsutil::write_atomic_with;
use crate::imageio::{load_rgb_for, save_image, RECIPE_KEY};
use crate::recipe::Recipe;

/// A session whose process died this many times while running it is not started again.
pub const MAX_UNFINISHED_STARTS: u32 = 2;

/// How often `preview.png` is replaced at most.
const PREVIEW_EVERY: Duration = Duration::from_millis(1000);

/// How a run that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Paused,
    Cancelled,
    /// Checkpointed for a shutdown; the session is queued again.
    Requeued,
}

/// Runs session `id` until it finishes or `stop` is raised. Failures are saved as status
/// `failed` (or `interrupted`, for an I/O failure) with the error line, and also returned.
pub fn run_session(
    ws: &Workspace,
    id: &str,
    engines: &Engines,
    stop: &StopFlag,
    emit: &dyn Fn(Event),
) -> Result<Outcome> {
    let dir = ws.session_dir(id);
    let lock_path = dir.join("lock");
    let Some(_lock) = FileLock::try_acquire(&lock_path)? else {
        let pid = FileLock::holder(&lock_path).map(|p| format!(" (pid {p})")).unwrap_or_default();
        return Err(Error::Usage(format!("session {id} is being run by another process{pid}")));
    };
    let mut record = ws.load(id)?;
    let refused = if record.unfinished_starts >= MAX_UNFINISHED_STARTS {
        Some(Error::Remote(format!(
            "the process running session {id} died {} times while running it (out of memory?); it is not \
             resumed again: `brushwork sessions retry {id}` starts it over",
            record.unfinished_starts
        )))
    } else {
        // Memory may have become scarcer since it was queued: refuse before any work starts.
        crate::memory::check(&record.spec()).err()
    };
    if let Some(e) = refused {
        return fail(ws, &mut record, e, emit);
    }
    record.status = Status::Running;
    record.error = None;
    record.unfinished_starts += 1;
    record.started_at.get_or_insert_with(now);
    if let Err(e) = save(ws, &record, emit) {
        record.unfinished_starts -= 1;
        return fail(ws, &mut record, e, emit);
    }
    match run_locked(ws, &dir, &mut record, engines, stop, emit) {
        Ok(outcome) => {
            // It ended by itself or on request: a later start is not a crash loop. Its status is
            // saved already; failing to save the count only costs one crash of margin.
            record.unfinished_starts = 0;
            if let Err(e) = save(ws, &record, emit) {
                emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {e}", record.id) });
            }
            Ok(outcome)
        }
        Err(e) => fail(ws, &mut record, e, emit),
    }
}

/// Records `e` (one line) and returns it: an I/O failure (a full disk) leaves the session
/// `interrupted`, resumable from its last good checkpoint, anything else `failed`. Observers hear
/// of it even when `session.toml` cannot be written (the disk may be what failed), so a client
/// following the session never waits forever and the scheduler does not pick it again.
fn fail(ws: &Workspace, record: &mut SessionRecord, e: Error, emit: &dyn Fn(Event)) -> Result<Outcome> {
    if matches!(e, Error::Io { .. }) {
        record.status = Status::Interrupted;
    } else {
        record.status = Status::Failed;
        record.finished_at = Some(now());
    }
    record.error = Some(e.to_string());
    record.unfinished_starts = 0;
    emit(Event::Log { level: LogLevel::Error, message: format!("{}: {e}", record.id) });
    if let Err(save_error) = save_making_room(ws, record) {
        emit(Event::Log { level: LogLevel::Error, message: format!("{}: {save_error}", record.id) });
    }
    emit(Event::Session { record: Box::new(record.clone()) });
    Err(e)
}

/// Saves `record`; when that fails (a full disk), drops the session's preview, which is only a
/// copy of the latest image rewritten each second, to make room and tries once more.
fn save_making_room(ws: &Workspace, record: &SessionRecord) -> Result<()> {
    ws.save(record).or_else(|_| {
        let _ = std::fs::remove_file(ws.session_dir(&record.id).join("preview.png"));
        ws.save(record)
    })
}

fn run_locked(
    ws: &Workspace,
    dir: &Path,
    record: &mut SessionRecord,
    engines: &Engines,
    stop: &StopFlag,
    emit: &dyn Fn(Event),
) -> Result<Outcome> {
    let settings = record.settings.clone();
    let device = parse_device(&record.device)?;
    let weights = match &record.weights {
        Some(w) => w.clone(),
        None => installed_weights(&settings)?,
    };
    record.weights = Some(weights.clone());
    if record.kind == Kind::Video {
        return super::video_runner::run_video(ws, dir, record, engines, stop, emit, weights);
    }
    let content = load_rgb_for(&record.content, Some(settings.size))?;
    crate::network::check_content_size(&record.content, &settings)?;
    let (styles, init_image) = crate::network::load_images(&settings)?;
    let note = |m: &str| emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {m}", record.id) });
    let (net, header) = engines.network(&settings, &record.preset, &weights, &device, &note)?;
    let resume = match checkpoint::load_checked(dir, &device, &settings, content.dimensions()) {
        Ok(resume) => resume,
        Err(e) => {
            // Never continue from a state that is not this session's or holds NaN: start over.
            emit(Event::Log {
                level: LogLevel::Warn,
                message: format!("{}: refused the checkpoint: {e}; starting over from the first iteration", record.id),
            });
            checkpoint::set_aside(dir)?;
            None
        }
    };
    let losses = LossLog::new(dir);
    losses.truncate_to(resume.as_ref().map_or(0, |r| r.iteration))?;
    let job = StylizeJob {
        content: &content,
        styles: &styles,
        init_image: init_image.as_ref(),
        settings: &settings,
        resume: resume.as_ref(),
        temporal: None,
    };
    let (style_key, mut cache) = engines.style_cache(&weights, &settings);
    let mut last_checkpoint = (Instant::now(), resume.as_ref().map_or(0, |r| r.iteration));
    let mut last_preview: Option<Instant> = None;
    let mut io_error: Option<Error> = None;
    let id = record.id.clone();
    let result = stylize_cached(&net, &job, &mut cache, &mut |p: &Progress, snap: &dyn Snapshot| {
        let step = (|| -> Result<ControlFlow<()>> {
            losses.append(&[LossRow::from_progress(p)])?;
            emit(progress_event(&id, p));
            if last_preview.is_none_or(|t| t.elapsed() >= PREVIEW_EVERY) || p.iteration == p.total {
                write_preview(dir, snap)?;
                emit(Event::Preview { id: id.clone() });
                last_preview = Some(Instant::now());
            }
            if settings.save_every > 0 && p.iteration.is_multiple_of(settings.save_every) && p.iteration < p.total {
                let base = record.export.clone().unwrap_or_else(|| dir.join("output.png"));
                save_image(&intermediate_path(&base, p.iteration), &snap.image()?, &[])?;
            }
            let stop_now = stop.get();
            let due = (settings.checkpoint_every > 0 && p.iteration - last_checkpoint.1 >= settings.checkpoint_every)
                || (settings.checkpoint_seconds > 0.0
                    && last_checkpoint.0.elapsed().as_secs_f64() >= settings.checkpoint_seconds);
            if (due || matches!(stop_now, Some(Stop::Pause | Stop::Shutdown))) && p.iteration < p.total {
                checkpoint::save(dir, &snap.state())?;
                last_checkpoint = (Instant::now(), p.iteration);
                record.progress = Some(summary(p));
                save(ws, record, emit)?;
            }
            Ok(if stop_now.is_some() && p.iteration < p.total {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })();
        step.unwrap_or_else(|e| {
            io_error = Some(e);
            ControlFlow::Break(())
        })
    });
    engines.keep_style_cache(style_key, cache);
    if let Some(e) = io_error {
        return Err(e);
    }
    let out = match result {
        Ok(out) => out,
        Err(Error::Cancelled) => return stopped(ws, dir, record, stop.get(), emit),
        Err(e) => return Err(e),
    };
    let recipe = Recipe {
        brushwork: env!("CARGO_PKG_VERSION").to_string(),
        content: std::path::absolute(&record.content).unwrap_or_else(|_| record.content.clone()),
        weights: std::path::absolute(&weights).unwrap_or(weights),
        arch: header.arch.to_string(),
        preprocess: header.preprocess.to_string(),
        seconds: out.seconds,
        loss: out.losses.total,
        settings: settings.clone(),
    };
    let chunks = [(RECIPE_KEY, recipe.to_toml())];
    save_image(&dir.join("output.png"), &out.image, &chunks)?;
    if let Some(export) = &record.export {
        save_image(export, &out.image, &chunks)?;
    }
    record.status = Status::Done;
    record.finished_at = Some(now());
    record.progress = Some(ProgressSummary {
        iteration: out.iterations,
        total: record.total_iterations(),
        loss: out.losses.total,
        seconds: out.seconds,
    });
    save(ws, record, emit)?;
    // Only once `done` is saved: a kill between the two leaves a spare checkpoint, never a
    // finished session that has lost its checkpoint and would start over.
    if let Err(e) = checkpoint::remove(dir) {
        emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {e}", record.id) });
    }
    Ok(Outcome::Done)
}

/// The run stopped on request: record why. A cancel drops the checkpoint.
pub(super) fn stopped(
    ws: &Workspace,
    dir: &Path,
    record: &mut SessionRecord,
    why: Option<Stop>,
    emit: &dyn Fn(Event),
) -> Result<Outcome> {
    let outcome = match why {
        Some(Stop::Pause) | None => (Status::Paused, Outcome::Paused),
        Some(Stop::Shutdown) => (Status::Queued, Outcome::Requeued),
        Some(Stop::Cancel) => {
            checkpoint::remove(dir)?;
            record.finished_at = Some(now());
            (Status::Cancelled, Outcome::Cancelled)
        }
    };
    record.status = outcome.0;
    save(ws, record, emit)?;
    Ok(outcome.1)
}

pub(super) fn save(ws: &Workspace, record: &SessionRecord, emit: &dyn Fn(Event)) -> Result<()> {
    ws.save(record)?;
    emit(Event::Session { record: Box::new(record.clone()) });
    Ok(())
}

/// `OUT-STEM.iterN.EXT` beside `output` (as the classic tools' `-save_iter`).
pub fn intermediate_path(output: &Path, iteration: u32) -> std::path::PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let name = match output.extension() {
        Some(ext) => format!("{stem}.iter{iteration}.{}", ext.to_string_lossy()),
        None => format!("{stem}.iter{iteration}.png"),
    };
    output.with_file_name(name)
}

fn write_preview(dir: &Path, snap: &dyn Snapshot) -> Result<()> {
    let image = snap.image()?;
    let rgb = image::DynamicImage::ImageRgb32F(image).to_rgb8();
    let path = dir.join("preview.png");
    write_atomic_with(&path, |f| {
        rgb.write_to(&mut std::io::BufWriter::new(f), image::ImageFormat::Png).map_err(std::io::Error::other)
    })
}

fn summary(p: &Progress) -> ProgressSummary {
    ProgressSummary { iteration: p.iteration, total: p.total, loss: p.losses.total, seconds: p.seconds }
}

/// The scheduler's event for one engine iteration.
pub(super) fn progress_event(id: &str, p: &Progress) -> Event {
    Event::Progress {
        id: id.to_string(),
        iteration: p.iteration,
        total: p.total,
        scale: p.scale,
        loss: p.losses.total,
        style: p.losses.style,
        content: p.losses.content,
        tv: p.losses.tv,
        seconds: p.seconds,
        frame: None,
        frames: None,
        flicker: None,
        temporal: p.losses.temporal,
        warp_error: None,
        source_warp_error: None,
    }
}

/// The installed weights for this preset's arch; sessions never download (the CLI does that
/// before it creates a session).
fn installed_weights(settings: &crate::engine::Settings) -> Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("BRUSHWORK_WEIGHTS").filter(|p| !p.is_empty()) {
        return Ok(path.into());
    }
    let store = crate::weights::Store::open_default()?;
    match store.entry_for(settings.arch.required())? {
        Some(entry) => Ok(entry.path),
        None => Err(Error::Usage("no VGG weights installed: run `brushwork weights fetch` once".into())),
    }
}
