//! Key-driven flows: what the user does, what the scheduler receives, what the screen shows.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::KeyCode;

use super::support::{mixed_sessions, record, Harness};
use crate::engine::settings::Optimizer;
use crate::session::{FrameProgress, Kind, LossRow, Request, Status};
use crate::tui::form_fields::Field;

#[test]
fn form_submits_the_spec_the_user_typed() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.type_text("evening");
    h.focus_field("Content");
    h.type_text("media/content/tubingen_neckarfront.jpg");
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    h.focus_field("Size (px)");
    h.ctrl('u');
    h.type_text("128");
    h.focus_field("Iterations");
    h.ctrl('u');
    h.type_text("20");
    h.focus_field("Optimizer");
    h.key(KeyCode::Right);
    h.focus_field("Seed");
    h.ctrl('u');
    h.type_text("42");
    h.ctrl('s');

    let requests = h.control.requests();
    let Some(Request::Submit { spec }) = requests.last() else { panic!("no submit: {requests:?}") };
    assert_eq!(spec.name.as_deref(), Some("evening"));
    // Paths are made absolute: the scheduler may be a `serve` started in another folder.
    assert_eq!(spec.job.content, std::path::absolute("media/content/tubingen_neckarfront.jpg").unwrap());
    assert_eq!(spec.job.preset, "quick");
    assert_eq!(spec.job.kind, Kind::Image);
    let s = &spec.job.settings;
    assert_eq!((s.size, s.iterations, s.seed, s.optimizer), (128, 20, 42, Optimizer::Adam));
    assert_eq!(s.styles.len(), 1);
    assert_eq!(s.styles[0].path, std::path::absolute("media/style/van_gogh_the_starry_night.jpg").unwrap());

    let screen = h.render();
    assert!(screen.contains("evening"), "{screen}");
    assert!(screen.contains("queued `evening` (s1)"), "{screen}");
}

/// A clip as content makes a video session.
#[test]
fn a_clip_as_content_makes_a_video_session() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.focus_field("Content");
    h.type_text("media/video/bee_on_flower_pixabay211.mp4");
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    h.ctrl('s');
    let requests = h.control.requests();
    let Some(Request::Submit { spec }) = requests.last() else { panic!("no submit: {requests:?}") };
    assert_eq!(spec.job.kind, Kind::Video);
}

#[test]
fn form_refuses_to_submit_without_inputs() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.focus_field("Size (px)");
    h.type_text("x");
    h.ctrl('s');
    assert!(h.control.requests().iter().all(|r| !matches!(r, Request::Submit { .. })));
    let screen = h.render();
    assert!(screen.contains("Content: pick a content image"), "{screen}");
}

/// The form checks what `run` checks before it submits: a content file that does not exist is
/// refused in the form (it used to be queued and fail later), and so is a style weight that is
/// not a number.
#[test]
fn form_refuses_a_missing_content_file_and_a_bad_weight() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.focus_field("Content");
    h.type_text("media/content/nope.jpg");
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    h.ctrl('s');
    assert!(h.control.requests().iter().all(|r| !matches!(r, Request::Submit { .. })));
    let screen = h.render();
    assert!(screen.contains("nope.jpg: no such file"), "{screen}");
    assert!(screen.contains("New session"), "the form stays open: {screen}");
    let form = h.app.form.as_mut().unwrap();
    assert_eq!(form.checking, None);
    form.set(crate::tui::form_fields::Field::Content, "media/content/tubingen_neckarfront.jpg".into());
    form.styles[0].weight = "heavy".into();
    h.ctrl('s');
    assert!(h.render().contains("Style weight: `heavy` is not a non-negative number"), "{}", h.render());
    h.app.form.as_mut().unwrap().styles[0].weight = "0.5".into();
    h.ctrl('s');
    let requests = h.control.requests();
    let Some(Request::Submit { spec }) = requests.last() else { panic!("no submit: {requests:?}") };
    assert_eq!(spec.job.settings.styles[0].weight, 0.5);
}

/// A check answered after its form was closed (or replaced) is dropped.
#[test]
fn a_late_check_answer_is_dropped() {
    let mut h = Harness::new(Vec::new(), 100, 30).with_workers();
    h.key(KeyCode::Char('n'));
    h.focus_field("Content");
    h.type_text("media/content/tubingen_neckarfront.jpg");
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    h.ctrl('s');
    assert!(h.render().contains("checking the inputs"), "{}", h.render());
    h.type_text("ignored while checking");
    h.key(KeyCode::Esc);
    assert!(h.settle(Duration::from_secs(30)), "the check's answer never came");
    assert!(h.app.form.is_none());
    assert!(h.control.requests().iter().all(|r| !matches!(r, Request::Submit { .. })));
}

/// The dashboard's UI thread never waits on the scheduler: while it is busy (as when deleting a
/// running session waits for its iteration to end), keys are handled and frames drawn, the session
/// shows `deleting…`, and the deletion completes once the scheduler is free again.
#[test]
fn a_busy_scheduler_blocks_neither_keys_nor_drawing() {
    let h = Harness::new(mixed_sessions(), 100, 30).with_workers();
    let control = h.control.clone();
    let busy = control.busy.lock().unwrap();
    let (screens, seen) = channel();
    let (free_tx, free) = channel::<()>();
    let ui = std::thread::spawn(move || {
        let mut h = h;
        // The selection starts on `tubingen` (running): delete it, then move on and pause the next.
        h.key(KeyCode::Char('d'));
        h.key(KeyCode::Char('y'));
        let deleting = h.render();
        h.key(KeyCode::Char('p'));
        let refused = h.render();
        h.key(KeyCode::Down);
        h.key(KeyCode::Char('p'));
        screens.send((deleting, refused, h.render())).unwrap();
        free.recv().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !h.app.pending.is_empty() && Instant::now() < deadline {
            h.settle(Duration::from_millis(100));
        }
        screens.send((h.render(), String::new(), String::new())).unwrap();
        h
    });
    let (deleting, refused, moved) =
        seen.recv_timeout(Duration::from_secs(30)).expect("the UI thread waited for the busy scheduler");
    let answered = control.requests();
    assert!(answered.iter().all(|r| matches!(r, Request::List)), "answered while busy: {answered:?}");
    let row = |screen: &str, name: &str| screen.lines().find(|l| l.contains(name)).unwrap_or_default().to_string();
    assert!(row(&deleting, "tubingen").contains("deleting…"), "{deleting}");
    assert!(refused.contains("`tubingen` is being deleted"), "{refused}");
    assert!(row(&moved, "tubingen").contains("deleting…"), "{moved}");
    assert!(row(&moved, "▶").contains("pausing…"), "{moved}");

    drop(busy);
    free_tx.send(()).unwrap();
    let (done, ..) = seen.recv_timeout(Duration::from_secs(60)).expect("the answers were applied");
    let h = ui.join().unwrap();
    assert!(h.app.pending.is_empty(), "{:?}", h.app.pending);
    assert!(!done.contains("tubingen") && !done.contains("deleting…"), "{done}");
    let requests = control.requests();
    assert!(requests.iter().any(|r| matches!(r, Request::Remove { id } if id == "s1")), "{requests:?}");
    assert!(requests.iter().any(|r| matches!(r, Request::Pause { id } if id != "s1")), "{requests:?}");
    assert!(!requests.iter().any(|r| matches!(r, Request::Pause { id } if id == "s1")), "{requests:?}");
}

#[test]
fn pause_sends_pause_and_shows_the_new_status() {
    let mut h = Harness::new(vec![record("s1", "tubingen", Status::Running, Kind::Image, 50, 1e5)], 100, 30);
    h.key(KeyCode::Char('p'));
    assert!(matches!(h.control.requests().last(), Some(Request::Pause { id }) if id == "s1"));
    let screen = h.render();
    assert!(screen.contains("paused"), "{screen}");
}

#[test]
fn delete_asks_first() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Down);
    h.key(KeyCode::Char('d'));
    let screen = h.render();
    assert!(screen.contains("Delete session `clip-frames` and its folder?"), "{screen}");
    h.key(KeyCode::Char('n'));
    assert!(!h.control.requests().iter().any(|r| matches!(r, Request::Remove { .. })));
    h.key(KeyCode::Char('d'));
    h.key(KeyCode::Char('y'));
    assert!(matches!(h.control.requests().last(), Some(Request::Remove { id }) if id == "s2"));
}

#[test]
fn duplicate_opens_the_form_prefilled() {
    // Real files: the form checks its inputs as `run` does before it submits.
    let mut r = record("s1", "tubingen", Status::Done, Kind::Image, 200, 1e5);
    r.job.content = "media/content/tubingen_neckarfront.jpg".into();
    r.job.settings.styles[0].path = "media/style/van_gogh_the_starry_night.jpg".into();
    let mut h = Harness::new(vec![r], 100, 30);
    h.key(KeyCode::Char('D'));
    let screen = h.render();
    assert!(screen.contains("Duplicate session") && screen.contains("tubingen copy"), "{screen}");
    h.focus_field("Iterations");
    h.ctrl('u');
    h.type_text("10");
    h.ctrl('s');
    let requests = h.control.requests();
    let Some(Request::Submit { spec }) = requests.last() else { panic!("no submit: {requests:?}") };
    // Paths are made absolute: the scheduler may be a `serve` started in another folder.
    assert_eq!(spec.job.content, std::path::absolute("media/content/tubingen_neckarfront.jpg").unwrap());
    assert_eq!(spec.job.settings.iterations, 10);
    assert_eq!(spec.job.settings.scales, 2);
    assert_eq!(
        spec.job.settings.styles[0].path,
        std::path::absolute("media/style/van_gogh_the_starry_night.jpg").unwrap()
    );
}

#[test]
fn save_and_delete_a_preset() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.app.preset_dir = Some(dir.path().to_path_buf());
    h.key(KeyCode::Char('n'));
    h.focus_field("Size (px)");
    h.ctrl('u');
    h.type_text("320");
    h.ctrl('p');
    h.type_text("mine");
    h.key(KeyCode::Enter);

    let file = dir.path().join("mine.toml");
    assert!(file.is_file());
    assert_eq!(crate::preset::load_file(&file).unwrap().size, 320);
    assert!(h.app.presets.iter().any(|p| p.name == "mine"));
    assert_eq!(h.app.form.as_ref().unwrap().preset_name, "mine");

    // Saving over it, or over a built-in, is held back once, as the CLI wants --force.
    h.focus_field("Size (px)");
    h.ctrl('u');
    h.type_text("400");
    for name in ["mine", "quick"] {
        h.ctrl('p');
        h.type_text(name);
        h.key(KeyCode::Enter);
        let message = h.app.form.as_ref().unwrap().message.clone().unwrap_or_default();
        assert!(message.contains("save it again"), "{message}");
    }
    assert_eq!(crate::preset::load_file(&file).unwrap().size, 320, "overwritten without asking");
    assert!(!dir.path().join("quick.toml").exists(), "a built-in shadowed without asking");
    // Asked about `quick` last: `mine` needs asking again; then the second save goes ahead.
    for _ in 0..2 {
        h.ctrl('p');
        h.type_text("mine");
        h.key(KeyCode::Enter);
    }
    assert_eq!(crate::preset::load_file(&file).unwrap().size, 400);

    h.ctrl('d');
    let screen = h.render();
    assert!(screen.contains("Delete preset file"), "{screen}");
    h.key(KeyCode::Char('y'));
    assert!(!file.exists());
    assert!(!h.app.presets.iter().any(|p| p.name == "mine"));
}

#[test]
fn built_in_presets_cannot_be_deleted() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.ctrl('d');
    assert!(h.app.confirm.is_none());
    assert!(h.render().contains("`quick` is not a user preset"));
}

#[test]
fn preset_choice_loads_its_fields() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.key(KeyCode::Char('n'));
    h.focus_field("Preset");
    h.key(KeyCode::Right);
    let form = h.app.form.as_ref().unwrap();
    let gatys = super::support::builtin_presets().into_iter().find(|p| p.name == form.preset_name).unwrap();
    assert_eq!(form.value(crate::tui::form_fields::Field::Size), gatys.settings.size.to_string());
}

#[test]
fn file_browser_picks_from_media() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media/content")).unwrap();
    image::RgbImage::new(4, 4).save(dir.path().join("media/content/cat.png")).unwrap();
    std::fs::write(dir.path().join("media/content/notes.txt"), "x").unwrap();
    let mut h = Harness::new(Vec::new(), 100, 30);
    h.app.start_dir = dir.path().to_path_buf();
    h.key(KeyCode::Char('n'));
    h.focus_field("Content");
    h.key(KeyCode::Enter);
    h.key(KeyCode::Char('m'));
    let screen = h.render();
    assert!(screen.contains("content/") && !screen.contains("notes.txt"), "{screen}");
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    let form = h.app.form.as_ref().unwrap();
    assert!(form.browser.is_none());
    assert_eq!(
        form.value(crate::tui::form_fields::Field::Content),
        dir.path().join("media/content/cat.png").display().to_string()
    );
}

#[test]
fn progress_events_update_the_list_and_chart() {
    let mut h = Harness::new(vec![record("s1", "tubingen", Status::Running, Kind::Image, 10, 1e6)], 100, 30);
    h.key(KeyCode::Enter);
    for i in 11..=15 {
        let row = LossRow {
            iteration: i,
            scale: 0,
            loss: 1e6 / i as f64,
            style: 9e5 / i as f64,
            content: 1e5,
            tv: 0.0,
            seconds: i as f64,
        };
        let e = crate::session::Event::Progress {
            id: "s1".into(),
            total: 200,
            row,
            temporal: 0.0,
            evaluations: 0,
            video: None,
        };
        h.control.push(e);
    }
    h.pump();
    assert_eq!(h.app.detail.as_ref().unwrap().losses.len(), 5);
    let screen = h.render();
    assert!(screen.contains("15/200"), "{screen}");
    h.key(KeyCode::Esc);
    assert!(h.render().contains("15/200"));
}

/// A video session: progress counts frames, and the detail chart is the warping error per frame
/// beside the source's (or the flicker, for sessions that have no warping errors).
#[test]
fn video_progress_counts_frames_and_charts_warp_error() {
    let mut h = Harness::new(vec![record("v1", "clip", Status::Running, Kind::Video, 0, 1e6)], 100, 30);
    h.key(KeyCode::Enter);
    for f in 1..=6u32 {
        // Iterations of frame f, then the frame's finished event with its flicker.
        for (it, flicker) in [(1, None), (2, Some(0.01 * f as f64 - 0.03))] {
            let row =
                LossRow { iteration: it, scale: 0, loss: 1e5, style: 9e4, content: 1e4, tv: 0.0, seconds: f as f64 };
            let video = FrameProgress {
                frame: f,
                frames: 24,
                flicker,
                // Frame f > 1 scores 1e-3·f against a floor of 2e-4: the title's means are
                // (2+3+4+5+6)/5·1e-3 = 4.00e-3 and 2.00e-4.
                warp_error: flicker.filter(|_| f > 1).map(|_| 1e-3 * f as f64),
                source_warp_error: flicker.filter(|_| f > 1).map(|_| 2e-4),
            };
            let event = crate::session::Event::Progress {
                id: "v1".into(),
                total: 2,
                row,
                temporal: 0.0,
                evaluations: 0,
                video: Some(video),
            };
            h.control.push(event);
        }
    }
    h.pump();
    assert_eq!(h.app.detail.as_ref().unwrap().frames.len(), 6);
    assert!(h.app.detail.as_ref().unwrap().losses.is_empty(), "per-iteration video events are not loss rows");
    let screen = h.render();
    assert!(screen.contains("Warping error per frame"), "{screen}");
    assert!(screen.contains("output (mean 4.00e-3)"), "{screen}");
    assert!(screen.contains("source floor (mean 2.00e-4)"), "{screen}");
    assert!(screen.contains("6/24"), "{screen}");
}

#[test]
fn decoder_reads_a_real_file_as_half_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preview.png");
    image::RgbImage::from_pixel(40, 20, image::Rgb([200, 10, 10])).save(&path).unwrap();
    let job =
        crate::tui::images::DecodeJob { path, size: ratatui::layout::Size::new(10, 5), generation: 1, video: false };
    let decoded = crate::tui::images::decode(&ratatui_image::picker::Picker::halfblocks(), job);
    assert!(decoded.result.is_ok());
    let missing = crate::tui::images::DecodeJob {
        path: dir.path().join("none.png"),
        size: ratatui::layout::Size::new(10, 5),
        generation: 0,
        video: false,
    };
    let decoded = crate::tui::images::decode(&ratatui_image::picker::Picker::halfblocks(), missing);
    assert_eq!(decoded.result.err().unwrap(), "not written yet");
}

#[test]
fn preview_event_asks_for_the_new_picture_once() {
    let mut h = Harness::new(mixed_sessions(), 100, 30);
    h.key(KeyCode::Enter);
    h.render();
    h.images.take_requests();
    h.render();
    assert!(h.images.take_requests().is_empty(), "nothing changed: nothing asked");
    h.control.push(crate::session::Event::Preview { id: "s1".into() });
    h.pump();
    h.render();
    let asked = h.images.take_requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].path.ends_with("sessions/s1/preview.png") && asked[0].generation == 1, "{asked:?}");
}

/// The watched-folders panel: `a` opens the watch form, submitting sends a saved watch of the
/// folder typed, and `x` asks before it stops one.
#[test]
fn watched_panel_adds_and_stops_a_watch() {
    let mut h = Harness::new(Vec::new(), 100, 30);
    let folder = std::env::temp_dir().join(format!("bw-tui-watch-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    h.key(KeyCode::Tab);
    assert!(h.render().contains("a watch a folder"), "{}", h.render());
    h.key(KeyCode::Char('a'));
    assert!(h.render().contains("Watch a folder"), "{}", h.render());
    h.focus_field("Content"); // labelled "Folder" in this form
    h.type_text(&folder.display().to_string());
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    h.ctrl('s');
    let requests = h.control.requests();
    let Some(Request::Watch { config }) = requests.last() else { panic!("no watch request: {requests:?}") };
    assert_eq!(config.dir, folder);
    assert_eq!(config.out, folder.join("stylized"));
    assert!(config.persistent);
    assert_eq!(
        config.settings.styles[0].path,
        std::path::absolute("media/style/van_gogh_the_starry_night.jpg").unwrap()
    );
    // The scheduler reports the watch; `x` then asks, and `y` sends the stop.
    h.control.push(crate::session::Event::Watches {
        watches: vec![crate::session::watches::WatchStatus {
            config: (**config).clone(),
            queued: 3,
            skipped: 1,
            polling: false,
            error: None,
        }],
    });
    h.pump();
    let screen = h.render();
    assert!(screen.contains("3 queued"), "{screen}");
    h.key(KeyCode::Char('x'));
    assert!(h.render().contains("Stop watching"), "{}", h.render());
    h.key(KeyCode::Char('y'));
    assert!(matches!(h.control.requests().last(), Some(Request::Unwatch { dir }) if *dir == folder));
    std::fs::remove_dir_all(&folder).unwrap();
}

/// A video's progress in the dashboard counts finished frames, and its elapsed time is the job's
/// (from the last finished frame), not the seconds of the frame being worked on.
#[test]
fn video_progress_counts_frames_and_keeps_the_jobs_time() {
    let mut h = Harness::new(vec![record("s1", "clip", Status::Running, Kind::Video, 0, 0.0)], 100, 30);
    let event = |iteration: u32, frame: u32, flicker: Option<f64>, seconds: f64| {
        let row = LossRow { iteration, scale: 0, loss: 1e5, style: 1e5, content: 0.0, tv: 0.0, seconds };
        let video = FrameProgress { frame, frames: 60, flicker, warp_error: None, source_warp_error: None };
        crate::session::Event::Progress {
            id: "s1".into(),
            total: 100,
            row,
            temporal: 0.0,
            evaluations: 0,
            video: Some(video),
        }
    };
    h.app.apply_event(event(100, 3, Some(0.01), 300.0));
    h.app.apply_event(event(7, 4, None, 2.5));
    let p = h.app.session("s1").unwrap().progress.unwrap();
    assert_eq!((p.iteration, p.total, p.seconds), (3, 60, 300.0));
    assert_eq!(h.app.session("s1").unwrap().progress_counts(), (3, 60, "frames"));
    assert!(h.render().contains("3/60"), "{}", h.render());
}

/// The form shows the memory plan of what is being edited: with a preset's `max_memory` of 2G a
/// 2048 px run is planned in tiles, and the line says so (with the budget).
#[test]
fn the_form_shows_the_memory_plan() {
    let mut h = Harness::new(Vec::new(), 120, 30);
    h.key(KeyCode::Char('n'));
    let settings = crate::engine::Settings {
        size: 2048,
        max_memory: Some("2G".into()),
        arch: crate::engine::settings::ArchChoice::Vgg16,
        ..crate::engine::Settings::default()
    };
    h.app.form.as_mut().unwrap().load_preset("poster", &settings);
    assert!(!h.render().contains("memory:"), "no plan while the form is incomplete");
    h.focus_field("Content");
    h.type_text("media/content/tubingen_neckarfront.jpg");
    h.focus_field("Style");
    h.type_text("media/style/van_gogh_the_starry_night.jpg");
    let line = h.app.form.as_ref().unwrap().memory_line().unwrap();
    assert!(line.contains("of 2.0 GB") && line.contains("tiles of"), "{line}");
    let screen = h.render();
    assert!(screen.contains("memory: about") && screen.contains("tiles"), "{screen}");
    // The preset's budget is in its own field; editing it plans again.
    h.focus_field("Max memory");
    assert_eq!(h.app.form.as_ref().unwrap().value(Field::MaxMemory), "2G");
    for _ in 0..2 {
        h.key(KeyCode::Backspace);
    }
    h.type_text("64G");
    let line = h.app.form.as_ref().unwrap().memory_line().unwrap();
    assert!(line.contains("of 64.0 GB") && !line.contains("tiles of"), "2048 px fits whole in 64G: {line}");
    assert_eq!(h.app.form.as_ref().unwrap().spec().unwrap().job.settings.max_memory.as_deref(), Some("64G"));
    // A size that is not one: the form says so, naming the field.
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    h.type_text("12X");
    let e = h.app.form.as_ref().unwrap().spec().unwrap_err();
    assert!(e.starts_with("Max memory: `12X` is not a size"), "{e}");
}
