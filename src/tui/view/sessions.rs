//! The sessions screen: the table on top, the watched-folders and log panels below.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Row, Table, TableState};
use ratatui::Frame;

use super::{border_style, ellipsize, palette, panels, status_style};
use crate::session::{SessionRecord, Status};
use crate::tui::app::{App, Panel};
use crate::tui::sessions::{format_duration, format_loss, fraction};

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let bottom = if area.height >= 20 { 8 } else { 6 };
    let [table_area, lower] = Layout::vertical([Constraint::Min(4), Constraint::Length(bottom)]).areas(area);
    let [watched, log] = Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(lower);
    draw_table(frame, app, table_area);
    panels::watched(frame, app, watched);
    panels::log(frame, app, log);
}

/// `[#####.....]  45%` in `width` cells.
fn progress_bar(f: f64, width: usize) -> String {
    let bar = width.saturating_sub(5).max(1);
    let filled = ((f * bar as f64).round() as usize).min(bar);
    format!("{}{} {:>3}%", "█".repeat(filled), "░".repeat(bar - filled), (f * 100.0).round() as u32)
}

fn draw_table(frame: &mut Frame, app: &App, area: Rect) {
    let order = app.ordered();
    let mut state = TableState::default();
    state.select(app.selected.as_deref().and_then(|id| order.iter().position(|r| r.id == id)));
    // The name column takes what the others leave (borders, the `▶ ` of a selected row, six
    // columns and their spacing); longer names end in `…`.
    let highlight = if state.selected().is_some() { 2 } else { 0 };
    let name_width = (area.width as usize).saturating_sub(2 + highlight + 53 + 6).max(10);
    let header = Row::new(["Name", "Status", "Kind", "Progress", "Done", "Loss", "ETA"])
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let rows: Vec<Row> = order
        .iter()
        .map(|r| {
            let (done, total, _) = r.progress_counts();
            let count = if total > 0 { format!("{done}/{total}") } else { "-".into() };
            // A distributed render's frames are counted from its plan folder; its loss is not known here.
            let loss = match r.progress {
                Some(p) if r.status != Status::Distributed => format_loss(p.loss),
                _ => "-".to_string(),
            };
            let eta = app.eta(r).map_or("-".to_string(), format_duration);
            Row::new(vec![
                Cell::from(ellipsize(&crate::util::text::escape_controls(&r.name), name_width)),
                status_cell(app, r),
                Cell::from(r.job.kind.as_str()),
                Cell::from(progress_bar(fraction(r), 12)),
                Cell::from(count),
                Cell::from(loss),
                Cell::from(eta),
            ])
        })
        .collect();
    let widths = [
        Constraint::Min(10),
        // "interrupted", "distributed".
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(9),
        Constraint::Length(8),
        Constraint::Length(6),
    ];
    let focused = app.panel == Panel::Sessions;
    let title = format!(" Sessions (sort: {}) ", app.sort.label());
    let block = Block::bordered().title(title).border_style(border_style(focused));
    let table = if rows.is_empty() {
        let empty = if app.listing { "loading the sessions…" } else { "no sessions yet: press n to start one" };
        Table::new(vec![Row::new([Line::from(empty)])], [Constraint::Min(10)])
    } else {
        Table::new(rows, widths).header(header)
    };
    let table = table
        .block(block)
        .column_spacing(1)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("▶ ");
    frame.render_stateful_widget(table, area, &mut state);
}

/// The session's status, or what is being done to it while the scheduler has not answered yet
/// (`deleting…`).
fn status_cell<'a>(app: &App, r: &SessionRecord) -> Cell<'a> {
    match app.pending_for(&r.id) {
        Some(doing) => Cell::from(format!("{doing}…")).style(Style::new().fg(palette::MUTED)),
        None => Cell::from(r.status.as_str()).style(status_style(r.status)),
    }
}
