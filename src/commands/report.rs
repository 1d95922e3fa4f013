//! How a command reports progress: JSON lines on stdout (`--json`), or a progress bar on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::engine::Progress;
use crate::error::Error;
use crate::human::loss;

pub enum Reporter {
    Json,
    Bar(ProgressBar),
}

impl Reporter {
    pub fn new(json: bool, total: u64) -> Self {
        if json {
            return Reporter::Json;
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
            Reporter::Bar(bar) => {
                bar.set_position(p.iteration as u64);
                bar.set_message(format!(
                    "scale {} {}x{}  loss {} (style {} content {})",
                    p.scale,
                    p.width,
                    p.height,
                    loss(p.losses.total),
                    loss(p.losses.style),
                    loss(p.losses.content)
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
        let fmt = crate::human::loss;
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
                            format!("frame {frame} done: loss {}, warping error {w:.2e} (source {s:.2e})", fmt(loss))
                        }
                        _ => format!("frame {frame} done: loss {}, flicker {f:+.4}", fmt(loss)),
                    }),
                    None => bar.set_message(format!("frame {frame}: it {iteration}/{total}  loss {}", fmt(loss))),
                }
            }
            (Reporter::Bar(bar), _, _) => {
                bar.set_length(total as u64);
                bar.set_position(iteration as u64);
                bar.set_message(format!(
                    "scale {scale}  loss {} (style {} content {})",
                    fmt(loss),
                    fmt(style),
                    fmt(content)
                ));
            }
        }
    }

    /// A note for the user (stderr; kept off the JSON stream).
    pub fn note(&self, message: &str) {
        match self {
            Reporter::Json => err_line(message),
            Reporter::Bar(bar) => bar.println(message),
        }
    }

    pub fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
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
