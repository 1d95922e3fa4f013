//! `brushwork serve`: own the workspace, run its sessions, answer on its socket, until SIGTERM,
//! SIGHUP or Ctrl-C (running sessions checkpoint first and continue at the next start).

use std::path::Path;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::ServeArgs;
use brushwork::error::{Error, Result};
use brushwork::session::owner::Owner;
use brushwork::session::{Event, Workspace};

pub fn serve(args: &ServeArgs, workspace: &Path, log_level: &str) -> Result<()> {
    let ws = Workspace::open(workspace)?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Error::Internal(format!("cannot install signal handlers: {e}")))?;
    let owner = Owner::attach(&ws, args.workers.max(1))?;
    let Owner::Local { scheduler, .. } = &owner else {
        // A dashboard serves its workspace's socket too, so the owner may be either.
        return Err(Error::Conflict(format!(
            "{}: another brushwork (a serve or an open dashboard) already owns this workspace; stop it, or give \
             this one its own with --workspace",
            ws.root().display()
        )));
    };
    let events = brushwork::session::Control::subscribe(&**scheduler)?;
    let level = brushwork::session::logfile::parse_level(log_level)
        .ok_or_else(|| Error::Usage(format!("--log-level `{log_level}`: expected error, warn, info or debug")))?;
    let log = brushwork::session::logfile::spawn(
        brushwork::session::Control::subscribe(&**scheduler)?,
        ws.root().join("brushwork.log"),
        level,
    );
    errln!(
        "brushwork serve: workspace {} ({} worker(s)); socket {}",
        ws.root().display(),
        args.workers.max(1),
        ws.socket_path().display()
    );
    let handle = signals.handle();
    let json = args.json;
    let printer = std::thread::spawn(move || {
        for event in events {
            print_event(&event, json);
        }
    });
    if args.exit_when_idle {
        while !scheduler.is_idle() && signals.pending().next().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    } else {
        let _ = signals.forever().next();
    }
    handle.close();
    errln!("brushwork serve: stopping (running sessions checkpoint and continue at the next start)");
    owner.shutdown();
    drop(owner);
    let _ = printer.join();
    let _ = log.join();
    Ok(())
}

fn print_event(event: &Event, json: bool) {
    if json {
        // A log reader that went away must not take the server with it: failures are ignored.
        if let Ok(text) = serde_json::to_string(event) {
            super::report::out_line(&text);
        }
        return;
    }
    match event {
        Event::Session { record } => errln!(
            "{} {}{}",
            record.id,
            record.status,
            record.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
        ),
        Event::Log { message, .. } => errln!("{message}"),
        Event::Removed { id } => errln!("{id} removed"),
        Event::Progress { .. } | Event::Preview { .. } | Event::Watches { .. } => {}
    }
}
