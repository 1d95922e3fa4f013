//! One session: its settings, inputs, output and error on the left, the live preview with content
//! and style thumbnails on the right, the loss chart below.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{chart, ellipsize, ellipsize_path, palette, status_style};
use crate::session::SessionRecord;
use crate::tui::app::App;
use crate::tui::images::ImageStore;
use crate::tui::sessions::{format_duration, format_loss};

pub fn draw(frame: &mut Frame, app: &App, id: &str, area: Rect, images: &mut ImageStore) {
    let Some(record) = app.session(id) else {
        frame.render_widget(Paragraph::new(format!("session {id} is gone")), area);
        return;
    };
    let chart_height = if area.height >= 30 { area.height / 2 } else { area.height * 2 / 5 };
    let [top, chart_area] = Layout::vertical([Constraint::Min(6), Constraint::Length(chart_height)]).areas(area);
    let [info, pictures] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    draw_info(frame, app, record, info);
    draw_pictures(frame, app, record, pictures, images);
    let detail = app.detail.as_ref().filter(|d| d.id == id);
    if record.job.kind == crate::session::Kind::Video {
        let points = detail.map_or(&[][..], |d| &d.frames[..]);
        let frames = record.progress.map_or(0, |p| p.total);
        if points.iter().any(|p| p.warp_error.is_some()) {
            chart::draw_warp_error(frame, points, frames, chart_area);
        } else {
            let flicker: Vec<(u32, f64)> = points.iter().map(|p| (p.frame, p.flicker)).collect();
            chart::draw_flicker(frame, &flicker, frames, chart_area);
        }
    } else {
        let rows = detail.map_or(&[][..], |d| &d.losses[..]);
        chart::draw(frame, rows, record.total_iterations(), chart_area);
    }
}

fn field(label: &str, value: String) -> Line<'static> {
    Line::from(vec![Span::styled(format!("{label:<9}"), Style::new().fg(palette::MUTED)), Span::raw(value)])
}

fn draw_info(frame: &mut Frame, app: &App, r: &SessionRecord, area: Rect) {
    let s = &r.job.settings;
    let (done, total, unit) = r.progress_counts();
    let unit = if unit == "iterations" { "it" } else { unit };
    let progress = r.progress.map_or("-".to_string(), |p| {
        let elapsed = std::time::Duration::try_from_secs_f64(p.seconds).map_or("-".into(), format_duration);
        match r.plan_dir {
            // Frames counted in the plan folder; the loss is in each render's log, not here.
            Some(_) => format!("{done}/{total} {unit} · {elapsed} since the plan"),
            None => format!("{done}/{total} {unit} · loss {} · {elapsed}", format_loss(p.loss)),
        }
    });
    let eta = app.eta(r).map_or(String::new(), |d| format!(" · ETA {}", format_duration(d)));
    // Paths take one line each, cut from the left so the file name stays (`…/s1/output.png`);
    // the output comes right after the progress, so it stays in view on a small terminal.
    let width = area.width.saturating_sub(2) as usize;
    let path = |p: &std::path::Path| ellipsize_path(p, width.saturating_sub(9));
    let styles: Vec<String> = s.styles.iter().map(|st| st.path.display().to_string()).collect();
    let styles = match s.styles.as_slice() {
        [one] => path(&one.path),
        _ => ellipsize(&styles.join(", "), width.saturating_sub(9)),
    };
    let default_output = if r.job.kind == crate::session::Kind::Video { "output.mp4" } else { "output.png" };
    let output = r.job.export.clone().unwrap_or_else(|| app.session_dir(&r.id).join(default_output));
    // While a request about it is on its way, what is being done (`pausing…`) instead of the status.
    let (status, shown_style) = match app.pending_for(&r.id) {
        Some(doing) => (format!("{doing}…"), Style::new().fg(palette::MUTED)),
        None => (r.status.as_str().to_string(), status_style(r.status)),
    };
    let tail = format!(" {status} · {} · {}", r.job.kind.as_str(), r.id);
    let name =
        ellipsize(&crate::util::text::escape_controls(&r.name), width.saturating_sub(tail.chars().count()).max(8));
    let mut lines = vec![
        Line::from(vec![
            Span::styled(name, Style::new().add_modifier(Modifier::BOLD)),
            Span::raw(" "),
            Span::styled(status, shown_style),
            Span::raw(format!(" · {} · {}", r.job.kind.as_str(), r.id)),
        ]),
        field("progress", format!("{progress}{eta}")),
        field("output", path(&output)),
        field(
            "preset",
            format!("{} · {}px · {}×{} it · {:?}", r.job.preset, s.size, s.scales, s.iterations, s.optimizer)
                .to_lowercase(),
        ),
        field("weights", format!("style {} · content {} · tv {}", s.style_weight, s.content_weight, s.tv_weight)),
        field("init", format!("{:?} · colour {:?} · seed {}", s.init, s.color, s.seed).to_lowercase()),
        field("content", path(&r.job.content)),
        field("style", styles),
    ];
    if let Some(export) = &r.job.export {
        lines.push(field("export", path(export)));
    }
    if let Some(plan) = &r.plan_dir {
        lines.push(field("plan", path(plan)));
    }
    if let Some(error) = &r.error {
        lines.push(Line::from(Span::styled(format!("error: {error}"), Style::new().fg(palette::ERROR))));
    }
    let block = Block::bordered().title(" Session ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn draw_pictures(frame: &mut Frame, app: &App, r: &SessionRecord, area: Rect, images: &mut ImageStore) {
    let block = Block::bordered().title(" Preview · content · style ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [preview, thumbs] =
        Layout::horizontal([Constraint::Percentage(65), Constraint::Percentage(35)]).spacing(1).areas(inner);
    let [content, style] =
        Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).spacing(1).areas(thumbs);
    if app.overlay_open() {
        // Nothing under a pop-up: the runner also clears the terminal when one opens, which
        // removes sixel and iTerm2 pictures already on screen (kitty's placeholders go with the
        // text that replaces them).
        return;
    }
    let generation = app.preview_generation.get(&r.id).copied().unwrap_or(0);
    let preview_file = app.session_dir(&r.id).join("preview.png");
    let shown =
        if preview_file.is_file() || generation > 0 { preview_file } else { app.session_dir(&r.id).join("output.png") };
    images.show(frame, preview, &shown, generation, "preview");
    if r.job.kind == crate::session::Kind::Video {
        images.show_clip(frame, content, &r.job.content, "content");
    } else {
        images.show(frame, content, &r.job.content, 0, "content");
    }
    match r.job.settings.styles.first() {
        Some(st) => images.show(frame, style, &st.path, 0, "style"),
        None => frame.render_widget(Paragraph::new("no style").dim(), style),
    }
}
