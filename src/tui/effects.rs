//! Carrying out [`Effect`]s without blocking the UI thread. Each effect becomes a [`Job`] that
//! holds all it needs ([`start`], on the UI thread: it marks what is pending, touches no file),
//! the job runs on a worker thread (`worker.rs`: requests to the scheduler, files read and
//! written) and its [`Outcome`] comes back as a message, which [`finish`] applies to the [`App`].
//! [`perform_all`] runs the same jobs in place, so the tests exercise the path the dashboard takes.

use std::path::{Path, PathBuf};

use super::app::{App, CheckJob, Effect};
use super::losses::{self, LossRow};
use super::worker::Workers;
use crate::engine::Settings;
use crate::preset::{self, Origin, Preset};
use crate::session::frames::FrameScore;
use crate::session::{Control, LogLevel, Request, Response};
/// Every preset reachable by name, plus those in the folder presets are saved to (when that is
/// not one of the usual folders), so a preset saved from the form shows up in its list.
pub fn preset_catalog(extra_dir: Option<&Path>) -> crate::Result<Vec<Preset>> {
    let mut presets = preset::list()?;
    let Some(dir) = extra_dir.filter(|d| !preset::search_dirs().iter().any(|s| s == d)) else { return Ok(presets) };
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(presets) };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if presets.iter().any(|p| p.name == name) {
            continue;
        }
        let settings = preset::load_file(&path)?;
        presets.push(Preset { name, origin: Origin::File(path), settings });
    }
    Ok(presets)
}

/// Work for a worker thread: it may wait on the scheduler (removing a running session waits for
/// its iteration to end) or on the disk.
#[derive(Debug)]
pub enum Job {
    Request(Request),
    /// `losses.csv` and the frame scores of session `id`, in folder `dir`.
    LoadLosses {
        id: String,
        dir: PathBuf,
    },
    /// Save the form's settings as preset `name` in `dir`; `agreed`: the user was told it
    /// overwrites a file or shadows a built-in, and saved again.
    SavePreset {
        name: String,
        settings: Box<Settings>,
        dir: Option<PathBuf>,
        agreed: bool,
    },
    DeletePreset(PathBuf),
    /// The preset catalog, with the presets in `dir`.
    Presets {
        dir: Option<PathBuf>,
    },
    Check(CheckJob),
}

/// Which worker a job goes to. Jobs of one lane run in the order sent; a slow deletion does not
/// hold up the other requests, nor a slow request the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Requests,
    Removals,
    Files,
}

impl Job {
    pub fn lane(&self) -> Lane {
        match self {
            Job::Request(Request::Remove { .. }) => Lane::Removals,
            Job::Request(_) => Lane::Requests,
            _ => Lane::Files,
        }
    }

    /// Does the work (blocking) and says how it went.
    pub fn run(self, control: &dyn Control) -> Outcome {
        match self {
            Job::Request(request) => {
                let request = with_absolute_paths(request);
                let response = control.request(request.clone());
                Outcome::Answered { request, response }
            }
            Job::LoadLosses { id, dir } => {
                let path = dir.join("losses.csv");
                let rows = losses::read_csv(&path).map_err(|e| format!("{}: {e}", path.display()));
                let scores = crate::session::frames::read_frame_scores(&dir);
                Outcome::Losses { id, rows, scores }
            }
            Job::SavePreset { name, settings, dir, agreed } => {
                if !agreed {
                    let warning = match preset::save_path(&name, dir.as_deref()) {
                        Ok(path) if path.exists() => {
                            Some(format!("preset `{name}` already exists at {}", path.display()))
                        }
                        Ok(_) if preset::is_built_in(&name) => {
                            Some(format!("`{name}` is a built-in preset: a saved `{name}` would shadow it"))
                        }
                        Ok(_) => None,
                        Err(e) => return Outcome::PresetSaved { name, result: Err(e.to_string()) },
                    };
                    if let Some(warning) = warning {
                        return Outcome::PresetHeldBack { name, warning };
                    }
                }
                let result = preset::save(&name, &settings, dir.as_deref()).map_err(|e| e.to_string());
                Outcome::PresetSaved { name, result }
            }
            Job::DeletePreset(path) => {
                let result = std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()));
                Outcome::PresetDeleted { path, result }
            }
            Job::Presets { dir } => Outcome::Presets(preset_catalog(dir.as_deref()).map_err(|e| e.to_string())),
            Job::Check(job) => {
                let result = check(&job);
                Outcome::Checked(job, result)
            }
        }
    }
}

/// How a [`Job`] went, for [`finish`] to apply on the UI thread.
#[derive(Debug)]
pub enum Outcome {
    Answered {
        request: Request,
        response: crate::Result<Response>,
    },
    Losses {
        id: String,
        rows: Result<Vec<LossRow>, String>,
        scores: Vec<FrameScore>,
    },
    /// Saving would overwrite a file or shadow a built-in: the user is asked to save again.
    PresetHeldBack {
        name: String,
        warning: String,
    },
    PresetSaved {
        name: String,
        result: Result<PathBuf, String>,
    },
    PresetDeleted {
        path: PathBuf,
        result: Result<(), String>,
    },
    Presets(Result<Vec<Preset>, String>),
    Checked(CheckJob, Result<(), String>),
    /// The job could not be carried out at all.
    Failed(String),
}

/// The UI thread's half of an effect, before its job is sent: marks what is now pending and
/// takes from the state what the job needs. Reads and writes no file.
pub fn start(app: &mut App, effect: Effect) -> Job {
    match effect {
        Effect::Request(request) => {
            app.request_sent(&request);
            Job::Request(request)
        }
        Effect::LoadLosses(id) => Job::LoadLosses { dir: app.session_dir(&id), id },
        Effect::SavePreset { name, settings } => {
            // Saving the name the user was just warned about goes ahead; any other asks anew.
            let form = app.form.as_mut();
            let agreed = form.and_then(|f| f.overwrite.take()).as_deref() == Some(name.as_str());
            if let Some(form) = app.form.as_mut() {
                form.message = Some(format!("saving preset `{name}`…"));
            }
            Job::SavePreset { name, settings, dir: app.preset_dir.clone(), agreed }
        }
        Effect::DeletePreset(path) => Job::DeletePreset(path),
        Effect::ReloadPresets => Job::Presets { dir: app.preset_dir.clone() },
        Effect::Check(job) => Job::Check(job),
    }
}

/// Applies a job's outcome to the state; returns the effects that follow (a checked form is
/// submitted, a saved preset reloads the list).
pub fn finish(app: &mut App, outcome: Outcome) -> Vec<Effect> {
    match outcome {
        Outcome::Answered { request, response } => {
            app.request_answered(&request);
            app.apply_response(&request, response);
        }
        Outcome::Losses { id, rows, scores } => {
            match rows {
                Ok(rows) => app.set_losses(&id, rows),
                Err(e) => app.report_error(e),
            }
            app.set_frame_scores(&id, scores);
        }
        Outcome::PresetHeldBack { name, warning } => {
            if let Some(form) = app.form.as_mut() {
                form.overwrite = Some(name.clone());
                form.message = Some(format!("{warning}; save it again as `{name}` to go ahead (^P)"));
            }
        }
        Outcome::PresetSaved { name, result: Ok(path) } => {
            let message = format!("saved preset `{name}` to {}", path.display());
            app.push_log(LogLevel::Info, message.clone());
            if let Some(form) = app.form.as_mut() {
                form.preset_name = name;
                form.message = Some(message);
            }
            return vec![Effect::ReloadPresets];
        }
        Outcome::PresetDeleted { path, result: Ok(()) } => {
            let message = format!("deleted preset {}", path.display());
            app.push_log(LogLevel::Info, message.clone());
            if let Some(form) = app.form.as_mut() {
                form.message = Some(message);
            }
            return vec![Effect::ReloadPresets];
        }
        Outcome::PresetSaved { result: Err(e), .. } | Outcome::PresetDeleted { result: Err(e), .. } => {
            report_in_form(app, e)
        }
        Outcome::Presets(Ok(list)) => app.set_presets(list),
        Outcome::Presets(Err(e)) => app.report_error(e),
        Outcome::Checked(job, result) => return app.checked(job, result),
        Outcome::Failed(e) => report_in_form(app, e),
    }
    Vec::new()
}

/// The CLI's checks of a spec from the form (`brushwork run` and `video` make the same); reads files.
pub fn check(job: &CheckJob) -> Result<(), String> {
    let result = if job.watch {
        crate::session::checks::check_watch(&job.spec)
    } else {
        crate::session::checks::check_session(&job.spec)
    };
    result.map_err(|e| crate::util::text::escape_controls(&e.to_string()).into_owned())
}

fn report_in_form(app: &mut App, message: String) {
    if let Some(form) = app.form.as_mut() {
        form.message = Some(message.clone());
    }
    app.report_error(message);
}

/// Sends each effect's job to its worker; the outcomes come back to the terminal loop, which
/// hands them to [`finish`]. Never waits.
pub fn dispatch_all(app: &mut App, workers: &Workers, effects: Vec<Effect>) {
    for effect in effects {
        let job = start(app, effect);
        if let Err(job) = workers.send(job) {
            // Its worker is gone (it panicked): say so, and clear what was marked pending.
            const GONE: &str = "internal: a thread of the dashboard is gone; restart brushwork";
            let outcome = match job {
                Job::Request(request) => {
                    Outcome::Answered { request, response: Err(crate::Error::Internal(GONE.into())) }
                }
                Job::Check(job) => Outcome::Checked(job, Err(GONE.into())),
                _ => Outcome::Failed(GONE.into()),
            };
            let more = finish(app, outcome);
            dispatch_all(app, workers, more);
        }
    }
}

/// Carries out effects in place, in order, waiting for each (and for the effects that follow
/// from it): the tests' way, the same [`start`], [`Job::run`] and [`finish`] as the dashboard's.
pub fn perform_all(app: &mut App, control: &dyn Control, effects: Vec<Effect>) {
    for effect in effects {
        let outcome = start(app, effect).run(control);
        let more = finish(app, outcome);
        perform_all(app, control, more);
    }
}

/// The scheduler may be a `serve` started in another folder: submit absolute paths.
fn with_absolute_paths(request: Request) -> Request {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match request {
        Request::Submit { mut spec } => {
            spec.job.content = abs(&spec.job.content);
            spec.job.export = spec.job.export.as_deref().map(abs);
            spec.job.weights = spec.job.weights.as_deref().map(abs);
            for s in &mut spec.job.settings.styles {
                s.path = abs(&s.path);
            }
            if let Some(init) = &mut spec.job.settings.init_file {
                *init = abs(init);
            }
            Request::Submit { spec }
        }
        Request::Watch { mut config } => {
            config.dir = abs(&config.dir);
            config.out = abs(&config.out);
            config.weights = config.weights.as_deref().map(abs);
            for s in &mut config.settings.styles {
                s.path = abs(&s.path);
            }
            Request::Watch { config }
        }
        other => other,
    }
}
