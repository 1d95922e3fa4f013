//! `brushwork sessions list|show|pause|resume|cancel|retry|rm`: through the running `serve` when
//! there is one, otherwise on the workspace directly (under its lock). `resume` without a server
//! runs the session in this terminal.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::foreground::run_here;
use super::overrides;
use crate::cli::{SessionTarget, SessionsCommand, SettingsArgs};
use brushwork::error::{Error, Result};
use brushwork::session::client::Client;
use brushwork::session::lock::FileLock;
use brushwork::session::owner::Owner;
use brushwork::session::{Control, Event, Request, Response, Scheduler, SessionRecord, Status, Workspace};
use brushwork::util::text::escape_controls;

pub fn sessions(cmd: &SessionsCommand, workspace: &Path) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let priority_target;
    let (request, target) = match cmd {
        SessionsCommand::List { status, json } => {
            return list(&ws, &status.iter().map(|&s| s.into()).collect::<Vec<Status>>(), *json)
        }
        SessionsCommand::Rm { ids, json } => return remove(&ws, ids, *json),
        SessionsCommand::Prune { done, failed, cancelled, older_than, dry_run, json } => {
            let mut wanted = Vec::new();
            for (on, s) in [(*done, Status::Done), (*failed, Status::Failed), (*cancelled, Status::Cancelled)] {
                if on {
                    wanted.push(s);
                }
            }
            if wanted.is_empty() {
                wanted = vec![Status::Done, Status::Failed, Status::Cancelled];
            }
            let min_age =
                older_than.as_deref().map(brushwork::util::human::parse_age).transpose().map_err(Error::Usage)?;
            return prune(&ws, &wanted, min_age, *dry_run, *json);
        }
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
    };
    let is_resume = matches!(cmd, SessionsCommand::Resume(_));
    if let Some(server) = Owner::remote(&ws) {
        let response = server.request(request)?;
        return print_response(&ws, &response, target);
    }
    // No server: act on the workspace under its lock, with a scheduler that runs nothing.
    let Some(lock) = FileLock::try_acquire(&ws.lock_path())? else {
        return Err(Error::Conflict(format!("{}: the workspace is in use by another brushwork", ws.root().display())));
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
        let preset = brushwork::preset::load(name)?;
        let styles = std::mem::take(&mut spec.job.settings.styles);
        spec.job.settings = preset.settings;
        if spec.job.settings.styles.is_empty() {
            spec.job.settings.styles = styles;
        }
        spec.job.preset = preset.name;
    }
    overrides::apply(&mut spec.job.settings, changes)?;
    super::run::absolute_inputs(&mut spec.job.settings);
    spec.name = Some(name.map_or_else(|| format!("{} copy", record.name), str::to_string));
    spec.job.export = output.map(super::run::absolute);
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
            outln!("{}", json_line(&Event::Session { record: record.clone() }));
        }
        Response::Session { record } => print_record(ws, record),
        Response::Ok => {}
        Response::Sessions { .. } | Response::Watches { .. } | Response::Error { .. } => {}
    }
    Ok(())
}

/// Every session record: from the running `serve`, or read from the workspace.
fn records(ws: &Workspace) -> Result<Vec<SessionRecord>> {
    Ok(match Owner::remote(ws) {
        Some(server) => match server.request(Request::List)? {
            Response::Sessions { sessions } => sessions,
            _ => Vec::new(),
        },
        None => ws
            .list()
            .into_iter()
            .map(|l| match l {
                brushwork::session::workspace::Listed::Ok(r) => *r,
                brushwork::session::workspace::Listed::Damaged { id, error } => ws.damaged_record(&id, &error),
            })
            .collect(),
    })
}

fn list(ws: &Workspace, statuses: &[Status], json: bool) -> Result<()> {
    let mut records = records(ws)?;
    if !statuses.is_empty() {
        records.retain(|r| statuses.contains(&shown_status(ws, r)));
    }
    if json {
        for r in records {
            outln!("{}", json_line(&Event::Session { record: Box::new(r) }));
        }
        return Ok(());
    }
    if records.is_empty() {
        errln!("no sessions{}", if statuses.is_empty() { "" } else { " with that status" });
        return Ok(());
    }
    let header = ["ID", "STATUS", "KIND", "PROGRESS", "LOSS", "STYLE", "CREATED", "NAME"].map(String::from);
    let mut rows = vec![header];
    let mut errors = vec![None];
    for r in &records {
        let p = r.progress.unwrap_or_default();
        let (done, total, _) = r.progress_counts();
        let progress = match total {
            0 => format!("{done}/? {:>4}", "-"),
            _ => format!("{done}/{total} {:>3}%", u64::from(done.min(total)) * 100 / u64::from(total)),
        };
        let loss = if p.iteration > 0 { brushwork::util::human::loss(p.loss) } else { "-".into() };
        rows.push([
            r.id.clone(),
            shown_status(ws, r).to_string(),
            r.job.kind.as_str().to_string(),
            progress,
            loss,
            style_text(r),
            brushwork::util::human::local_minute(r.created_at),
            escape_controls(&r.name).into_owned(),
        ]);
        errors.push(r.error.as_ref().map(|e| escape_controls(e).into_owned()));
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for (row, error) in rows.iter().zip(errors) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            let last = i == row.len() - 1;
            // Numbers line up on the right, text on the left.
            if matches!(i, 3 | 4) {
                line += &" ".repeat(pad);
                line += cell;
            } else {
                line += cell;
                if !last {
                    line += &" ".repeat(pad);
                }
            }
            if !last {
                line += "  ";
            }
        }
        outln!("{}", line.trim_end());
        if let Some(e) = error {
            outln!("    {e}");
        }
    }
    Ok(())
}

/// The style files' names: `starry.jpg`, or `starry.jpg +2` with more styles.
fn style_text(r: &SessionRecord) -> String {
    let styles = &r.job.settings.styles;
    let Some(first) = styles.first() else { return "-".into() };
    let name = first.path.file_name().map_or_else(|| first.path.display().to_string(), |n| n.to_string_lossy().into());
    let name = escape_controls(&name).into_owned();
    match styles.len() {
        1 => name,
        n => format!("{name} +{}", n - 1),
    }
}

/// `sessions rm ID...`: every id is resolved (and checked free to remove) before any is removed.
fn remove(ws: &Workspace, queries: &[String], json: bool) -> Result<()> {
    let server = Owner::remote(ws);
    let mut ids: Vec<String> = Vec::new();
    for q in queries {
        let id = match &server {
            Some(s) => match s.request(Request::Show { id: q.clone() })? {
                Response::Session { record } => record.id,
                _ => return Err(Error::Remote("the server did not return the session".into())),
            },
            None => ws.resolve_id(q)?,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let labelled: Vec<(String, String)> = ids.into_iter().map(|id| (id.clone(), id)).collect();
    remove_ids(ws, server, &labelled, json)
}

/// Removes sessions already resolved (id, and how to name it in the `removed ...` line), through
/// the server or under the workspace lock.
fn remove_ids(ws: &Workspace, server: Option<Arc<Client>>, ids: &[(String, String)], json: bool) -> Result<()> {
    let report = |id: &str, label: &str| {
        if json {
            outln!("{}", json!({"event": "removed", "id": id}));
        } else {
            errln!("removed {label}");
        }
    };
    if let Some(server) = server {
        for (id, label) in ids {
            server.request(Request::Remove { id: id.clone() })?;
            report(id, label);
        }
        return Ok(());
    }
    let Some(lock) = FileLock::try_acquire(&ws.lock_path())? else {
        return Err(Error::Conflict(format!("{}: the workspace is in use by another brushwork", ws.root().display())));
    };
    for (id, _) in ids {
        if FileLock::is_held(&ws.session_dir(id).join("lock")) {
            return Err(Error::Conflict(format!(
                "session {id} is being run by another process (`brushwork run`); stop it there with Ctrl-C \
                 (nothing was removed)"
            )));
        }
    }
    let scheduler = Scheduler::start(ws.clone(), 0)?;
    for (id, label) in ids {
        scheduler.request(Request::Remove { id: id.clone() })?;
        report(id, label);
    }
    drop(scheduler);
    drop(lock);
    Ok(())
}

/// `sessions prune`: removes the sessions with one of `statuses` (only finished ones) that
/// finished (or, without a finish time, were created) more than `min_age` seconds ago.
fn prune(ws: &Workspace, statuses: &[Status], min_age: Option<u64>, dry_run: bool, json: bool) -> Result<()> {
    let now = brushwork::session::record::now();
    let chosen: Vec<SessionRecord> = records(ws)?
        .into_iter()
        .filter(|r| r.status.is_finished() && statuses.contains(&r.status) && r.created_at > 0)
        .filter(|r| min_age.is_none_or(|age| now.saturating_sub(r.finished_at.unwrap_or(r.created_at)) > age))
        .collect();
    let ids: Vec<(String, String)> = chosen
        .iter()
        .map(|r| (r.id.clone(), format!("{} ({}) {}", r.id, r.status.as_str(), escape_controls(&r.name))))
        .collect();
    if ids.is_empty() {
        if !json {
            errln!("nothing to prune");
        }
        return Ok(());
    }
    if dry_run {
        for ((id, label), r) in ids.iter().zip(&chosen) {
            if json {
                outln!("{}", json!({"event": "would_remove", "id": id, "status": r.status.as_str()}));
            } else {
                outln!("would remove {label}");
            }
        }
        return Ok(());
    }
    remove_ids(ws, Owner::remote(ws), &ids, json)?;
    if !json {
        errln!("pruned {} session{}", ids.len(), if ids.len() == 1 { "" } else { "s" });
    }
    Ok(())
}

/// `running` for a session whose process died is shown as `interrupted`.
fn shown_status(ws: &Workspace, r: &SessionRecord) -> Status {
    if r.status == Status::Running && !FileLock::is_held(&ws.session_dir(&r.id).join("lock")) {
        Status::Interrupted
    } else {
        r.status
    }
}

fn print_record(ws: &Workspace, r: &SessionRecord) {
    let dir = ws.session_dir(&r.id);
    outln!("id        {}", r.id);
    outln!("name      {}", escape_controls(&r.name));
    outln!("status    {}", shown_status(ws, r));
    outln!("created   {}", brushwork::util::human::local_minute(r.created_at));
    outln!("kind      {}", r.job.kind.as_str());
    outln!("preset    {}", r.job.preset);
    outln!("content   {}", r.job.content.display());
    for s in &r.job.settings.styles {
        outln!("style     {} (weight {})", s.path.display(), s.weight);
    }
    if let Some(p) = r.progress {
        let (done, total, unit) = r.progress_counts();
        outln!("progress  {done}/{total} {unit}, loss {}, {:.1} s", brushwork::util::human::loss(p.loss), p.seconds);
    }
    if let Some(e) = &r.error {
        outln!("error     {}", escape_controls(e));
    }
    outln!("folder    {}", dir.display());
    if let Some(x) = &r.job.export {
        outln!("output    {}", x.display());
    }
}

fn json_line(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}
