//! The watched folders of a scheduler: one [`FolderWatcher`] per watch and a thread that turns
//! each ready file into a session of kind `watched`, exactly once per content and configuration
//! (the workspace's `watch-ledger.jsonl`), including files that arrived while brushwork was down.
//! A file that does not decode becomes a failed session with the decoder's one-line error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::event::{Event, LogLevel};
use super::record::{Job, Kind, SessionSpec};
use super::watches::{self, output_name, WatchConfig, WatchStatus};
use crate::error::{Error, Result};
use crate::watch::filter::canonical_lenient;
use crate::watch::{FolderWatcher, Ledger, ReadyFile, WatchEvent, WatchOptions};

/// What the service needs from the scheduler: create sessions and tell observers.
pub trait SessionSink: Send + Sync {
    fn create(&self, spec: SessionSpec) -> Result<super::record::SessionRecord>;
    /// Records a session that failed before it ran (an unreadable file).
    fn create_failed(&self, spec: SessionSpec, error: String) -> Result<super::record::SessionRecord>;
    fn emit(&self, event: Event);
    /// Whether a session already writes to this output.
    fn output_taken(&self, path: &Path) -> bool;
    /// A watch's counts or state changed.
    fn watches_changed(&self);
}

struct Running {
    status: Arc<Mutex<WatchStatus>>,
    watcher: Option<FolderWatcher>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropping the watcher closes its channel, which ends the thread.
        self.watcher.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub struct WatchService {
    root: PathBuf,
    ledger: Arc<Mutex<Option<Ledger>>>,
    running: Mutex<HashMap<PathBuf, Running>>,
}

impl WatchService {
    pub fn new(root: &Path) -> Self {
        WatchService {
            root: root.to_path_buf(),
            ledger: Arc::new(Mutex::new(None)),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Starts the watches saved in the workspace; problems are logged, not fatal.
    pub fn start_saved(&self, sink: Arc<dyn SessionSink>) {
        match watches::load(&self.root) {
            Ok(list) => {
                for config in list {
                    if let Err(e) = self.add(config, sink.clone()) {
                        sink.emit(Event::Log { level: LogLevel::Error, message: format!("watch: {e}") });
                    }
                }
            }
            Err(e) => sink.emit(Event::Log { level: LogLevel::Error, message: format!("watch: {e}") }),
        }
    }

    /// Starts watching `config.dir` (replacing a watch of the same folder).
    pub fn add(&self, config: WatchConfig, sink: Arc<dyn SessionSink>) -> Result<WatchStatus> {
        if !config.dir.is_dir() {
            return Err(Error::input(&config.dir, "not a folder"));
        }
        check_out_folder(&config.dir, &config.out)?;
        // Made once: a watch whose settings cannot be keyed is refused before it starts.
        let key = config.ledger_key()?;
        std::fs::create_dir_all(&config.out).map_err(|e| Error::io(&config.out, e))?;
        self.open_ledger()?;
        self.remove(&config.dir)?;
        let mut options = WatchOptions::new(&config.dir);
        options.recursive = config.recursive;
        options.ignore = vec![config.out.clone()];
        options.poll = config.poll_seconds.filter(|s| *s > 0.0).map(std::time::Duration::from_secs_f64);
        let (watcher, events) = FolderWatcher::start(options)?;
        let status = Arc::new(Mutex::new(WatchStatus {
            config: config.clone(),
            queued: 0,
            skipped: 0,
            polling: watcher.is_polling(),
            error: None,
        }));
        let (st, ledger, cfg) = (status.clone(), self.ledger.clone(), config.clone());
        let thread = std::thread::Builder::new()
            .name("brushwork-watch".into())
            .spawn(move || {
                for event in events {
                    handle(&cfg, &key, &ledger, &*sink, &st, event);
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start a watch thread: {e}")))?;
        let snapshot = status.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.lock().insert(config.dir.clone(), Running { status, watcher: Some(watcher), thread: Some(thread) });
        self.save()?;
        Ok(snapshot)
    }

    /// Stops watching `dir`; `Ok(false)` when it was not watched.
    pub fn remove(&self, dir: &Path) -> Result<bool> {
        let removed = self.lock().remove(dir);
        let found = removed.is_some();
        drop(removed);
        if found {
            self.save()?;
        }
        Ok(found)
    }

    pub fn list(&self) -> Vec<WatchStatus> {
        let mut list: Vec<WatchStatus> =
            self.lock().values().map(|r| r.status.lock().unwrap_or_else(|p| p.into_inner()).clone()).collect();
        list.sort_by(|a, b| a.config.dir.cmp(&b.config.dir));
        list
    }

    /// Stops every watcher (the scheduler is shutting down); saved watches stay saved.
    pub fn stop_all(&self) {
        let all: Vec<Running> = self.lock().drain().map(|(_, r)| r).collect();
        drop(all);
    }

    fn save(&self) -> Result<()> {
        let configs: Vec<WatchConfig> = self.list().into_iter().map(|s| s.config).collect();
        watches::save(&self.root, &configs)
    }

    fn open_ledger(&self) -> Result<()> {
        let mut ledger = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if ledger.is_none() {
            *ledger = Some(Ledger::open(&self.root.join("watch-ledger.jsonl"))?);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn handle(
    config: &WatchConfig,
    key: &str,
    ledger: &Mutex<Option<Ledger>>,
    sink: &dyn SessionSink,
    status: &Mutex<WatchStatus>,
    event: WatchEvent,
) {
    let file = match event {
        WatchEvent::Ready(file) => file,
        WatchEvent::Gone(path) => {
            sink.emit(Event::Log { level: LogLevel::Info, message: format!("watch: {} went away", path.display()) });
            return;
        }
        WatchEvent::Error(message) => {
            status.lock().unwrap_or_else(|p| p.into_inner()).error = Some(message.clone());
            sink.emit(Event::Log {
                level: LogLevel::Warn,
                message: format!("watch {}: {message}", config.dir.display()),
            });
            return;
        }
    };
    let mut guard = ledger.lock().unwrap_or_else(|p| p.into_inner());
    let Some(ledger) = guard.as_mut() else { return };
    if let Some(earlier) = ledger.done_by(key, &file) {
        // The same file seen again (a restart, a touch) is quietly counted; the same picture under
        // another name is a duplicate the user may not expect to be skipped: say so.
        if earlier.path != file.path {
            sink.emit(Event::Log {
                level: LogLevel::Info,
                message: format!(
                    "watch: skipped {}: same content as {} (session {})",
                    file.path.display(),
                    earlier.path.display(),
                    earlier.session
                ),
            });
        }
        status.lock().unwrap_or_else(|p| p.into_inner()).skipped += 1;
        sink.watches_changed();
        return;
    }
    match queue(config, sink, &file) {
        Ok(id) => {
            let outcome = if file.error.is_some() { "failed: unreadable" } else { "queued" };
            if let Err(e) = ledger.record(key, &file, &id, outcome) {
                sink.emit(Event::Log { level: LogLevel::Error, message: format!("watch ledger: {e}") });
            }
            status.lock().unwrap_or_else(|p| p.into_inner()).queued += 1;
            sink.watches_changed();
        }
        Err(e) => {
            sink.emit(Event::Log { level: LogLevel::Error, message: format!("watch {}: {e}", file.path.display()) })
        }
    }
}

/// Refuses an output folder that would hide the watched folder: results written into the watched
/// folder itself (or into a folder that holds it) would be ignored as outputs, so nothing would ever
/// be stylised. A subfolder of the watched folder is fine (it is ignored).
pub fn check_out_folder(dir: &Path, out: &Path) -> Result<()> {
    let (dir_real, out_real) = (canonical_lenient(dir), canonical_lenient(out));
    if dir_real.starts_with(&out_real) {
        let what = if dir_real == out_real { "is the watched folder itself" } else { "holds the watched folder" };
        return Err(Error::input(
            out,
            format!("{what}: results must go elsewhere (the default is {})", dir.join("stylized").display()),
        ));
    }
    Ok(())
}

/// Makes the session for `file`; returns its id.
fn queue(config: &WatchConfig, sink: &dyn SessionSink, file: &ReadyFile) -> Result<String> {
    let export = output_name(&config.out, &file.path, &config.preset, &|p| sink.output_taken(p));
    let spec = SessionSpec {
        name: None,
        job: Job {
            kind: Kind::Watched,
            content: file.path.clone(),
            export: Some(export),
            weights: config.weights.clone(),
            device: config.device.clone(),
            preset: config.preset.clone(),
            priority: 0,
            settings: config.settings.clone(),
        },
    };
    let record = match &file.error {
        Some(error) => sink.create_failed(spec, error.clone())?,
        None => sink.create(spec)?,
    };
    Ok(record.id)
}
