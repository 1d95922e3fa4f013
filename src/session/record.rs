//! `session.toml`: one job's inputs, the preset it runs with (a resolved snapshot, so editing the
//! preset file later does not change a session), its status, error and timestamps.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::engine::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Paused,
    /// Stopped by an I/O failure (a full disk, a failing drive) while it saved its progress; its
    /// last good checkpoint is kept and `resume` (or `retry`) continues from it.
    Interrupted,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Interrupted => "interrupted",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Done, failed or cancelled: nothing will run unless the user retries.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What started the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Image,
    Video,
    /// An image picked up by a watched folder.
    Watched,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Watched => "watched",
        }
    }
}

/// The latest progress, saved with each checkpoint so a listing needs no other file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct ProgressSummary {
    pub iteration: u32,
    pub total: u32,
    pub loss: f64,
    pub seconds: f64,
}

/// A new session as a caller asks for it; the workspace gives it an id and timestamps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSpec {
    /// Shown in lists; defaults to the content file's stem.
    pub name: Option<String>,
    #[serde(default)]
    pub kind: Kind,
    pub content: PathBuf,
    /// Where the finished image is also copied (the user's `-o`), besides the session's `output.png`.
    pub export: Option<PathBuf>,
    /// A weights file; `None` finds the installed weights when the session starts.
    pub weights: Option<PathBuf>,
    #[serde(default = "default_device")]
    pub device: String,
    /// The preset's name (for display and default output names).
    pub preset: String,
    #[serde(default)]
    pub priority: i32,
    /// The resolved preset, style images included.
    pub settings: Settings,
}

impl SessionSpec {
    /// The checks `run` and `video` make on their flags and preset, made again wherever a spec
    /// arrives (the socket, the dashboard), so no path accepts what the CLI refuses.
    pub fn validate(&self) -> crate::error::Result<()> {
        check_settings(&self.settings, self.kind)
    }
}

/// What [`check_settings`] says of settings without a style image (the CLI names its flag instead).
pub const NO_STYLE: &str = "no style image: `styles` is empty";

/// Settings a job can run with: the preset's own checks ([`Settings::validate`]), at least one
/// style image with a usable weight, and for videos a positive `frame_iterations` when frames
/// start from the previous one. Errors name the settings' fields, not the CLI's flags (the
/// dashboard and the socket show them too); the CLI names the flags it was given.
pub fn check_settings(settings: &Settings, kind: Kind) -> crate::error::Result<()> {
    use crate::error::Error;
    settings.validate().map_err(Error::Usage)?;
    if settings.styles.is_empty() {
        return Err(Error::Usage(NO_STYLE.into()));
    }
    if let Some(s) = settings.styles.iter().find(|s| !s.weight.is_finite() || s.weight < 0.0) {
        return Err(Error::Usage(format!(
            "style {} at weight {}: the weight must be a non-negative number",
            s.path.display(),
            s.weight
        )));
    }
    if kind == Kind::Video
        && settings.warm_start != crate::engine::settings::WarmStart::None
        && settings.frame_iterations == 0
    {
        return Err(Error::Usage("field `frame_iterations` must be positive".into()));
    }
    Ok(())
}

pub fn default_device() -> String {
    "cpu".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub status: Status,
    #[serde(default)]
    pub priority: i32,
    /// Unix seconds.
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// One line, naming the file and the problem.
    pub error: Option<String>,
    pub content: PathBuf,
    pub export: Option<PathBuf>,
    pub weights: Option<PathBuf>,
    #[serde(default = "default_device")]
    pub device: String,
    pub preset: String,
    pub progress: Option<ProgressSummary>,
    pub settings: Settings,
    /// Starts since the last normal end (done, failed, paused, checkpointed and stopped): a
    /// worker adds one before it runs the session. A session whose process died twice while
    /// running it is failed instead of being resumed a third time (it may be what kills it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unfinished_starts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl SessionRecord {
    pub fn new(id: String, spec: SessionSpec) -> Self {
        let name = spec.name.unwrap_or_else(|| {
            spec.content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| id.clone())
        });
        SessionRecord {
            id,
            name,
            kind: spec.kind,
            status: Status::Queued,
            priority: spec.priority,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
            content: spec.content,
            export: spec.export,
            weights: spec.weights,
            device: spec.device,
            preset: spec.preset,
            progress: None,
            settings: spec.settings,
            unfinished_starts: 0,
        }
    }

    /// The spec this session was made from (for retry and duplicate).
    pub fn spec(&self) -> SessionSpec {
        SessionSpec {
            name: Some(self.name.clone()),
            kind: self.kind,
            content: self.content.clone(),
            export: self.export.clone(),
            weights: self.weights.clone(),
            device: self.device.clone(),
            preset: self.preset.clone(),
            priority: self.priority,
            settings: self.settings.clone(),
        }
    }

    /// Iterations over all scales.
    pub fn total_iterations(&self) -> u32 {
        self.settings.iterations * self.settings.scales.max(1)
    }

    /// Steps done, their total and their unit: a video counts frames (its total is 0 until its
    /// first frame is reported), anything else iterations. The progress summary of a video holds
    /// frames, so it is never set against the iterations of the settings.
    pub fn progress_counts(&self) -> (u32, u32, &'static str) {
        match self.kind {
            Kind::Video => self.progress.map_or((0, 0, "frames"), |p| (p.iteration, p.total, "frames")),
            _ => {
                let total = self.progress.map_or(0, |p| p.total);
                let total = if total > 0 { total } else { self.total_iterations() };
                (self.progress.map_or(0, |p| p.iteration), total, "iterations")
            }
        }
    }

    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
