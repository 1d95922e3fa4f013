//! The terminal loop. One channel feeds it: keys and resizes (input thread), scheduler events
//! (forwarding thread), decoded previews (decoder thread), the outcomes of effects (worker
//! threads) and signals. It never waits on the scheduler or the disk: requests, deletions, preset
//! files and form checks go to the workers, and the list shows them pending meanwhile. It redraws
//! only after something arrived (once per burst), plus once a second while a session runs (ETAs
//! count down); idle, it sleeps.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent};
use ratatui_image::picker::ProtocolType;

use super::app::{App, Effect, Screen};
use super::effects::{dispatch_all, finish, Outcome};
use super::images::{Decoded, ImageStore};
use super::options::TuiOptions;
use super::signals::SignalWatch;
use super::terminal::{terminal_error, TerminalGuard};
use super::worker::Workers;
use super::{decoder, graphics, view};
use crate::error::Result;
use crate::session::{Control, Event, LogLevel, Request, Status};

const TICK: Duration = Duration::from_secs(1);

/// How often the list is asked for again while a distributed render is shown: its frames land in
/// its plan folder, which sends no events.
const DISTRIBUTED_REFRESH: Duration = Duration::from_secs(5);
/// How often the input thread looks up from waiting for a key to see whether it should stop.
const INPUT_POLL: Duration = Duration::from_millis(250);

enum UiMsg {
    Terminal(TermEvent),
    Scheduler(Event),
    SchedulerGone,
    Decoded(Decoded),
    /// A worker finished a job (see [`super::effects`]).
    Done(Outcome),
    Signal,
}

fn spawn_input(tx: Sender<UiMsg>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new().name("tui-input".into()).spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match event::poll(INPUT_POLL) {
                Ok(true) => match event::read() {
                    Ok(ev) => {
                        if tx.send(UiMsg::Terminal(ev)).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
        }
    })?;
    Ok(())
}

fn spawn_forwarder(events: Receiver<Event>, tx: Sender<UiMsg>) -> std::io::Result<()> {
    std::thread::Builder::new().name("tui-events".into()).spawn(move || {
        for e in events {
            if tx.send(UiMsg::Scheduler(e)).is_err() {
                return;
            }
        }
        let _ = tx.send(UiMsg::SchedulerGone);
    })?;
    Ok(())
}

/// Applies one message; true when the screen should be redrawn.
fn apply(app: &mut App, workers: &Workers, images: &mut ImageStore, msg: UiMsg) -> bool {
    match msg {
        UiMsg::Terminal(TermEvent::Key(key)) => {
            let effects = app.handle_key(key);
            dispatch_all(app, workers, effects);
        }
        UiMsg::Terminal(TermEvent::Resize(..)) => {}
        UiMsg::Terminal(_) => return false,
        UiMsg::Scheduler(e) => app.apply_event(e),
        UiMsg::SchedulerGone => app.report_error("lost the connection to the scheduler: restart brushwork"),
        UiMsg::Decoded(d) => images.accept(d),
        UiMsg::Done(outcome) => {
            let effects = finish(app, outcome);
            dispatch_all(app, workers, effects);
        }
        UiMsg::Signal => app.quit = true,
    }
    true
}

/// Runs the dashboard until the user quits or a signal arrives. The terminal is restored on
/// every way out. Only `control` and the session folders under `workspace_root` are used.
pub fn run_tui(control: Arc<dyn Control>, workspace_root: PathBuf, options: TuiOptions) -> Result<()> {
    // Subscribe before taking the terminal, so a failure prints as a plain error.
    let events = control.subscribe()?;
    let (guard, mut terminal) = TerminalGuard::enter()?;
    let picker = graphics::pick(options.graphics);
    let protocol = picker.protocol_type();
    let halfblocks = protocol == ProtocolType::Halfblocks;
    let (tx, rx) = mpsc::channel::<UiMsg>();
    let stop = Arc::new(AtomicBool::new(false));
    spawn_input(tx.clone(), stop.clone()).map_err(terminal_error)?;
    spawn_forwarder(events, tx.clone()).map_err(terminal_error)?;
    let signal_tx = tx.clone();
    let _signals = SignalWatch::start(guard.restorer.clone(), move |_| {
        let _ = signal_tx.send(UiMsg::Signal);
    })
    .map_err(terminal_error)?;
    let (job_tx, job_rx) = mpsc::channel();
    let decoded_tx = tx.clone();
    decoder::spawn(picker, job_rx, move |d| decoded_tx.send(UiMsg::Decoded(d)).is_ok()).map_err(terminal_error)?;
    let done_tx = tx.clone();
    let workers =
        Workers::spawn(control, move |outcome| done_tx.send(UiMsg::Done(outcome)).is_ok()).map_err(terminal_error)?;
    drop(tx);

    let start_dir = options.start_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut app = App::new(workspace_root, start_dir, options.preset_dir.clone());
    app.push_log(LogLevel::Info, format!("previews drawn with {}", protocol_name(protocol)));
    dispatch_all(
        &mut app,
        &workers,
        vec![Effect::Request(Request::List), Effect::Request(Request::Watches), Effect::ReloadPresets],
    );
    let mut images = ImageStore::default();
    let mut last_screen = app.screen.clone();
    let mut last_overlay = app.overlay_open();
    let mut dirty = true;
    let mut listed_at = Instant::now();
    let result = loop {
        if dirty {
            // Sixel and iTerm2 pictures stay on screen until overwritten: clear on screen changes,
            // and when a pop-up opens or closes over the pictures (not drawn under one).
            let overlay = app.overlay_open();
            let pictures = matches!(app.screen, Screen::Detail(_));
            if !halfblocks && (app.screen != last_screen || (pictures && overlay != last_overlay)) {
                terminal.clear().map_err(terminal_error)?;
                if app.screen != last_screen {
                    images.clear();
                }
            }
            last_screen = app.screen.clone();
            last_overlay = overlay;
            if let Err(e) = terminal.draw(|f| view::draw(f, &app, &mut images)) {
                break Err(terminal_error(e));
            }
            for job in images.take_requests() {
                let _ = job_tx.send(job);
            }
        }
        match rx.recv_timeout(TICK) {
            Ok(msg) => {
                app.tick(Instant::now());
                dirty = apply(&mut app, &workers, &mut images, msg);
                // Take whatever else is waiting before drawing, so bursts of events draw once.
                while let Ok(msg) = rx.try_recv() {
                    dirty |= apply(&mut app, &workers, &mut images, msg);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                app.tick(Instant::now());
                dirty = app.any_running();
            }
            Err(RecvTimeoutError::Disconnected) => break Ok(()),
        }
        if app.quit {
            break Ok(());
        }
        if listed_at.elapsed() >= DISTRIBUTED_REFRESH && app.sessions.iter().any(|r| r.status == Status::Distributed) {
            listed_at = Instant::now();
            dispatch_all(&mut app, &workers, vec![Effect::Request(Request::List)]);
        }
    };
    stop.store(true, Ordering::SeqCst);
    drop(guard);
    result
}

fn protocol_name(p: ProtocolType) -> &'static str {
    match p {
        ProtocolType::Halfblocks => "half blocks",
        ProtocolType::Sixel => "sixel",
        ProtocolType::Kitty => "kitty graphics",
        ProtocolType::Iterm2 => "iTerm2 images",
    }
}
