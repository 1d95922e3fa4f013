//! Watched folders as the scheduler keeps them: what to watch and how to stylise what lands
//! there. Watches added by `serve` clients or the dashboard are saved in `<workspace>/watches.toml`
//! and restart with the scheduler; a foreground `brushwork watch` adds a transient one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchConfig {
    /// The watched folder (absolute).
    pub dir: PathBuf,
    #[serde(default)]
    pub recursive: bool,
    /// Where results go (absolute; never watched even inside `dir`).
    pub out: PathBuf,
    /// Poll every this many seconds instead of native events (network mounts).
    #[serde(default)]
    pub poll_seconds: Option<f64>,
    pub preset: String,
    pub weights: Option<PathBuf>,
    #[serde(default = "super::record::default_device")]
    pub device: String,
    /// Saved in `watches.toml` (restarts with the scheduler).
    #[serde(default)]
    pub persistent: bool,
    /// The resolved preset, style images included.
    pub settings: Settings,
}

impl WatchConfig {
    /// What the ledger calls this configuration: the folder, the preset's name and a hash of
    /// the resolved settings, so another style or preset on the same folder is new work. An
    /// error (never the key of empty settings, which every such watch would share) when the
    /// settings cannot be written out.
    pub fn ledger_key(&self) -> Result<String> {
        let settings = toml::to_string(&self.settings)
            .map_err(|e| Error::Internal(format!("watch {}: cannot write its settings: {e}", self.dir.display())))?;
        let hash = Sha256::digest(settings.as_bytes());
        let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
        Ok(format!("{}|{}|{short}", self.dir.display(), self.preset))
    }
}

/// What the scheduler reports about one watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchStatus {
    pub config: WatchConfig,
    /// Files queued as sessions since the watch started.
    pub queued: u32,
    /// Files skipped because the ledger had them.
    pub skipped: u32,
    /// Whether it fell back to polling.
    pub polling: bool,
    /// The watcher's latest problem, if any.
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
struct WatchesFile {
    #[serde(default)]
    watch: Vec<WatchConfig>,
}

pub fn file(root: &Path) -> PathBuf {
    root.join("watches.toml")
}

/// The saved watches; a damaged file is an error naming it (the scheduler logs it and goes on).
pub fn load(root: &Path) -> Result<Vec<WatchConfig>> {
    let path = file(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let parsed: WatchesFile = toml::from_str(&text).map_err(|e| Error::input(&path, e.message().to_string()))?;
    Ok(parsed.watch)
}

pub fn save(root: &Path, watches: &[WatchConfig]) -> Result<()> {
    let path = file(root);
    let body = WatchesFile { watch: watches.iter().filter(|w| w.persistent).cloned().collect() };
    let text = toml::to_string(&body).map_err(|e| Error::input(&path, e.to_string()))?;
    Ok(write_atomic(&path, text.as_bytes())?)
}

/// `<out>/<stem>.<preset>.png`, or with `-2`, `-3`, ... when that name is taken on disk or by
/// another queued session (`taken`): an existing file is never overwritten.
pub fn output_name(out: &Path, source: &Path, preset: &str, taken: &dyn Fn(&Path) -> bool) -> PathBuf {
    let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let mut n = 1;
    loop {
        let name = if n == 1 { format!("{stem}.{preset}.png") } else { format!("{stem}.{preset}-{n}.png") };
        let candidate = out.join(name);
        if !candidate.exists() && !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}
