//! One snapshot per screen. Paths are relative and times fixed, so the text is the same anywhere.

use ratatui::crossterm::event::KeyCode;

use super::support::{mixed_sessions, Harness};
use crate::session::{Event, LogLevel};
use crate::tui::losses::LossRow;

fn with_log(h: &mut Harness) {
    h.app.apply_event(Event::Log { level: LogLevel::Info, message: "scheduler started: 2 workers".into() });
    h.app.apply_event(Event::Log { level: LogLevel::Warn, message: "lake: paused by user".into() });
    h.app.apply_event(Event::Log {
        level: LogLevel::Error,
        message: "harbour: media/style/missing.jpg: no such file".into(),
    });
}

/// Losses over two scales, falling, with the scale change at iteration 101.
fn losses() -> Vec<LossRow> {
    (1..=120u32)
        .map(|i| {
            let scale = u32::from(i > 100);
            let t = i as f64;
            let style = 4.0e6 / t.powf(1.3) * if scale == 1 { 3.0 } else { 1.0 };
            let content = 2.0e4 * (1.0 + t / 50.0);
            let tv = 300.0 + t;
            LossRow { iteration: i, scale, loss: style + content + tv, style, content, tv, seconds: t * 0.5 }
        })
        .collect()
}

#[test]
fn sessions_list() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    with_log(&mut h);
    insta::assert_snapshot!(h.render());
}

#[test]
fn sessions_list_sorted_by_status_at_80x24() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    h.key(KeyCode::Char('s'));
    h.key(KeyCode::Char('s'));
    insta::assert_snapshot!(h.render());
}

#[test]
fn detail_with_chart_and_preview() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn detail_at_80x24() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn failed_session_shows_its_error() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.app.selected = Some("s5".into());
    h.key(KeyCode::Enter);
    h.app.set_losses("s5", losses()[..12].to_vec());
    h.render();
    h.serve_images();
    insta::assert_snapshot!(h.render());
}

#[test]
fn new_session_form() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.type_text("evening");
    insta::assert_snapshot!(h.render());
}

#[test]
fn new_session_form_at_80x24() {
    let mut h = Harness::new(Vec::new(), 80, 24);
    h.key(KeyCode::Char('n'));
    h.focus_field("Export to");
    insta::assert_snapshot!(h.render());
}

#[test]
fn help_overlay() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Char('?'));
    insta::assert_snapshot!(h.render());
}

#[test]
fn log_panel_focused() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    with_log(&mut h);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Tab);
    insta::assert_snapshot!(h.render());
}

#[test]
fn empty_dashboard_at_80x24() {
    let mut h = Harness::new(Vec::new(), 80, 24);
    insta::assert_snapshot!(h.render());
}

/// Every screen survives being resized down to almost nothing (no panics, no overflow).
#[test]
fn every_screen_draws_at_any_size() {
    let sizes = [(120, 40), (80, 24), (60, 15), (30, 8), (10, 3), (1, 1)];
    let setups: [fn(&mut Harness); 5] = [
        |_| {},
        |h| h.key(KeyCode::Enter),
        |h| h.key(KeyCode::Char('n')),
        |h| h.key(KeyCode::Char('?')),
        |h| {
            h.key(KeyCode::Char('n'));
            h.focus_field("Content");
            h.key(KeyCode::Enter);
        },
    ];
    for setup in setups {
        let mut h = Harness::new(mixed_sessions(), 100, 30);
        with_log(&mut h);
        setup(&mut h);
        if let Some(d) = h.app.detail.as_ref().map(|d| d.id.clone()) {
            h.app.set_losses(&d, losses());
        }
        for (w, ht) in sizes {
            h.terminal.backend_mut().resize(w, ht);
            h.render();
            h.serve_images();
            h.render();
        }
    }
}

/// A running video session: progress in frames (with the elapsed time of earlier runs), the
/// flicker chart, and the clip's first frame as the content thumbnail (asked for as a video, not
/// decoded as a still).
#[test]
fn video_detail_shows_frames_and_a_frame_of_the_clip() {
    use crate::session::frames::FrameScore;
    use crate::session::{Kind, ProgressSummary, Status};
    let mut clip = super::support::record("s7", "clip", Status::Running, Kind::Video, 0, 0.0);
    clip.job.content = "media/content/clip.mp4".into();
    clip.progress = Some(ProgressSummary { iteration: 12, total: 60, loss: 3.2e5, seconds: 96.0 });
    let mut h = Harness::new(vec![clip], 100, 30);
    h.key(KeyCode::Enter);
    let scores: Vec<FrameScore> = (1..=12)
        .map(|f| FrameScore { frame: f, flicker: 0.01 * f as f64, warp_error: None, source_warp_error: None })
        .collect();
    h.app.set_frame_scores("s7", scores);
    h.render();
    let requests = h.images.take_requests();
    let content = requests.iter().find(|j| j.path.ends_with("clip.mp4")).expect("the clip is shown");
    assert!(content.video, "the clip is decoded as a video");
    for job in requests.iter().filter(|j| !j.path.ends_with("clip.mp4")) {
        assert!(!job.video, "{job:?}");
    }
    for job in requests {
        h.images.accept(super::support::half_blocks(job));
    }
    insta::assert_snapshot!(h.render());
}

/// The form with three styles and their weights; a style added and one removed with ^N / ^X.
#[test]
fn new_session_form_with_several_styles() {
    let mut h = Harness::new(Vec::new(), 100, 34);
    h.key(KeyCode::Char('n'));
    h.focus_field("Style");
    h.type_text("media/style/starry.jpg");
    h.ctrl('n');
    h.type_text("media/style/wave.jpg");
    h.key(KeyCode::Down);
    h.ctrl('u');
    h.type_text("0.5");
    h.ctrl('n');
    h.type_text("media/style/scream.jpg");
    h.ctrl('n');
    h.type_text("removed.jpg");
    h.ctrl('x');
    h.key(KeyCode::Down);
    h.ctrl('u');
    h.type_text("2");
    let form = h.app.form.as_ref().unwrap();
    let styles = form.settings().unwrap().styles;
    let got: Vec<(String, f64)> = styles.iter().map(|s| (s.path.display().to_string(), s.weight)).collect();
    assert_eq!(
        got,
        [
            ("media/style/starry.jpg".to_string(), 1.0),
            ("media/style/wave.jpg".to_string(), 0.5),
            ("media/style/scream.jpg".to_string(), 2.0)
        ]
    );
    insta::assert_snapshot!(h.render());
}

/// Every cell's colours read on a white and on a black background (pictures, drawn in RGB,
/// aside): the sessions list with its log, and the detail with its chart.
#[test]
fn colours_read_on_light_and_dark_backgrounds() {
    use crate::tui::view::palette::reads_on_both;
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    with_log(&mut h);
    h.render();
    let check = |buf: &ratatui::buffer::Buffer, screen: &str| {
        for (i, cell) in buf.content.iter().enumerate() {
            let rgb = |c| matches!(c, ratatui::style::Color::Rgb(..));
            if rgb(cell.fg) || rgb(cell.bg) {
                continue;
            }
            assert!(reads_on_both(cell.fg), "{screen}: cell {i} {:?} fg {:?}", cell.symbol(), cell.fg);
            assert!(cell.bg == ratatui::style::Color::Reset, "{screen}: cell {i} bg {:?}", cell.bg);
        }
    };
    check(h.terminal.backend().buffer(), "sessions");
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    h.render();
    check(h.terminal.backend().buffer(), "detail");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Char('n'));
    h.render();
    check(h.terminal.backend().buffer(), "form");
}

/// The status column with its colours: `done` in the terminal's own foreground.
#[test]
fn status_colours() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    h.render();
    let buf = h.terminal.backend().buffer();
    let mut out = String::new();
    for word in ["running", "queued", "paused", "done", "failed", "cancelled"] {
        // From the table down: the header line counts sessions "running" and "queued" too.
        let found = (2..buf.area.height).find_map(|y| {
            let line: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            let text = line.concat();
            let at = text.find(&format!(" {word} "))?;
            let x = text[..at].chars().count() as u16 + 1;
            Some(buf[(x, y)].style())
        });
        let style = found.unwrap_or_else(|| panic!("{word} not on screen"));
        out.push_str(&format!("{word:<10}{:?} {:?}\n", style.fg.unwrap(), style.add_modifier));
    }
    insta::assert_snapshot!(out);
}

/// The help pop-up over the detail screen: no picture is drawn (a sixel one would cover it).
#[test]
fn help_overlay_hides_the_preview() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    assert!(h.render().contains('▄'), "the preview is drawn without the pop-up");
    h.key(KeyCode::Char('?'));
    let text = h.render();
    assert!(!text.contains('▄') && !text.contains('▀'), "{text}");
    insta::assert_snapshot!(text);
    // Closed again: the pictures come back.
    h.key(KeyCode::Char('x'));
    assert!(h.render().contains('▄'));
}

/// 80x24 with a long name and long absolute paths: names end in `…`, the output path keeps its
/// file name and stays on screen.
#[test]
fn long_names_and_paths_at_80x24() {
    let mut sessions = mixed_sessions();
    sessions[0].name = "tubingen-neckarfront-with-starry-night-long-name".into();
    sessions[0].job.content = "/home/someone/pictures/holidays/2025/germany/tubingen_neckarfront.jpg".into();
    sessions[0].job.settings.styles[0].path = "/home/someone/pictures/styles/van_gogh_starry_night.jpg".into();
    let mut h = Harness::new(sessions, 80, 24);
    h.app.workspace = "/home/someone/.local/share/brushwork/workspace".into();
    let list = h.render();
    assert!(list.contains("tubingen-neckarf…"), "{list}");
    h.key(KeyCode::Enter);
    h.app.set_losses("s1", losses());
    h.render();
    h.serve_images();
    let detail = h.render();
    assert!(detail.contains("output   …/") && detail.contains("/s1/output.png"), "{detail}");
    assert!(detail.contains("tubingen_neckarfront.jpg"), "{detail}");
    insta::assert_snapshot!("long_names_list_80x24", list);
    insta::assert_snapshot!("long_names_detail_80x24", detail);
}

/// A repeated error is shown once with its count; a long line wraps under its text.
#[test]
fn log_dedupes_and_wraps() {
    let mut h = Harness::new(mixed_sessions(), 80, 24);
    for _ in 0..3 {
        h.app.apply_event(Event::Log {
            level: LogLevel::Error,
            message: "lake: media/style/missing.jpg: no such file".into(),
        });
    }
    h.app.apply_event(Event::Log {
        level: LogLevel::Warn,
        message: "harbour: the content picture is 40x30 px, too thin for the network at this size: it needs at least 64 px on each side"
            .into(),
    });
    assert_eq!(h.app.log.len(), 2);
    assert_eq!(h.app.log[0].count, 3);
    let text = h.render();
    assert!(text.contains("no such file") && text.contains("(x3)"), "{text}");
    assert!(text.contains("each side"), "{text}");
    insta::assert_snapshot!(text);
}

/// A render that a scheduler elsewhere runs from its plan folder (`video plan`): listed as
/// `distributed` with the frames done, its detail showing the frames of the clip.
#[test]
fn a_distributed_render_in_the_list_and_its_detail() {
    use crate::session::{Kind, ProgressSummary, Status};
    let mut clip = super::support::record("s9", "long clip", Status::Distributed, Kind::Video, 0, 0.0);
    clip.job.content = "media/content/long.mp4".into();
    clip.plan_dir = Some("/shared/long-plan".into());
    clip.progress = Some(ProgressSummary { iteration: 450, total: 1800, loss: 0.0, seconds: 3600.0 });
    let mut sessions = mixed_sessions();
    sessions.push(clip.clone());
    let mut h = Harness::new(sessions, 100, 30);
    let list = h.render();
    assert!(list.contains("distributed") && list.contains("450/1800"), "{list}");
    insta::assert_snapshot!("distributed_list", list);
    let mut h = Harness::new(vec![clip], 100, 30);
    h.key(KeyCode::Enter);
    let detail = h.render();
    assert!(detail.contains("long clip") && detail.contains("450/1800"), "{detail}");
    insta::assert_snapshot!("distributed_detail", detail);
}
