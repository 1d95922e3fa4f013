//! The loss chart: total, style, content and TV losses on a log scale (log10 values are plotted,
//! the axis is labelled with the real numbers), with a vertical line where a new scale starts.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use super::palette;
use crate::session::frames::FrameScore;
use crate::tui::losses::LossRow;

/// `1e5`, `100`, `0.01`: a power of ten as a reader expects it.
fn power_label(exp: i32) -> String {
    match exp {
        -2..=3 => {
            let v = 10f64.powi(exp);
            if exp < 0 {
                format!("{v}")
            } else {
                format!("{v:.0}")
            }
        }
        _ => format!("1e{exp}"),
    }
}

fn series(rows: &[LossRow], pick: fn(&LossRow) -> f64) -> Vec<(f64, f64)> {
    rows.iter().filter(|r| pick(r) > 0.0).map(|r| (r.iteration as f64, pick(r).log10())).collect()
}

/// The y axis of the loss chart, in log10 units: whole decades from the lowest to the highest
/// value, a label every `step` decades, and the screen row of any value computed exactly as the
/// braille canvas places its dots, so a label sits on the row where that value is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogAxis {
    pub low: f64,
    pub high: f64,
    pub step: i32,
    /// Rows of the plot area.
    pub rows: u16,
}

impl LogAxis {
    /// The whole decades around `lo..=hi` (log10 values) on `rows` rows, labelled from the
    /// bottom every `step` decades with at most one label every other row.
    pub fn new(lo: f64, hi: f64, rows: u16) -> Self {
        let low = lo.floor();
        let span = ((hi.ceil() - low) as i32).max(1);
        let max_labels = ((i32::from(rows) + 1) / 2).max(2);
        let step = (1..=span).find(|k| span / k < max_labels).unwrap_or(span);
        LogAxis { low, high: low + f64::from(span), step, rows }
    }

    /// The row (0 at the top) where the canvas draws `value`: `Canvas` maps y to a dot with
    /// `round((top - y) * (4 * rows - 1) / (top - bottom))`, four braille dots to a row.
    pub fn row(&self, value: f64) -> u16 {
        let dots = f64::from(self.rows) * 4.0 - 1.0;
        let dot = ((self.high - value) * dots / (self.high - self.low)).round().clamp(0.0, dots);
        (dot as u16) / 4
    }

    /// `(row, label)` of each labelled decade, bottom first; a decade that would share a row with
    /// one already labelled is left out.
    pub fn labels(&self) -> Vec<(u16, String)> {
        let mut out: Vec<(u16, String)> = Vec::new();
        let mut e = self.low as i32;
        while e <= self.high as i32 {
            let row = self.row(f64::from(e));
            if out.last().is_none_or(|(r, _)| *r != row) {
                out.push((row, power_label(e)));
            }
            e += self.step;
        }
        out
    }
}

/// A line of the chart: its name, colour and points (iteration, log10 loss).
type LossLine = (&'static str, Color, Vec<(f64, f64)>);

/// The lines, most important first. They are drawn in reverse order into one braille layer,
/// so where lines meet in a cell the dots of all of them stay and the cell takes the colour of
/// the most important (total over style over content over TV). Separate layers (ratatui's
/// `Chart` draws each dataset in its own) would instead replace the whole cell, and the total,
/// usually within a few percent of the style loss, vanished under it.
fn loss_lines(rows: &[LossRow]) -> [LossLine; 4] {
    [
        ("total", palette::TEXT, series(rows, |r| r.loss)),
        ("style", palette::STYLE, series(rows, |r| r.style)),
        ("content", palette::ACCENT, series(rows, |r| r.content)),
        ("tv", palette::WARN, series(rows, |r| r.tv)),
    ]
}

pub fn draw(frame: &mut Frame, rows: &[LossRow], total_iterations: u32, area: Rect) {
    let lines = loss_lines(rows);
    // The legend sits in the title: the chart area is too small for a boxed legend.
    let mut title = vec![Span::raw(" Loss (log scale): ")];
    for (name, color, _) in &lines {
        title.push(Span::styled(format!("{name} "), Style::new().fg(*color)));
    }
    title.push(Span::styled("│ new scale ", Style::new().fg(palette::MUTED)));
    let block = Block::bordered().title(Line::from(title));
    let all = lines.iter().flat_map(|(_, _, s)| s.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        frame.render_widget(Paragraph::new("no losses yet").dim().block(block), area);
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Plot rows, then the x axis line and its labels.
    if inner.height < 3 || inner.width < 12 {
        return;
    }
    let axis = LogAxis::new(lo, hi, inner.height - 2);
    let labels = axis.labels();
    let label_width = labels.iter().map(|(_, l)| l.len() as u16).max().unwrap_or(1);
    let plot = Rect::new(inner.x + label_width + 1, inner.y, inner.width - label_width - 1, axis.rows);
    let buf = frame.buffer_mut();
    let muted = Style::new().fg(palette::MUTED);
    for (row, label) in &labels {
        buf.set_string(inner.x + label_width - label.len() as u16, plot.y + row, label, Style::new());
    }
    for y in plot.top()..plot.bottom() {
        buf.set_string(plot.x - 1, y, "│", muted);
    }
    let axis_y = plot.bottom();
    buf.set_string(plot.x - 1, axis_y, "└", muted);
    buf.set_string(plot.x, axis_y, "─".repeat(plot.width as usize), muted);
    let title = " iteration";
    if plot.width as usize > title.len() + 2 {
        buf.set_string(plot.right() - title.len() as u16, axis_y, title, muted);
    }
    let x1 = rows.last().map_or(1, |r| r.iteration).max(total_iterations).max(1) as f64;
    let (mid, end) = (format!("{}", (x1 / 2.0).round()), format!("{x1}"));
    let label_y = axis_y + 1;
    buf.set_string(plot.x, label_y, "0", Style::new());
    if plot.width as usize > mid.len() + end.len() + 4 {
        buf.set_string(plot.x + (plot.width - mid.len() as u16) / 2, label_y, &mid, Style::new());
    }
    buf.set_string(plot.right().saturating_sub(end.len() as u16), label_y, &end, Style::new());

    // Where the scale changes: a vertical line at the first iteration of each new scale.
    let markers: Vec<f64> =
        rows.windows(2).filter(|w| w[0].scale != w[1].scale).map(|w| w[1].iteration as f64).collect();
    let (y0, y1) = (axis.low, axis.high);
    let canvas = Canvas::default().marker(Marker::Braille).x_bounds([0.0, x1]).y_bounds([y0, y1]).paint(|ctx| {
        for &x in &markers {
            ctx.draw(&CanvasLine { x1: x, y1: y0, x2: x, y2: y1, color: palette::MUTED });
        }
        // The loss lines above the markers, all in one layer (see `loss_lines`).
        ctx.layer();
        for (_, color, points) in lines.iter().rev() {
            ctx.draw(&Points { coords: points, color: *color });
            for w in points.windows(2) {
                ctx.draw(&CanvasLine { x1: w[0].0, y1: w[0].1, x2: w[1].0, y2: w[1].1, color: *color });
            }
        }
    });
    frame.render_widget(canvas, plot);
}

/// Video sessions: the flicker of each finished frame (output frame-to-frame change minus the
/// input's; below zero the stylised clip is steadier than the source), on a linear scale.
pub fn draw_flicker(frame: &mut Frame, points: &[(u32, f64)], frames: u32, area: Rect) {
    let block = Block::bordered().title(Line::from(vec![
        Span::raw(" Flicker per frame "),
        Span::styled("(output change − input change; 0 = as steady as the source) ", Style::new().fg(palette::MUTED)),
    ]));
    // Frame 1 has no predecessor; its 0 would only flatten the scale.
    let data: Vec<(f64, f64)> = points.iter().filter(|p| p.0 > 1).map(|&(f, x)| (f as f64, x)).collect();
    if data.is_empty() {
        frame.render_widget(Paragraph::new("no frames finished yet").dim().block(block), area);
        return;
    }
    let (lo, hi) = data.iter().fold((0.0f64, 0.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let (y0, y1) = (lo - pad, hi + pad);
    let x1 = frames.max(points.last().map_or(1, |p| p.0)).max(2) as f64;
    let zero = [(1.0, 0.0), (x1, 0.0)];
    let datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(palette::MUTED))
            .data(&zero),
        Dataset::default()
            .name("flicker")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(palette::WARN))
            .data(&data),
    ];
    let mid = (y0 + y1) / 2.0;
    let y_labels =
        vec![Line::from(format!("{y0:+.3}")), Line::from(format!("{mid:+.3}")), Line::from(format!("{y1:+.3}"))];
    let x_labels = vec![Line::from("1"), Line::from(format!("{}", (x1 / 2.0).round())), Line::from(format!("{x1}"))];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().title("frame").bounds([1.0, x1]).labels(x_labels))
        .y_axis(Axis::default().bounds([y0, y1]).labels(y_labels))
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// Video sessions: the warping error of each finished frame (see `video::warp_error`) and the
/// source's own (the floor: what the flow cannot explain), on a linear scale from 0.
pub fn draw_warp_error(frame: &mut Frame, points: &[FrameScore], frames: u32, area: Rect) {
    let output: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((p.frame as f64, p.warp_error?))).collect();
    let source: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((p.frame as f64, p.source_warp_error?))).collect();
    let mean = |v: &[(f64, f64)]| v.iter().map(|p| p.1).sum::<f64>() / v.len().max(1) as f64;
    let block = Block::bordered().title(Line::from(vec![
        Span::raw(" Warping error per frame "),
        Span::styled(format!("output (mean {:.2e}) ", mean(&output)), Style::new().fg(palette::WARN)),
        Span::styled(format!("source floor (mean {:.2e}) ", mean(&source)), Style::new().fg(palette::ACCENT)),
        Span::styled("lower is steadier ", Style::new().fg(palette::MUTED)),
    ]));
    if output.is_empty() {
        frame.render_widget(Paragraph::new("no frames scored yet").dim().block(block), area);
        return;
    }
    let hi = output.iter().chain(&source).fold(0.0f64, |hi, p| hi.max(p.1));
    let y1 = if hi > 0.0 { hi * 1.1 } else { 1e-3 };
    let x1 = frames.max(points.last().map_or(1, |p| p.frame)).max(2) as f64;
    let datasets = vec![
        Dataset::default()
            .name("source")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(palette::ACCENT))
            .data(&source),
        Dataset::default()
            .name("output")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(palette::WARN))
            .data(&output),
    ];
    let y_labels = vec![Line::from("0"), Line::from(format!("{:.1e}", y1 / 2.0)), Line::from(format!("{y1:.1e}"))];
    let x_labels = vec![Line::from("1"), Line::from(format!("{}", (x1 / 2.0).round())), Line::from(format!("{x1}"))];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().title("frame").bounds([1.0, x1]).labels(x_labels))
        .y_axis(Axis::default().bounds([0.0, y1]).labels(y_labels))
        .legend_position(None);
    frame.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;

    use super::*;

    fn row(iteration: u32, loss: f64, style: f64, content: f64, tv: f64) -> LossRow {
        LossRow { iteration, scale: 0, loss, style, content, tv, seconds: 0.0 }
    }

    fn render(rows: &[LossRow], width: u16, height: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, rows, 50, f.area())).unwrap();
        terminal.backend().buffer().clone()
    }

    fn text(buf: &Buffer) -> String {
        let mut out = String::new();
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn is_braille(symbol: &str) -> bool {
        symbol.chars().next().is_some_and(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
    }

    /// Rows (of the buffer) holding a braille cell of this colour.
    fn rows_with(buf: &Buffer, color: Color) -> Vec<u16> {
        (0..buf.area.height)
            .filter(|&y| (0..buf.area.width).any(|x| is_braille(buf[(x, y)].symbol()) && buf[(x, y)].fg == color))
            .collect()
    }

    /// The y label printed left of the axis on this row.
    fn label_at(buf: &Buffer, y: u16) -> String {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        line.trim_start_matches('│').split('│').next().unwrap().trim().to_string()
    }

    #[test]
    fn axis_rows_follow_the_canvas() {
        let axis = LogAxis::new(0.0, 5.0, 12);
        assert_eq!((axis.low, axis.high, axis.step), (0.0, 5.0, 1));
        let labels = axis.labels();
        let names: Vec<&str> = labels.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(names, ["1", "10", "100", "1000", "1e4", "1e5"]);
        assert_eq!(labels.first().unwrap().0, 11);
        assert_eq!(labels.last().unwrap().0, 0);
        // Few rows: every other decade from the bottom.
        let small = LogAxis::new(0.3, 4.2, 7);
        assert_eq!((small.low, small.high, small.step), (0.0, 5.0, 2));
        let labels = small.labels();
        assert_eq!(labels, [(6, "1".to_string()), (4, "100".to_string()), (1, "1e4".to_string())]);
    }

    /// Flat lines at 1e5 (total), 1000 (style), 10 (content) and 1 (TV): each is drawn on the row
    /// whose label names its value.
    #[test]
    fn labels_line_up_with_known_values() {
        let rows: Vec<LossRow> = (1..=50).map(|i| row(i, 1e5, 1e3, 10.0, 1.0)).collect();
        let buf = render(&rows, 60, 16);
        for (color, label) in
            [(palette::TEXT, "1e5"), (palette::STYLE, "1000"), (palette::ACCENT, "10"), (palette::WARN, "1")]
        {
            let found = rows_with(&buf, color);
            assert_eq!(found.len(), 1, "{label}: {found:?}\n{}", text(&buf));
            assert_eq!(label_at(&buf, found[0]), label, "\n{}", text(&buf));
        }
        insta::assert_snapshot!(text(&buf));
    }

    /// The total within 3% of the style loss: its cells are never taken by the style line.
    #[test]
    fn close_lines_keep_the_total_visible() {
        let rows: Vec<LossRow> = (1..=50).map(|i| 1e6 / f64::from(i)).map(|s| row(0, s * 1.03, s, 1e3, 10.0)).collect();
        let rows: Vec<LossRow> =
            rows.into_iter().enumerate().map(|(i, r)| LossRow { iteration: i as u32 + 1, ..r }).collect();
        let buf = render(&rows, 60, 16);
        let total_columns = (0..buf.area.width)
            .filter(|&x| {
                (0..buf.area.height).any(|y| is_braille(buf[(x, y)].symbol()) && buf[(x, y)].fg == palette::TEXT)
            })
            .count();
        // The total is drawn over the whole run (x from 1 to 50 of 50).
        assert!(total_columns >= 50, "{total_columns}\n{}", text(&buf));
    }

    /// The colours of the legend and lines, in a snapshot of the buffer with its styles.
    #[test]
    fn chart_colours() {
        let rows: Vec<LossRow> = (1..=50).map(|i| row(i, 1e5, 1e3, 10.0, 1.0)).collect();
        let buf = render(&rows, 60, 8);
        for x in 0..buf.area.width {
            for y in 0..buf.area.height {
                assert!(palette::reads_on_both(buf[(x, y)].fg), "{x},{y}: {:?}", buf[(x, y)].fg);
            }
        }
        insta::assert_debug_snapshot!(buf);
    }
}
