//! How a command reports progress: JSON lines on stdout (`--json`), or a progress bar on stderr.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::engine::Progress;
use crate::error::Error;

pub enum Reporter {
    Json,
    Bar(ProgressBar),
    /// stderr is not a terminal (a log file, a pipe, a CI job): a plain line now and then.
    Plain(Mutex<Plain>),
}

/// When the last plain progress line was printed.
pub struct Plain {
    last: Option<(Instant, u64)>,
}

/// A plain progress line at most this often, or every tenth of the work, whichever comes first.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

impl Plain {
    fn new() -> Self {
        Plain { last: None }
    }

    /// Whether a line is due at `done` of `total` (always at the first and last step).
    fn due(&mut self, done: u64, total: u64) -> bool {
        let now = Instant::now();
        let due = match self.last {
            None => true,
            Some((_, last)) if done <= last => false,
            Some((t, last)) => {
                done >= total || now - t >= PLAIN_EVERY || (total > 0 && done * 10 / total > last * 10 / total)
            }
        };
        if due {
            self.last = Some((now, done));
        }
        due
    }
}

/// `iteration 120/600 (20%)  loss 1.234e5  elapsed 0:12  eta 0:48` (the ETA from the rate so far).
fn plain_line(what: &str, done: u64, total: u64, seconds: f64, rest: &str) -> String {
    let pct = (done * 100).checked_div(total).unwrap_or(0);
    let eta = if done > 0 && total >= done { clock(seconds / done as f64 * (total - done) as f64) } else { "?".into() };
    format!("{what} {done}/{total} ({pct}%){rest}  elapsed {}  eta {eta}", clock(seconds))
}

/// `m:ss`, or `h:mm:ss` from an hour.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl Reporter {
    pub fn new(json: bool, total: u64) -> Self {
        if json {
            return Reporter::Json;
        }
        if !std::io::stderr().is_terminal() {
            return Reporter::Plain(Mutex::new(Plain::new()));
        }
        let bar = ProgressBar::new(total);
        let style =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} it  eta {eta}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Reporter::Bar(bar)
    }

    pub fn progress(&self, p: &Progress) {
        match self {
            Reporter::Json => {
                let line = json!({
                    "event": "progress", "iteration": p.iteration, "total": p.total, "scale": p.scale,
                    "loss": p.losses.total, "style": p.losses.style, "content": p.losses.content,
                    "tv": p.losses.tv, "seconds": p.seconds,
                });
                out_line(&line.to_string());
            }
            Reporter::Plain(plain) => {
                let (done, total) = (p.iteration as u64, p.total as u64);
                if lock(plain).due(done, total) {
                    let rest = format!("  scale {}  loss {:.4e}", p.scale, p.losses.total);
                    err_line(&plain_line("iteration", done, total, p.seconds, &rest));
                }
            }
            Reporter::Bar(bar) => {
                bar.set_position(p.iteration as u64);
                bar.set_message(format!(
                    "scale {} {}x{}  loss {:.4e} (style {:.3e} content {:.3e})",
                    p.scale, p.width, p.height, p.losses.total, p.losses.style, p.losses.content
                ));
            }
        }
    }

    /// A scheduler's progress event. Video sessions report one JSON line per finished frame
    /// (with `frame`, `frames`, `flicker`), not per iteration.
    pub fn progress_event(&self, e: &crate::session::Event) {
        let crate::session::Event::Progress {
            iteration,
            total,
            scale,
            loss,
            style,
            content,
            tv,
            seconds,
            frame,
            frames,
            flicker,
            temporal,
            warp_error,
            source_warp_error,
            ..
        } = *e
        else {
            return;
        };
        match (self, frame, frames) {
            (Reporter::Json, Some(frame), Some(frames)) => {
                if let Some(flicker) = flicker {
                    let line = json!({
                        "event": "progress", "frame": frame, "frames": frames, "iteration": iteration,
                        "total": total, "scale": scale, "loss": loss, "style": style, "content": content,
                        "tv": tv, "temporal": temporal, "flicker": flicker, "warp_error": warp_error,
                        "source_warp_error": source_warp_error, "seconds": seconds,
                    });
                    out_line(&line.to_string());
                }
            }
            (Reporter::Json, _, _) => {
                let line = json!({
                    "event": "progress", "iteration": iteration, "total": total, "scale": scale,
                    "loss": loss, "style": style, "content": content, "tv": tv, "seconds": seconds,
                });
                out_line(&line.to_string());
            }
            (Reporter::Bar(bar), Some(frame), Some(frames)) => {
                bar.set_length(frames as u64);
                bar.set_position(frame as u64 - u64::from(flicker.is_none()));
                match flicker {
                    Some(f) => bar.set_message(match (warp_error, source_warp_error) {
                        (Some(w), Some(s)) => {
                            format!("frame {frame} done: loss {loss:.4e}, warping error {w:.2e} (source {s:.2e})")
                        }
                        _ => format!("frame {frame} done: loss {loss:.4e}, flicker {f:+.4}"),
                    }),
                    None => bar.set_message(format!("frame {frame}: it {iteration}/{total}  loss {loss:.4e}")),
                }
            }
            (Reporter::Plain(plain), Some(frame), Some(frames)) => {
                // A line per finished frame when due, counted in frames.
                if flicker.is_some() && lock(plain).due(frame as u64, frames as u64) {
                    let rest = format!("  loss {loss:.4e}");
                    err_line(&plain_line("frame", frame as u64, frames as u64, seconds, &rest));
                }
            }
            (Reporter::Plain(plain), _, _) => {
                if lock(plain).due(iteration as u64, total as u64) {
                    let rest = format!("  scale {scale}  loss {loss:.4e}");
                    err_line(&plain_line("iteration", iteration as u64, total as u64, seconds, &rest));
                }
            }
            (Reporter::Bar(bar), _, _) => {
                bar.set_length(total as u64);
                bar.set_position(iteration as u64);
                bar.set_message(format!("scale {scale}  loss {loss:.4e} (style {style:.3e} content {content:.3e})"));
            }
        }
    }

    /// Plain lines on stderr (no terminal, no `--json`).
    pub fn is_plain(&self) -> bool {
        matches!(self, Reporter::Plain(_))
    }

    /// A note for the user (stderr; kept off the JSON stream).
    pub fn note(&self, message: &str) {
        match self {
            Reporter::Json | Reporter::Plain(_) => err_line(message),
            Reporter::Bar(bar) => bar.println(message),
        }
    }

    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn lock(plain: &Mutex<Plain>) -> std::sync::MutexGuard<'_, Plain> {
    plain.lock().unwrap_or_else(|p| p.into_inner())
}

/// The contract's error event.
pub fn json_error(e: &Error) -> String {
    json!({
        "event": "error",
        "message": e.to_string(),
        "path": e.path().map(|p| p.display().to_string()),
    })
    .to_string()
}

/// A line on stdout; a closed pipe or a vanished terminal (SSH dropped) is not an error worth
/// dying for in the middle of a job, so write failures are ignored.
pub fn out_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// A line on stderr, ignoring write failures (see [`out_line`]).
/// One line on stderr; control characters (from file names, say) are shown escaped, so a crafted
/// name cannot clear the screen or forge a second line.
pub fn err_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::text::escape_controls(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_every_tenth_and_at_the_end() {
        let mut p = Plain::new();
        let due: Vec<u64> = (1..=40).filter(|&i| p.due(i, 40)).collect();
        assert_eq!(due, [1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
        assert_eq!(plain_line("iteration", 10, 40, 5.0, ""), "iteration 10/40 (25%)  elapsed 0:05  eta 0:15");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
