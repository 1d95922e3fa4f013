//! `brushwork sessions list|show|pause|resume|cancel|retry|rm`: through the running `serve` when
//! there is one, otherwise on the workspace directly (under its lock). `resume` without a server
//! runs the session in this terminal.

use std::path::Path;

use serde_json::json;

use super::foreground::run_here;
use crate::cli::{SessionTarget, SessionsCommand};
use crate::error::{Error, Result};
use crate::session::lock::FileLock;
use crate::session::owner::Owner;
use crate::session::{Control, Event, Request, Response, Scheduler, SessionRecord, Status, Workspace};

pub fn sessions(cmd: &SessionsCommand, workspace: &Path) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let (request, target) = match cmd {
        SessionsCommand::List { json } => return list(&ws, *json),
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
        let total = r.total_iterations().max(1);
        let progress = format!("{}/{} {:>3}%", p.iteration, total, p.iteration * 100 / total);
        let loss = if p.iteration > 0 { format!("{:.3e}", p.loss) } else { "-".into() };
        println!(
            "{:<24} {:<11} {:<7} {:>15} {:>10}  {}",
            r.id,
            status_text(ws, r),
            r.kind.as_str(),
            progress,
            loss,
            r.name
        );
        if let Some(e) = &r.error {
            println!("    {e}");
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
    println!("name      {}", r.name);
    println!("status    {}", status_text(ws, r));
    println!("kind      {}", r.kind.as_str());
    println!("preset    {}", r.preset);
    println!("content   {}", r.content.display());
    for s in &r.settings.styles {
        println!("style     {} (weight {})", s.path.display(), s.weight);
    }
    if let Some(p) = r.progress {
        println!("progress  {}/{} iterations, loss {:.4e}, {:.1} s", p.iteration, p.total, p.loss, p.seconds);
    }
    if let Some(e) = &r.error {
        println!("error     {e}");
    }
    println!("folder    {}", dir.display());
    if let Some(x) = &r.export {
        println!("output    {}", x.display());
    }
}

fn json_line(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}
