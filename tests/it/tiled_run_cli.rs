//! Big pictures from the command line: `run --plan` (the memory plan per scale), `--max-memory`
//! and the preset's `max_memory` and `tile`, refusals in one line before any work, and a tiled run
//! reaching the loss of the untiled one (the tiled gradient is exact: `tiled_gradient`), a tiled
//! session killed and resumed exactly. The tiny
//! random VGG-16 runs the images; the plan counts the real VGG-16's widths (the weights' header
//! names the network).

use crate::cli_support;
use crate::sessions_cli::{killed_runs_resume_exactly, session_for, sessions_dir, PRESET};

use cli_support::Fixture;
use serde_json::Value;

fn base<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors"];
    args.extend_from_slice(extra);
    args
}

fn plan_event(fx: &Fixture, extra: &[&str]) -> Value {
    let r = fx.run(&base(&[&["--plan", "--json"], extra].concat()));
    assert_eq!(r.code, Some(0), "{r}");
    let events = r.events();
    assert_eq!(events.len(), 1, "{r}");
    events[0].clone()
}

#[test]
fn the_plan_tiles_what_does_not_fit_and_runs_nothing() {
    let fx = Fixture::new("plan-tiles");
    let p = plan_event(&fx, &["--preset", "gatys", "--size", "2048", "--scales", "2", "--max-memory", "3G"]);
    assert_eq!(p["event"], "plan");
    let budget = p["budget"].as_f64().unwrap();
    assert_eq!(budget, 3.0 * (1u64 << 30) as f64);
    assert!(p["bytes"].as_f64().unwrap() <= budget, "{p}");
    let scales = p["scales"].as_array().unwrap();
    assert_eq!(scales.len(), 2);
    // 40x30 content: 1024x768 fits whole, 2048x1536 is tiled.
    assert_eq!((scales[0]["width"].as_u64(), scales[0]["tiles"].as_u64()), (Some(1024), Some(1)), "{p}");
    assert_eq!(scales[1]["width"].as_u64(), Some(2048));
    assert!(scales[1]["tiles"].as_u64().unwrap() > 1 && scales[1]["core"].as_u64().is_some(), "{p}");
    for s in scales {
        assert!(s["seconds_per_iteration"].as_f64().unwrap() > 0.0, "{s}");
    }
    assert!(p["changes"][0].as_str().unwrap().contains("2048x1536"), "{p}");
    assert!(!fx.join("content.quick.png").exists() && !fx.join("content.gatys.png").exists());
    // Text: one row per scale.
    let r = fx.run(&base(&["--preset", "gatys", "--size", "2048", "--scales", "2", "--max-memory", "3G", "--plan"]));
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("1024x768") && r.stdout.contains("whole") && r.stdout.contains(" px"), "{r}");
}

#[test]
fn the_presets_tile_and_max_memory_are_used() {
    let fx = Fixture::new("plan-preset");
    std::fs::write(
        fx.join("poster.toml"),
        "version = 1\nsize = 512\nscales = 1\ntile = 128\nmax_memory = \"8G\"\n[content_layers]\nconv4_2 = 1.0\n",
    )
    .unwrap();
    let p = plan_event(&fx, &["--preset", "poster.toml"]);
    assert_eq!(p["tile"].as_u64(), Some(128), "{p}");
    assert_eq!(p["budget"].as_f64(), Some(8.0 * (1u64 << 30) as f64), "{p}");
    assert_eq!(p["scales"][0]["core"].as_u64(), Some(128), "{p}");
    // The flag wins over the preset.
    let p = plan_event(&fx, &["--preset", "poster.toml", "--tile", "256"]);
    assert_eq!(p["scales"][0]["core"].as_u64(), Some(256), "{p}");
}

#[test]
fn what_cannot_fit_is_refused_in_one_line_before_any_work() {
    let fx = Fixture::new("plan-refused");
    let r = fx.run(&base(&["--size", "8192", "--max-memory", "256M", "-o", "out.png"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{r}");
    assert!(r.stderr.contains("--max-memory") && r.stderr.contains("--size") && r.stderr.contains("256 MB"), "{r}");
    assert!(!fx.join("out.png").exists());
    for (flag, value, says) in [("--max-memory", "12X", "--max-memory 12X"), ("--tile", "4", "--tile 4")] {
        let r = fx.run(&base(&[flag, value, "--plan"]));
        assert_eq!(r.code, Some(2), "{r}");
        assert!(r.stderr.contains(says), "{r}");
    }
}

/// Tiles of 32 px (the halo to conv5_1 is 80 px, so each tile reads up to 192 px) against the
/// whole picture: the same iterations reach the same loss.
#[test]
fn a_tiled_run_reaches_the_untiled_runs_loss() {
    let fx = Fixture::new("tiled-run");
    let run = |extra: &[&str], out: &str| -> f64 {
        let args = base(
            &[
                &["--size", "96", "--scales", "1", "--iterations", "8", "--precision", "f32", "--json", "-o", out],
                extra,
            ]
            .concat(),
        );
        let r = fx.run(&args);
        assert_eq!(r.code, Some(0), "{r}");
        let events = r.events();
        let done = events.last().unwrap();
        assert_eq!(done["event"], "done", "{r}");
        done["loss"].as_f64().unwrap()
    };
    let whole = run(&[], "whole.png");
    let tiled = run(&["--tile", "32"], "tiled.png");
    assert!((tiled - whole).abs() <= 1e-3 * whole, "tiled {tiled} vs whole {whole}");
}

/// A session with tiles (cores of 32 px: 4 tiles at 40 px, 9 at 80), `kill -9` after a checkpoint
/// and across the scale change, then `sessions resume`: the checkpoint holds the whole picture's
/// optimiser state whatever the tiles, so the resumed run ends with the uninterrupted tiled run's
/// loss curve and pixels, to the last digit.
#[test]
fn a_tiled_session_killed_and_resumed_matches_the_uninterrupted_one() {
    let fx = Fixture::new("tiled-kill");
    std::fs::write(fx.join("ck.toml"), format!("{PRESET}tile = 32\n")).unwrap();
    let args = |out: &str| -> Vec<String> {
        let args = ["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors", "--preset"];
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["ck.toml", "--json", "-o", out].iter().map(|s| s.to_string()));
        v
    };
    let resumes = killed_runs_resume_exactly(&fx, &args, &[9, 31]);
    let record = std::fs::read_to_string(sessions_dir(&fx).join(session_for(&fx, "ref.png")).join("session.toml"));
    assert!(record.unwrap().contains("tile = 32"), "the session does not record its tiles");
    assert!(resumes > 0, "every run finished before its kill: the test proved nothing");
}
