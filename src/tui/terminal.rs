//! Owning the terminal: raw mode and the alternate screen on the way in, and everything put back
//! on the way out — on return, on panic (a hook restores before the message prints) and on
//! SIGTERM/SIGHUP (see `signals.rs`). tmux's `allow-passthrough` is put back too.

use std::io::{stdout, Stdout};
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;

use super::graphics::TmuxPassthrough;
use crate::error::{Error, Result};

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Restores the terminal exactly once, from whichever path gets there first.
#[derive(Clone)]
pub struct Restorer {
    done: Arc<AtomicBool>,
    tmux: Arc<Mutex<Option<TmuxPassthrough>>>,
}

impl Restorer {
    pub fn restore(&self) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), LeaveAlternateScreen, Show);
        if let Ok(tmux) = self.tmux.lock() {
            if let Some(t) = tmux.as_ref() {
                t.restore();
            }
        }
    }
}

pub fn terminal_error(e: std::io::Error) -> Error {
    Error::io("terminal", e)
}

/// While alive, the terminal is the dashboard's. Dropping it restores the terminal and the panic hook.
pub struct TerminalGuard {
    pub restorer: Restorer,
    previous_hook: Arc<Hook>,
}

impl TerminalGuard {
    pub fn enter() -> Result<(Self, Terminal<CrosstermBackend<Stdout>>)> {
        // Read before anything may change it (ratatui-image turns passthrough on inside tmux).
        let tmux = TmuxPassthrough::save();
        let restorer = Restorer { done: Arc::new(AtomicBool::new(false)), tmux: Arc::new(Mutex::new(tmux)) };
        let previous_hook: Arc<Hook> = Arc::new(std::panic::take_hook());
        let (hook_restorer, hook_previous) = (restorer.clone(), previous_hook.clone());
        std::panic::set_hook(Box::new(move |info| {
            hook_restorer.restore();
            hook_previous(info);
        }));
        let guard = TerminalGuard { restorer, previous_hook };
        enable_raw_mode().map_err(terminal_error)?;
        execute!(stdout(), EnterAlternateScreen, Hide).map_err(terminal_error)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout())).map_err(terminal_error)?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        self.restorer.restore();
        let previous = self.previous_hook.clone();
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| previous(info)));
    }
}
