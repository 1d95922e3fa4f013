//! The dashboard in a real terminal: tmux runs this test binary's `tui_child` test, which opens
//! `run_tui` on a scripted scheduler. The parent presses keys, reads the screen with
//! `capture-pane`, and checks that quitting and SIGTERM both give the terminal back.
//! Skipped (passes) where tmux is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brushwork::engine::Settings;
use brushwork::session::{Control, Event, Request, Response, SessionRecord, SessionSpec, Status};
use brushwork::tui::{run_tui, GraphicsChoice, TuiOptions};

const CHILD_ENV: &str = "BRUSHWORK_TUI_TMUX_CHILD";

/// A scheduler stand-in: one running session; keeps the event sender so the stream stays open.
struct Scripted {
    sessions: Vec<SessionRecord>,
    keep: Mutex<Vec<std::sync::mpsc::Sender<Event>>>,
}

impl Control for Scripted {
    fn request(&self, request: Request) -> brushwork::Result<Response> {
        match request {
            Request::List => Ok(Response::Sessions { sessions: self.sessions.clone() }),
            _ => Ok(Response::Ok),
        }
    }

    fn subscribe(&self) -> brushwork::Result<Receiver<Event>> {
        let (tx, rx) = channel();
        self.keep.lock().unwrap().push(tx);
        Ok(rx)
    }
}

#[test]
fn tui_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else { return };
    std::fs::write(dir.join("pid"), std::process::id().to_string()).unwrap();
    let spec = SessionSpec {
        name: Some("tubingen".into()),
        kind: Default::default(),
        content: "media/content/tubingen.jpg".into(),
        export: None,
        weights: None,
        device: "cpu".into(),
        preset: "quick".into(),
        priority: 0,
        settings: Settings::default(),
    };
    let mut record = SessionRecord::new("s1".into(), spec);
    record.status = Status::Running;
    let control = Arc::new(Scripted { sessions: vec![record], keep: Mutex::new(Vec::new()) });
    let options = TuiOptions { graphics: GraphicsChoice::Auto, ..Default::default() };
    let result = run_tui(control, dir.join("ws"), options);
    std::fs::write(dir.join("exit"), format!("{result:?}")).unwrap();
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn wait_for(&self, what: impl Fn(&str) -> bool, label: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if what(&screen) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {label}:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn start(dir: &Path, name: &str) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux not installed: skipped");
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let socket = format!("bw-tui-{}-{name}", std::process::id());
    let tmux = Tmux { socket };
    let command = format!(
        "env {CHILD_ENV}={} TERM=tmux-256color {} tui_child --exact --nocapture --test-threads=1",
        dir.display(),
        exe.display()
    );
    tmux.run(&["new-session", "-d", "-s", "t", "-x", "100", "-y", "30", &command]);
    tmux.run(&["set-option", "-t", "t", "remain-on-exit", "on"]);
    Some(tmux)
}

fn wait_file(path: &Path) -> String {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn dashboard_runs_and_quits_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmux) = start(dir.path(), "quit") else { return };
    let screen = tmux.wait_for(|s| s.contains("tubingen") && s.contains("running"), "the sessions list");
    assert!(screen.contains("Sessions (sort: created)"), "{screen}");
    assert!(screen.contains("previews drawn with half blocks"), "inside tmux auto means half blocks:\n{screen}");
    tmux.run(&["send-keys", "-t", "t", "n"]);
    tmux.wait_for(|s| s.contains("New session") && s.contains("Preset"), "the form");
    tmux.run(&["send-keys", "-t", "t", "Escape"]);
    tmux.wait_for(|s| s.contains("Sessions (sort"), "back to the list");
    tmux.run(&["send-keys", "-t", "t", "q"]);
    assert_eq!(wait_file(&dir.path().join("exit")), "Ok(())");
    let screen = tmux.wait_for(|s| !s.contains("Sessions (sort"), "the dashboard to leave the screen");
    assert!(screen.contains("running 1 test"), "the shell screen is back:\n{screen}");
    let passthrough = tmux.run(&["show-options", "-p", "-v", "-t", "t", "allow-passthrough"]);
    assert_eq!(passthrough.trim(), "", "allow-passthrough was put back (unset)");
}

#[test]
fn sigterm_restores_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmux) = start(dir.path(), "term") else { return };
    tmux.wait_for(|s| s.contains("tubingen"), "the sessions list");
    let pid = wait_file(&dir.path().join("pid"));
    Command::new("kill").args(["-TERM", pid.trim()]).status().unwrap();
    assert_eq!(wait_file(&dir.path().join("exit")), "Ok(())");
    tmux.wait_for(|s| !s.contains("Sessions (sort"), "the dashboard to leave the screen");
}
