//! The folder watcher: notify events in, [`WatchEvent`]s out.
//!
//! [`FolderWatcher::start`] starts notify's recommended (native) watcher on the folder, or notify's
//! `PollWatcher` when asked to poll (network mounts, where native events do not arrive) or when the
//! native watcher cannot start (inotify limits reached). The watcher is started before the worker
//! thread scans the folder, so no file falls between the scan and the first event. The worker (see
//! `worker.rs`) owns all state; the caller only sees [`WatchEvent`]s on a channel. Dropping the
//! [`FolderWatcher`] stops notify, then asks the worker to stop and joins it; the worker's sender
//! goes with it, so the receiver sees the channel close.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use notify::{Config, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

use super::event::WatchEvent;
use super::filter::CandidateFilter;
use super::settle::Settler;
use super::worker::{Input, Worker};
use crate::error::{Error, Result};

/// How long a file must stay unchanged before it is judged, unless the caller says otherwise.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(500);
/// How often to poll when the native watcher could not start and no interval was given.
pub const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The folder to watch.
    pub dir: PathBuf,
    /// Watch subfolders too.
    pub recursive: bool,
    /// Folders whose contents are never candidates (the output folder); they need not exist yet.
    pub ignore: Vec<PathBuf>,
    /// How long size and mtime must stay unchanged before a file is judged.
    pub settle: Duration,
    /// Poll at this interval instead of using native events (network mounts).
    pub poll: Option<Duration>,
}

impl WatchOptions {
    /// Non-recursive, nothing ignored, the default settle time, native events.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        WatchOptions { dir: dir.into(), recursive: false, ignore: Vec::new(), settle: DEFAULT_SETTLE, poll: None }
    }
}

/// A running watch. Dropping it stops the watch.
pub struct FolderWatcher {
    watcher: Option<Box<dyn Watcher + Send>>,
    control: Sender<Input>,
    worker: Option<JoinHandle<()>>,
    root: PathBuf,
    polling: bool,
}

impl FolderWatcher {
    /// Starts watching `options.dir`; events arrive on the returned receiver. Fails only when the
    /// folder cannot be watched at all (missing, not a folder, neither native events nor polling
    /// start). A native watcher that fails is replaced by polling, reported as a first
    /// [`WatchEvent::Error`].
    pub fn start(options: WatchOptions) -> Result<(FolderWatcher, Receiver<WatchEvent>)> {
        let filter = CandidateFilter::new(&options.dir, options.recursive, &options.ignore)?;
        let root = filter.root().to_path_buf();
        let (control, inputs) = mpsc::channel();
        let (events, receiver) = mpsc::channel();
        let mode = if options.recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
        let (watcher, polling, note) = start_backend(&root, mode, options.poll, &control)?;
        if let Some(note) = note {
            let _ = events.send(WatchEvent::Error(note));
        }
        let close_events = cfg!(any(target_os = "linux", target_os = "android")) && !polling;
        let worker = Worker::new(filter, Settler::new(options.settle, close_events), events);
        let worker = std::thread::Builder::new()
            .name("brushwork-watch".into())
            .spawn(move || worker.run(inputs))
            .map_err(|e| Error::io(&root, e))?;
        Ok((FolderWatcher { watcher: Some(watcher), control, worker: Some(worker), root, polling }, receiver))
    }

    /// The watched folder, canonical (reported paths start with it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the folder is polled rather than watched through native events.
    pub fn is_polling(&self) -> bool {
        self.polling
    }
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        drop(self.watcher.take());
        let _ = self.control.send(Input::Stop);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

type Backend = (Box<dyn Watcher + Send>, bool, Option<String>);

/// The native watcher unless polling was asked for or the native one fails; then a poll watcher.
fn start_backend(root: &Path, mode: RecursiveMode, poll: Option<Duration>, control: &Sender<Input>) -> Result<Backend> {
    let mut note = None;
    if poll.is_none() {
        let native = RecommendedWatcher::new(handler(control), Config::default()).and_then(|mut watcher| {
            watcher.watch(root, mode)?;
            Ok(watcher)
        });
        match native {
            Ok(watcher) => return Ok((Box::new(watcher), false, None)),
            Err(e) => {
                let every = FALLBACK_POLL.as_secs_f64();
                note = Some(format!("{}: native file events unavailable ({e}); polling every {every}s", root.display()))
            }
        }
    }
    let config = Config::default().with_poll_interval(poll.unwrap_or(FALLBACK_POLL));
    let mut watcher =
        PollWatcher::new(handler(control), config).map_err(|e| Error::io(root, std::io::Error::other(e)))?;
    watcher.watch(root, mode).map_err(|e| Error::io(root, std::io::Error::other(e)))?;
    Ok((Box::new(watcher), true, note))
}

fn handler(control: &Sender<Input>) -> impl FnMut(notify::Result<notify::Event>) + Send + 'static {
    let control = control.clone();
    move |event| {
        let _ = control.send(Input::Fs(event));
    }
}
