//! `brushwork watch DIR`: every image that lands in DIR becomes a session (stylised once per
//! content and configuration, also across restarts). In this terminal until Ctrl-C, SIGTERM or
//! SIGHUP (running sessions checkpoint and continue at the next start), or, when a `serve` owns
//! the workspace, inside it until `brushwork watch DIR --stop`.

use std::path::{Path, PathBuf};

use serde_json::json;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::inputs::{load_images, with_json_error};
use super::overrides;
use super::report::{err_line, out_line, Reporter};
use super::run::{absolute, absolute_inputs};
use super::weights::resolve_for_run;
use crate::cli::WatchArgs;
use brushwork::error::{Error, Result};
use brushwork::session::owner::Owner;
use brushwork::session::watch_service::check_out_folder;
use brushwork::session::watches::WatchConfig;
use brushwork::session::{Control, Event, Kind, Request, Response, Status, Workspace};

/// The preset `watch` uses when none is given.
pub const DEFAULT_PRESET: &str = "quick";

pub fn watch(args: &WatchArgs, workspace: &Path) -> Result<()> {
    with_json_error(args.json, || watch_inner(args, workspace))
}

fn watch_inner(args: &WatchArgs, workspace: &Path) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let dir = absolute(&args.dir);
    if args.stop {
        let server = Owner::remote(&ws)
            .ok_or_else(|| Error::Conflict("no `brushwork serve` owns this workspace; nothing to stop".into()))?;
        server.request(Request::Unwatch { dir: dir.clone() })?;
        err_line(&format!("stopped watching {}", dir.display()));
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(Error::input(&args.dir, "not a folder"));
    }
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    if settings.styles.is_empty() {
        return Err(Error::Usage("no style image: pass --style FILE (or a preset with `styles`)".into()));
    }
    load_images(&settings)?;
    overrides::parse_device(&args.device)?;
    absolute_inputs(&mut settings);
    let out = absolute(&args.out.clone().unwrap_or_else(|| args.dir.join("stylized")));
    check_out_folder(&dir, &out)?;
    let mut config = WatchConfig {
        dir: dir.clone(),
        recursive: args.recursive,
        out: out.clone(),
        poll_seconds: args.poll,
        preset: preset.name.clone(),
        weights: args.weights.as_deref().map(absolute),
        device: args.device.clone(),
        persistent: false,
        settings,
    };
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::Internal(format!("cannot install signal handlers: {e}")))?;
    let remote = Owner::remote(&ws).is_some();
    if !remote && config.weights.is_none() {
        let reporter = Reporter::new(args.json, 0);
        config.weights = Some(absolute(&resolve_for_run(None, config.settings.arch.required(), &reporter)?));
        reporter.finish();
    }
    config.persistent = remote;
    let owner = Owner::attach(&ws, 1)?;
    let control = owner.control();
    let events = control.subscribe()?;
    let response = control.request(Request::Watch { config: Box::new(config) })?;
    if let Response::Watches { watches } = &response {
        if let Some(w) = watches.first().filter(|w| w.polling) {
            err_line(&format!("note: {} is polled (no file events there)", w.config.dir.display()));
        }
    }
    let place = if owner.is_local() { "here" } else { "in the running `brushwork serve`" };
    err_line(&format!("watching {} {place}; results go to {} (Ctrl-C stops)", dir.display(), out.display()));
    let handle = signals.handle();
    let json = args.json;
    let printer = std::thread::spawn(move || {
        for event in events {
            print_event(&event, json);
        }
    });
    let _ = signals.forever().next();
    handle.close();
    if owner.is_local() {
        err_line("stopping: running sessions checkpoint and continue at the next start");
    } else {
        err_line(&format!("the watch goes on in serve; `brushwork watch {} --stop` ends it", args.dir.display()));
    }
    if owner.is_local() {
        owner.shutdown();
        drop(owner);
        drop(control);
        // The scheduler ended its event streams at shutdown, so the printer is done too.
        let _ = printer.join();
    }
    Ok(())
}

fn print_event(event: &Event, json: bool) {
    let Event::Session { record } = event else {
        if let Event::Log { message, .. } = event {
            match json {
                true => out_line(&serde_json::to_string(event).unwrap_or_default()),
                false => err_line(message),
            }
        }
        return;
    };
    if record.job.kind != Kind::Watched {
        return;
    }
    if json {
        out_line(&json!({"event": "session", "record": record}).to_string());
        return;
    }
    let output: PathBuf = record.job.export.clone().unwrap_or_default();
    match record.status {
        Status::Queued => err_line(&format!("{}: {} queued", record.id, record.job.content.display())),
        Status::Done => err_line(&format!("{}: wrote {}", record.id, output.display())),
        Status::Failed => err_line(&format!("{}: failed: {}", record.id, record.error.clone().unwrap_or_default())),
        Status::Interrupted => err_line(&format!(
            "{}: interrupted: {} (continue it with `brushwork sessions resume {}`)",
            record.id,
            record.error.clone().unwrap_or_default(),
            record.id
        )),
        Status::Running | Status::Paused | Status::Cancelled | Status::Distributed => {}
    }
}
