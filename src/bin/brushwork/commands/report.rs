//! How a command reports progress: JSON lines on stdout (`--json`), a progress bar on stderr, or
//! without a terminal a plain progress line now and then.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use brushwork::engine::Settings;
use brushwork::error::Error;
use brushwork::session::eta::{Stage, WorkPlan};
use brushwork::session::{Kind, SessionRecord};
use brushwork::tui::sessions::format_duration;

pub enum Reporter {
    Json,
    /// The bar, and what the session runs (for its ETA, see [`brushwork::session::eta`]).
    Bar(ProgressBar, Option<Box<(Kind, Settings)>>),
    /// stderr is not a terminal (a log file, a pipe, a CI job): a plain line now and then.
    Plain(Mutex<Plain>, Option<Box<(Kind, Settings)>>),
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

/// `iteration 120/600 (20%)  loss 1.23e5  elapsed 0:12  eta 0:48`; the ETA from
/// [`WorkPlan::eta_seconds`] (work left per scale), as on the bar and the dashboard.
fn plain_line(what: &str, done: u64, total: u64, seconds: f64, eta: Option<f64>, rest: &str) -> String {
    let pct = (done * 100).checked_div(total).unwrap_or(0);
    let eta = eta.map_or_else(|| "?".to_string(), clock);
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

fn lock(plain: &Mutex<Plain>) -> std::sync::MutexGuard<'_, Plain> {
    plain.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reporter {
    pub fn new(json: bool, total: u64) -> Self {
        if json {
            return Reporter::Json;
        }
        if !std::io::stderr().is_terminal() {
            return Reporter::Plain(Mutex::new(Plain::new()), None);
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{spinner} {bar:30} {pos}/{len} {prefix}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix("it");
        Reporter::Bar(bar, None)
    }

    /// The reporter of a session: its bar's ETA weighs each scale (or frame) by its work.
    pub fn for_record(json: bool, record: &SessionRecord) -> Self {
        match Reporter::new(json, record.total_iterations() as u64) {
            Reporter::Bar(bar, _) => Reporter::Bar(bar, Some(Box::new((record.job.kind, record.job.settings.clone())))),
            Reporter::Plain(plain, _) => {
                Reporter::Plain(plain, Some(Box::new((record.job.kind, record.job.settings.clone()))))
            }
            json => json,
        }
    }

    /// `it  1m05s, ETA 40s`: the elapsed time of the session (its earlier runs included) and
    /// the time left by [`WorkPlan::eta_seconds`].
    fn timing(&self, unit: &str, plan: Option<WorkPlan>, done: u32, seconds: f64) -> Option<String> {
        let Reporter::Bar(..) = self else { return None };
        let elapsed = Duration::try_from_secs_f64(seconds).map_or("-".into(), format_duration);
        let eta = plan
            .and_then(|p| p.eta_seconds(done, seconds))
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .map_or("-".into(), format_duration);
        Some(format!("{unit}  {elapsed}, ETA {eta}"))
    }

    /// The work plan of an image run of `total` iterations.
    fn image_plan(&self, total: u32) -> WorkPlan {
        match self {
            Reporter::Bar(_, Some(job)) | Reporter::Plain(_, Some(job))
                if job.1.iterations * job.1.scales.max(1) == total =>
            {
                WorkPlan::image(&job.1)
            }
            _ => WorkPlan { stages: vec![Stage { steps: total, work: 1.0 }] },
        }
    }

    /// The work plan of a video of `frames` frames.
    fn video_plan(&self, frames: u32) -> WorkPlan {
        match self {
            Reporter::Bar(_, Some(job)) | Reporter::Plain(_, Some(job)) => WorkPlan::video(&job.1, frames),
            _ => WorkPlan { stages: vec![Stage { steps: frames, work: 1.0 }] },
        }
    }

    /// A scheduler's progress event. Video sessions report one JSON line per finished frame
    /// (with `frame`, `frames`, `flicker`), not per iteration.
    pub fn progress_event(&self, e: &brushwork::session::Event) {
        let brushwork::session::Event::Progress { total, row, temporal, evaluations, video, .. } = *e else {
            return;
        };
        let brushwork::session::LossRow { iteration, scale, loss, style, content, tv, seconds } = row;
        let fmt = brushwork::util::human::loss;
        match (self, video) {
            (Reporter::Json, Some(v)) => {
                if let Some(flicker) = v.flicker {
                    let line = json!({
                        "event": "progress", "frame": v.frame, "frames": v.frames, "iteration": iteration,
                        "total": total, "scale": scale, "loss": loss, "style": style, "content": content,
                        "tv": tv, "temporal": temporal, "flicker": flicker, "warp_error": v.warp_error,
                        "source_warp_error": v.source_warp_error, "seconds": seconds,
                        "evaluations": evaluations,
                    });
                    out_line(&line.to_string());
                }
            }
            (Reporter::Json, None) => {
                let line = json!({
                    "event": "progress", "iteration": iteration, "total": total, "scale": scale,
                    "loss": loss, "style": style, "content": content, "tv": tv, "seconds": seconds,
                    "evaluations": evaluations,
                });
                out_line(&line.to_string());
            }
            (Reporter::Bar(bar, job), Some(v)) => {
                let (frame, frames) = (v.frame, v.frames);
                bar.set_length(frames as u64);
                bar.set_position(frame as u64 - u64::from(!v.finished()));
                // Iterations of a frame carry that frame's seconds: the timing moves per frame.
                if v.finished() {
                    let plan = job.as_ref().map(|j| WorkPlan::video(&j.1, frames));
                    let plan = plan.unwrap_or(WorkPlan { stages: vec![Stage { steps: frames, work: 1.0 }] });
                    if let Some(t) = self.timing("frames", Some(plan), frame, seconds) {
                        bar.set_prefix(t);
                    }
                } else if frame == 1 {
                    bar.set_prefix("frames");
                }
                match v.flicker {
                    Some(f) => bar.set_message(match (v.warp_error, v.source_warp_error) {
                        (Some(w), Some(s)) => {
                            format!("frame {frame} done: loss {}, warping error {w:.2e} (source {s:.2e})", fmt(loss))
                        }
                        _ => format!("frame {frame} done: loss {}, flicker {f:+.4}", fmt(loss)),
                    }),
                    None => bar.set_message(format!("frame {frame}: it {iteration}/{total}  loss {}", fmt(loss))),
                }
            }
            (Reporter::Plain(plain, _), Some(v)) => {
                // A line per finished frame when due, counted in frames.
                if v.finished() && lock(plain).due(v.frame as u64, v.frames as u64) {
                    let eta = self.video_plan(v.frames).eta_seconds(v.frame, seconds);
                    let rest = format!("  loss {}", fmt(loss));
                    err_line(&plain_line("frame", v.frame as u64, v.frames as u64, seconds, eta, &rest));
                }
            }
            (Reporter::Plain(plain, _), None) => {
                if lock(plain).due(iteration as u64, total as u64) {
                    let eta = self.image_plan(total).eta_seconds(iteration, seconds);
                    let rest = format!("  scale {scale}  loss {}", fmt(loss));
                    err_line(&plain_line("iteration", iteration as u64, total as u64, seconds, eta, &rest));
                }
            }
            (Reporter::Bar(bar, _), None) => {
                bar.set_length(total as u64);
                bar.set_position(iteration as u64);
                if let Some(t) = self.timing("it", Some(self.image_plan(total)), iteration, seconds) {
                    bar.set_prefix(t);
                }
                bar.set_message(format!(
                    "scale {scale}  loss {} (style {} content {})",
                    fmt(loss),
                    fmt(style),
                    fmt(content)
                ));
            }
        }
    }

    /// Plain lines on stderr (no terminal, no `--json`).
    pub fn is_plain(&self) -> bool {
        matches!(self, Reporter::Plain(..))
    }

    /// A note for the user (stderr; kept off the JSON stream).
    pub fn note(&self, message: &str) {
        match self {
            Reporter::Json | Reporter::Plain(..) => err_line(message),
            Reporter::Bar(bar, _) => bar.println(message),
        }
    }

    pub fn finish(&self) {
        if let Reporter::Bar(bar, _) = self {
            bar.finish_and_clear();
        }
    }
}

/// The contract's error event.
pub fn json_error(e: &Error) -> String {
    let here = std::env::current_dir().ok();
    json!({
        "event": "error",
        "message": relative_to(here.as_deref(), &e.to_string()),
        "path": e.path().map(|p| relative_to(here.as_deref(), &p.display().to_string())),
    })
    .to_string()
}

/// `text` with the paths under `here` written relative to it, as the user typed them: sessions
/// keep absolute paths (so they resume from anywhere), and `a.png` reads better than
/// `/home/me/art/a.png` where the user is. Only whole paths count: an occurrence of `here/` is
/// rewritten at the start of the text or after a space, quote, backtick or parenthesis.
pub fn relative_to(here: Option<&Path>, text: &str) -> String {
    let Some(here) = here.filter(|h| h.parent().is_some()) else {
        return text.to_string();
    };
    let prefix = format!("{}/", here.display());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&prefix) {
        let whole = out.is_empty() && at == 0
            || rest[..at].chars().next_back().or_else(|| out.chars().next_back()).is_some_and(|c| " '\"`(".contains(c));
        out.push_str(&rest[..at]);
        if !whole {
            out.push_str(&prefix);
        }
        rest = &rest[at + prefix.len()..];
    }
    out.push_str(rest);
    out
}

/// A line on stdout; a closed pipe or a vanished terminal (SSH dropped) is not an error worth
/// dying for in the middle of a job, so write failures are ignored.
pub fn out_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `outln!`'s line: a listing's reader that went away (`brushwork sessions | head`) ends the
/// command quietly with 141, the shell's code for a SIGPIPE, as `ls | head` does, instead of a
/// Rust panic (101); any other failure (a full disk under `> file`) is said and exits 1.
pub fn out_fmt(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    exit_unless_written(out.write_fmt(args).and_then(|()| out.write_all(b"\n")));
}

/// A whole document on stdout (a manual page, a completion script), as [`out_fmt`].
pub fn out_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    exit_unless_written(out.write_all(bytes).and_then(|()| out.flush()));
}

fn exit_unless_written(result: std::io::Result<()>) {
    use std::io::Write;
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        let _ = writeln!(std::io::stderr(), "brushwork: standard output: {e}");
        std::process::exit(1);
    }
}

/// `errln!`'s line: as `eprintln!`, but a closed stderr (a dropped SSH session under a long
/// `serve`) loses the line instead of panicking the thread that wrote it.
pub fn err_fmt(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// One line on stderr; control characters (from file names, say) are shown escaped, so a crafted
/// name cannot clear the screen or forge a second line.
pub fn err_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{}", brushwork::util::text::escape_controls(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_current_folder_read_as_typed() {
        let here = Some(Path::new("/home/me/art"));
        assert_eq!(relative_to(here, "/home/me/art/a.png: not a PNG"), "a.png: not a PNG");
        assert_eq!(relative_to(here, "style `/home/me/art/s/b.jpg` (3 MB)"), "style `s/b.jpg` (3 MB)");
        assert_eq!(relative_to(here, "/home/me/art/a and /home/me/art/b"), "a and b");
        // Not under it, or not a whole path: unchanged.
        for text in ["/home/me/art2/a.png", "/x/home/me/art/a.png", "/home/me/art"] {
            assert_eq!(relative_to(here, text), text);
        }
        assert_eq!(relative_to(Some(Path::new("/")), "/etc/x"), "/etc/x");
        assert_eq!(relative_to(None, "/home/me/art/a.png"), "/home/me/art/a.png");
    }

    #[test]
    fn plain_lines_every_tenth_and_at_the_end() {
        let mut p = Plain::new();
        let due: Vec<u64> = (1..=40).filter(|&i| p.due(i, 40)).collect();
        assert_eq!(due, [1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
        assert_eq!(
            plain_line("iteration", 10, 40, 5.0, Some(15.0), ""),
            "iteration 10/40 (25%)  elapsed 0:05  eta 0:15"
        );
        assert_eq!(plain_line("frame", 0, 4, 0.0, None, ""), "frame 0/4 (0%)  elapsed 0:00  eta ?");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
