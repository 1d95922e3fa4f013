//! The small panels under the sessions table: watched folders and the log.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::border_style;
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
            Span::styled(w.config.preset.clone(), Style::new().fg(Color::Cyan)),
        ]));
        let mut detail = format!("  {} queued · {} done before", w.queued, w.skipped);
        if w.polling {
            detail += " · polling";
        }
        lines.push(Line::from(detail).dim());
        if let Some(e) = &w.error {
            lines.push(Line::from(Span::styled(format!("  {e}"), Style::new().fg(Color::Yellow))));
        }
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }).block(block), area);
}

fn level_span(level: LogLevel) -> Span<'static> {
    match level {
        LogLevel::Info => Span::styled("info ", Style::new().fg(Color::Gray)),
        LogLevel::Warn => Span::styled("warn ", Style::new().fg(Color::Yellow)),
        LogLevel::Error => Span::styled("error", Style::new().fg(Color::Red)),
    }
}

/// The newest entries at the bottom; scrolling moves up into older ones.
pub fn log(frame: &mut Frame, app: &App, area: Rect) {
    let title = if app.log_scroll > 0 { format!(" Log (↑{}) ", app.log_scroll) } else { " Log ".to_string() };
    let block = Block::bordered().title(title).border_style(border_style(app.panel == Panel::Log));
    let inner_height = area.height.saturating_sub(2) as usize;
    let end = app.log.len().saturating_sub(app.log_scroll);
    let start = end.saturating_sub(inner_height);
    let lines: Vec<Line> = app.log[start..end]
        .iter()
        .map(|e| Line::from(vec![level_span(e.level), Span::raw(" "), Span::raw(e.message.clone())]))
        .collect();
    let body = if lines.is_empty() { vec![Line::from("nothing logged yet").dim()] } else { lines };
    frame.render_widget(Paragraph::new(body).block(block), area);
}
