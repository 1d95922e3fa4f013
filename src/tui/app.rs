//! The dashboard's state. No terminal, no threads, no tensors: keys and scheduler events go in
//! ([`App::handle_key`] in `keys.rs`, [`App::apply_event`]), [`Effect`]s come out for the runner
//! to carry out, and the views read it. Tests drive it directly.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::form::Form;
use super::losses::{self, LossRow};
use super::sessions::{self, SortKey};
use crate::engine::Settings;
use crate::preset::Preset;
use crate::session::frames::FrameScore;
use crate::session::watches::WatchStatus;
use crate::session::{Event, LogLevel, ProgressSummary, Request, Response, SessionRecord};

/// Work the state cannot do itself: talk to the scheduler or touch files.
#[derive(Debug, Clone)]
pub enum Effect {
    Request(Request),
    /// Read `losses.csv` of this session for the detail chart.
    LoadLosses(String),
    SavePreset {
        name: String,
        settings: Box<Settings>,
    },
    DeletePreset(PathBuf),
    ReloadPresets,
    /// Check the form's spec as the CLI would (reads files: off the UI thread), then submit it.
    Check(CheckJob),
}

/// A spec from the form to check before it is submitted (or watched, with `watch`); `seq`
/// tells a late answer for a form since closed from the answer the open form waits for.
#[derive(Debug, Clone)]
pub struct CheckJob {
    pub seq: u64,
    pub spec: Box<crate::session::SessionSpec>,
    pub watch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Sessions,
    Detail(String),
    Form,
}

/// The focused panel of the sessions screen; `Tab` cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    Sessions,
    Watched,
    Log,
}

/// A yes/no question; `y` carries out the effect.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub question: String,
    pub effect: Effect,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
    /// How many times in a row this entry arrived (shown as `(x3)`).
    pub count: u32,
}

/// The session the detail screen shows, with its loss history.
#[derive(Debug, Clone)]
pub struct Detail {
    pub id: String,
    pub losses: Vec<LossRow>,
    /// Video sessions: the figures of each finished frame.
    pub frames: Vec<FrameScore>,
}

/// Log entries kept; older ones are dropped.
const LOG_LIMIT: usize = 500;

#[derive(Debug)]
pub struct App {
    pub workspace: PathBuf,
    /// Where the file browser opens.
    pub start_dir: PathBuf,
    /// Where "save preset" writes (`None`: the user's preset folder).
    pub preset_dir: Option<PathBuf>,
    pub sessions: Vec<SessionRecord>,
    /// When each session's latest progress arrived, to count ETAs down between events.
    pub progress_at: HashMap<String, Instant>,
    /// Bumped by each `Preview` event: the image cache reloads a preview whose generation is old.
    pub preview_generation: HashMap<String, u64>,
    pub sort: SortKey,
    pub selected: Option<String>,
    pub panel: Panel,
    pub screen: Screen,
    pub detail: Option<Detail>,
    pub form: Option<Form>,
    pub presets: Vec<Preset>,
    pub log: Vec<LogEntry>,
    /// The scheduler's watched folders.
    pub watches: Vec<WatchStatus>,
    /// The selected line of the watched-folders panel.
    pub watch_selected: usize,
    /// Lines scrolled up from the newest log entry.
    pub log_scroll: usize,
    pub help: bool,
    pub confirm: Option<Confirm>,
    /// One line at the bottom: the last action's result or error.
    pub status: Option<String>,
    /// Set at each tick; "now" for ETAs, so that drawing is a pure function of the state.
    pub now: Instant,
    pub quit: bool,
    /// The number of the latest form check.
    pub check_seq: u64,
    /// Requests about one session sent to the scheduler and not answered yet, oldest first: the
    /// list shows `deleting…` and the like until the answer comes (see `effects.rs`).
    pub pending: Vec<Pending>,
    /// The session list was asked for and has not come yet.
    pub listing: bool,
}

/// A request about session `id` on its way: `doing` says what, for the status column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub doing: &'static str,
}

impl App {
    pub fn new(workspace: PathBuf, start_dir: PathBuf, preset_dir: Option<PathBuf>) -> Self {
        App {
            workspace,
            start_dir,
            preset_dir,
            sessions: Vec::new(),
            progress_at: HashMap::new(),
            preview_generation: HashMap::new(),
            sort: SortKey::default(),
            selected: None,
            panel: Panel::Sessions,
            screen: Screen::Sessions,
            detail: None,
            form: None,
            presets: Vec::new(),
            log: Vec::new(),
            watches: Vec::new(),
            watch_selected: 0,
            log_scroll: 0,
            help: false,
            confirm: None,
            status: None,
            now: Instant::now(),
            quit: false,
            check_seq: 0,
            pending: Vec::new(),
            listing: false,
        }
    }

    pub fn tick(&mut self, now: Instant) {
        self.now = now;
    }

    pub fn session(&self, id: &str) -> Option<&SessionRecord> {
        self.sessions.iter().find(|r| r.id == id)
    }

    pub fn session_dir(&self, id: &str) -> PathBuf {
        self.workspace.join("sessions").join(id)
    }

    /// Sessions in display order.
    pub fn ordered(&self) -> Vec<&SessionRecord> {
        sessions::sorted_order(&self.sessions, self.sort).into_iter().map(|i| &self.sessions[i]).collect()
    }

    pub fn selected_record(&self) -> Option<&SessionRecord> {
        self.selected.as_deref().and_then(|id| self.session(id))
    }

    pub fn eta(&self, r: &SessionRecord) -> Option<Duration> {
        let since = self.progress_at.get(&r.id).map_or(Duration::ZERO, |t| self.now.saturating_duration_since(*t));
        sessions::eta(r, since)
    }

    /// A pop-up (help or a question) covers the screen: pictures are not drawn under it, since
    /// sixel and iTerm2 images stay above any text written over them.
    pub fn overlay_open(&self) -> bool {
        self.help || self.confirm.is_some()
    }

    pub fn any_running(&self) -> bool {
        self.sessions.iter().any(|r| r.status == crate::session::Status::Running)
    }

    /// Adds an entry; the same entry again right after it only counts up, so a repeated error
    /// is shown once with its count.
    pub fn push_log(&mut self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        if let Some(last) = self.log.last_mut().filter(|l| l.level == level && l.message == message) {
            last.count += 1;
            return;
        }
        self.log.push(LogEntry { level, message, count: 1 });
        if self.log.len() > LOG_LIMIT {
            self.log.drain(..self.log.len() - LOG_LIMIT);
        }
    }

    /// Shows an error in the status line and keeps it in the log.
    pub fn report_error(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.status = Some(message.clone());
        self.push_log(LogLevel::Error, message);
    }

    fn keep_selection_valid(&mut self) {
        let valid = self.selected.as_deref().is_some_and(|id| self.session(id).is_some());
        if !valid {
            self.selected = self.ordered().first().map(|r| r.id.clone());
        }
    }

    pub fn set_sessions(&mut self, records: Vec<SessionRecord>) {
        self.sessions = records;
        self.keep_selection_valid();
    }

    pub fn upsert(&mut self, record: SessionRecord) {
        match self.sessions.iter_mut().find(|r| r.id == record.id) {
            Some(r) => *r = record,
            None => self.sessions.push(record),
        }
        self.keep_selection_valid();
    }

    pub fn set_presets(&mut self, presets: Vec<Preset>) {
        self.presets = presets;
    }

    pub fn set_frame_scores(&mut self, id: &str, rows: Vec<FrameScore>) {
        if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
            let live = std::mem::take(&mut d.frames);
            d.frames = rows;
            losses::merge_frames(&mut d.frames, live);
        }
    }

    pub fn set_losses(&mut self, id: &str, rows: Vec<LossRow>) {
        if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
            let live = std::mem::take(&mut d.losses);
            d.losses = rows;
            losses::merge(&mut d.losses, live);
        }
    }

    /// A scheduler event. Events about sessions this view has not listed yet are applied too.
    pub fn apply_event(&mut self, event: Event) {
        match event {
            Event::Session { record } => self.upsert(*record),
            Event::Removed { id } => {
                self.sessions.retain(|r| r.id != id);
                self.progress_at.remove(&id);
                if self.screen == Screen::Detail(id.clone()) {
                    self.screen = Screen::Sessions;
                    self.detail = None;
                }
                self.keep_selection_valid();
            }
            Event::Preview { id } => *self.preview_generation.entry(id).or_default() += 1,
            Event::Log { level, message } => self.push_log(level, message),
            Event::Watches { watches } => self.watches = watches,
            Event::Progress { id, total, row, video, .. } => {
                // Video sessions progress by frames; their chart is the flicker per finished frame.
                // The iterations of a frame carry that frame's seconds, not the job's: the
                // elapsed time (and the ETA's starting point) stays the last finished frame's.
                let record = self.sessions.iter_mut().find(|r| r.id == id);
                let finished_frame = video.is_none_or(|v| v.finished());
                let summary = match video {
                    Some(v) => {
                        let kept = record.as_ref().and_then(|r| r.progress).filter(|_| !finished_frame);
                        let seconds = kept.map_or(if finished_frame { row.seconds } else { 0.0 }, |p| p.seconds);
                        let iteration = v.frame - u32::from(!v.finished());
                        ProgressSummary { iteration, total: v.frames, loss: row.loss, seconds }
                    }
                    None => ProgressSummary { iteration: row.iteration, total, loss: row.loss, seconds: row.seconds },
                };
                if let Some(r) = record {
                    r.progress = Some(summary);
                }
                if finished_frame || !self.progress_at.contains_key(&id) {
                    self.progress_at.insert(id.clone(), self.now);
                }
                if let Some(d) = self.detail.as_mut().filter(|d| d.id == id) {
                    match video {
                        Some(v) => {
                            if let Some(flicker) = v.flicker {
                                let (warp_error, source_warp_error) = (v.warp_error, v.source_warp_error);
                                let score = FrameScore { frame: v.frame, flicker, warp_error, source_warp_error };
                                losses::merge_frames(&mut d.frames, [score]);
                            }
                        }
                        None => losses::merge(&mut d.losses, [row]),
                    }
                }
            }
        }
    }

    /// What is being done to session `id` (the latest request not answered yet), e.g. `deleting`.
    pub fn pending_for(&self, id: &str) -> Option<&'static str> {
        self.pending.iter().rev().find(|p| p.id == id).map(|p| p.doing)
    }

    /// `request` is on its way to the scheduler: show it as pending until [`App::request_answered`].
    pub fn request_sent(&mut self, request: &Request) {
        if matches!(request, Request::List) {
            self.listing = true;
        }
        if let Some((id, doing)) = pending_of(request) {
            self.pending.push(Pending { id: id.to_string(), doing });
        }
    }

    /// The answer to `request` came (or it could not be sent): it is no longer pending.
    pub fn request_answered(&mut self, request: &Request) {
        if matches!(request, Request::List) {
            self.listing = false;
        }
        if let Some((id, doing)) = pending_of(request) {
            if let Some(i) = self.pending.iter().position(|p| p.id == id && p.doing == doing) {
                self.pending.remove(i);
            }
        }
    }

    /// The scheduler's answer to a request this app sent.
    pub fn apply_response(&mut self, request: &Request, response: crate::Result<Response>) {
        match response {
            Ok(Response::Sessions { sessions }) => self.set_sessions(sessions),
            Ok(Response::Session { record }) => {
                if matches!(request, Request::Submit { .. }) {
                    self.status = Some(format!("queued `{}` ({})", record.name, record.id));
                    self.selected = Some(record.id.clone());
                }
                self.upsert(*record);
            }
            Ok(Response::Watches { watches }) => match request {
                Request::Watches => self.watches = watches,
                Request::Watch { config } => {
                    self.status = Some(format!("watching {}", config.dir.display()));
                    self.panel = Panel::Watched;
                }
                _ => {}
            },
            // Removed: the `Removed` event says so too, but may come after this answer.
            Ok(Response::Ok) => {
                if let Request::Remove { id } = request {
                    self.apply_event(Event::Removed { id: id.clone() });
                }
            }
            Ok(Response::Error { message, .. }) => self.report_error(message),
            Err(e) => self.report_error(e.to_string()),
        }
    }
}

/// The session a request is about and what it does to it, as the status column shows it while
/// the answer is on its way. Changing a priority is not shown.
fn pending_of(request: &Request) -> Option<(&str, &'static str)> {
    match request {
        Request::Pause { id } => Some((id, "pausing")),
        Request::Resume { id } => Some((id, "resuming")),
        Request::Cancel { id } => Some((id, "stopping")),
        Request::Retry { id } => Some((id, "retrying")),
        Request::Remove { id } => Some((id, "deleting")),
        _ => None,
    }
}
