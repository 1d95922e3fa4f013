//! Pop-ups over any screen: every key (`?`), and yes/no questions.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, palette};
use crate::tui::key_help::ALL_GROUPS;

pub fn help(frame: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for (group, keys) in ALL_GROUPS {
        lines.push(Line::from(Span::styled(*group, Style::new().add_modifier(Modifier::BOLD))));
        let mut spans = Vec::new();
        for (key, what) in *keys {
            spans.push(Span::styled(format!(" {key}"), Style::new().fg(palette::ACCENT)));
            spans.push(Span::raw(format!(" {what} ")));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::from("any key closes this").dim());
    let popup = centered(area, 76, 20);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(" Keys ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), popup);
}

pub fn confirm(frame: &mut Frame, area: Rect, question: &str) {
    let popup = centered(area, 60, 5);
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(" Confirm ").border_style(Style::new().fg(palette::WARN));
    let text = vec![Line::from(question.to_string()), Line::from("y: yes   n/Esc: no").dim()];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), popup);
}
