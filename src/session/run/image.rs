//! An image session's run: iterations with previews, intermediate saves and checkpoints; the
//! result saved with its recipe.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::Device;

use super::{load, progress_event, save, stopped, Loaded, Outcome};
use crate::engine::{stylize_cached, Progress, Snapshot, StylizeJob};
use crate::error::{Error, Result};
use crate::imageio::{load_rgb_for, save_image, RECIPE_KEY};
use crate::preset::recipe::Recipe;
use crate::session::checkpoint;
use crate::session::engines::Engines;
use crate::session::event::{Event, LogLevel};
use crate::session::losses::{LossLog, LossRow};
use crate::session::record::{now, ProgressSummary, SessionRecord, Status};
use crate::session::stop::{Stop, StopFlag};
use crate::session::workspace::Workspace;
use crate::util::fs::write_atomic_with;

/// How often `preview.png` is replaced at most.
const PREVIEW_EVERY: Duration = Duration::from_millis(1000);

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
    let content = load_rgb_for(&record.job.content, Some(settings.size))?;
    crate::session::network::check_content_size(&record.job.content, &settings)?;
    let Loaded { net, header, styles, init_image } = load(record, engines, &weights, device, emit)?;
    let resume = match checkpoint::load_checked(dir, device, &settings, content.dimensions()) {
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
                let base = record.job.export.clone().unwrap_or_else(|| dir.join("output.png"));
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
        content: std::path::absolute(&record.job.content).unwrap_or_else(|_| record.job.content.clone()),
        weights: std::path::absolute(&weights).unwrap_or(weights),
        arch: header.arch.to_string(),
        preprocess: header.preprocess.to_string(),
        seconds: out.seconds,
        loss: out.losses.total,
        settings: settings.clone(),
    };
    let chunks = [(RECIPE_KEY, recipe.to_toml()?)];
    save_image(&dir.join("output.png"), &out.image, &chunks)?;
    if let Some(export) = &record.job.export {
        save_image(export, &out.image, &chunks)?;
    }
    record.status = Status::Done;
    record.finished_at = Some(now());
    // It ended by itself: a later start is not a crash loop (see `run_session`).
    record.unfinished_starts = 0;
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
    Ok(write_atomic_with(&path, |f| rgb.write_to(f, image::ImageFormat::Png).map_err(std::io::Error::other))?)
}

fn summary(p: &Progress) -> ProgressSummary {
    ProgressSummary { iteration: p.iteration, total: p.total, loss: p.losses.total, seconds: p.seconds }
}
