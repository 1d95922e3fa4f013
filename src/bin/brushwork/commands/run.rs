//! `brushwork run`: stylise one image.

use std::path::{Path, PathBuf};

use super::follow;
use super::foreground::Foreground;
use super::inputs::with_json_error;
use super::overrides;
use super::report::Reporter;
use super::weights::resolve_for_run;
use crate::cli::RunArgs;
use brushwork::error::{Error, Result};
use brushwork::imageio::load_rgb_for;
use brushwork::session::checks::{check_output_dir, check_output_is_not_an_input};
use brushwork::session::lock::FileLock;
use brushwork::session::owner::Owner;
use brushwork::session::workspace::Listed;
use brushwork::session::{Job, Kind, SessionRecord, SessionSpec, Status, Workspace};

/// The preset `run` uses when none is given.
pub const DEFAULT_PRESET: &str = "quick";

pub fn run(args: &RunArgs, workspace: &Path) -> Result<()> {
    with_json_error(args.json, || run_inner(args, workspace))
}

/// Checks every input, records each content image's job as a session in the workspace, and runs
/// them one after the other: here (sharing the loaded network and the style targets), or in the
/// `serve` that owns the workspace (following its progress).
fn run_inner(args: &RunArgs, workspace: &Path) -> Result<()> {
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    if let Some(n) = args.save_every {
        settings.save_every = n;
    }
    // The same checks a spec submitted over the socket gets.
    overrides::check_settings(&settings, Kind::Image)?;
    let outputs = outputs(args, &preset.name)?;
    for (content, output) in args.content.iter().zip(&outputs) {
        // Refuse what cannot fit before decoding anything large.
        // (The run itself says when its memory plan tiles a scale or shortens the history.)
        overrides::check_memory(&settings, Kind::Image, content, &args.device)?;
        check_output_dir(output)?;
        check_output_is_not_an_input(output, ("the content image", content), &settings)?;
        // Bad input is reported before a session is made for it.
        load_rgb_for(content, Some(settings.size))?;
        brushwork::session::network::check_content_size(content, &settings)?;
    }
    overrides::load_images(&settings, &args.settings)?;
    let device = overrides::parse_device(&args.device)?;
    if args.plan {
        return super::memory_plan::print_plans(args, &settings, &preset.name, &device);
    }
    for output in outputs.iter().filter(|o| !brushwork::imageio::keeps_recipe(o)) {
        super::report::err_line(&format!(
            "note: {} cannot carry the recipe (only PNG and JPEG do); the session's output.png keeps it",
            output.display()
        ));
    }
    absolute_inputs(&mut settings);
    let specs: Vec<SessionSpec> = args
        .content
        .iter()
        .zip(outputs)
        .map(|(content, output)| SessionSpec {
            name: None,
            job: Job {
                kind: Kind::Image,
                content: absolute(content),
                // Absolute, like every input: `sessions resume` or a dashboard started in another
                // folder writes where this command was asked to.
                export: Some(absolute(&output)),
                weights: args.weights.clone(),
                device: args.device.clone(),
                preset: preset.name.clone(),
                priority: 0,
                settings: settings.clone(),
            },
        })
        .collect();
    let ws = Workspace::open(workspace)?;
    let several = specs.len() > 1;
    if let Some(server) = Owner::remote(&ws) {
        for (k, mut spec) in specs.into_iter().enumerate() {
            // The server has its own working folder.
            spec.job.weights = spec.job.weights.as_deref().map(absolute);
            announce(several, args.json, k, &args.content);
            follow::submit_and_follow(&*server, &ws, spec, args.json)?;
        }
        return Ok(());
    }
    let reporter = Reporter::new(args.json, 0);
    let weights = resolve_for_run(args.weights.as_deref(), settings.arch.required(), &reporter)?;
    reporter.finish();
    let here = Foreground::new()?;
    for (k, mut spec) in specs.into_iter().enumerate() {
        spec.job.weights = Some(absolute(&weights));
        let id = reuse_or_create(&ws, spec, args.json)?;
        announce(several, args.json, k, &args.content);
        here.run(&ws, &id, args.json)?;
    }
    Ok(())
}

/// "content 2 of 3: b.jpg" before each of several content images (not in `--json`).
fn announce(several: bool, json: bool, k: usize, contents: &[PathBuf]) {
    if several && !json {
        super::report::err_line(&format!("content {} of {}: {}", k + 1, contents.len(), contents[k].display()));
    }
}

/// Each content image's output: `-o` itself for one content image (or `DIR/STEM.PRESET.png` when
/// it names a folder), `DIR/STEM.PRESET.png` for several (`-o` must then be a folder), else
/// `STEM.PRESET.png` in the current folder. Two contents may not share an output.
fn outputs(args: &RunArgs, preset: &str) -> Result<Vec<PathBuf>> {
    let folder = match &args.output {
        Some(o) if o.is_dir() => Some(o.clone()),
        Some(o) if args.content.len() > 1 => {
            return Err(Error::FlagInput {
                flag: "-o",
                path: o.clone(),
                message: format!(
                    "with several content images, -o must be an existing folder (each result is named \
                     CONTENT-STEM.{preset}.png in it)"
                ),
            })
        }
        Some(o) => return Ok(vec![o.clone()]),
        None => None,
    };
    let outputs: Vec<PathBuf> = args
        .content
        .iter()
        .map(|c| {
            let name = default_output(c, preset);
            folder.as_ref().map_or(name.clone(), |d| d.join(name))
        })
        .collect();
    for (k, o) in outputs.iter().enumerate() {
        if let Some(j) = outputs[..k].iter().position(|p| p == o) {
            return Err(Error::Usage(format!(
                "{} and {} would both be written to {}; run them separately with -o",
                args.content[j].display(),
                args.content[k].display(),
                o.display()
            )));
        }
    }
    Ok(outputs)
}

/// The session to run for `spec`: an unfinished one made from the same spec (the same command run
/// again after an interruption continues it), else a new one.
pub(super) fn reuse_or_create(ws: &Workspace, spec: SessionSpec, json: bool) -> Result<String> {
    let same = |r: &SessionRecord| {
        r.job.kind == spec.job.kind
            && r.job.content == spec.job.content
            && r.job.export == spec.job.export
            && r.job.settings == spec.job.settings
            && r.job.device == spec.job.device
            && matches!((&r.job.weights, &spec.job.weights), (Some(a), Some(b)) if a == b)
            && matches!(r.status, Status::Paused | Status::Queued | Status::Running)
            && !FileLock::is_held(&ws.session_dir(&r.id).join("lock"))
    };
    let existing = ws.list().into_iter().rev().find_map(|l| match l {
        Listed::Ok(r) if same(&r) => Some(r.id),
        _ => None,
    });
    if let Some(id) = existing {
        if !json {
            errln!("continuing session {id} where it stopped");
        }
        return Ok(id);
    }
    Ok(ws.create(spec)?.id)
}

/// `CONTENT-STEM.PRESET.png` in the current folder.
pub fn default_output(content: &Path, preset: &str) -> PathBuf {
    let stem = content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    PathBuf::from(format!("{stem}.{preset}.png"))
}

/// Style and init paths made absolute, so a session (and its recipe) works from any folder.
pub(super) fn absolute_inputs(settings: &mut brushwork::engine::Settings) {
    for s in &mut settings.styles {
        s.path = absolute(&s.path);
    }
    if let Some(init) = &mut settings.init_file {
        *init = absolute(init);
    }
    if let Some(dir) = &mut settings.flow_dir {
        *dir = absolute(dir);
    }
}

pub(super) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
