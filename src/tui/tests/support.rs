//! Test double for the scheduler, fixed session records, and a harness that drives the [`App`]
//! the way the terminal loop does (keys → effects → control) and renders to a `TestBackend`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use image::{DynamicImage, Rgb, RgbImage};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use ratatui_image::Resize;

use crate::engine::settings::StyleRef;
use crate::engine::Settings;
use crate::preset::{Origin, Preset};
use crate::session::{
    Control, Event, Job, Kind, ProgressSummary, Request, Response, SessionRecord, SessionSpec, Status,
};
use crate::tui::app::Effect;
use crate::tui::effects::{dispatch_all, finish, perform_all, Outcome};
use crate::tui::images::{Decoded, ImageStore};
use crate::tui::worker::Workers;
use crate::tui::{view, App};

/// Records every request, answers like a scheduler would, and lets the test push events.
#[derive(Default)]
pub struct TestControl {
    pub requests: Mutex<Vec<Request>>,
    pub sessions: Mutex<Vec<SessionRecord>>,
    subscribers: Mutex<Vec<Sender<Event>>>,
    /// Taken by every request before anything else: a test holding it is a scheduler busy
    /// (removing a running session waits for its iteration to end).
    pub busy: Mutex<()>,
}

impl TestControl {
    pub fn with(sessions: Vec<SessionRecord>) -> Arc<Self> {
        Arc::new(TestControl { sessions: Mutex::new(sessions), ..Default::default() })
    }

    pub fn push(&self, event: Event) {
        for s in self.subscribers.lock().unwrap().iter() {
            let _ = s.send(event.clone());
        }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Control for TestControl {
    fn request(&self, request: Request) -> crate::Result<Response> {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        self.requests.lock().unwrap().push(request.clone());
        let mut sessions = self.sessions.lock().unwrap();
        match request {
            Request::List => Ok(Response::Sessions { sessions: sessions.clone() }),
            Request::Submit { spec } => {
                let mut record = SessionRecord::new(format!("s{}", sessions.len() + 1), *spec);
                record.created_at = 1_700_000_100;
                sessions.push(record.clone());
                Ok(Response::Session { record: Box::new(record) })
            }
            Request::Pause { id } => match sessions.iter_mut().find(|r| r.id == id) {
                Some(r) => {
                    r.status = Status::Paused;
                    let record = Box::new(r.clone());
                    drop(sessions);
                    self.push(Event::Session { record });
                    Ok(Response::Ok)
                }
                None => Err(crate::Error::Usage(format!("no session `{id}`"))),
            },
            Request::Remove { id } => {
                sessions.retain(|r| r.id != id);
                drop(sessions);
                self.push(Event::Removed { id });
                Ok(Response::Ok)
            }
            _ => Ok(Response::Ok),
        }
    }

    fn subscribe(&self) -> crate::Result<Receiver<Event>> {
        let (tx, rx) = channel();
        self.subscribers.lock().unwrap().push(tx);
        Ok(rx)
    }
}

pub fn settings() -> Settings {
    let styles = vec![StyleRef { path: "media/style/starry.jpg".into(), weight: 1.0 }];
    Settings { size: 256, iterations: 100, scales: 2, seed: 7, styles, ..Settings::default() }
}

/// A record with fixed times and relative paths, so snapshots do not change between runs.
pub fn record(id: &str, name: &str, status: Status, kind: Kind, iteration: u32, loss: f64) -> SessionRecord {
    let spec = SessionSpec {
        name: Some(name.into()),
        job: Job {
            kind,
            content: format!("media/content/{name}.jpg").into(),
            export: None,
            weights: None,
            device: "cpu".into(),
            preset: "quick".into(),
            priority: 0,
            settings: settings(),
        },
    };
    let mut r = SessionRecord::new(id.into(), spec);
    r.status = status;
    r.created_at = 1_700_000_000 + id.trim_start_matches('s').parse::<u64>().unwrap_or(0);
    if iteration > 0 {
        r.progress = Some(ProgressSummary { iteration, total: 200, loss, seconds: iteration as f64 * 0.5 });
    }
    r
}

/// Sessions in every state.
pub fn mixed_sessions() -> Vec<SessionRecord> {
    let mut failed = record("s5", "harbour", Status::Failed, Kind::Image, 12, 9.1e6);
    failed.error = Some("media/style/missing.jpg: no such file".into());
    vec![
        record("s1", "tubingen", Status::Running, Kind::Image, 120, 2.51e5),
        record("s2", "clip-frames", Status::Queued, Kind::Video, 0, 0.0),
        record("s3", "lake", Status::Paused, Kind::Image, 60, 8.2e5),
        record("s4", "portrait", Status::Done, Kind::Watched, 200, 1.1e5),
        failed,
        record("s6", "garden", Status::Cancelled, Kind::Image, 30, 3.0e6),
    ]
}

/// The presets built into the binary: the same list on every machine.
pub fn builtin_presets() -> Vec<Preset> {
    crate::preset::BUILT_IN
        .iter()
        .map(|(name, text)| Preset {
            name: name.to_string(),
            origin: Origin::BuiltIn,
            settings: crate::preset::parse(text, Path::new(name)).unwrap(),
        })
        .collect()
}

pub struct Harness {
    pub app: App,
    pub control: Arc<TestControl>,
    pub events: Receiver<Event>,
    pub images: ImageStore,
    pub terminal: Terminal<TestBackend>,
    /// With [`Harness::with_workers`]: effects go to worker threads, as in the dashboard, and
    /// their outcomes come back here; without, they are carried out in place.
    pub workers: Option<(Workers, Receiver<Outcome>)>,
}

impl Harness {
    pub fn new(sessions: Vec<SessionRecord>, width: u16, height: u16) -> Self {
        let control = TestControl::with(sessions);
        let events = control.subscribe().unwrap();
        let mut app = App::new(PathBuf::from("ws"), PathBuf::from("."), None);
        app.set_presets(builtin_presets());
        let effects = vec![crate::tui::app::Effect::Request(Request::List)];
        perform_all(&mut app, &*control, effects);
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        Harness { app, control, events, images: ImageStore::default(), terminal, workers: None }
    }

    /// Effects from now on go to the dashboard's worker threads (see [`Harness::settle`]).
    pub fn with_workers(mut self) -> Self {
        let (tx, rx) = channel();
        let workers = Workers::spawn(self.control.clone(), move |outcome| tx.send(outcome).is_ok()).unwrap();
        self.workers = Some((workers, rx));
        self
    }

    pub fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        let effects = self.app.handle_key(KeyEvent::new(code, modifiers));
        self.carry_out(effects);
        self.pump();
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        match &self.workers {
            Some((workers, _)) => dispatch_all(&mut self.app, workers, effects),
            None => perform_all(&mut self.app, &*self.control, effects),
        }
    }

    /// With workers: applies the next outcome to come back, as the terminal loop does; false
    /// when none came within `timeout`.
    pub fn settle(&mut self, timeout: std::time::Duration) -> bool {
        let Some((_, outcomes)) = &self.workers else { return false };
        let Ok(outcome) = outcomes.recv_timeout(timeout) else { return false };
        let effects = finish(&mut self.app, outcome);
        self.carry_out(effects);
        self.pump();
        true
    }

    pub fn key(&mut self, code: KeyCode) {
        self.key_with(code, KeyModifiers::NONE);
    }

    pub fn ctrl(&mut self, c: char) {
        self.key_with(KeyCode::Char(c), KeyModifiers::CONTROL);
    }

    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Applies the events the control sent since the last call.
    pub fn pump(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.app.apply_event(e);
        }
    }

    pub fn render(&mut self) -> String {
        let (app, images) = (&self.app, &mut self.images);
        self.terminal.draw(|f| view::draw(f, app, images)).unwrap();
        buffer_text(self.terminal.backend().buffer())
    }

    /// Answers the image requests of the last draw with generated pictures, as half blocks.
    pub fn serve_images(&mut self) {
        for job in self.images.take_requests() {
            self.images.accept(half_blocks(job));
        }
    }

    /// Moves the form's focus to the field with this label.
    pub fn focus_field(&mut self, label: &str) {
        let field = *crate::tui::form_fields::FIELDS.iter().find(|f| f.label() == label).unwrap();
        let form = self.app.form.as_mut().unwrap();
        form.focus = form.row_of(field);
    }
}

/// A generated picture for `job`, as the decoder thread would answer it.
pub fn half_blocks(job: crate::tui::images::DecodeJob) -> Decoded {
    let image = gradient(&job.path);
    let result = Picker::halfblocks().new_protocol(image, job.size, Resize::Fit(None)).map_err(|e| e.to_string());
    Decoded { job, result }
}

/// A small picture that differs per file, so half-block output is deterministic but not blank.
fn gradient(path: &Path) -> DynamicImage {
    let seed = path.to_string_lossy().len() as u32;
    let img = RgbImage::from_fn(640, 480, |x, y| Rgb([(x / 3) as u8, (y / 2) as u8, (seed * 20 % 256) as u8]));
    DynamicImage::ImageRgb8(img)
}

/// The buffer's text, one line per row, trailing spaces removed (colours are not kept).
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
