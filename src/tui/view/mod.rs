//! Drawing: a pure function of the [`App`] (plus the image cache, which only holds encoded
//! pictures). Every screen has a header line, a body, and a help bar with its keys.

mod chart;
mod detail;
mod form;
mod overlay;
mod panels;
mod sessions;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::app::{App, Screen};
use super::images::ImageStore;
use super::key_help::current_keys;
use crate::session::Status;

pub fn draw(frame: &mut Frame, app: &App, images: &mut ImageStore) {
    let [header, body, status, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(u16::from(app.status.is_some())),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, app, header);
    match &app.screen {
        Screen::Sessions => sessions::draw(frame, app, body),
        Screen::Detail(id) => detail::draw(frame, app, id, body, images),
        Screen::Form => form::draw(frame, app, body),
    }
    if let Some(message) = &app.status {
        frame.render_widget(Paragraph::new(message.as_str()).yellow(), status);
    }
    frame.render_widget(help_bar(current_keys(app), help.width), help);
    if app.help {
        overlay::help(frame, frame.area());
    }
    if let Some(confirm) = &app.confirm {
        overlay::confirm(frame, frame.area(), &confirm.question);
    }
}

fn draw_header(frame: &mut Frame, app: &App, area: Rect) {
    let count = |s: Status| app.sessions.iter().filter(|r| r.status == s).count();
    let title = match &app.screen {
        Screen::Sessions => "sessions",
        Screen::Detail(_) => "session detail",
        Screen::Form => "new session",
    };
    let line = Line::from(vec![
        Span::styled(" brushwork ", Style::new().add_modifier(Modifier::BOLD).reversed()),
        Span::raw(format!(
            " {title} · {} sessions · {} running · {} queued",
            app.sessions.len(),
            count(Status::Running),
            count(Status::Queued)
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The keys that fit in `width`. The last two (help and quit, or cancel) always stay; keys before
/// them are dropped from the end when the line is too long — the `?` overlay lists them all.
fn help_bar(keys: &[(&str, &str)], width: u16) -> Paragraph<'static> {
    let cost = |k: &(&str, &str)| k.0.chars().count() + k.1.chars().count() + 3;
    let tail = keys.len().saturating_sub(2);
    let mut used: usize = keys[tail..].iter().map(cost).sum();
    let mut shown: Vec<&(&str, &str)> = Vec::new();
    for k in &keys[..tail] {
        if used + cost(k) > width as usize {
            break;
        }
        used += cost(k);
        shown.push(k);
    }
    shown.extend(&keys[tail..]);
    let mut spans = Vec::new();
    for (key, what) in shown {
        spans.push(Span::styled(format!(" {key}"), Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!(" {what} ")));
    }
    Paragraph::new(Line::from(spans))
}

/// The colour of a status word.
pub fn status_style(s: Status) -> Style {
    match s {
        Status::Running => Style::new().fg(Color::Green),
        Status::Queued => Style::new().fg(Color::Blue),
        Status::Paused => Style::new().fg(Color::Yellow),
        Status::Interrupted => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        Status::Done => Style::new().fg(Color::Gray),
        Status::Failed => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Status::Cancelled => Style::new().fg(Color::DarkGray),
    }
}

/// A rectangle of at most `width`×`height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// The panel border style: bright when focused.
pub fn border_style(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}
