//! SIGTERM, SIGHUP and SIGINT end the dashboard cleanly: the loop is told to quit, and if it has
//! not finished within a grace period (a request stuck on a dead socket), the terminal is
//! restored here and the process exits, so a killed dashboard never leaves a raw terminal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::terminal::Restorer;

const GRACE: Duration = Duration::from_secs(3);

pub struct SignalWatch {
    handle: Handle,
    finished: Arc<AtomicBool>,
}

impl SignalWatch {
    /// `notify` is called with the signal number; it should make the UI loop quit.
    pub fn start(restorer: Restorer, notify: impl Fn(i32) + Send + 'static) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGTERM, SIGHUP, SIGINT])?;
        let handle = signals.handle();
        let finished = Arc::new(AtomicBool::new(false));
        let done = finished.clone();
        std::thread::Builder::new().name("tui-signals".into()).spawn(move || {
            if let Some(signal) = signals.forever().next() {
                notify(signal);
                std::thread::sleep(GRACE);
                if !done.load(Ordering::SeqCst) {
                    restorer.restore();
                    std::process::exit(128 + signal);
                }
            }
        })?;
        Ok(SignalWatch { handle, finished })
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.finished.store(true, Ordering::SeqCst);
        self.handle.close();
    }
}
