//! `run` when a `serve` owns the workspace: submit the session there and follow its events until
//! it ends. Interrupting this command leaves the session running in the server.

use super::foreground::report_done;
use super::report::Reporter;
use brushwork::error::{Error, Result};
use brushwork::session::{Control, Event, LogLevel, Request, Response, SessionSpec, Status, Workspace};

pub fn submit_and_follow(server: &dyn Control, ws: &Workspace, spec: SessionSpec, json: bool) -> Result<()> {
    let events = server.subscribe()?;
    let Response::Session { record } = server.request(Request::Submit { spec: Box::new(spec) })? else {
        return Err(Error::Remote("the server did not return the new session".into()));
    };
    let id = record.id.clone();
    let reporter = Reporter::for_record(json, &record);
    reporter.note(&format!("session {id} queued in the running `brushwork serve`"));
    for event in events {
        if event.session_id() != Some(id.as_str()) {
            continue;
        }
        match &event {
            Event::Progress { .. } => reporter.progress_event(&event),
            // Without a terminal, a failure is printed once, by `main`, as the one error line.
            Event::Log { level: LogLevel::Error, .. } if reporter.is_plain() => {}
            Event::Log { level: LogLevel::Warn | LogLevel::Error, message } => reporter.note(message),
            Event::Session { record } => match record.status {
                Status::Done => {
                    reporter.finish();
                    report_done(ws, record, json);
                    return Ok(());
                }
                Status::Failed => {
                    reporter.finish();
                    let message = record.error.as_deref().unwrap_or("failed");
                    return Err(Error::Remote(super::overrides::fields_as_flags(message)));
                }
                Status::Cancelled => {
                    reporter.finish();
                    return Err(Error::Cancelled);
                }
                Status::Interrupted => {
                    reporter.finish();
                    return Err(Error::Remote(format!(
                        "session {id} stopped: {}; it continues from its last checkpoint with `brushwork sessions \
                         resume {id}`",
                        record.error.clone().unwrap_or_else(|| "an I/O failure".into())
                    )));
                }
                Status::Paused => reporter.note(&format!("session {id} paused; waiting for it to resume")),
                Status::Queued | Status::Running | Status::Distributed => {}
            },
            Event::Removed { .. } => return Err(Error::Remote(format!("session {id} was deleted"))),
            Event::Preview { .. } | Event::Log { .. } | Event::Watches { .. } => {}
        }
    }
    reporter.finish();
    Err(Error::Remote(format!("the server stopped; session {id} continues when it starts again")))
}
