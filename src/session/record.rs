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
    /// Rendered in segments by a scheduler outside brushwork (`video plan`): its progress is read
    /// from the plan folder, and no worker here runs it.
    Distributed,
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
            Status::Distributed => "distributed",
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
    /// A folder of images split over array tasks (`images plan`); no worker here runs it.
    Folder,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Watched => "watched",
            Kind::Folder => "folder",
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

/// What a session runs, as its caller asked: the part of a [`SessionSpec`] a [`SessionRecord`]
/// keeps (both embed it; in `session.toml` and on the socket its fields sit at the top level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
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

/// A new session as a caller asks for it; the workspace gives it an id and timestamps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSpec {
    /// Shown in lists; defaults to the content file's stem.
    pub name: Option<String>,
    #[serde(flatten)]
    pub job: Job,
}

impl SessionSpec {
    /// The checks `run` and `video` make on their flags and preset, made again wherever a spec
    /// arrives (the socket, the dashboard), so no path accepts what the CLI refuses.
    pub fn validate(&self) -> crate::error::Result<()> {
        check_settings(&self.job.settings, self.job.kind)
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
    pub status: Status,
    /// Unix seconds.
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    /// One line, naming the file and the problem.
    pub error: Option<String>,
    pub progress: Option<ProgressSummary>,
    /// Starts since the last normal end (done, failed, paused, checkpointed and stopped): a
    /// worker adds one before it runs the session. A session whose process died twice while
    /// running it is failed instead of being resumed a third time (it may be what kills it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unfinished_starts: u32,
    /// The plan folder of a distributed render (status `distributed`, see `video plan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_dir: Option<PathBuf>,
    /// What it runs (kind, inputs, device, priority, settings).
    #[serde(flatten)]
    pub job: Job,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl SessionRecord {
    pub fn new(id: String, spec: SessionSpec) -> Self {
        let name = spec.name.unwrap_or_else(|| {
            spec.job.content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| id.clone())
        });
        SessionRecord {
            id,
            name,
            status: Status::Queued,
            created_at: now(),
            started_at: None,
            finished_at: None,
            error: None,
            progress: None,
            unfinished_starts: 0,
            plan_dir: None,
            job: spec.job,
        }
    }

    /// The spec this session was made from (for retry and duplicate).
    pub fn spec(&self) -> SessionSpec {
        SessionSpec { name: Some(self.name.clone()), job: self.job.clone() }
    }

    /// Iterations over all scales.
    pub fn total_iterations(&self) -> u32 {
        self.job.settings.iterations * self.job.settings.scales.max(1)
    }

    /// Steps done, their total and their unit: a video counts frames (its total is 0 until its
    /// first frame is reported), anything else iterations. The progress summary of a video holds
    /// frames, so it is never set against the iterations of the settings.
    pub fn progress_counts(&self) -> (u32, u32, &'static str) {
        match self.job.kind {
            Kind::Video => self.progress.map_or((0, 0, "frames"), |p| (p.iteration, p.total, "frames")),
            Kind::Folder => self.progress.map_or((0, 0, "images"), |p| (p.iteration, p.total, "images")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_table() -> String {
        toml::to_string(&Settings::default()).unwrap()
    }

    /// A `session.toml` as brushwork wrote it before the record embedded its [`Job`] (the same
    /// keys at the top level, in the old order) still loads, with every field where it was.
    #[test]
    fn session_files_keep_their_flat_layout() {
        let old = format!(
            "id = \"7\"\nname = \"tübingen \\\"night\\\"\"\nkind = \"video\"\nstatus = \"paused\"\npriority = -3\n\
             created_at = 1700000000\nstarted_at = 1700000005\nerror = \"a\\tb\"\ncontent = \"/in/clip.mkv\"\n\
             export = \"/out/clip.mp4\"\ndevice = \"cuda:1\"\npreset = \"video\"\nunfinished_starts = 2\n\n\
             [progress]\niteration = 3\ntotal = 24\nloss = 1.5\nseconds = 9.25\n\n[settings]\n{}",
            settings_table()
        );
        let record: SessionRecord = toml::from_str(&old).unwrap();
        assert_eq!((record.id.as_str(), record.name.as_str()), ("7", "tübingen \"night\""));
        assert_eq!(
            (record.status, record.created_at, record.started_at, record.finished_at),
            (Status::Paused, 1_700_000_000, Some(1_700_000_005), None)
        );
        assert_eq!(record.error.as_deref(), Some("a\tb"));
        assert_eq!(record.progress, Some(ProgressSummary { iteration: 3, total: 24, loss: 1.5, seconds: 9.25 }));
        assert_eq!(record.unfinished_starts, 2);
        let job = &record.job;
        assert_eq!(
            (job.kind, job.priority, job.device.as_str(), job.preset.as_str()),
            (Kind::Video, -3, "cuda:1", "video")
        );
        assert_eq!(
            (job.content.to_str(), job.export.as_deref().and_then(|p| p.to_str())),
            (Some("/in/clip.mkv"), Some("/out/clip.mp4"))
        );
        assert_eq!((job.weights.as_ref(), &job.settings), (None, &Settings::default()));

        // Written again, the keys stay at the top level and the file reads back the same.
        let text = record.to_toml().unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        for key in ["id", "name", "kind", "status", "priority", "content", "export", "device", "preset", "settings"] {
            assert!(table.contains_key(key), "{key} missing from\n{text}");
        }
        assert!(!table.contains_key("job"), "{text}");
        assert_eq!(toml::from_str::<SessionRecord>(&text).unwrap(), record);
    }

    /// Defaults of a spec's optional fields (what a socket client may leave out).
    #[test]
    fn a_spec_needs_only_content_preset_and_settings() {
        let json = serde_json::json!({"name": null, "content": "c.png", "export": null, "weights": null, "preset": "quick",
            "settings": Settings::default()});
        let spec: SessionSpec = serde_json::from_value(json).unwrap();
        assert_eq!((spec.job.kind, spec.job.device.as_str(), spec.job.priority), (Kind::Image, "cpu", 0));
    }
}
