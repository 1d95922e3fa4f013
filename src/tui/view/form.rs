//! The new-session form, with the file browser or the save-preset prompt over it when open.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, palette};
use crate::tui::app::App;
use crate::tui::browser::Browser;
use crate::tui::form::{Form, Row};
use crate::tui::form_fields::{Field, FieldKind};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let Some(form) = &app.form else { return };
    let title = match (form.watch, form.template.is_some()) {
        (true, _) => " Watch a folder ",
        (false, true) => " Duplicate session ",
        (false, false) => " New session ",
    };
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [fields, message] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(inner);
    let lines: Vec<Line> = form.rows().into_iter().enumerate().map(|(i, row)| field_line(form, i, row)).collect();
    // Keep the focused field visible when the form is taller than the screen.
    let scroll = (form.focus + 1).saturating_sub(fields.height as usize) as u16;
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), fields);
    match &form.message {
        Some(m) => frame.render_widget(Paragraph::new(m.as_str()).fg(palette::WARN).wrap(Wrap { trim: true }), message),
        // The memory plan of what is being edited, once it is complete.
        None => {
            if let Some(m) = form.memory_line() {
                frame.render_widget(Paragraph::new(m).fg(palette::MUTED).wrap(Wrap { trim: true }), message);
            }
        }
    }
    if let Some((field, browser)) = &form.browser {
        draw_browser(frame, browser, field.label(), area);
    }
    if let Some(name) = &form.save_prompt {
        let popup = centered(area, 50, 4);
        frame.render_widget(Clear, popup);
        let block = Block::bordered().title(" Save preset as ");
        let text = vec![Line::from(format!("{name}▏")), Line::from("Enter: save   Esc: cancel").dim()];
        frame.render_widget(Paragraph::new(text).block(block), popup);
    }
}

fn field_line(form: &Form, index: usize, row: Row) -> Line<'static> {
    let focused = index == form.focus;
    let marker = if focused { "▶ " } else { "  " };
    let value = form.row_text(row).to_string();
    let value_style = if focused { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
    let shown = match row.kind() {
        FieldKind::Button => {
            let style = Style::new().fg(palette::GOOD).add_modifier(Modifier::BOLD);
            let style = if focused { style.add_modifier(Modifier::REVERSED) } else { style };
            let text = if form.watch { "[ Start watching (^S) ]" } else { "[ Submit (^S) ]" };
            return Line::from(vec![Span::raw(marker), Span::styled(text, style)]);
        }
        FieldKind::Choice(_) => format!("◀ {value} ▶"),
        FieldKind::Preset => format!("◀ {} ▶", form.preset_name),
        FieldKind::File if value.is_empty() && form.watch && row == Row::Field(Field::Content) => {
            "(type the folder)".to_string()
        }
        FieldKind::File if value.is_empty() => "(Enter to browse)".to_string(),
        FieldKind::Text | FieldKind::File => {
            if focused {
                format!("{value}▏")
            } else {
                value
            }
        }
    };
    let name = match row {
        Row::Field(field) => label(form, field).to_string(),
        Row::Style(k) if form.styles.len() > 1 => format!("Style {}", k + 1),
        Row::Style(_) => "Style".to_string(),
        Row::Weight(_) => "  weight".to_string(),
    };
    Line::from(vec![
        Span::raw(marker),
        Span::styled(format!("{name:<15}"), Style::new().fg(palette::MUTED)),
        Span::styled(shown, value_style),
    ])
}

fn draw_browser(frame: &mut Frame, browser: &Browser, label: &str, area: Rect) {
    let popup = centered(area, 70, area.height.saturating_sub(2).max(8));
    frame.render_widget(Clear, popup);
    let block = Block::bordered().title(format!(" {label}: {} ", browser.dir.display()));
    if let Some(e) = &browser.error {
        frame
            .render_widget(Paragraph::new(e.as_str()).fg(palette::ERROR).wrap(Wrap { trim: true }).block(block), popup);
        return;
    }
    let items: Vec<ListItem> = browser
        .entries
        .iter()
        .map(|e| {
            if e.is_dir {
                ListItem::new(format!("{}/", e.name)).style(Style::new().fg(palette::INFO))
            } else {
                ListItem::new(e.name.clone())
            }
        })
        .collect();
    let items = if items.is_empty() { vec![ListItem::new("(no images here)")] } else { items };
    let list = List::new(items).block(block).highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default();
    state.select(Some(browser.selected));
    frame.render_stateful_widget(list, popup, &mut state);
}

/// A field's label; in the watch form, Content is the folder and Export the output folder.
fn label(form: &Form, field: Field) -> &'static str {
    match (form.watch, field) {
        (true, Field::Content) => "Folder",
        (true, Field::Export) => "Output folder",
        _ => field.label(),
    }
}
