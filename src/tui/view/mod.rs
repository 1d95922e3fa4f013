//! Drawing: a pure function of the [`App`] (plus the image cache, which only holds encoded
//! pictures). Every screen has a header line, a body, and a help bar with its keys.

mod chart;
mod detail;
mod form;
mod overlay;
pub mod palette;
mod panels;
mod sessions;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
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
        frame.render_widget(Paragraph::new(message.as_str()).fg(palette::WARN), status);
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
        spans.push(Span::styled(format!(" {key}"), Style::new().fg(palette::ACCENT).add_modifier(Modifier::BOLD)));
        spans.push(Span::raw(format!(" {what} ")));
    }
    Paragraph::new(Line::from(spans))
}

/// The colour of a status word.
pub fn status_style(s: Status) -> Style {
    match s {
        Status::Running | Status::Distributed => Style::new().fg(palette::GOOD),
        Status::Queued => Style::new().fg(palette::INFO),
        Status::Paused => Style::new().fg(palette::WARN),
        Status::Interrupted => Style::new().fg(palette::STYLE).add_modifier(Modifier::BOLD),
        Status::Done => Style::new().fg(palette::TEXT),
        Status::Failed => Style::new().fg(palette::ERROR).add_modifier(Modifier::BOLD),
        Status::Cancelled => Style::new().fg(palette::MUTED),
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
        Style::new().fg(palette::ACCENT)
    } else {
        Style::new().fg(palette::MUTED)
    }
}

/// `text` in at most `width` characters: cut at the end with `…` when longer.
pub fn ellipsize(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A path in at most `width` characters, keeping its file name: folders are dropped from the
/// left (`…/sessions/s1/output.png`); a file name alone too long loses its middle and keeps the
/// extension (`very_lo…name.png`).
pub fn ellipsize_path(path: &std::path::Path, width: usize) -> String {
    let text = path.display().to_string();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text;
    }
    if width == 0 {
        return String::new();
    }
    // Cut at a separator so that what is left starts with a whole folder or the file name.
    let keep = width - 1;
    let tail_start = chars.len() - keep.min(chars.len());
    if let Some(sep) = (tail_start..chars.len()).find(|&i| chars[i] == std::path::MAIN_SEPARATOR) {
        let tail: String = chars[sep..].iter().collect();
        return format!("…{tail}");
    }
    // The file name alone does not fit: keep its start and its end (with the extension).
    let name: Vec<char> = path.file_name().map_or(text.clone(), |n| n.to_string_lossy().into_owned()).chars().collect();
    if name.len() <= width {
        return name.into_iter().collect();
    }
    let back = (width - 1) / 2;
    let front = width - 1 - back;
    let mut out: String = name[..front].iter().collect();
    out.push('…');
    out.extend(&name[name.len() - back..]);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{ellipsize, ellipsize_path};

    #[test]
    fn names_are_cut_with_an_ellipsis() {
        assert_eq!(ellipsize("tubingen", 10), "tubingen");
        assert_eq!(ellipsize("a-very-long-session-name", 10), "a-very-lo…");
        assert_eq!(ellipsize("abc", 0), "");
    }

    #[test]
    fn paths_keep_their_file_name() {
        let p = Path::new("/home/user/.local/share/brushwork/sessions/s1/output.png");
        assert_eq!(ellipsize_path(p, 80), p.display().to_string());
        assert_eq!(ellipsize_path(p, 24), "…/sessions/s1/output.png");
        assert_eq!(ellipsize_path(p, 12), "…/output.png");
        assert_eq!(ellipsize_path(p, 10), "output.png");
        let long = Path::new("/x/a_really_long_file_name_for_output.png");
        let cut = ellipsize_path(long, 15);
        assert_eq!(cut, "a_reall…put.png");
        assert!(cut.chars().count() <= 15);
    }
}
