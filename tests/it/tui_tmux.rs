//! The real `brushwork` dashboard in a real terminal (tmux), on a tiny generated network: create a
//! session with the form, watch its progress and loss chart, pause and resume it, quit, and check
//! that the terminal is given back exactly (tty settings, alternate screen) and that the running
//! session was checkpointed on the way out. SIGTERM gives the terminal back too.
//!
//! Needs tmux; skipped (passes) where it is missing, except under CI (`CI` set), where it fails.

use crate::cli_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::Fixture;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.run(&["send-keys", "-t", "t", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Types text literally (no key-name lookup).
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
        std::thread::sleep(Duration::from_millis(100));
    }

    fn wait_for(&self, what: impl Fn(&str) -> bool, label: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if what(&screen) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {label}:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// A tmux session in the fixture dir running a shell script that saves the tty settings, runs the
/// dashboard with an isolated home and the tiny weights, then saves the settings and exit code.
fn start(fx: &Fixture, name: &str) -> Option<Tmux> {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing on CI");
        eprintln!("tmux not installed: skipped");
        return None;
    }
    let home = fx.join("home");
    let script = format!(
        "cd {dir} && stty -g > tty.before && env HOME={home} XDG_CACHE_HOME={home}/.cache XDG_CONFIG_HOME={home}/.config \
         XDG_DATA_HOME={home}/.local/share BRUSHWORK_WEIGHTS={dir}/tiny.safetensors TERM=tmux-256color {exe} \
         --graphics halfblocks; echo $? > exit.code; stty -g > tty.after; echo SHELL-IS-BACK; sleep 600",
        dir = fx.path().display(),
        home = home.display(),
        exe = env!("CARGO_BIN_EXE_brushwork"),
    );
    std::fs::write(fx.join("tui.sh"), &script).unwrap();
    let socket = format!("bw-e2e-{}-{name}", std::process::id());
    let tmux = Tmux { socket };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "110",
        "-y",
        "34",
        "sh",
        &fx.join("tui.sh").display().to_string(),
    ]);
    Some(tmux)
}

fn wait_file(path: &Path) -> String {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    std::fs::read_to_string(path).unwrap()
}

fn session_record(fx: &Fixture) -> String {
    let sessions = fx.join("home/.local/share/brushwork/sessions");
    let dir = std::fs::read_dir(&sessions).unwrap().flatten().next().expect("a session folder").path();
    std::fs::read_to_string(dir.join("session.toml")).unwrap()
}

#[test]
fn create_watch_pause_and_quit_a_real_session_in_tmux() {
    let fx = Fixture::new("tui-e2e");
    let Some(tmux) = start(&fx, "flow") else { return };
    tmux.wait_for(|s| s.contains("no sessions yet"), "the empty dashboard");

    // New session: content, style, a small size and many iterations, submitted with Ctrl-S.
    tmux.keys(&["n"]);
    tmux.wait_for(|s| s.contains("New session"), "the form");
    tmux.keys(&["Down"]);
    tmux.type_text("content.png");
    tmux.keys(&["Down"]);
    tmux.type_text("style.png");
    // Past the style's weight and the preset, to the size.
    tmux.keys(&["Down", "Down", "Down", "C-u"]);
    tmux.type_text("48");
    tmux.keys(&["Down", "C-u"]);
    tmux.type_text("4000");
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for(|s| s.contains("running") && s.contains("content"), "the session running");
    assert!(screen.contains("queued `content`"), "{screen}");

    // Detail: progress, the loss chart with data, and a half-block preview.
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(
        |s| s.contains("Loss (log scale)") && !s.contains("no losses yet") && s.contains('▀'),
        "the chart and the preview",
    );
    assert!(screen.contains("/8000"), "progress over both scales:\n{screen}");

    // Pause and resume from the detail screen.
    tmux.keys(&["p"]);
    tmux.wait_for(|s| s.contains("paused"), "paused");
    assert!(session_record(&fx).contains("status = \"paused\""));
    tmux.keys(&["r"]);
    tmux.wait_for(|s| s.contains("running"), "running again");

    // Quit: the dashboard owned the scheduler, so the session is checkpointed and queued for the
    // next start, and the terminal is exactly as before.
    tmux.keys(&["q"]);
    assert_eq!(wait_file(&fx.join("exit.code")).trim(), "0");
    let screen = tmux.wait_for(|s| s.contains("SHELL-IS-BACK"), "the shell");
    assert!(!screen.contains("Sessions (sort"), "dashboard left on screen:\n{screen}");
    assert_eq!(wait_file(&fx.join("tty.after")), wait_file(&fx.join("tty.before")), "tty settings not restored");
    assert_eq!(tmux.run(&["display", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
    let record = session_record(&fx);
    assert!(record.contains("status = \"queued\""), "{record}");
    assert!(record.contains("[progress]"), "no checkpoint progress saved:\n{record}");
    let log = std::fs::read_to_string(fx.join("home/.local/share/brushwork/brushwork.log")).unwrap();
    assert!(log.contains("paused") && log.contains("queued"), "{log}");
}

#[test]
fn sigterm_restores_the_terminal() {
    let fx = Fixture::new("tui-e2e-term");
    let Some(tmux) = start(&fx, "term") else { return };
    tmux.wait_for(|s| s.contains("no sessions yet"), "the dashboard");
    let pid = tmux.run(&["list-panes", "-t", "t", "-F", "#{pane_pid}"]);
    // The pane runs `sh`; the dashboard is its child.
    let child = Command::new("pgrep").args(["-P", pid.trim()]).output().unwrap();
    let child = String::from_utf8_lossy(&child.stdout).trim().to_string();
    assert!(!child.is_empty(), "no dashboard process under the pane's shell");
    Command::new("kill").args(["-TERM", &child]).status().unwrap();
    tmux.wait_for(|s| s.contains("SHELL-IS-BACK"), "the shell");
    assert_eq!(wait_file(&fx.join("tty.after")), wait_file(&fx.join("tty.before")), "tty settings not restored");
    assert_eq!(tmux.run(&["display", "-p", "-t", "t", "#{alternate_on}"]).trim(), "0");
}
