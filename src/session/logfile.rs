//! The workspace's log file (`brushwork.log`): warnings, errors and status changes from the
//! scheduler, appended one line each, so the dashboard never prints over its own screen and
//! `serve` leaves a record behind.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use super::event::{Event, LogLevel};
use super::record::now;

/// `error`, `warn`, `info` or `debug` (debug logs as much as info).
pub fn parse_level(text: &str) -> Option<LogLevel> {
    match text.to_ascii_lowercase().as_str() {
        "error" => Some(LogLevel::Error),
        "warn" | "warning" => Some(LogLevel::Warn),
        "info" | "debug" => Some(LogLevel::Info),
        _ => None,
    }
}

fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Info => 0,
        LogLevel::Warn => 1,
        LogLevel::Error => 2,
    }
}

/// Appends the events at or above `min` to `path` until the stream ends.
pub fn spawn(events: Receiver<Event>, path: PathBuf, min: LogLevel) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for event in events {
            let (level, text) = match &event {
                Event::Log { level, message } => (*level, message.clone()),
                Event::Session { record } => {
                    let error = record.error.as_ref().map(|e| format!(": {e}")).unwrap_or_default();
                    (LogLevel::Info, format!("{} {}{error}", record.id, record.status))
                }
                Event::Removed { id } => (LogLevel::Info, format!("{id} removed")),
                Event::Progress { .. } | Event::Preview { .. } | Event::Watches { .. } => continue,
            };
            if rank(level) < rank(min) {
                continue;
            }
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
                let _ = writeln!(
                    f,
                    "{} {level:?} {}",
                    crate::util::human::iso_utc(now()),
                    crate::util::text::escape_controls(&text)
                );
            }
        }
    })
}
