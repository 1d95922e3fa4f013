//! One snapshot per screen. Paths are relative and times fixed, so the text is the same anywhere.

use ratatui::crossterm::event::KeyCode;

use super::support::{mixed_sessions, Harness};
use crate::session::{Event, LogLevel};
use crate::tui::losses::LossRow;

fn with_log(h: &mut Harness) {
    h.app.apply_event(Event::Log { level: LogLevel::Info, message: "scheduler started: 2 workers".into() });
    h.app.apply_event(Event::Log { level: LogLevel::Warn, message: "lake: paused by user".into() });
    h.app.apply_event(Event::Log {
        level: LogLevel::Error,
        message: "harbour: media/style/missing.jpg: no such file".into(),
    });
}

/// Losses over two scales, falling, with the scale change at iteration 101.
fn losses() -> Vec<LossRow> {
    (1..=120u32)
        .map(|i| {
            let scale = u32::from(i > 100);
            let t = i as f64;
            let style = 4.0e6 / t.powf(1.3) * if scale == 1 { 3.0 } else { 1.0 };
            let content = 2.0e4 * (1.0 + t / 50.0);
            let tv = 300.0 + t;
            LossRow { iteration: i, scale, loss: style + content + tv, style, content, tv, seconds: t * 0.5 }
        })
        .collect()
}

#[test]
fn sessions_list() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    with_log(&mut h);
    insta::assert_snapshot!(h.render());
}

#[test]
fn sessions_list_sorted_by_status_at_80x24() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    h.key(KeyCode::Char('s'));
    h.key(KeyCode::Char('s'));
    insta::assert_snapshot!(h.render());
}

#[test]
fn detail_with_chart_and_preview() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn detail_at_80x24() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn failed_session_shows_its_error() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.app.selected = Some("s5".into());
    h.key(KeyCode::Enter);
    h.app.set_losses("s5", losses()[..12].to_vec());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn new_session_form() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.type_text("evening");
    insta::assert_snapshot!(h.render());
}

#[test]
fn new_session_form_at_80x24() {
    let mut h = Harness::new(Vec::new(), 80, 24);
    h.key(KeyCode::Char('n'));
    h.focus_field("Export to");
    insta::assert_snapshot!(h.render());
}

#[test]
fn help_overlay() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!(h.render());
}

#[test]
fn log_panel_focused() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    with_log(&mut h);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    insta::assert_snapshot!(h.render());
}

#[test]
fn empty_dashboard_at_80x24() {
    let mut h = Harness::new(Vec::new(), 80, 24);
    insta::assert_snapshot!(h.render());
}

/// Every screen survives being resized down to almost nothing (no panics, no overflow).
#[test]
fn every_screen_draws_at_any_size() {
    let sizes = [(120, 40), (80, 24), (60, 15), (30, 8), (10, 3), (1, 1)];
    let setups: [fn(&mut Harness); 5] = [
        |_| {},
        |h| h.key(KeyCode::Enter),
        |h| h.key(KeyCode::Char('n')),
        |h| h.key(KeyCode::Char('?')),
        |h| {
            h.key(KeyCode::Char('n'));
            h.focus_field("Content");
            h.key(KeyCode::Enter);
        },
    ];
    for setup in setups {
        let mut h = Harness::new(mixed_sessions(), 100, 30);
        with_log(&mut h);
        setup(&mut h);
        if let Some(d) = h.app.detail.as_ref().map(|d| d.id.clone()) {
            h.app.set_losses(&d, losses());
        }
        for (w, ht) in sizes {
            h.terminal.backend_mut().resize(w, ht);
            h.render();
            h.serve_images();
            h.render();
        }
    }
}
