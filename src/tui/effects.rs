//! Carrying out [`Effect`]s: requests go to the scheduler, presets and loss files are read and
//! written here, and every result goes back into the [`App`]. Shared by the terminal loop and the
//! tests, so the tests exercise the same path the dashboard takes.

use std::path::{Path, PathBuf};

use super::app::{App, CheckJob, Effect};
use super::losses;
use crate::preset::{self, Origin, Preset};
use crate::session::{Control, LogLevel, Request};

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

pub fn perform(app: &mut App, control: &dyn Control, effect: Effect) {
    match effect {
        Effect::Request(request) => {
            let request = with_absolute_paths(request);
            let response = control.request(request.clone());
            app.apply_response(&request, response);
        }
        Effect::LoadLosses(id) => {
            let path = app.session_dir(&id).join("losses.csv");
            match losses::read_csv(&path) {
                Ok(rows) => app.set_losses(&id, rows),
                Err(e) => app.report_error(format!("{}: {e}", path.display())),
            }
            let scores = crate::session::frames::read_frame_scores(&app.session_dir(&id));
            app.set_frame_scores(&id, scores);
        }
        Effect::SavePreset { name, settings: _ } if !overwrite_agreed(app, &name) => {
            let warning = match preset::save_path(&name, app.preset_dir.as_deref()) {
                Ok(path) if path.exists() => format!("preset `{name}` already exists at {}", path.display()),
                Ok(_) => format!("`{name}` is a built-in preset: a saved `{name}` would shadow it"),
                Err(e) => return report_in_form(app, e.to_string()),
            };
            if let Some(form) = app.form.as_mut() {
                form.overwrite = Some(name.clone());
                form.message = Some(format!("{warning}; save it again as `{name}` to go ahead (^P)"));
            }
        }
        Effect::SavePreset { name, settings } => match preset::save(&name, &settings, app.preset_dir.as_deref()) {
            Ok(path) => {
                let message = format!("saved preset `{name}` to {}", path.display());
                app.push_log(LogLevel::Info, message.clone());
                if let Some(form) = app.form.as_mut() {
                    form.preset_name = name;
                    form.message = Some(message);
                }
                reload_presets(app);
            }
            Err(e) => report_in_form(app, e.to_string()),
        },
        Effect::DeletePreset(path) => match std::fs::remove_file(&path) {
            Ok(()) => {
                let message = format!("deleted preset {}", path.display());
                app.push_log(LogLevel::Info, message.clone());
                if let Some(form) = app.form.as_mut() {
                    form.message = Some(message);
                }
                reload_presets(app);
            }
            Err(e) => report_in_form(app, format!("{}: {e}", path.display())),
        },
        Effect::ReloadPresets => reload_presets(app),
        Effect::Check(job) => match &app.checker {
            Some(tx) => {
                if tx.send(job).is_err() {
                    report_in_form(app, "internal: the checking thread is gone".into());
                }
            }
            None => {
                let result = check(&job);
                let effects = app.checked(job, result);
                perform_all(app, control, effects);
            }
        },
    }
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

fn reload_presets(app: &mut App) {
    match preset_catalog(app.preset_dir.as_deref()) {
        Ok(list) => app.set_presets(list),
        Err(e) => app.report_error(e.to_string()),
    }
}

/// Whether saving preset `name` may go ahead: it overwrites nothing and shadows no built-in, or the
/// user saved the same name again after being told.
fn overwrite_agreed(app: &mut App, name: &str) -> bool {
    let taken =
        preset::is_built_in(name) || preset::save_path(name, app.preset_dir.as_deref()).is_ok_and(|path| path.exists());
    let agreed = app.form.as_mut().and_then(|f| f.overwrite.take()).as_deref() == Some(name);
    !taken || agreed
}

fn report_in_form(app: &mut App, message: String) {
    if let Some(form) = app.form.as_mut() {
        form.message = Some(message.clone());
    }
    app.report_error(message);
}

/// Carries out effects in order.
pub fn perform_all(app: &mut App, control: &dyn Control, effects: Vec<Effect>) {
    for effect in effects {
        perform(app, control, effect);
    }
}

/// The scheduler may be a `serve` started in another folder: submit absolute paths.
fn with_absolute_paths(request: Request) -> Request {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match request {
        Request::Submit { mut spec } => {
            spec.content = abs(&spec.content);
            spec.export = spec.export.as_deref().map(abs);
            spec.weights = spec.weights.as_deref().map(abs);
            for s in &mut spec.settings.styles {
                s.path = abs(&s.path);
            }
            if let Some(init) = &mut spec.settings.init_file {
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
