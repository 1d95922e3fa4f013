//! The loss chart: total, style, content and TV losses on a log scale (log10 values are plotted,
//! the axis is labelled with the real numbers), with a vertical line where a new scale starts.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};
use ratatui::Frame;

use crate::session::video_runner::FrameScore;
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

pub fn draw(frame: &mut Frame, rows: &[LossRow], total_iterations: u32, area: Rect) {
    let lines = [
        ("total", Color::White, series(rows, |r| r.loss)),
        ("style", Color::Magenta, series(rows, |r| r.style)),
        ("content", Color::Cyan, series(rows, |r| r.content)),
        ("tv", Color::Yellow, series(rows, |r| r.tv)),
    ];
    // The legend sits in the title: the chart area is too small for ratatui's boxed legend.
    let mut title = vec![Span::raw(" Loss (log scale): ")];
    for (name, color, _) in &lines {
        title.push(Span::styled(format!("{name} "), Style::new().fg(*color)));
    }
    title.push(Span::styled("│ new scale ", Style::new().fg(Color::DarkGray)));
    let block = Block::bordered().title(Line::from(title));
    let all = lines.iter().flat_map(|(_, _, s)| s.iter().map(|p| p.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        frame.render_widget(Paragraph::new("no losses yet").dim().block(block), area);
        return;
    }
    let (y0, mut y1) = (lo.floor(), hi.ceil());
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let x1 = rows.last().map_or(1, |r| r.iteration).max(total_iterations).max(1) as f64;
    // Where the scale changes: a vertical line at the first iteration of each new scale.
    let markers: Vec<[(f64, f64); 2]> = rows
        .windows(2)
        .filter(|w| w[0].scale != w[1].scale)
        .map(|w| [(w[1].iteration as f64, y0), (w[1].iteration as f64, y1)])
        .collect();
    let mut datasets: Vec<Dataset> = markers
        .iter()
        .map(|m| {
            let d = Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).data(m);
            d.style(Style::new().fg(Color::DarkGray))
        })
        .collect();
    for (name, color, points) in &lines {
        if !points.is_empty() {
            datasets.push(
                Dataset::default()
                    .name(*name)
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(*color))
                    .data(points),
            );
        }
    }
    let step = ((y1 - y0) / 4.0).ceil().max(1.0) as i32;
    let y_labels: Vec<Line> =
        (y0 as i32..=y1 as i32).step_by(step as usize).map(|e| Line::from(power_label(e))).collect();
    let x_labels = vec![Line::from("0"), Line::from(format!("{}", (x1 / 2.0).round())), Line::from(format!("{x1}"))];
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().title("iteration").bounds([0.0, x1]).labels(x_labels))
        .y_axis(Axis::default().bounds([y0, y1]).labels(y_labels))
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// Video sessions: the flicker of each finished frame (output frame-to-frame change minus the
/// input's; below zero the stylised clip is steadier than the source), on a linear scale.
pub fn draw_flicker(frame: &mut Frame, points: &[(u32, f64)], frames: u32, area: Rect) {
    let block = Block::bordered().title(Line::from(vec![
        Span::raw(" Flicker per frame "),
        Span::styled("(output change − input change; 0 = as steady as the source) ", Style::new().fg(Color::DarkGray)),
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
            .style(Style::new().fg(Color::DarkGray))
            .data(&zero),
        Dataset::default()
            .name("flicker")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
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
        Span::styled(format!("output (mean {:.2e}) ", mean(&output)), Style::new().fg(Color::Yellow)),
        Span::styled(format!("source floor (mean {:.2e}) ", mean(&source)), Style::new().fg(Color::Cyan)),
        Span::styled("lower is steadier ", Style::new().fg(Color::DarkGray)),
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
            .style(Style::new().fg(Color::Cyan))
            .data(&source),
        Dataset::default()
            .name("output")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
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
