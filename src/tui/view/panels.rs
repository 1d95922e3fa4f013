//! The small panels under the sessions table: watched folders and the log.

use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{border_style, palette};
use crate::session::LogLevel;
use crate::tui::app::{App, Panel};

/// The scheduler's watched folders: folder, preset, files queued and skipped, problems; with none,
/// how to start one.
pub fn watched(frame: &mut Frame, app: &App, area: Rect) {
    let block = Block::bordered().title(" Watched folders ").border_style(border_style(app.panel == Panel::Watched));
    if app.watches.is_empty() {
        let text = vec![Line::from("no watched folders"), Line::from("Tab here, a: add one").dim()];
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
        return;
    }
    let mut lines = Vec::new();
    for w in &app.watches {
        let name = w
            .config
            .dir
            .file_name()
            .map_or_else(|| w.config.dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        lines.push(Line::from(vec![
            Span::raw(format!("{name}/ ")),
            Span::styled(w.config.preset.clone(), Style::new().fg(palette::ACCENT)),
        ]));
        let mut detail = format!("  {} queued · {} done before", w.queued, w.skipped);
        if w.polling {
            detail += " · polling";
        }
        lines.push(Line::from(detail).dim());
        if let Some(e) = &w.error {
            lines.push(Line::from(Span::styled(format!("  {e}"), Style::new().fg(palette::WARN))));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }).block(block), area);
}

fn level_span(level: LogLevel) -> Span<'static> {
    match level {
        LogLevel::Info => Span::styled("info ", Style::new().fg(palette::MUTED)),
        LogLevel::Warn => Span::styled("warn ", Style::new().fg(palette::WARN)),
        LogLevel::Error => Span::styled("error", Style::new().fg(palette::ERROR)),
    }
}

/// Greedy word wrap of `text` into lines of at most `width` characters; a word longer than a
/// line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let gap = usize::from(len > 0);
            if len + gap + word.len() <= width {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                len += gap + word.len();
                break;
            }
            if len > 0 {
                lines.push(std::mem::take(&mut line));
                len = 0;
                continue;
            }
            // Longer than a whole line: cut it.
            let rest = word.split_off(width);
            lines.push(word.into_iter().collect());
            word = rest;
        }
    }
    if len > 0 || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The newest entries at the bottom, long ones wrapped under their text, a repeated entry once
/// with its count; scrolling moves up into older entries.
pub fn log(frame: &mut Frame, app: &App, area: Rect) {
    let title = if app.log_scroll > 0 { format!(" Log (↑{}) ", app.log_scroll) } else { " Log ".to_string() };
    let block = Block::bordered().title(title).border_style(border_style(app.panel == Panel::Log));
    let inner_height = area.height.saturating_sub(2) as usize;
    // "error " before the text; continuation lines are indented as far.
    const INDENT: usize = 6;
    let text_width = (area.width.saturating_sub(2) as usize).saturating_sub(INDENT).max(1);
    let end = app.log.len().saturating_sub(app.log_scroll);
    let mut lines: Vec<Line> = Vec::new();
    for e in app.log[..end].iter().rev() {
        if lines.len() >= inner_height {
            break;
        }
        let message = crate::util::text::escape_controls(&e.message);
        let text = if e.count > 1 { format!("{message} (x{})", e.count) } else { message.into_owned() };
        let mut entry: Vec<Line> = wrap(&text, text_width)
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let head = if i == 0 { level_span(e.level) } else { Span::raw(" ".repeat(INDENT - 1)) };
                Line::from(vec![head, Span::raw(" "), Span::raw(part)])
            })
            .collect();
        entry.append(&mut lines);
        lines = entry;
    }
    // The newest line at the bottom: drop what does not fit from the top.
    let skip = lines.len().saturating_sub(inner_height);
    let body = if lines.is_empty() { vec![Line::from("nothing logged yet").dim()] } else { lines.split_off(skip) };
    frame.render_widget(Paragraph::new(body).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefghij k", 4), ["abcd", "efgh", "ij k"]);
        assert_eq!(wrap("", 4), [""]);
    }
}
