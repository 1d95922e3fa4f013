//! Choosing the preview protocol. Environment first (tmux, kitty, iTerm2, WezTerm), then a terminal
//! query with a timeout, half blocks otherwise. ratatui-image turns tmux's `allow-passthrough` on
//! whenever it builds a picker inside tmux, so the previous value is read first and put back on exit.

use std::process::{Command, Stdio};
use std::time::Duration;

use ratatui_image::picker::cap_parser::QueryStdioOptions;
use ratatui_image::picker::{Picker, ProtocolType};

use super::options::GraphicsChoice;

/// Inside tmux (3.3a measured) sixel passthrough drew nothing, so `auto` picks half blocks there.
pub fn inside_tmux() -> bool {
    std::env::var_os("TMUX").is_some_and(|v| !v.is_empty())
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("tmux"))
        || std::env::var("TERM_PROGRAM").is_ok_and(|t| t == "tmux")
}

/// A protocol the environment names without asking the terminal.
fn protocol_from_env() -> Option<ProtocolType> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("KITTY_WINDOW_ID") || std::env::var("TERM").is_ok_and(|t| t.contains("kitty")) {
        return Some(ProtocolType::Kitty);
    }
    let program = std::env::var("TERM_PROGRAM").unwrap_or_default();
    if set("ITERM_SESSION_ID") || program == "iTerm.app" || program == "WezTerm" || set("WEZTERM_EXECUTABLE") {
        return Some(ProtocolType::Iterm2);
    }
    None
}

/// Builds the picker. Must run after entering the alternate screen and before reading input,
/// because the query writes escape sequences and reads the answers from stdin.
pub fn pick(choice: GraphicsChoice) -> Picker {
    let forced = match choice {
        GraphicsChoice::Auto => None,
        GraphicsChoice::Halfblocks => return Picker::halfblocks(),
        GraphicsChoice::Sixel => Some(ProtocolType::Sixel),
        GraphicsChoice::Kitty => Some(ProtocolType::Kitty),
        GraphicsChoice::Iterm2 => Some(ProtocolType::Iterm2),
    };
    if forced.is_none() && inside_tmux() {
        return Picker::halfblocks();
    }
    let options = QueryStdioOptions { timeout: Duration::from_millis(1500), ..QueryStdioOptions::default() };
    // A failed query still leaves half blocks, which always work.
    let mut picker = Picker::from_query_stdio_with_options(options).unwrap_or_else(|_| Picker::halfblocks());
    if let Some(protocol) = forced.or_else(protocol_from_env) {
        picker.set_protocol_type(protocol);
    }
    picker
}

/// tmux's pane-local `allow-passthrough` as it was before we started, to put back on exit.
#[derive(Debug, Clone)]
pub struct TmuxPassthrough {
    pane: Option<String>,
    /// `None`: the pane had no local value (it inherited the window's), so unset it again.
    previous: Option<String>,
}

impl TmuxPassthrough {
    /// Reads the current value; `None` outside tmux or when tmux cannot be asked.
    pub fn save() -> Option<Self> {
        if !inside_tmux() {
            return None;
        }
        let pane = std::env::var("TMUX_PANE").ok().filter(|p| !p.is_empty());
        let mut cmd = Command::new("tmux");
        cmd.args(["show-options", "-p", "-v"]);
        if let Some(p) = &pane {
            cmd.args(["-t", p]);
        }
        let out = cmd.arg("allow-passthrough").stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        if !out.status.success() {
            return None;
        }
        let value = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Some(TmuxPassthrough { pane, previous: (!value.is_empty()).then_some(value) })
    }

    /// Puts the saved value back. Errors are ignored: this runs while the terminal is being restored.
    pub fn restore(&self) {
        let mut cmd = Command::new("tmux");
        cmd.args(["set-option", "-p"]);
        if let Some(p) = &self.pane {
            cmd.args(["-t", p]);
        }
        match &self.previous {
            Some(v) => cmd.args(["allow-passthrough", v]),
            None => cmd.args(["-u", "allow-passthrough"]),
        };
        let _ = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}
