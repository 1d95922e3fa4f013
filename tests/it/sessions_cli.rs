//! Sessions end to end with the real binary on a tiny random VGG-16: `kill -9` at several points
//! and an exact resume, a damaged `session.toml`, two instances on one workspace, `sessions pause`
//! against a running `serve` over its socket, and SIGTERM to `serve` (checkpoint, continue at the
//! next start).

use crate::cli_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cli_support::Fixture;
use serde_json::Value;

/// A preset that checkpoints every 4 iterations (and never by time, so the test is
/// deterministic), two scales of 30 L-BFGS iterations at 40 and 80 px.
pub(crate) const PRESET: &str = r#"
version = 1
size = 80
scales = 2
iterations = 30
optimizer = "lbfgs"
style_weight = 1e-2
checkpoint_every = 4
checkpoint_seconds = 0.0
"#;

pub(crate) const TOTAL: u64 = 60;

fn fixture(tag: &str) -> Fixture {
    let fx = Fixture::new(tag);
    std::fs::write(fx.join("ck.toml"), PRESET).unwrap();
    fx
}

fn run_args(out: &str) -> Vec<String> {
    [
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--preset",
        "ck.toml",
        "--json",
        "-o",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn workspace(fx: &Fixture) -> PathBuf {
    fx.join("home/.local/share/brushwork")
}

pub(crate) fn sessions_dir(fx: &Fixture) -> PathBuf {
    workspace(fx).join("sessions")
}

/// The only session folder whose record names `out` as its output.
pub(crate) fn session_for(fx: &Fixture, out: &str) -> String {
    let mut found = Vec::new();
    for e in std::fs::read_dir(sessions_dir(fx)).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path().join("session.toml")).unwrap_or_default();
        if text.contains(&format!("export = \"{out}\"")) || text.contains(&format!("/{out}\"")) {
            found.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    assert_eq!(found.len(), 1, "sessions for {out}: {found:?}");
    found.remove(0)
}

/// `losses.csv` as (iteration, loss text) pairs: the text, so equality is exact.
pub(crate) fn loss_rows(dir: &Path) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[2].to_string())
        })
        .collect()
}

pub(crate) fn pixels(path: &Path) -> Vec<u8> {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8().into_raw()
}

pub(crate) fn spawn(fx: &Fixture, args: &[String]) -> Child {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    fx.command(&refs).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn brushwork")
}

/// Reads JSON lines from the child until a progress event with `iteration >= at` (or the end).
pub(crate) fn wait_for_iteration(child: &mut Child, at: u64) -> u64 {
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = 0;
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["event"] == "progress" {
            seen = v["iteration"].as_u64().unwrap_or(0);
            if seen >= at {
                break;
            }
        }
    }
    // Keep reading so the child never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    seen
}

/// Runs `args("ref.png")` uninterrupted, then `args("outK.png")` for each of `points`, killed with
/// `kill -9` after that iteration and resumed with `sessions resume`: each resumed run continues
/// from a checkpoint at or after the last one certainly written (every 4 iterations, as `PRESET`)
/// and ends with the uninterrupted run's loss curve and pixels, to the last digit. Returns how many
/// runs the kill stopped before they finished (0: nothing was proved).
pub(crate) fn killed_runs_resume_exactly(fx: &Fixture, args: &dyn Fn(&str) -> Vec<String>, points: &[u64]) -> usize {
    let reference = fx.run(&args("ref.png").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(reference.code, Some(0), "{reference}");
    let ref_rows = loss_rows(&sessions_dir(fx).join(session_for(fx, "ref.png")));
    assert_eq!(ref_rows.len() as u64, TOTAL);
    let ref_pixels = pixels(&fx.join("ref.png"));
    let mut resumes = 0;
    for (k, &at) in points.iter().enumerate() {
        let out = format!("out{k}.png");
        let mut child = spawn(fx, &args(&out));
        let seen = wait_for_iteration(&mut child, at);
        child.kill().expect("kill -9");
        child.wait().unwrap();
        let id = session_for(fx, &out);
        if fx.join(&out).exists() {
            eprintln!("killed after iteration {seen}: it had already finished");
            continue;
        }
        let resumed = fx.run(&["sessions", "resume", &id, "--json"]);
        assert_eq!(resumed.code, Some(0), "killed after iteration {seen}: {resumed}");
        let events = resumed.events();
        let first = events.iter().find(|e| e["event"] == "progress").and_then(|e| e["iteration"].as_u64());
        let last_written = (seen.saturating_sub(1) / 4) * 4;
        assert!(first.is_some_and(|f| f > last_written), "resumed at {first:?}, killed after {seen}");
        assert_eq!(events.last().unwrap()["event"], "done", "{resumed}");
        eprintln!("killed after iteration {seen}; resumed at {first:?}");
        assert_eq!(loss_rows(&sessions_dir(fx).join(&id)), ref_rows, "loss curve after a kill at iteration {seen}");
        assert_eq!(pixels(&fx.join(&out)), ref_pixels, "output after a kill at iteration {seen}");
        resumes += 1;
    }
    resumes
}

#[test]
fn kill_9_at_several_points_then_resume_matches_an_uninterrupted_run() {
    let fx = fixture("sessions-kill");
    let reference = fx.run(&run_args("ref.png").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(reference.code, Some(0), "{reference}");
    let ref_id = session_for(&fx, "ref.png");
    let ref_rows = loss_rows(&sessions_dir(&fx).join(&ref_id));
    assert_eq!(ref_rows.len() as u64, TOTAL);
    let ref_pixels = pixels(&fx.join("ref.png"));

    // Early, right after a checkpoint is due (9 follows the checkpoint at 8), across the scale
    // change, and at the very end (while the output is written).
    for (k, at) in [3u64, 9, 31, TOTAL].into_iter().enumerate() {
        let out = format!("out{k}.png");
        let mut child = spawn(&fx, &run_args(&out));
        let seen = wait_for_iteration(&mut child, at);
        child.kill().expect("kill -9");
        child.wait().unwrap();
        let id = session_for(&fx, &out);
        let dir = sessions_dir(&fx).join(&id);
        // The workspace loads and the session shows as interrupted (or done if it beat the kill).
        let list = fx.run(&["sessions", "list"]);
        assert_eq!(list.code, Some(0), "{list}");
        assert!(list.stdout.contains(&id), "{list}");
        if fx.join(&out).exists() && list.stdout.lines().any(|l| l.contains(&id) && l.contains(" done ")) {
            eprintln!("killed after iteration {seen}: it had already finished");
            continue;
        }
        assert!(!fx.join(&out).exists() || image::open(fx.join(&out)).is_ok(), "a partial {out} was left");
        let before = loss_rows(&dir);
        let resumed = fx.run(&["sessions", "resume", &id, "--json"]);
        assert_eq!(resumed.code, Some(0), "killed after iteration {seen}: {resumed}");
        let events = resumed.events();
        let first = events.iter().find(|e| e["event"] == "progress").map(|e| e["iteration"].as_u64().unwrap());
        if let Some(first) = first {
            // It continued from a checkpoint at or after the last one certainly written.
            let last_written = (seen.saturating_sub(1) / 4) * 4;
            assert!(first > last_written.min(TOTAL - 1), "resumed at {first}, killed after {seen}");
            assert!(first <= before.len() as u64 + 1, "resumed at {first} but only {} rows were logged", before.len());
        }
        assert_eq!(events.last().unwrap()["event"], "done", "{resumed}");
        eprintln!("killed after iteration {seen}; {} rows logged; resumed at {first:?}", before.len());
        // The loss curve continues where it stopped: the same rows as the uninterrupted run.
        assert_eq!(loss_rows(&dir), ref_rows, "loss curve after a kill at iteration {seen}");
        assert_eq!(pixels(&fx.join(&out)), ref_pixels, "output after a kill at iteration {seen}");
        assert!(!dir.join("checkpoint").exists(), "checkpoint kept after done");
    }
    assert!(fx.hidden_files().iter().all(|f| !f.ends_with(".png")), "temp files: {:?}", fx.hidden_files());
}

#[test]
fn a_damaged_session_toml_fails_that_session_alone() {
    let fx = fixture("sessions-damaged");
    for out in ["a.png", "b.png"] {
        let mut args = run_args(out);
        args.extend(["--iterations".into(), "2".into()]);
        let r = fx.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(r.code, Some(0), "{r}");
    }
    let bad = session_for(&fx, "a.png");
    let good = session_for(&fx, "b.png");
    std::fs::write(sessions_dir(&fx).join(&bad).join("session.toml"), "status = \"running\"\nid = [").unwrap();
    let list = fx.run(&["sessions", "list", "--json"]);
    assert_eq!(list.code, Some(0), "{list}");
    let events = list.events();
    assert_eq!(events.len(), 2, "{list}");
    let bad_rec = events.iter().find(|e| e["record"]["id"] == bad.as_str()).expect("damaged session listed");
    assert_eq!(bad_rec["record"]["status"], "failed");
    let error = bad_rec["record"]["error"].as_str().unwrap();
    assert!(error.contains("session.toml") && error.contains(":2:"), "{error}");
    let good_rec = events.iter().find(|e| e["record"]["id"] == good.as_str()).expect("good session listed");
    assert_eq!(good_rec["record"]["status"], "done");
    // A scheduler starts on it too, and the damaged one can be removed.
    let rm = fx.run(&["sessions", "rm", &bad]);
    assert_eq!(rm.code, Some(0), "{rm}");
    assert!(!sessions_dir(&fx).join(&bad).exists());
    let show = fx.run(&["sessions", "show", &good]);
    assert_eq!(show.code, Some(0), "{show}");
    assert!(show.stdout.contains("done"), "{show}");
}

/// Starts `serve` and waits until it answers on its socket.
fn start_serve(fx: &Fixture, extra: &[&str]) -> Child {
    let mut args = vec!["serve".to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut child = fx
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let socket = workspace(fx).join("serve.sock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn show_json(fx: &Fixture, id: &str) -> Value {
    let r = fx.run(&["sessions", "show", id, "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    r.events().remove(0)["record"].clone()
}

fn wait_status(fx: &Fixture, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rec = show_json(fx, id);
        if rec["status"] == status {
            return rec;
        }
        assert!(Instant::now() < deadline, "{id} never became {status}: {rec}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm(child: &Child) {
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

#[test]
fn second_instance_and_socket_pause_resume_and_sigterm_checkpoint() {
    let fx = fixture("sessions-serve");
    let mut serve = start_serve(&fx, &[]);
    // A second owner is refused with one clear line.
    let second = fx.run(&["serve"]);
    assert_eq!(second.code, Some(2), "{second}");
    assert_eq!(second.stderr_lines().len(), 1, "{second}");
    assert!(second.stderr.contains("already owns"), "{second}");

    // `run` submits to the server and follows it.
    let mut args = run_args("served.png");
    args.extend(["--iterations".into(), "400".into()]);
    let mut follower = spawn(&fx, &args);
    wait_for_iteration(&mut follower, 3);
    let id = session_for(&fx, "served.png");
    let paused = fx.run(&["sessions", "pause", &id]);
    assert_eq!(paused.code, Some(0), "{paused}");
    let rec = wait_status(&fx, &id, "paused");
    let at = rec["progress"]["iteration"].as_u64().expect("progress saved with the checkpoint");
    assert!(sessions_dir(&fx).join(&id).join("checkpoint/state.safetensors").is_file());
    let resumed = fx.run(&["sessions", "resume", &id]);
    assert_eq!(resumed.code, Some(0), "{resumed}");
    wait_status(&fx, &id, "running");

    // SIGTERM: the running session checkpoints and is queued for the next start.
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&serve);
    let status = serve.wait().unwrap();
    assert!(status.success(), "serve exit: {status}");
    assert!(!workspace(&fx).join("serve.sock").exists(), "socket left behind");
    let rec = show_json(&fx, &id);
    assert_eq!(rec["status"], "queued", "{rec}");
    let after = rec["progress"]["iteration"].as_u64().unwrap();
    assert!(after >= at, "checkpoint went back: {after} < {at}");
    let _ = follower.kill();
    let _ = follower.wait();

    // The next server continues it from there to the end.
    let cancel_other = fx.run(&["sessions", "list", "--json"]);
    assert_eq!(cancel_other.code, Some(0));
    let mut serve = start_serve(&fx, &["--exit-when-idle"]);
    let status = serve.wait().unwrap();
    assert!(status.success());
    let rec = show_json(&fx, &id);
    assert_eq!(rec["status"], "done", "{rec}");
    let rows = loss_rows(&sessions_dir(&fx).join(&id));
    assert_eq!(rows.len(), 800, "one row per iteration across both restarts");
    assert!(rows.windows(2).all(|w| w[1].0 == w[0].0 + 1), "rows not consecutive");
    assert!(image::open(fx.join("served.png")).is_ok());
}

/// Polls `dir` until a file whose name starts with `prefix` appears (a temp file being written),
/// then kills the child at once. Returns whether the kill landed while that file existed.
fn kill_when_temp_appears(child: &mut Child, dir: &Path, prefix: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let writing = std::fs::read_dir(dir)
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix)))
            .unwrap_or(false);
        if writing || Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
            child.kill().ok();
            child.wait().ok();
            return writing;
        }
    }
}

#[test]
fn kill_9_while_a_checkpoint_or_the_output_is_being_written() {
    let fx = fixture("sessions-kill-write");
    let reference = fx.run(&run_args("ref.png").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(reference.code, Some(0), "{reference}");
    let ref_pixels = pixels(&fx.join("ref.png"));
    let sessions = sessions_dir(&fx);
    for (k, (what, prefix)) in
        [("checkpoint", ".state.safetensors.tmp"), ("output", ".out1.png.tmp")].iter().enumerate()
    {
        let out = format!("out{k}.png");
        let mut child = spawn(&fx, &run_args(&out));
        let id = {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(id) = std::fs::read_dir(&sessions).unwrap().flatten().find_map(|e| {
                    let t = std::fs::read_to_string(e.path().join("session.toml")).unwrap_or_default();
                    t.contains(&format!("/{out}\"")).then(|| e.file_name().to_string_lossy().into_owned())
                }) {
                    break id;
                }
                assert!(Instant::now() < deadline, "no session for {out}");
            }
        };
        let watch = if *what == "checkpoint" { sessions.join(&id).join("checkpoint") } else { fx.path().to_path_buf() };
        let caught = kill_when_temp_appears(&mut child, &watch, prefix);
        eprintln!("kill during the {what} write: caught the temp file: {caught}");
        // Whatever the kill interrupted, the workspace loads and the session finishes exactly.
        assert!(!fx.join(&out).exists() || pixels(&fx.join(&out)) == ref_pixels, "partial {out}");
        let list = fx.run(&["sessions", "list", "--json"]);
        assert_eq!(list.code, Some(0), "{list}");
        let resumed = fx.run(&["sessions", "resume", &id, "--json"]);
        if resumed.code != Some(0) {
            // Only acceptable when the kill came after the session had finished.
            assert!(resumed.stderr.contains("done"), "{resumed}");
        }
        assert_eq!(pixels(&fx.join(&out)), ref_pixels, "{what}: {resumed}");
    }
}

#[test]
fn sigterm_to_a_foreground_run_checkpoints_and_says_how_to_continue() {
    let fx = fixture("sessions-sigterm-run");
    let reference = fx.run(&run_args("ref.png").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(reference.code, Some(0), "{reference}");
    let mut child = spawn(&fx, &run_args("out.png"));
    let seen = wait_for_iteration(&mut child, 6);
    sigterm(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(130), "killed after {seen}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("brushwork sessions resume"), "{stderr}");
    let id = session_for(&fx, "out.png");
    assert_eq!(show_json(&fx, &id)["status"], "paused");
    assert!(!fx.join("out.png").exists());
    // Running the same command again continues the same session.
    let again = fx.run(&run_args("out.png").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(again.code, Some(0), "{again}");
    let first = again.events().into_iter().find(|e| e["event"] == "progress").unwrap();
    assert!(first["iteration"].as_u64().unwrap() > 1, "started over: {first}");
    assert_eq!(session_for(&fx, "out.png"), id);
    assert_eq!(pixels(&fx.join("out.png")), pixels(&fx.join("ref.png")));
}

#[test]
fn duplicate_with_changes_and_set_priority() {
    let fx = fixture("sessions-duplicate");
    let mut args = run_args("first.png");
    args.extend(["--iterations".into(), "2".into()]);
    let first = fx.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(first.code, Some(0), "{first}");
    let id = session_for(&fx, "first.png");
    let dup = fx.run(&["sessions", "duplicate", &id, "--iterations", "3", "--seed", "5", "-o", "second.png", "--json"]);
    assert_eq!(dup.code, Some(0), "{dup}");
    let done = dup.events().pop().unwrap();
    assert_eq!(done["event"], "done", "{dup}");
    assert_eq!(done["iterations"], 6, "2 scales x 3 iterations: {done}");
    let new = done["session"].as_str().unwrap().to_string();
    assert_ne!(new, id);
    let rec = show_json(&fx, &new);
    assert_eq!(rec["name"], "content copy");
    assert_eq!(rec["settings"]["seed"], 5);
    assert_eq!(rec["settings"]["checkpoint_every"], 4, "the rest of the settings are the old session's");
    assert!(fx.join("second.png").is_file());
    let p = fx.run(&["sessions", "priority", &new, "-3"]);
    assert_eq!(p.code, Some(0), "{p}");
    assert_eq!(show_json(&fx, &new)["priority"], -3);
    let bad = fx.run(&["sessions", "duplicate", "nosuch"]);
    assert_eq!(bad.code, Some(2), "{bad}");
    assert_eq!(bad.stderr_lines().len(), 1, "{bad}");
}

/// `brushwork` with no subcommand and no terminal (stdin null, stdout a pipe): one line on
/// stderr, a non-zero exit, and no escape codes anywhere.
#[test]
fn dashboard_without_a_terminal_says_so_in_one_line() {
    let fx = fixture("no-tty");
    let r = fx.run(&[]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stdout.is_empty(), "stdout: {:?}", r.stdout);
    assert_eq!(r.stderr_lines().len(), 1, "{r:?}");
    assert!(r.stderr.contains("needs a terminal"), "{r:?}");
    assert!(!r.stderr.contains('\x1b'), "escape codes: {:?}", r.stderr);
}
