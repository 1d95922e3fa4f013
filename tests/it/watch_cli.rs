//! `brushwork watch` end to end: the real binary on a tiny random VGG-16 and real filesystem
//! events. Copy in, move in, a slow write in chunks, an editor's temp-then-rename, a burst of 50,
//! a corrupt PNG, a text file named `.jpg`, a file deleted before it was processed, and a restart
//! with files added while brushwork was down: each file is processed exactly once, outputs are
//! present, errors are recorded, and the watcher keeps going.

use crate::cli_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli_support::{gradient, png_bytes, Fixture};
use serde_json::Value;

const PRESET: &str = "version = 1\nsize = 32\nscales = 1\niterations = 3\nstyle_weight = 1e-2\n";

/// Session records seen on the watcher's `--json` stream, latest per id.
type Seen = Arc<Mutex<HashMap<String, Value>>>;

struct Watcher {
    child: Child,
    seen: Seen,
    /// The messages of `log` events, in order.
    logs: Arc<Mutex<Vec<String>>>,
}

impl Watcher {
    fn start(fx: &Fixture) -> Watcher {
        let args = [
            "watch",
            "in",
            "--style",
            "style.png",
            "--weights",
            "tiny.safetensors",
            "--preset",
            "tiny.toml",
            "--out",
            "in/out",
            "--json",
        ];
        let mut child = fx.command(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn watch");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        // The first stderr line says it is watching.
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        assert!(first.starts_with("watching "), "{first}");
        std::thread::spawn(move || lines.for_each(drop));
        let seen: Seen = Arc::default();
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let (stdout, s, l) = (child.stdout.take().unwrap(), seen.clone(), logs.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                if v["event"] == "session" {
                    let id = v["record"]["id"].as_str().unwrap_or_default().to_string();
                    s.lock().unwrap().insert(id, v["record"].clone());
                } else if v["event"] == "log" {
                    l.lock().unwrap().push(v["message"].as_str().unwrap_or_default().to_string());
                }
            }
        });
        Watcher { child, seen, logs }
    }

    /// Waits until a `log` event contains every one of `needles`; returns it.
    fn wait_log(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = self.logs.lock().unwrap().clone();
            if let Some(line) = logs.iter().find(|l| needles.iter().all(|n| l.contains(n))) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no log line with {needles:?} in {logs:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every session seen is finished and `n` sessions exist.
    fn wait_finished(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let all: Vec<Value> = self.seen.lock().unwrap().values().cloned().collect();
            let finished = all.iter().filter(|r| r["status"] == "done" || r["status"] == "failed").count();
            if all.len() >= n && finished == all.len() {
                return all;
            }
            let mut names: Vec<String> = all.iter().map(content_name).collect();
            names.sort();
            assert!(Instant::now() < deadline, "{} of {n} sessions, {finished} finished: {names:?}", all.len());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "watch exit: {status}");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // A failed test must not leave the watcher running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn image(seed: u32) -> Vec<u8> {
    let mut img = gradient(24, 20);
    img.put_pixel(seed % 24, (seed / 24) % 20, image::Rgb([(seed * 37 % 256) as u8, 1, 2]));
    img.put_pixel(0, 0, image::Rgb([(seed % 251) as u8, (seed / 251) as u8, 7]));
    png_bytes(&img)
}

fn content_name(r: &Value) -> String {
    Path::new(r["content"].as_str().unwrap()).file_name().unwrap().to_string_lossy().into_owned()
}

fn outputs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn each_file_exactly_once_through_every_way_in_and_a_restart() {
    let fx = Fixture::new("watch-cli");
    std::fs::write(fx.join("tiny.toml"), PRESET).unwrap();
    let inbox = fx.join("in");
    let elsewhere = fx.join("staging");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    // Present before the watcher starts: picked up by the start-up scan.
    std::fs::write(inbox.join("early.png"), image(1)).unwrap();
    let w = Watcher::start(&fx);

    // Copy in, move in, editor-style temp then rename.
    std::fs::write(elsewhere.join("copied.png"), image(2)).unwrap();
    std::fs::copy(elsewhere.join("copied.png"), inbox.join("copied.png")).unwrap();
    std::fs::write(elsewhere.join("moved.png"), image(3)).unwrap();
    std::fs::rename(elsewhere.join("moved.png"), inbox.join("moved.png")).unwrap();
    std::fs::write(inbox.join(".edited.png.swp"), image(4)).unwrap();
    std::fs::rename(inbox.join(".edited.png.swp"), inbox.join("edited.png")).unwrap();
    // A slow write in four chunks, with pauses longer than the settle time.
    let bytes = image(5);
    let mut slow = std::fs::File::create(inbox.join("slow.png")).unwrap();
    for chunk in bytes.chunks(bytes.len().div_ceil(4)) {
        slow.write_all(chunk).unwrap();
        slow.flush().unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    drop(slow);
    // A corrupt PNG, a text file named .jpg, and a file deleted before it settled.
    std::fs::write(inbox.join("corrupt.png"), &image(6)[..60]).unwrap();
    std::fs::write(inbox.join("notes.jpg"), "this is not a picture\n").unwrap();
    std::fs::write(inbox.join("gone.png"), image(7)).unwrap();
    std::fs::remove_file(inbox.join("gone.png")).unwrap();
    // A burst of 50.
    for k in 0..50 {
        std::fs::write(elsewhere.join(format!("burst{k:02}.png")), image(100 + k)).unwrap();
    }
    for k in 0..50 {
        std::fs::rename(elsewhere.join(format!("burst{k:02}.png")), inbox.join(format!("burst{k:02}.png"))).unwrap();
    }
    let all = w.wait_finished(5 + 2 + 50);
    std::thread::sleep(Duration::from_secs(2)); // nothing more may arrive
    let all_after: Vec<Value> = w.seen.lock().unwrap().values().cloned().collect();
    assert_eq!(all_after.len(), all.len(), "late duplicates");

    let mut by_name: HashMap<String, Vec<&Value>> = HashMap::new();
    for r in &all {
        by_name.entry(content_name(r)).or_default().push(r);
    }
    for (name, sessions) in &by_name {
        assert_eq!(sessions.len(), 1, "{name} processed {} times", sessions.len());
    }
    assert!(!by_name.contains_key("gone.png") && !by_name.contains_key(".edited.png.swp"), "{:?}", by_name.keys());
    for name in ["corrupt.png", "notes.jpg"] {
        let r = by_name[name][0];
        assert_eq!(r["status"], "failed", "{r}");
        let error = r["error"].as_str().unwrap();
        assert!(error.contains(name), "error does not name the file: {error}");
    }
    let mut expected: Vec<String> =
        ["early", "copied", "moved", "edited", "slow"].iter().map(|s| format!("{s}.tiny.png")).collect();
    expected.extend((0..50).map(|k| format!("burst{k:02}.tiny.png")));
    expected.sort();
    assert_eq!(outputs(&inbox.join("out")), expected);
    w.stop();

    // Down: a new file arrives, and an old one is copied in again under another name.
    std::fs::write(inbox.join("while-down.png"), image(8)).unwrap();
    std::fs::copy(inbox.join("copied.png"), inbox.join("copied-again.png")).unwrap();
    let w = Watcher::start(&fx);
    let again = w.wait_finished(1);
    std::thread::sleep(Duration::from_secs(2));
    let again: Vec<Value> = if again.len() == 1 { w.seen.lock().unwrap().values().cloned().collect() } else { again };
    assert_eq!(again.len(), 1, "only the new file is new work: {again:#?}");
    assert_eq!(content_name(&again[0]), "while-down.png");
    assert_eq!(again[0]["status"], "done");
    assert!(inbox.join("out/while-down.tiny.png").is_file());
    // The duplicate is skipped, and said so; the files seen before are skipped quietly.
    w.wait_log(&["skipped", "copied-again.png", "same content as", "copied.png"]);
    assert_eq!(w.logs.lock().unwrap().iter().filter(|l| l.contains("skipped")).count(), 1);
    w.stop();
    // The ledger on disk lists every handled file once.
    let ledger = std::fs::read_to_string(fx.join("home/.local/share/brushwork/watch-ledger.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), 5 + 2 + 50 + 1, "{ledger}");
}

#[test]
fn an_existing_output_is_never_overwritten() {
    let fx = Fixture::new("watch-cli-names");
    std::fs::write(fx.join("tiny.toml"), PRESET).unwrap();
    let inbox = fx.join("in");
    std::fs::create_dir_all(inbox.join("out")).unwrap();
    std::fs::write(inbox.join("out/photo.tiny.png"), b"the user's own file").unwrap();
    std::fs::write(inbox.join("photo.png"), image(9)).unwrap();
    std::fs::write(inbox.join("photo.jpg"), {
        let img = gradient(20, 16);
        let mut buf = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut buf), image::ImageFormat::Jpeg)
            .unwrap();
        buf
    })
    .unwrap();
    let w = Watcher::start(&fx);
    w.wait_finished(2);
    w.stop();
    assert_eq!(std::fs::read(inbox.join("out/photo.tiny.png")).unwrap(), b"the user's own file");
    let names: Vec<PathBuf> = outputs(&inbox.join("out")).into_iter().map(PathBuf::from).collect();
    assert_eq!(
        names,
        vec![PathBuf::from("photo.tiny-2.png"), PathBuf::from("photo.tiny-3.png"), PathBuf::from("photo.tiny.png")]
    );
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.is_file() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_serve(fx: &Fixture) -> Serve {
    let child = fx.command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn serve");
    let socket = fx.join("home/.local/share/brushwork/serve.sock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Serve(child)
}

/// Kills `serve` when a test fails half-way.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sigterm_and_wait(serve: &mut Serve) {
    std::process::Command::new("kill").args(["-TERM", &serve.0.id().to_string()]).status().unwrap();
    assert!(serve.0.wait().unwrap().success());
}

#[test]
fn with_a_serve_the_watch_runs_there_survives_restarts_and_stops_on_request() {
    let fx = Fixture::new("watch-cli-serve");
    std::fs::write(fx.join("tiny.toml"), PRESET).unwrap();
    let inbox = fx.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut serve = start_serve(&fx);
    let w = Watcher::start(&fx);
    // The client goes away; the watch stays in serve.
    w.stop();
    std::fs::write(inbox.join("one.png"), image(11)).unwrap();
    wait_for_file(&inbox.join("out/one.tiny.png"));
    // Saved in the workspace: a restarted serve watches again, and picks up what came meanwhile.
    sigterm_and_wait(&mut serve);
    std::fs::write(inbox.join("two.png"), image(12)).unwrap();
    let mut serve = start_serve(&fx);
    wait_for_file(&inbox.join("out/two.tiny.png"));
    let stop = fx.run(&["watch", "in", "--stop"]);
    assert_eq!(stop.code, Some(0), "{stop}");
    std::fs::write(inbox.join("three.png"), image(13)).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(!inbox.join("out/three.tiny.png").exists(), "still watched after --stop");
    sigterm_and_wait(&mut serve);
    let list = fx.run(&["sessions", "list", "--json"]);
    assert_eq!(list.events().len(), 2, "{list}");
}

#[test]
fn bad_watch_requests_fail_with_one_line() {
    let fx = Fixture::new("watch-cli-bad");
    std::fs::write(fx.join("tiny.toml"), PRESET).unwrap();
    std::fs::write(fx.join("afile.png"), image(1)).unwrap();
    std::fs::create_dir_all(fx.join("in/sub")).unwrap();
    for (args, needle) in [
        (vec!["watch", "nothere", "--style", "style.png"], "nothere: not a folder"),
        (vec!["watch", "afile.png", "--style", "style.png"], "afile.png: not a folder"),
        (vec!["watch", ".", "--style", "missing.png"], "missing.png"),
        (vec!["watch", ".", "--stop"], "no `brushwork serve`"),
        (vec!["watch", "in", "--style", "style.png", "--out", "in"], "is the watched folder itself"),
        (vec!["watch", "in/sub", "--style", "style.png", "--out", "./in"], "holds the watched folder"),
    ] {
        let r = fx.run(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {r}");
        assert_eq!(r.stderr_lines().len(), 1, "{args:?}: {r}");
        assert!(r.stderr.contains(needle), "{args:?}: {r}");
    }
}

/// A link to a file outside the watched folder (as `/etc/shadow` would be) is never read, a link
/// inside it is; a deleted watched folder is said, not silence.
#[cfg(unix)]
#[test]
fn links_out_of_the_folder_are_not_followed_and_a_deleted_folder_is_said() {
    let fx = Fixture::new("watch-cli-links");
    std::fs::write(fx.join("tiny.toml"), PRESET).unwrap();
    let inbox = fx.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let private = fx.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("secret.png"), image(21)).unwrap();
    std::fs::write(inbox.join("real.png"), image(22)).unwrap();
    // Before the start (found by the scan) and after it (found by events).
    std::os::unix::fs::symlink(private.join("secret.png"), inbox.join("early-link.png")).unwrap();
    let w = Watcher::start(&fx);
    std::os::unix::fs::symlink(private.join("secret.png"), inbox.join("late-link.png")).unwrap();
    std::fs::create_dir_all(inbox.join(".stash")).unwrap();
    std::fs::write(inbox.join(".stash/kept.png"), image(23)).unwrap();
    std::os::unix::fs::symlink(".stash/kept.png", inbox.join("inside-link.png")).unwrap();
    w.wait_log(&["early-link.png", "leads outside the watched folder"]);
    w.wait_log(&["late-link.png", "leads outside the watched folder"]);
    let all = w.wait_finished(2);
    std::thread::sleep(Duration::from_secs(2));
    let names: Vec<String> = w.seen.lock().unwrap().values().map(content_name).collect();
    assert_eq!(all.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n == "real.png" || n == "inside-link.png"), "{names:?}");
    assert!(!inbox.join("out/early-link.tiny.png").exists() && !inbox.join("out/late-link.tiny.png").exists());
    // The watched folder goes away: the user is told.
    std::fs::remove_dir_all(&inbox).unwrap();
    w.wait_log(&["the watched folder is gone"]);
    w.stop();
}
