//! A distributed render on a real SLURM cluster: the one-node cluster of `scripts/slurm-local.sh`
//! (CI brings it up and sets `SLURM_CONF`; `BRUSHWORK_REQUIRE_SLURM=1` makes its absence a
//! failure rather than a skip). The emitted submit script runs the segments as an array job and
//! the stitch after it; one array task is cancelled half way, the missing index that `status`
//! prints is resubmitted, and the frames come out byte for byte as a one-machine render of the
//! same plan.

use crate::cli_support;
use crate::video_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cli_support::Fixture;
use video_support::{clip, probe};

/// Whether a cluster answers; panics when one is required and none does.
fn cluster() -> bool {
    let up = std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo").arg("-h").output().map(|o| o.status.success()).unwrap_or(false);
    if !up && std::env::var("BRUSHWORK_REQUIRE_SLURM").as_deref() == Ok("1") {
        panic!("BRUSHWORK_REQUIRE_SLURM=1 but no SLURM cluster answers (scripts/slurm-local.sh up; export SLURM_CONF)");
    }
    if !up {
        eprintln!("skipped: no SLURM cluster (scripts/slurm-local.sh up, then SLURM_CONF=... cargo test slurm)");
    }
    up
}

fn plan(fx: &Fixture, workdir: &str) -> cli_support::Run {
    fx.run(&[
        "video",
        "plan",
        "clip.mp4",
        "--style",
        "style.png",
        "--weights",
        &fx.join("tiny.safetensors").to_string_lossy(),
        "--size",
        "32",
        "--iterations",
        "20",
        "--frame-iterations",
        "20",
        "--segments",
        "4",
        "--preroll",
        "2",
        "--cpus-per-task",
        "1",
        "--time",
        "00:10:00",
        "--workdir",
        workdir,
        "-o",
        "out.mp4",
        "--emit",
        "slurm",
    ])
}

/// Runs a shell line in the fixture (with the fixture's environment and SLURM_CONF).
fn sh(fx: &Fixture, line: &str) -> String {
    let out = Command::new("bash")
        .args(["-c", line])
        .current_dir(fx.path())
        .env("HOME", fx.join("home"))
        .env_remove("BRUSHWORK_WEIGHTS")
        .output()
        .expect("bash");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`{line}` failed:\n{text}");
    text
}

/// Waits until none of `jobs` is queued or running.
fn wait_for(fx: &Fixture, jobs: &[String], limit: Duration) {
    let start = Instant::now();
    loop {
        let q = sh(fx, &format!("squeue -h -j {} -o %i", jobs.join(",")));
        if q.trim().is_empty() {
            return;
        }
        assert!(start.elapsed() < limit, "jobs {jobs:?} still queued after {limit:?}:\n{q}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn frames(dir: &Path, n: usize) -> Vec<Vec<u8>> {
    (1..=n)
        .map(|k| std::fs::read(dir.join(format!("frames/{k:06}.png"))).unwrap_or_else(|e| panic!("frame {k}: {e}")))
        .collect()
}

#[test]
fn a_slurm_array_renders_a_cancelled_segment_is_resubmitted_and_the_stitch_matches_one_machine() {
    if !cluster() {
        return;
    }
    let fx = Fixture::new("slurm");
    // 40 frames at 10 fps with audio: 4 segments of 10.
    clip(&fx.join("clip.mp4"), 66, 50, 10, 4.0, true);
    let r = plan(&fx, "plan");
    assert_eq!(r.code, Some(0), "{r}");
    let script = std::fs::read_to_string(fx.join("plan/slurm/render.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3") && script.contains("#SBATCH --cpus-per-task=1"), "{script}");
    // The printed script is the submit script.
    assert!(r.stdout.contains("sbatch --parsable") && r.stdout.contains("--dependency=afterok"), "{r}");

    let submitted = sh(&fx, "bash plan/slurm/submit.sh");
    let ids: Vec<String> =
        submitted.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let (render, stitch) = (ids[0].clone(), ids[ids.len() - 1].clone());
    // Cancel segment 2 once its first kept frame (21) is written: half way through it.
    let first_of_2 = fx.join("plan/frames/000021.png");
    let start = Instant::now();
    while !first_of_2.exists() {
        assert!(start.elapsed() < Duration::from_secs(240), "segment 2 never started:\n{submitted}");
        std::thread::sleep(Duration::from_millis(20));
    }
    sh(&fx, &format!("scancel {render}_2"));
    // The stitch depends on every task succeeding: it can no longer run.
    sh(&fx, &format!("scancel {stitch}"));
    wait_for(&fx, &[render.clone(), stitch.clone()], Duration::from_secs(300));
    let status = fx.run(&["video", "status", "plan", "--json"]);
    let st = &status.events()[0];
    assert_eq!(st["array"], "2", "{status}");
    let seg2 = &st["segments"][2];
    assert!(seg2["done"].as_u64().unwrap() < 10, "segment 2 was not cut short: {seg2}");
    assert!(!fx.join("out.mp4").exists());

    // Resubmit what `status` says is missing, with the stitch after it, as a user would.
    let text = fx.run(&["video", "status", "plan"]).stdout;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("SLURM: ")).expect("a resubmit line").to_string();
    assert!(line.starts_with("sbatch --array=2 "), "{line}");
    let again = sh(&fx, &line.replacen("sbatch ", "sbatch --parsable ", 1));
    let again = again.trim().split(';').next().unwrap().to_string();
    let stitch2 = sh(
        &fx,
        &format!(
            "sbatch --parsable --dependency=afterok:{again} --output=plan/logs/stitch.log plan/slurm/stitch.sbatch"
        ),
    );
    wait_for(&fx, &[again, stitch2.trim().split(';').next().unwrap().to_string()], Duration::from_secs(300));
    assert!(
        fx.join("out.mp4").exists(),
        "no stitched clip; stitch log:\n{}",
        std::fs::read_to_string(fx.join("plan/logs/stitch.log")).unwrap_or_default()
    );

    // The same plan rendered on this machine, segment by segment.
    assert_eq!(plan(&fx, "local").code, Some(0));
    for s in 0..4 {
        let r = fx.run(&["video", "render", "local", "--segment", &s.to_string()]);
        assert_eq!(r.code, Some(0), "{r}");
    }
    let (a, b) = (frames(&fx.join("plan"), 40), frames(&fx.join("local"), 40));
    for k in 0..40 {
        assert!(a[k] == b[k], "frame {} differs between the SLURM render and the one-machine render", k + 1);
    }
    let src = probe(&fx.join("clip.mp4"));
    let out = probe(&fx.join("out.mp4"));
    assert_eq!(out.times.len(), 40);
    assert_eq!(out.avg_frame_rate, src.avg_frame_rate);
    assert!(out.audio.is_some() && out.audio == src.audio, "audio packets differ");
}
