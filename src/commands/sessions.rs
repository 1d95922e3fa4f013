//! `brushwork sessions list|show|pause|resume|cancel|retry|rm`: through the running `serve` when
//! there is one, otherwise on the workspace directly (under its lock). `resume` without a server
//! runs the session in this terminal.

use std::path::Path;

use serde_json::json;

use super::foreground::run_here;
use super::overrides;
use crate::cli::{SessionTarget, SessionsCommand, SettingsArgs};
use crate::error::{Error, Result};
use crate::session::lock::FileLock;
use crate::session::owner::Owner;
use crate::session::{Control, Event, Request, Response, Scheduler, SessionRecord, Status, Workspace};
use crate::text::escape_controls;

pub fn sessions(cmd: &SessionsCommand, workspace: &Path) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let priority_target;
    let (request, target) = match cmd {
        SessionsCommand::List { json } => return list(&ws, *json),
        SessionsCommand::Duplicate { id, settings, name, output, json } => {
            return duplicate(&ws, id, settings, name.as_deref(), output.as_deref(), *json)
        }
        SessionsCommand::Priority { id, priority, json } => {
            priority_target = SessionTarget { id: id.clone(), json: *json };
            (Request::SetPriority { id: id.clone(), priority: *priority }, &priority_target)
        }
        SessionsCommand::Show(t) => (Request::Show { id: t.id.clone() }, t),
        SessionsCommand::Pause(t) => (Request::Pause { id: t.id.clone() }, t),
        SessionsCommand::Resume(t) => (Request::Resume { id: t.id.clone() }, t),
        SessionsCommand::Cancel(t) => (Request::Cancel { id: t.id.clone() }, t),
        SessionsCommand::Retry(t) => (Request::Retry { id: t.id.clone() }, t),
        SessionsCommand::Rm(t) => (Request::Remove { id: t.id.clone() }, t),
    };
    let is_resume = matches!(cmd, SessionsCommand::Resume(_));
    if let Some(server) = Owner::remote(&ws) {
        let response = server.request(request)?;
        return print_response(&ws, &response, target);
    }
    // No server: act on the workspace under its lock, with a scheduler that runs nothing.
    let Some(lock) = FileLock::try_acquire(&ws.lock_path())? else {
        return Err(Error::Usage(format!("{}: the workspace is in use by another brushwork", ws.root().display())));
    };
    let scheduler = Scheduler::start(ws.clone(), 0)?;
    let response = scheduler.request(request)?;
    drop(scheduler);
    drop(lock);
    if is_resume {
        if let Response::Session { record } = &response {
            if record.status == Status::Queued {
                return run_here(&ws, &record.id, target.json);
            }
        }
    }
    print_response(&ws, &response, target)
}

/// `sessions duplicate`: the old session's spec with the flags applied, queued in the running
/// `serve`, or run here when there is none.
fn duplicate(
    ws: &Workspace,
    query: &str,
    changes: &SettingsArgs,
    name: Option<&str>,
    output: Option<&Path>,
    json: bool,
) -> Result<()> {
    let server = Owner::remote(ws);
    let record = match &server {
        Some(s) => match s.request(Request::Show { id: query.to_string() })? {
            Response::Session { record } => *record,
            _ => return Err(Error::Remote("the server did not return the session".into())),
        },
        None => ws.load(&ws.resolve_id(query)?)?,
    };
    let mut spec = record.spec();
    if let Some(name) = &changes.preset {
        // Another preset replaces the settings; the styles stay unless it brings its own.
        let preset = crate::preset::load(name)?;
        let styles = std::mem::take(&mut spec.settings.styles);
        spec.settings = preset.settings;
        if spec.settings.styles.is_empty() {
            spec.settings.styles = styles;
        }
        spec.preset = preset.name;
    }
    overrides::apply(&mut spec.settings, changes)?;
    super::run::absolute_inputs(&mut spec.settings);
    spec.name = Some(name.map_or_else(|| format!("{} copy", record.name), str::to_string));
    spec.export = output.map(super::run::absolute);
    match server {
        Some(s) => {
            let response = s.request(Request::Submit { spec: Box::new(spec) })?;
            print_response(ws, &response, &SessionTarget { id: query.to_string(), json })
        }
        None => {
            let new = ws.create(spec)?;
            run_here(ws, &new.id, json)
        }
    }
}

fn print_response(ws: &Workspace, response: &Response, target: &SessionTarget) -> Result<()> {
    match response {
        Response::Session { record } if target.json => {
            println!("{}", json_line(&Event::Session { record: record.clone() }));
        }
        Response::Session { record } => print_record(ws, record),
        Response::Ok if target.json => println!("{}", json!({"event": "removed", "id": target.id})),
        Response::Ok => eprintln!("removed {}", target.id),
        Response::Sessions { .. } | Response::Watches { .. } | Response::Error { .. } => {}
    }
    Ok(())
}

fn list(ws: &Workspace, json: bool) -> Result<()> {
    let records = match Owner::remote(ws) {
        Some(server) => match server.request(Request::List)? {
            Response::Sessions { sessions } => sessions,
            _ => Vec::new(),
        },
        None => ws
            .list()
            .into_iter()
            .map(|l| match l {
                crate::session::workspace::Listed::Ok(r) => *r,
                crate::session::workspace::Listed::Damaged { id, error } => ws.damaged_record(&id, &error),
            })
            .collect(),
    };
    if json {
        for r in records {
            println!("{}", json_line(&Event::Session { record: Box::new(r) }));
        }
        return Ok(());
    }
    println!("{:<28} {:<11} {:<7} {:>15} {:>10}  NAME", "ID", "STATUS", "KIND", "PROGRESS", "LOSS");
    for r in &records {
        let p = r.progress.unwrap_or_default();
        let (done, total, _) = r.progress_counts();
        let progress = match total {
            0 => format!("{done}/? {:>4}", "-"),
            _ => format!("{done}/{total} {:>3}%", u64::from(done.min(total)) * 100 / u64::from(total)),
        };
        let loss = if p.iteration > 0 { format!("{:.3e}", p.loss) } else { "-".into() };
        println!(
            "{:<24} {:<11} {:<7} {:>15} {:>10}  {}",
            r.id,
            status_text(ws, r),
            r.kind.as_str(),
            progress,
            loss,
            escape_controls(&r.name)
        );
        if let Some(e) = &r.error {
            println!("    {}", escape_controls(e));
        }
    }
    Ok(())
}

/// `running` for a session whose process died is shown as `interrupted`.
fn status_text(ws: &Workspace, r: &SessionRecord) -> String {
    if r.status == Status::Running && !FileLock::is_held(&ws.session_dir(&r.id).join("lock")) {
        "interrupted".into()
    } else {
        r.status.to_string()
    }
}

fn print_record(ws: &Workspace, r: &SessionRecord) {
    let dir = ws.session_dir(&r.id);
    println!("id        {}", r.id);
    println!("name      {}", escape_controls(&r.name));
    println!("status    {}", status_text(ws, r));
    println!("kind      {}", r.kind.as_str());
    println!("preset    {}", r.preset);
    println!("content   {}", r.content.display());
    for s in &r.settings.styles {
        println!("style     {} (weight {})", s.path.display(), s.weight);
    }
    if let Some(p) = r.progress {
        let (done, total, unit) = r.progress_counts();
        println!("progress  {done}/{total} {unit}, loss {:.4e}, {:.1} s", p.loss, p.seconds);
    }
    if let Some(e) = &r.error {
        println!("error     {}", escape_controls(e));
    }
    println!("folder    {}", dir.display());
    if let Some(x) = &r.export {
        println!("output    {}", x.display());
    }
}

fn json_line(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}
