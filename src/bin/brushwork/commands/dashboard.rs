//! `brushwork` with no subcommand: the dashboard over the workspace. It attaches to a running
//! `serve`, or runs the scheduler itself (and serves the socket, so other terminals can attach);
//! on exit a scheduler it owns checkpoints running sessions, which continue at the next start.

use std::path::Path;

use brushwork::error::{Error, Result};
use brushwork::session::owner::Owner;
use brushwork::session::{logfile, Workspace};
use brushwork::tui::options::GraphicsChoice;
use brushwork::tui::{run_tui, TuiOptions};

pub fn dashboard(workspace: &Path, graphics: GraphicsChoice, log_level: &str) -> Result<()> {
    // Checked before anything is written: no escape codes go to a pipe or a file.
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(Error::Usage(
            "the dashboard needs a terminal (stdin or stdout is not one); see `brushwork --help` for the \
             commands that work without one"
                .into(),
        ));
    }
    let ws = Workspace::open(workspace)?;
    let level = logfile::parse_level(log_level)
        .ok_or_else(|| Error::Usage(format!("--log-level `{log_level}`: expected error, warn, info or debug")))?;
    let options = TuiOptions { graphics, ..Default::default() };
    let owner = Owner::attach(&ws, 1)?;
    let control = owner.control();
    let log = owner.is_local().then(|| control.subscribe()).transpose()?;
    let log = log.map(|events| logfile::spawn(events, ws.root().join("brushwork.log"), level));
    let result = run_tui(control, ws.root().to_path_buf(), options);
    owner.shutdown();
    drop(owner);
    if let Some(h) = log {
        let _ = h.join();
    }
    result
}
