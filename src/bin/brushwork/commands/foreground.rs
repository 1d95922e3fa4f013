//! Running one session in this process (`run`, and `sessions resume` when no `serve` owns the
//! workspace), with a progress bar or JSON lines. Ctrl-C, SIGTERM and SIGHUP checkpoint the
//! session and stop; `brushwork sessions resume ID` continues it. A second signal exits at once.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::report::{err_line, out_line, Reporter};
use brushwork::error::{Error, Result};
use brushwork::session::engines::Engines;
use brushwork::session::frames::read_frame_scores;
use brushwork::session::losses::LossLog;
use brushwork::session::run::{run_session, Outcome};
use brushwork::session::stop::{Stop, StopFlag};
use brushwork::session::{Event, Kind, LogLevel, SessionRecord, Workspace};

/// Runs session `id` here and reports it; `Ok` only when it finished.
pub fn run_here(ws: &Workspace, id: &str, json: bool) -> Result<()> {
    Foreground::new()?.run(ws, id, json)
}

/// Sessions run one after the other in this process: one signal handler, and the loaded networks
/// and style targets (Gram matrices) kept from one session to the next.
pub struct Foreground {
    stop: Arc<StopFlag>,
    engines: Engines,
}

impl Foreground {
    pub fn new() -> Result<Self> {
        let stop = Arc::new(StopFlag::default());
        stop_on_signals(stop.clone())?;
        Ok(Foreground { stop, engines: Engines::default() })
    }

    /// Runs session `id` here and reports it; `Ok` only when it finished.
    pub fn run(&self, ws: &Workspace, id: &str, json: bool) -> Result<()> {
        run_with(ws, id, json, &self.stop, &self.engines)
    }
}

fn run_with(ws: &Workspace, id: &str, json: bool, stop: &StopFlag, engines: &Engines) -> Result<()> {
    let record = ws.load(id)?;
    let reporter = Reporter::for_record(json, &record);
    let emit = |e: Event| match &e {
        Event::Progress { .. } => reporter.progress_event(&e),
        // Without a terminal, the failure is printed once, by `main`, as the one error line.
        Event::Log { level: LogLevel::Error, .. } if reporter.is_plain() => {}
        Event::Log { message, .. } => reporter.note(message),
        _ => {}
    };
    // The record keeps the library's words; this command's line names the flags it has.
    let outcome = run_session(ws, id, engines, stop, &emit).map_err(super::overrides::with_flags);
    reporter.finish();
    match outcome? {
        Outcome::Done => {
            report_done(ws, &ws.load(id)?, json);
            Ok(())
        }
        Outcome::Cancelled => Err(Error::Cancelled),
        Outcome::Paused | Outcome::Requeued => Err(Error::Interrupted(format!(
            "interrupted: session {id} is checkpointed; continue it with `brushwork sessions resume {id}`"
        ))),
    }
}

fn stop_on_signals(stop: Arc<StopFlag>) -> Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::Internal(format!("cannot install signal handlers: {e}")))?;
    std::thread::Builder::new()
        .name("brushwork-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for _ in signals.forever() {
                seen += 1;
                if seen > 1 {
                    std::process::exit(130);
                }
                stop.request(Stop::Pause);
            }
        })
        .map_err(|e| Error::Internal(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// The contract's `done` event, or a one-line summary.
pub fn report_done(ws: &Workspace, record: &SessionRecord, json: bool) {
    let output = record.job.export.clone().unwrap_or_else(|| ws.session_dir(&record.id).join("output.png"));
    // Sessions keep absolute paths; the user reads the output as typed when it is under this folder.
    let here = std::env::current_dir().ok();
    let output = PathBuf::from(super::report::relative_to(here.as_deref(), &output.display().to_string()));
    let last = LossLog::new(&ws.session_dir(&record.id)).read().last().copied();
    let p = record.progress.unwrap_or_default();
    if record.job.kind == Kind::Video {
        let scores = read_frame_scores(&ws.session_dir(&record.id));
        let later: Vec<_> = scores.iter().filter(|s| s.frame > 1).collect();
        let mean_of = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let mean = mean_of(later.iter().map(|s| s.flicker).collect()).unwrap_or(0.0);
        let warp = mean_of(later.iter().filter_map(|s| s.warp_error).collect());
        let floor = mean_of(later.iter().filter_map(|s| s.source_warp_error).collect());
        if json {
            let done = json!({
                "event": "done", "output": output.display().to_string(), "seconds": p.seconds, "loss": p.loss,
                "frames": p.total, "flicker": mean, "warp_error": warp, "source_warp_error": floor,
                "session": record.id,
            });
            out_line(&done.to_string());
        } else {
            let steadiness = match (warp, floor) {
                (Some(w), Some(f)) => format!("mean warping error {w:.3e} (source {f:.3e})"),
                _ => format!("mean flicker {mean:+.4}"),
            };
            err_line(&format!(
                "wrote {} ({} frames, {:.1} s, {steadiness}; session {})",
                output.display(),
                p.total,
                p.seconds,
                record.id
            ));
        }
        return;
    }
    if json {
        let done = json!({
            "event": "done", "output": output.display().to_string(), "seconds": p.seconds,
            "loss": p.loss, "style": last.map(|r| r.style), "content": last.map(|r| r.content),
            "tv": last.map(|r| r.tv), "iterations": p.iteration, "session": record.id,
        });
        out_line(&done.to_string());
    } else {
        err_line(&format!(
            "wrote {} ({} iterations, {:.1} s, loss {}; session {})",
            output.display(),
            p.iteration,
            p.seconds,
            brushwork::util::human::loss(p.loss),
            record.id
        ));
    }
}
