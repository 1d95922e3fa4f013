//! The scheduler: worker threads that take queued sessions in order (priority, then age), and
//! the answers to every [`Request`]. Observers subscribe to a stream of [`Event`]s.
//!
//! The scheduler must be the workspace's only writer (its owner holds the workspace lock). On
//! start, sessions left `running` by a process that died are queued again and continue from
//! their checkpoint. [`Scheduler::shutdown`] checkpoints running sessions and queues them, so the
//! next start continues them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::checkpoint;
use super::engines::Engines;
use super::event::{Event, LogLevel};
use super::lock::FileLock;
use super::protocol::{Control, Request, Response};
use super::record::{SessionRecord, SessionSpec, Status};
use super::run::run_session;
use super::stop::{Stop, StopFlag};
use super::watch_service::{SessionSink, WatchService};
use super::workspace::{Listed, Workspace};
use crate::error::{Error, Result};

pub struct Scheduler {
    shared: Arc<Shared>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    ws: Workspace,
    engines: Engines,
    watches: WatchService,
    state: Mutex<State>,
    wake: Condvar,
    subscribers: Mutex<Vec<Sender<Event>>>,
}

#[derive(Default)]
struct State {
    records: BTreeMap<String, SessionRecord>,
    running: HashMap<String, Arc<StopFlag>>,
    /// Sessions another process runs now (a foreground `run` holds their lock): never started
    /// here while that lasts, read again from disk each [`ELSEWHERE_RECHECK`] (observers see
    /// their progress at each checkpoint, and their end) and once more when it ends.
    elsewhere: HashSet<String>,
    shutting_down: bool,
}

/// How often sessions run by other processes are looked at again.
const ELSEWHERE_RECHECK: Duration = Duration::from_secs(1);

impl Scheduler {
    /// Loads the workspace and starts `workers` worker threads (0: answer requests only).
    pub fn start(ws: Workspace, workers: usize) -> Result<Scheduler> {
        let shared = Arc::new(Shared {
            watches: WatchService::new(ws.root()),
            ws,
            engines: Engines::default(),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            subscribers: Mutex::new(Vec::new()),
        });
        shared.load()?;
        if workers > 0 {
            shared.watches.start_saved(shared.clone());
        }
        let mut handles = (0..workers)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("brushwork-worker-{i}"))
                    .spawn(move || s.work())
                    .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if workers > 0 {
            let s = shared.clone();
            let watcher = std::thread::Builder::new()
                .name("brushwork-elsewhere".into())
                .spawn(move || s.watch_elsewhere())
                .map_err(|e| Error::Internal(format!("cannot start a thread: {e}")))?;
            handles.push(watcher);
        }
        Ok(Scheduler { shared, workers: Mutex::new(handles) })
    }

    pub fn workspace(&self) -> &Workspace {
        &self.shared.ws
    }

    /// Asks running sessions to checkpoint and stop (they are queued again), then waits for the
    /// workers. Idempotent.
    pub fn shutdown(&self) {
        self.shared.watches.stop_all();
        {
            let mut st = self.shared.lock();
            st.shutting_down = true;
            for flag in st.running.values() {
                flag.request(Stop::Shutdown);
            }
        }
        self.shared.wake.notify_all();
        let handles: Vec<_> = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
        // End every event stream, so observers (socket clients, a printer) see the end.
        self.shared.subscribers.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Whether any session is queued or running (for `serve --exit-when-idle` and tests).
    pub fn is_idle(&self) -> bool {
        let st = self.shared.lock();
        st.running.is_empty() && !st.records.values().any(|r| r.status == Status::Queued)
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Control for Scheduler {
    fn request(&self, request: Request) -> Result<Response> {
        if let Request::Watch { config } = request {
            if self.shared.lock().shutting_down {
                return Err(Error::Conflict("the scheduler is shutting down".into()));
            }
            let status = self.shared.watches.add(*config, self.shared.clone())?;
            self.shared.watches_changed();
            return Ok(Response::Watches { watches: vec![status] });
        }
        self.shared.handle(request)
    }

    fn subscribe(&self) -> Result<Receiver<Event>> {
        if self.shared.lock().shutting_down {
            return Err(Error::Conflict("the scheduler is shutting down".into()));
        }
        let (tx, rx) = channel();
        self.shared.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        Ok(rx)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: Event) {
        if let Event::Session { record } = &event {
            self.lock().records.insert(record.id.clone(), (**record).clone());
        }
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).retain(|tx| tx.send(event.clone()).is_ok());
    }

    fn log(&self, level: LogLevel, message: String) {
        self.emit(Event::Log { level, message });
    }

    /// Every second: marks sessions whose lock another process holds and reads their record
    /// again while that lasts, so the scheduler (and every observer: the dashboard) follows a
    /// foreground `run` as that process saves it (its start, each checkpoint, its end) without a
    /// restart. When such a process is done the session is read once more; one that died mid-run
    /// is queued to continue from its checkpoint, as at start.
    fn watch_elsewhere(self: Arc<Self>) {
        loop {
            let candidates: Vec<(String, bool)> = {
                let st = self.lock();
                if st.shutting_down {
                    return;
                }
                // A session run elsewhere stays one until its lock is free, whatever its status
                // says meanwhile (`done` is saved before the lock is let go).
                st.records
                    .values()
                    .filter(|r| {
                        matches!(r.status, Status::Queued | Status::Running | Status::Paused)
                            || st.elsewhere.contains(&r.id)
                    })
                    .filter(|r| !st.running.contains_key(&r.id))
                    .map(|r| (r.id.clone(), st.elsewhere.contains(&r.id)))
                    .collect()
            };
            for (id, marked) in candidates {
                let held = FileLock::is_held(&self.ws.session_dir(&id).join("lock"));
                match (held, marked) {
                    (true, false) => {
                        // Not when a worker here has just started it (its lock is held too).
                        let mark = {
                            let mut st = self.lock();
                            !st.running.contains_key(&id) && st.elsewhere.insert(id.clone())
                        };
                        if mark {
                            self.reread(&id);
                        }
                    }
                    (true, true) => self.reread(&id),
                    (false, true) => self.came_back(&id),
                    (false, false) => {}
                }
            }
            let st = self.lock();
            if st.shutting_down {
                return;
            }
            let _ = self.wake.wait_timeout(st, ELSEWHERE_RECHECK);
        }
    }

    /// A session another process runs: its record as that process last saved it, told to
    /// observers when it differs from the one held here. Nothing is written: that process owns
    /// the file until it lets go of the lock.
    fn reread(&self, id: &str) {
        // Removed meanwhile, or unreadable for a moment: the next look (or `came_back`) tells.
        let Ok(record) = self.ws.load(id) else { return };
        {
            let st = self.lock();
            let current = st.elsewhere.contains(id) && !st.running.contains_key(id);
            if !current || st.records.get(id) == Some(&record) {
                return;
            }
        }
        self.emit(Event::Session { record: Box::new(record) });
    }

    /// A session another process was running is free again: take its state from disk.
    fn came_back(&self, id: &str) {
        let record = match self.ws.load(id) {
            Ok(mut record) => {
                if record.status == Status::Running {
                    record.status = Status::Queued;
                    if let Err(e) = self.ws.save(&record) {
                        self.log(LogLevel::Error, format!("{id}: {e}"));
                    }
                }
                Some(record)
            }
            Err(_) => None, // removed meanwhile: `rm` tells observers itself
        };
        self.lock().elsewhere.remove(id);
        if let Some(record) = record {
            self.emit(Event::Session { record: Box::new(record) });
        }
        self.wake.notify_all();
    }

    fn load(&self) -> Result<()> {
        let mut loaded = BTreeMap::new();
        for entry in self.ws.list() {
            let mut record = match entry {
                Listed::Ok(r) => *r,
                Listed::Damaged { id, error } => self.ws.damaged_record(&id, &error),
            };
            let held = FileLock::is_held(&self.ws.session_dir(&record.id).join("lock"));
            if record.status == Status::Running && !held {
                // Its process died: continue from the last checkpoint.
                record.status = Status::Queued;
                self.ws.save(&record)?;
            }
            loaded.insert(record.id.clone(), record);
        }
        self.lock().records = loaded;
        Ok(())
    }

    /// A worker: run the best queued session, repeat until shutdown.
    fn work(self: Arc<Self>) {
        loop {
            let (id, flag) = {
                let mut st = self.lock();
                loop {
                    if st.shutting_down {
                        return;
                    }
                    if let Some(id) = next_queued(&st) {
                        if FileLock::is_held(&self.ws.session_dir(&id).join("lock")) {
                            // Another process runs it: wait for it to end, do not spin on it.
                            st.elsewhere.insert(id);
                            continue;
                        }
                        let flag = Arc::new(StopFlag::default());
                        st.running.insert(id.clone(), flag.clone());
                        break (id, flag);
                    }
                    st = self.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let emit = |e: Event| self.emit(e);
            if let Err(e) = run_session(&self.ws, &id, &self.engines, &flag, &emit) {
                self.log(LogLevel::Error, format!("{id}: {e}"));
                // The runner announced how it ended; the file may be stale when the disk failed.
                let told = self.lock().records.get(&id).map(|r| r.status);
                if !matches!(told, Some(Status::Failed | Status::Interrupted)) {
                    if let Ok(record) = self.ws.load(&id) {
                        self.emit(Event::Session { record: Box::new(record) });
                    }
                }
            }
            self.lock().running.remove(&id);
            self.wake.notify_all();
        }
    }

    fn handle(&self, request: Request) -> Result<Response> {
        match request {
            Request::List => {
                let mut sessions: Vec<SessionRecord> = self.lock().records.values().cloned().collect();
                // A distributed render moves on in its plan folder, not here.
                sessions.iter_mut().for_each(crate::session::distributed::refresh);
                Ok(Response::Sessions { sessions })
            }
            Request::Show { id } => Ok(Response::Session { record: Box::new(self.record(&id)?) }),
            Request::Submit { spec } => {
                // A client may send anything: the same checks as the CLI's flags and presets.
                spec.validate()?;
                crate::session::memory::check(&spec)?;
                let record = self.ws.create(*spec)?;
                self.emit(Event::Session { record: Box::new(record.clone()) });
                self.wake.notify_all();
                Ok(Response::Session { record: Box::new(record) })
            }
            Request::Pause { id } => self.change(&id, |st, r| match r.status {
                Status::Running => stop_running(st, r, Stop::Pause),
                Status::Queued | Status::Interrupted => Ok(Some(Status::Paused)),
                Status::Paused => Ok(None),
                s => Err(Error::Conflict(format!("session {} is {s}; only queued or running sessions pause", r.id))),
            }),
            Request::Resume { id } => self.change(&id, |_, r| match r.status {
                Status::Paused | Status::Interrupted => Ok(Some(Status::Queued)),
                Status::Queued | Status::Running => Ok(None),
                s => Err(Error::Conflict(format!("session {} is {s}; use retry to run it again", r.id))),
            }),
            Request::Cancel { id } => self.change(&id, |st, r| match r.status {
                Status::Running => stop_running(st, r, Stop::Cancel),
                Status::Queued | Status::Paused | Status::Interrupted => Ok(Some(Status::Cancelled)),
                s => Err(Error::Conflict(format!("session {} is already {s}", r.id))),
            }),
            Request::Retry { id } => self.change(&id, |_, r| match r.status {
                // Its checkpoint is good: continue from it, never throw it away.
                Status::Interrupted => Ok(Some(Status::Queued)),
                Status::Failed | Status::Cancelled | Status::Done => {
                    r.error = None;
                    r.progress = None;
                    r.started_at = None;
                    r.finished_at = None;
                    Ok(Some(Status::Queued))
                }
                s => Err(Error::Conflict(format!("session {} is {s}; only finished sessions can be retried", r.id))),
            }),
            Request::SetPriority { id, priority } => self.change(&id, |_, r| {
                r.job.priority = priority;
                Ok(Some(r.status))
            }),
            Request::Remove { id } => self.remove(&id),
            Request::Watch { .. } => Err(Error::Internal("internal: watches are added through the scheduler".into())),
            Request::Unwatch { dir } => {
                if !self.watches.remove(&dir)? {
                    return Err(Error::input(&dir, "not watched"));
                }
                self.watches_changed();
                Ok(Response::Ok)
            }
            Request::Watches => Ok(Response::Watches { watches: self.watches.list() }),
            Request::Subscribe => {
                Err(Error::Internal("internal: subscribe is answered by a stream, not a reply".into()))
            }
        }
    }

    fn record(&self, query: &str) -> Result<SessionRecord> {
        let id = self.resolve(query)?;
        self.lock().records.get(&id).cloned().ok_or_else(|| Error::Usage(format!("no session `{query}`")))
    }

    fn resolve(&self, query: &str) -> Result<String> {
        if self.lock().records.contains_key(query) {
            return Ok(query.to_string());
        }
        self.ws.resolve_id(query)
    }

    /// Applies `f` to the record under the state lock; `Some(status)` saves it with that status.
    fn change(
        &self,
        query: &str,
        f: impl FnOnce(&State, &mut SessionRecord) -> Result<Option<Status>>,
    ) -> Result<Response> {
        let id = self.resolve(query)?;
        let record = {
            let st = self.lock();
            let mut record = st.records.get(&id).cloned().ok_or_else(|| Error::Usage(format!("no session `{id}`")))?;
            match f(&st, &mut record)? {
                Some(status) => {
                    record.status = status;
                    if status == Status::Cancelled {
                        record.finished_at = Some(super::record::now());
                        checkpoint::remove(&self.ws.session_dir(&id))?;
                    }
                    if status == Status::Queued && record.progress.is_none() {
                        checkpoint::remove(&self.ws.session_dir(&id))?;
                    }
                    self.ws.save(&record)?;
                    record
                }
                None => record,
            }
        };
        self.emit(Event::Session { record: Box::new(record.clone()) });
        self.wake.notify_all();
        Ok(Response::Session { record: Box::new(record) })
    }

    fn remove(&self, query: &str) -> Result<Response> {
        let id = self.resolve(query)?;
        let flag = self.lock().running.get(&id).cloned();
        if let Some(flag) = flag {
            flag.request(Stop::Cancel);
            let deadline = Instant::now() + Duration::from_secs(60);
            while self.lock().running.contains_key(&id) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let lock_path = self.ws.session_dir(&id).join("lock");
        if FileLock::is_held(&lock_path) {
            return Err(Error::Conflict(format!("session {id} is being run by another process; stop it first")));
        }
        self.ws.remove(&id)?;
        self.lock().records.remove(&id);
        self.emit(Event::Removed { id });
        Ok(Response::Ok)
    }
}

/// Asks the worker running `r` to stop; it saves the new status itself.
fn stop_running(st: &State, r: &SessionRecord, stop: Stop) -> Result<Option<Status>> {
    match st.running.get(&r.id) {
        Some(flag) => {
            flag.request(stop);
            Ok(None)
        }
        None => Err(Error::Conflict(format!(
            "session {} is being run by another process (`brushwork run`); stop it there with Ctrl-C",
            r.id
        ))),
    }
}

/// The queued session to run next: highest priority, then oldest.
fn next_queued(st: &State) -> Option<String> {
    st.records
        .values()
        .filter(|r| r.status == Status::Queued && !st.running.contains_key(&r.id) && !st.elsewhere.contains(&r.id))
        .max_by(|a, b| a.job.priority.cmp(&b.job.priority).then(b.created_at.cmp(&a.created_at)).then(b.id.cmp(&a.id)))
        .map(|r| r.id.clone())
}

impl SessionSink for Shared {
    fn create(&self, spec: SessionSpec) -> Result<SessionRecord> {
        let record = self.ws.create(spec)?;
        self.emit(Event::Session { record: Box::new(record.clone()) });
        self.wake.notify_all();
        Ok(record)
    }

    fn create_failed(&self, spec: SessionSpec, error: String) -> Result<SessionRecord> {
        let mut record = self.ws.create(spec)?;
        record.status = Status::Failed;
        record.error = Some(error.clone());
        record.finished_at = Some(super::record::now());
        self.ws.save(&record)?;
        self.log(LogLevel::Error, format!("{}: {error}", record.id));
        self.emit(Event::Session { record: Box::new(record.clone()) });
        Ok(record)
    }

    fn emit(&self, event: Event) {
        Shared::emit(self, event);
    }

    fn output_taken(&self, path: &std::path::Path) -> bool {
        self.lock().records.values().any(|r| r.job.export.as_deref() == Some(path))
    }

    fn watches_changed(&self) {
        Shared::emit(self, Event::Watches { watches: self.watches.list() });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::session::record::{Kind, ProgressSummary};

    /// The next `Session` event of `id` that `wanted` accepts, within a bounded wait.
    fn next_record(events: &Receiver<Event>, id: &str, wanted: impl Fn(&SessionRecord) -> bool) -> SessionRecord {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match events.recv_timeout(left) {
                Ok(Event::Session { record }) if record.id == id && wanted(&record) => return *record,
                Ok(_) => {}
                Err(e) => panic!("no such event for {id} in 20 s: {e}"),
            }
        }
    }

    /// A session run by another process (a foreground `brushwork run` holds its lock and saves its
    /// record) is followed live: each save is told to observers while it runs, not only when it ends.
    #[test]
    fn a_session_run_elsewhere_is_followed_as_it_saves() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        let spec = SessionSpec {
            name: Some("foreground".into()),
            job: crate::session::Job {
                kind: Kind::Image,
                content: dir.path().join("content.png"),
                export: None,
                weights: None,
                device: "cpu".into(),
                preset: "quick".into(),
                priority: 0,
                settings: crate::engine::Settings::default(),
            },
        };
        let mut record = ws.create(spec).unwrap();
        record.status = Status::Running;
        ws.save(&record).unwrap();
        // The other process: it holds the session's lock and writes its record.
        let lock = FileLock::try_acquire(&ws.session_dir(&record.id).join("lock")).unwrap().unwrap();

        let scheduler = Scheduler::start(ws.clone(), 1).unwrap();
        let events = scheduler.subscribe().unwrap();
        record.progress = Some(ProgressSummary { iteration: 50, total: 200, ..Default::default() });
        ws.save(&record).unwrap();
        let seen = next_record(&events, &record.id, |r| r.progress.is_some());
        assert_eq!((seen.status, seen.progress.map(|p| p.iteration)), (Status::Running, Some(50)));

        record.status = Status::Done;
        record.progress = Some(ProgressSummary { iteration: 200, total: 200, ..Default::default() });
        ws.save(&record).unwrap();
        let seen = next_record(&events, &record.id, |r| r.status == Status::Done);
        assert_eq!(seen.progress.map(|p| p.iteration), Some(200));
        let Response::Session { record: shown } = scheduler.request(Request::Show { id: record.id.clone() }).unwrap()
        else {
            panic!("show answers with the session")
        };
        assert_eq!(shown.status, Status::Done, "the scheduler's own record follows too");

        // Nothing was written here while the other process held the lock.
        assert_eq!(ws.load(&record.id).unwrap(), record);
        drop(lock);
        scheduler.shutdown();
    }
}
