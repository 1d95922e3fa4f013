//! Running one session to its end: the lock, the crash-loop guard, the status saved at each
//! step, and failures recorded as one line. What an image run and a video run share is here;
//! each kind's own loop is in [`image`] and [`video`], beside each other.

mod image;
#[cfg(feature = "ffmpeg")]
mod video;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::Device;

use super::checkpoint;
use super::engines::Engines;
use super::event::{Event, LogLevel};
use super::lock::FileLock;
use super::losses::LossRow;
use super::record::{now, Kind, SessionRecord, Status};
use super::stop::{Stop, StopFlag};
use super::workspace::Workspace;
use crate::engine::device::parse_device;
use crate::engine::vgg::WeightsHeader;
use crate::engine::{Progress, StyleInput, Vgg};
use crate::error::{Error, Result};

pub use image::intermediate_path;

/// A session whose process died this many times while running it is not started again.
pub const MAX_UNFINISHED_STARTS: u32 = 2;

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
        return Err(Error::Conflict(format!("session {id} is being run by another process{pid}")));
    };
    let mut record = ws.load(id)?;
    let refused = if record.unfinished_starts >= MAX_UNFINISHED_STARTS {
        Some(Error::Remote(format!(
            "the process running session {id} died {} times while running it (out of memory?); it is not \
             resumed again: `brushwork sessions retry {id}` starts it over",
            record.unfinished_starts
        )))
    } else {
        // Memory may have become scarcer since it was queued: refuse before any work starts,
        // and tile the scales that do not fit whole (the plan's tile and L-BFGS history).
        match crate::session::memory::check(&record.spec()) {
            Ok(plan) => {
                if plan.tile != record.job.settings.tile
                    || plan.lbfgs_history != record.job.settings.lbfgs_history
                    || plan.lbfgs_compact
                {
                    emit(Event::Log {
                        level: LogLevel::Info,
                        message: format!("{}: memory plan: {}", record.id, plan.changes.join(", ")),
                    });
                }
                plan.apply(&mut record.job.settings);
                None
            }
            Err(e) => Some(e),
        }
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
            // It ended by itself or on request: a later start is not a crash loop. The runners
            // reset the count with the final status they save (and tell observers once); a path
            // that did not is saved here. Failing to save the count only costs one crash of margin.
            if record.unfinished_starts != 0 {
                record.unfinished_starts = 0;
                if let Err(e) = save(ws, &record, emit) {
                    emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {e}", record.id) });
                }
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

/// Resolves the device and the weights, then runs the session's kind.
fn run_locked(
    ws: &Workspace,
    dir: &Path,
    record: &mut SessionRecord,
    engines: &Engines,
    stop: &StopFlag,
    emit: &dyn Fn(Event),
) -> Result<Outcome> {
    let device = parse_device(&record.job.device)?;
    let weights = match &record.job.weights {
        Some(w) => w.clone(),
        None => installed_weights(&record.job.settings)?,
    };
    record.job.weights = Some(weights.clone());
    match record.job.kind {
        #[cfg(feature = "ffmpeg")]
        Kind::Video => video::run(ws, dir, record, engines, stop, emit, &device, weights),
        #[cfg(not(feature = "ffmpeg"))]
        Kind::Video => crate::video::init().map(|()| Outcome::Done),
        Kind::Image | Kind::Watched => image::run(ws, dir, record, engines, stop, emit, &device, weights),
        Kind::Folder => Err(Error::Usage(format!(
            "session {}: a folder plan is rendered by `brushwork images render` on the machines a scheduler starts, not here",
            record.id
        ))),
    }
}

/// What every run loads before its first iteration.
struct Loaded {
    net: Arc<Vgg>,
    header: WeightsHeader,
    styles: Vec<StyleInput>,
    init_image: Option<::image::Rgb32FImage>,
}

/// The style and init images, then the network (shared with other sessions through `engines`).
fn load(
    record: &SessionRecord,
    engines: &Engines,
    weights: &Path,
    device: &Device,
    emit: &dyn Fn(Event),
) -> Result<Loaded> {
    let (styles, init_image) = crate::session::network::load_images(&record.job.settings)?;
    let note = |m: &str| emit(Event::Log { level: LogLevel::Warn, message: format!("{}: {m}", record.id) });
    let (net, header) = engines.network(&record.job.settings, &record.job.preset, weights, device, &note)?;
    Ok(Loaded { net, header, styles, init_image })
}

/// The run stopped on request: record why. A cancel drops the checkpoint.
fn stopped(
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
    record.unfinished_starts = 0;
    save(ws, record, emit)?;
    Ok(outcome.1)
}

fn save(ws: &Workspace, record: &SessionRecord, emit: &dyn Fn(Event)) -> Result<()> {
    ws.save(record)?;
    emit(Event::Session { record: Box::new(record.clone()) });
    Ok(())
}

/// The scheduler's event for one engine iteration.
fn progress_event(id: &str, p: &Progress) -> Event {
    Event::Progress {
        id: id.to_string(),
        total: p.total,
        row: LossRow::from_progress(p),
        temporal: p.losses.temporal,
        evaluations: p.evaluations,
        video: None,
    }
}

/// The installed weights for this preset's arch; sessions never download (the CLI does that
/// before it creates a session).
fn installed_weights(settings: &crate::engine::Settings) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BRUSHWORK_WEIGHTS").filter(|p| !p.is_empty()) {
        return Ok(path.into());
    }
    let store = crate::weights::Store::open_default()?;
    match store.entry_for(settings.arch.required())? {
        Some(entry) => Ok(entry.path),
        None => Err(crate::weights::WeightsError::NotInstalled(
            "no VGG weights installed: run `brushwork weights fetch` once".into(),
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::engine::settings::{Settings, StyleRef};
    use crate::session::{Job, SessionSpec};
    use crate::util::rng::SplitMix64;
    use crate::weights::layout::{Arch, Preprocess};

    /// A session that runs to its end tells observers `done` once (the runner's final save), not
    /// once more for the crash-loop counter, and leaves that counter at zero on disk.
    #[test]
    fn a_finished_session_is_announced_once() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("tiny.safetensors");
        crate::weights::random::write_random_vgg(&weights, Arch::Vgg16, Preprocess::Caffe, 16, 1).unwrap();
        let picture = |name: &str, seed: u64| {
            let pixels = SplitMix64::new(seed).uniform(48 * 40 * 3, 0.0, 255.0).into_iter().map(|v| v as u8).collect();
            let path = dir.path().join(name);
            ::image::RgbImage::from_raw(48, 40, pixels).unwrap().save(&path).unwrap();
            path
        };
        let (content, style) = (picture("content.png", 1), picture("style.png", 2));
        let settings = Settings {
            size: 48,
            iterations: 2,
            styles: vec![StyleRef { path: style, weight: 1.0 }],
            ..Settings::default()
        };
        let ws = Workspace::open(&dir.path().join("ws")).unwrap();
        let job = Job {
            kind: Kind::Image,
            content,
            export: None,
            weights: Some(weights),
            device: "cpu".into(),
            preset: "test".into(),
            priority: 0,
            settings,
        };
        let record = ws.create(SessionSpec { name: None, job }).unwrap();
        let events = RefCell::new(Vec::new());
        let emit = |e: Event| {
            if let Event::Session { record } = e {
                events.borrow_mut().push((record.status, record.unfinished_starts));
            }
        };
        let outcome = run_session(&ws, &record.id, &Engines::default(), &StopFlag::default(), &emit).unwrap();
        assert_eq!(outcome, Outcome::Done);
        let events = events.into_inner();
        assert_eq!(events.iter().filter(|(s, _)| *s == Status::Done).count(), 1, "{events:?}");
        assert_eq!(events.last(), Some(&(Status::Done, 0)), "{events:?}");
        assert_eq!(ws.load(&record.id).unwrap().unfinished_starts, 0);
    }
}
