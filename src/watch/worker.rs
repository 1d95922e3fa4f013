//! The watch's worker thread: turns raw notify events into calls on the [`Settler`] and polls it.
//!
//! Raw events only say "look at this path": a `Create` or data written (a writer has the file open:
//! wait for it to close), a close after writing or a rename into place (no one is writing it any more), a removal
//! or a rename away (drop it). A folder that appears is scanned, since files may have landed in it
//! before its watch was added; an event-queue overflow rescans everything. The worker polls the
//! settler every fifth of the settle time (10 to 100 ms) while anything is pending, and blocks on
//! the event channel when nothing is.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::EventKind;

use super::event::WatchEvent;
use super::filter::CandidateFilter;
use super::settle::Settler;

/// What reaches the worker: a raw event from notify, or the owner asking it to stop.
pub(super) enum Input {
    Fs(notify::Result<notify::Event>),
    Stop,
}

/// The state the worker thread owns.
pub(super) struct Worker {
    filter: CandidateFilter,
    settler: Settler,
    tick: Duration,
    events: Sender<WatchEvent>,
    /// False once the receiver is gone: the worker then stops.
    listening: bool,
    /// Links out of the folder already reported (each is reported once while it stays).
    refused_links: HashSet<PathBuf>,
    /// Whether the loss of the watched folder was reported.
    root_gone: bool,
}

impl Worker {
    pub(super) fn new(filter: CandidateFilter, settler: Settler, events: Sender<WatchEvent>) -> Self {
        let tick = (settler.settle() / 5).clamp(Duration::from_millis(10), Duration::from_millis(100));
        Worker { filter, settler, tick, events, listening: true, refused_links: HashSet::new(), root_gone: false }
    }

    pub(super) fn run(mut self, inputs: Receiver<Input>) {
        self.scan_everything();
        let mut last_poll = Instant::now();
        while self.listening {
            let received = if self.settler.is_idle() {
                inputs.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                inputs.recv_timeout(self.tick)
            };
            match received {
                Ok(Input::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Input::Fs(event)) => self.handle(event),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if last_poll.elapsed() >= self.tick {
                last_poll = Instant::now();
                for event in self.settler.poll(last_poll) {
                    // Checked again as the file is handed on: a link may have replaced it meanwhile.
                    match event {
                        WatchEvent::Ready(file) if self.filter.leads_outside(&file.path) => {
                            self.refuse_link(&file.path)
                        }
                        event => self.send(event),
                    }
                }
            }
        }
    }

    fn handle(&mut self, event: notify::Result<notify::Event>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => return self.send(WatchEvent::Error(format!("{}: {e}", self.filter.root().display()))),
        };
        if event.need_rescan() {
            // Events were lost (queue overflow): close events may be among them.
            self.settler.forget_writers();
            self.scan_everything();
        }
        let paths = event.paths;
        match event.kind {
            EventKind::Create(CreateKind::Folder) => paths.iter().for_each(|p| self.scan(p)),
            EventKind::Create(CreateKind::File) => paths.iter().for_each(|p| {
                if created_by_a_writer(p) {
                    self.data_written(p)
                } else {
                    self.arrived(p, false)
                }
            }),
            EventKind::Create(_) => paths.iter().for_each(|p| self.arrived(p, false)),
            EventKind::Modify(ModifyKind::Data(_)) => paths.iter().for_each(|p| self.data_written(p)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => paths.iter().for_each(|p| self.arrived(p, true)),
            EventKind::Access(_) => {}
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                paths.iter().for_each(|p| self.gone(p))
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::To)) => paths.iter().for_each(|p| self.arrived(p, true)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let [from, to] = paths.as_slice() {
                    self.gone(from);
                    self.arrived(to, true);
                }
            }
            EventKind::Modify(ModifyKind::Name(_)) => {
                paths.iter().for_each(|p| if p.exists() { self.arrived(p, true) } else { self.gone(p) })
            }
            // Metadata changes, and whatever other backends report: look again at files only (a
            // folder's mtime changes with every file written in it).
            EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
                paths.iter().filter(|p| !p.is_dir()).for_each(|p| self.arrived(p, false))
            }
        }
    }

    /// `path` appeared or changed; `complete` when the event says no one is writing it any more.
    fn arrived(&mut self, path: &Path, complete: bool) {
        if path.is_dir() {
            return self.scan(path);
        }
        if self.admits(path) {
            if complete {
                self.settler.closed(path);
            } else {
                self.settler.touched(path);
            }
        }
    }

    fn data_written(&mut self, path: &Path) {
        if self.admits(path) {
            self.settler.writing(path);
        }
    }

    /// A candidate by name and place that does not lead out of the folder (those are reported).
    fn admits(&mut self, path: &Path) -> bool {
        if !self.filter.accepts(path) {
            return false;
        }
        if self.filter.leads_outside(path) {
            self.refuse_link(path);
            return false;
        }
        self.refused_links.remove(path);
        true
    }

    fn refuse_link(&mut self, path: &Path) {
        if self.refused_links.insert(path.to_path_buf()) {
            let message =
                format!("{}: not read: a symbolic link that leads outside the watched folder", path.display());
            self.send(WatchEvent::Error(message));
        }
    }

    fn gone(&mut self, path: &Path) {
        self.refused_links.remove(path);
        if !self.root_gone && !self.filter.root().is_dir() {
            self.root_gone = true;
            let message = format!(
                "{}: the watched folder is gone (deleted or moved); nothing more will arrive until it is back and the watch is started again",
                self.filter.root().display()
            );
            self.send(WatchEvent::Error(message));
        }
        let mut events: Vec<WatchEvent> = self.settler.removed(path).into_iter().collect();
        events.extend(self.settler.removed_under(path));
        events.into_iter().for_each(|event| self.send(event));
    }

    fn scan_everything(&mut self) {
        let root = self.filter.root().to_path_buf();
        self.scan(&root);
    }

    /// Marks every candidate in `dir` (the root, or a folder that just appeared) as pending.
    fn scan(&mut self, dir: &Path) {
        let scan = if dir == self.filter.root() { self.filter.scan() } else { self.filter.scan_dir(dir) };
        for file in &scan.files {
            if self.filter.leads_outside(file) {
                self.refuse_link(file);
            } else {
                self.settler.touched(file);
            }
        }
        scan.errors.into_iter().for_each(|error| self.send(WatchEvent::Error(error)));
    }

    fn send(&mut self, event: WatchEvent) {
        self.listening &= self.events.send(event).is_ok();
    }
}

/// Whether the file at `path` was just created by `open` (so a close event will follow), rather
/// than by `link` or `symlink` (complete at once, and no close event comes). A writer may pause
/// between creating a file and writing its first bytes; this keeps the empty file pending.
#[cfg(unix)]
fn created_by_a_writer(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file() && meta.nlink() == 1)
}

#[cfg(not(unix))]
fn created_by_a_writer(_path: &Path) -> bool {
    false
}
