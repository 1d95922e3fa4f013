//! Issue #14, the server side: what `serve` and the sessions refuse, and how they survive bad
//! clients, impossible jobs, crashes and full disks. The real binary on a tiny random VGG-16.

use crate::cli_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use brushwork::engine::settings::StyleRef;
use brushwork::engine::Settings;
use brushwork::session::{Job, Kind, SessionSpec};
use cli_support::Fixture;
use serde_json::Value;

fn workspace(fx: &Fixture) -> PathBuf {
    fx.join("home/.local/share/brushwork")
}

fn socket(fx: &Fixture) -> PathBuf {
    workspace(fx).join("serve.sock")
}

/// Starts `serve` (with `umask` set in the child first, when given) and waits until it answers.
fn start_serve_with(fx: &Fixture, extra: &[&str], umask: Option<u32>) -> Child {
    let mut args = vec!["serve"];
    args.extend_from_slice(extra);
    let mut cmd = fx.command(&args);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(mask) = umask {
        // SAFETY: umask is async-signal-safe and cannot fail.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(mask as libc::mode_t);
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while UnixStream::connect(socket(fx)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn start_serve(fx: &Fixture, extra: &[&str]) -> Child {
    start_serve_with(fx, extra, None)
}

fn stop(mut child: Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// One request line on a fresh connection, and the reply line.
fn raw_request(fx: &Fixture, line: &str) -> Value {
    let mut s = UnixStream::connect(socket(fx)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    writeln!(s, "{line}").expect("send");
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).expect("reply");
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("bad reply ({e}): {reply}"))
}

/// A spec for the fixture's files, as `run` would submit it.
fn spec(fx: &Fixture, settings: Settings) -> SessionSpec {
    SessionSpec {
        name: None,
        job: Job {
            kind: Kind::Image,
            content: fx.join("content.png"),
            export: Some(fx.join("out.png")),
            weights: Some(fx.join("tiny.safetensors")),
            device: "cpu".into(),
            preset: "quick".into(),
            priority: 0,
            settings,
        },
    }
}

fn submit_line(spec: &SessionSpec) -> String {
    serde_json::json!({"cmd": "submit", "spec": spec}).to_string()
}

fn small_settings(fx: &Fixture) -> Settings {
    Settings {
        size: 40,
        iterations: 3,
        styles: vec![StyleRef { path: fx.join("style.png"), weight: 1.0 }],
        ..Settings::default()
    }
}

fn session_count(fx: &Fixture) -> usize {
    std::fs::read_dir(workspace(fx).join("sessions")).map(|d| d.flatten().count()).unwrap_or(0)
}

/// The message after `brushwork: ` on the CLI's one stderr line.
fn cli_message(r: &cli_support::Run) -> String {
    assert_eq!(r.code, Some(2), "{r}");
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 1, "{r}");
    lines[0].strip_prefix("brushwork: ").unwrap_or(lines[0]).to_string()
}

#[test]
fn a_bad_spec_over_the_socket_is_refused_with_the_clis_message() {
    let fx = Fixture::new("harden-spec");
    let base = ["run", "content.png", "--weights", "tiny.safetensors", "-o", "out.png"];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        fx.run(&a)
    };
    let serve = start_serve(&fx, &[]);
    let good = small_settings(&fx);
    let cases: Vec<(&str, Settings, cli_support::Run)> = vec![
        ("size 0", Settings { size: 0, ..good.clone() }, with(&["--style", "style.png", "--size", "0"])),
        (
            "negative content weight",
            Settings { content_weight: -1.0, ..good.clone() },
            with(&["--style", "style.png", "--content-weight=-1"]),
        ),
        ("no style", Settings { styles: Vec::new(), ..good.clone() }, with(&[])),
        (
            "negative style weight",
            // As the flag names it (the CLI refuses it before paths are made absolute).
            Settings { styles: vec![StyleRef { path: "style.png".into(), weight: -1.0 }], ..good.clone() },
            with(&["--style", "style.png:-1"]),
        ),
    ];
    for (what, settings, cli) in cases {
        // The same check and the same problem; the CLI names the flag the user typed (`--size 0:
        // must be positive`), the socket the spec's field (`field `size` must be positive`).
        let expected = cli_message(&cli);
        let problem = expected.rsplit_once(": ").map_or(expected.as_str(), |(_, p)| p);
        let reply = raw_request(&fx, &submit_line(&spec(&fx, settings)));
        assert_eq!(reply["reply"], "error", "{what}: {reply}");
        assert_eq!(reply["exit_code"], 2, "{what}: {reply}");
        let message = reply["message"].as_str().unwrap();
        assert!(!message.contains("--"), "{what}: the socket names a flag no one typed: `{message}`");
        if what == "no style" {
            // The CLI says which flag to pass; the socket, which has no flags, which field is empty.
            assert_eq!(message, "no style image: `styles` is empty");
            assert!(expected.starts_with("no style image: pass --style FILE"), "{expected}");
            continue;
        }
        assert!(message.ends_with(problem), "{what}: the socket says `{message}`, the CLI `{expected}`");
    }
    // Empty layer tables: the CLI refuses such a preset file (its message names the file).
    std::fs::write(fx.join("nolayers.toml"), "version = 1\ncontent_layers = {}\nstyle_layers = {}\n").unwrap();
    let cli = cli_message(&with(&["--style", "style.png", "--preset", "nolayers.toml"]));
    let settings = Settings { content_layers: Default::default(), style_layers: Default::default(), ..good };
    let reply = raw_request(&fx, &submit_line(&spec(&fx, settings)));
    assert_eq!(reply["reply"], "error", "{reply}");
    let message = reply["message"].as_str().unwrap();
    assert_eq!(cli, format!("nolayers.toml: {message}"));
    assert_eq!(session_count(&fx), 0, "a refused spec made a session");
    stop(serve);
}

#[test]
fn the_socket_is_owner_only_even_under_umask_000() {
    let fx = Fixture::new("harden-mode");
    let serve = start_serve_with(&fx, &[], Some(0));
    let meta = std::fs::metadata(socket(&fx)).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "socket mode {:o}", meta.permissions().mode());
    // Files the server makes under that umask are not affected by how the socket was made.
    assert!(fx.run(&["sessions", "list"]).code == Some(0));
    let leftovers: Vec<_> = std::fs::read_dir(workspace(&fx))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".serve-sock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    stop(serve);
}

#[test]
fn a_connection_from_another_user_is_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: connecting as another user needs root (setuid)");
        return;
    }
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("skipped: no setpriv to run a client as another user");
        return;
    };
    let fx = Fixture::new("harden-peer");
    let serve = start_serve(&fx, &[]);
    // Open the file mode as a careless admin might: the uid check must still refuse.
    std::fs::set_permissions(socket(&fx), std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut cmd = std::process::Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_brushwork"))
        .args(["--workspace"])
        .arg(workspace(&fx))
        .args(["sessions", "list"])
        .current_dir(fx.path())
        .env("HOME", fx.join("home"))
        .env_remove("BRUSHWORK_WORKSPACE")
        .stdin(Stdio::null());
    let r = cli_support::Run::of(cmd);
    assert_eq!(r.code, Some(2), "{r}");
    assert_eq!(r.stderr_lines().len(), 1, "{r}");
    assert!(r.stderr.contains("refused") && r.stderr.contains("uid 65534"), "{r}");
    // The owner is still served.
    let mine = fx.run(&["sessions", "list"]);
    assert_eq!(mine.code, Some(0), "{mine}");
    stop(serve);
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin"), PathBuf::from("/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

#[test]
fn a_5_mb_request_line_is_refused_and_the_server_carries_on() {
    let fx = Fixture::new("harden-line");
    let serve = start_serve(&fx, &[]);
    let s = UnixStream::connect(socket(&fx)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut writer = s.try_clone().unwrap();
    // The server stops reading at its bound, so the rest of this write may fail: that is fine.
    let sender = std::thread::spawn(move || {
        let mut line = vec![b'x'; 5 << 20];
        line.push(b'\n');
        let _ = writer.write_all(&line);
    });
    let mut reader = BufReader::new(s);
    let mut reply = String::new();
    reader.read_line(&mut reply).expect("a reply");
    let reply: Value = serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
    assert_eq!(reply["reply"], "error", "{reply}");
    assert_eq!(reply["exit_code"], 2);
    assert!(reply["message"].as_str().unwrap().contains("longer than 1 MiB"), "{reply}");
    // Then the connection is closed, not read on.
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).unwrap_or(0), 0, "more after the refusal: {rest}");
    sender.join().unwrap();
    let list = fx.run(&["sessions", "list"]);
    assert_eq!(list.code, Some(0), "{list}");
    stop(serve);
}

/// A line that arrived on `s` within `wait`, if any ("" on end of file).
fn try_line(s: &UnixStream, wait: Duration) -> Option<String> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut line = String::new();
    match BufReader::new(s).read_line(&mut line) {
        Ok(_) => Some(line),
        Err(_) => None,
    }
}

#[test]
fn a_hundred_idle_connections_do_not_lock_out_a_normal_request() {
    let fx = Fixture::new("harden-idle");
    let serve = start_serve(&fx, &[]);
    let held: Vec<UnixStream> = (0..100).map(|_| UnixStream::connect(socket(&fx)).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(500));
    let list = fx.run(&["sessions", "list"]);
    assert_eq!(list.code, Some(0), "{list}");
    // The oldest idle ones made room (closed: end of file), none was refused, the newest are open.
    let closed = held.iter().filter(|s| try_line(s, Duration::from_millis(50)).as_deref() == Some("")).count();
    assert!(closed >= 36, "only {closed} of 100 idle connections were closed");
    assert_eq!(try_line(held.last().unwrap(), Duration::from_millis(50)), None, "the newest was closed");
    drop(held);

    // Connections that are busy (event streams) are never closed for room: the next is refused.
    let streams: Vec<UnixStream> = (0..64)
        .map(|_| {
            let mut s = UnixStream::connect(socket(&fx)).expect("connect");
            writeln!(s, r#"{{"cmd":"subscribe"}}"#).unwrap();
            assert_eq!(try_line(&s, Duration::from_secs(10)).as_deref(), Some("{\"reply\":\"ok\"}\n"));
            s
        })
        .collect();
    let extra = UnixStream::connect(socket(&fx)).expect("connect");
    let refusal = try_line(&extra, Duration::from_secs(10)).expect("a refusal line");
    let refusal: Value = serde_json::from_str(&refusal).unwrap_or_else(|e| panic!("{e}: {refusal}"));
    assert!(refusal["message"].as_str().unwrap().contains("64 connections are open"), "{refusal}");
    let busy = fx.run(&["sessions", "list"]);
    assert_eq!(busy.code, Some(2), "{busy}");
    assert_eq!(busy.stderr_lines().len(), 1, "{busy}");
    // Closing them frees their places (the server notices within a second or two).
    drop(streams);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = fx.run(&["sessions", "list"]);
        if r.code == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "places never freed: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    stop(serve);
}

/// CPU seconds (user + system) `pid` has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn out_of_file_descriptors_serve_neither_spins_nor_dies() {
    let fx = Fixture::new("harden-emfile");
    let mut cmd = fx.command(&["serve"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 40, rlim_max: 40 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut serve = cmd.spawn().expect("spawn serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while UnixStream::connect(socket(&fx)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Far more connections than it has descriptors for: accept fails with EMFILE.
    let held: Vec<UnixStream> = (0..100).filter_map(|_| UnixStream::connect(socket(&fx)).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(serve.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(serve.id()) - before;
    assert!(used < 0.5, "serve used {used:.2} s of CPU in 2 s: a busy loop");
    assert!(serve.try_wait().unwrap().is_none(), "serve died");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = fx.run(&["sessions", "list"]);
        if r.code == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "serve no longer answers: {r}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(held);
    stop(serve);
}

/// A preset that checkpoints every 4 iterations, two scales at 40 and 80 px.
const CK_PRESET: &str = "version = 1\nsize = 80\nscales = 2\niterations = 30\noptimizer = \"lbfgs\"\nstyle_weight = 1e-2\ncheckpoint_every = 4\ncheckpoint_seconds = 0.0\n";

fn ck_fixture(tag: &str) -> Fixture {
    let fx = Fixture::new(tag);
    std::fs::write(fx.join("ck.toml"), CK_PRESET).unwrap();
    fx
}

fn ck_run(out: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> =
        ["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors", "--preset", "ck.toml"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    a.extend(["-o".to_string(), out.to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run_strs(fx: &Fixture, args: &[String]) -> cli_support::Run {
    fx.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn spawn_args(fx: &Fixture, args: &[String]) -> Child {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    fx.command(&refs).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn brushwork")
}

fn show(fx: &Fixture, id: &str) -> Value {
    let r = fx.run(&["sessions", "show", id, "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    r.events().remove(0)["record"].clone()
}

fn wait_until(fx: &Fixture, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // A session folder can be seen a moment before its server lists it.
        let r = fx.run(&["sessions", "show", id, "--json"]);
        let rec = if r.code == Some(0) { r.events().remove(0)["record"].clone() } else { Value::Null };
        if ok(&rec) {
            return rec;
        }
        assert!(Instant::now() < deadline, "{id} never {what}: {rec} {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ids of the sessions in the workspace, oldest first.
fn ids(fx: &Fixture) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(workspace(fx).join("sessions"))
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn a_huge_style_scale_is_refused_before_work_here_and_over_the_socket() {
    let fx = ck_fixture("harden-memory");
    // In the foreground: one line, exit 2, no session made.
    let here = run_strs(&fx, &ck_run("huge.png", &["--style-scale", "1000"]));
    let message = cli_message(&here);
    assert!(message.contains("--style-scale 1000") && message.contains("the budget is"), "{here}");
    assert_eq!(session_count(&fx), 0);

    // Under serve, beside a healthy session that must finish.
    let serve = start_serve(&fx, &[]);
    let healthy = spawn_args(&fx, &ck_run("healthy.png", &["--iterations", "40", "--json"]));
    let over = run_strs(&fx, &ck_run("huge.png", &["--style-scale", "1000"]));
    // The same line (the memory available moves a little between runs).
    let need = |m: &str| m.split(';').next().unwrap_or_default().to_string();
    assert_eq!(need(&cli_message(&over)), need(&message));
    let mut settings = small_settings(&fx);
    settings.style_scale = 1000.0;
    let reply = raw_request(&fx, &submit_line(&spec(&fx, settings)));
    assert_eq!(reply["reply"], "error", "{reply}");
    assert_eq!(reply["exit_code"], 2, "{reply}");
    // The socket names the spec's field; the CLI, the flag.
    assert!(reply["message"].as_str().unwrap().contains("(`style_scale` 1000)"), "{reply}");
    let out = healthy.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(fx.join("healthy.png").is_file());
    assert_eq!(ids(&fx).len(), 1, "only the healthy session exists: {:?}", ids(&fx));

    // A queued session that no longer fits is refused when a worker starts it.
    let id = ids(&fx).remove(0);
    stop(serve);
    let toml_path = workspace(&fx).join("sessions").join(&id).join("session.toml");
    let text = std::fs::read_to_string(&toml_path).unwrap();
    let text =
        text.replace("status = \"done\"", "status = \"queued\"").replace("style_scale = 1.0", "style_scale = 1000.0");
    assert!(text.contains("style_scale = 1000.0"), "{text}");
    std::fs::write(&toml_path, text).unwrap();
    let mut serve = start_serve(&fx, &["--exit-when-idle"]);
    assert!(serve.wait().unwrap().success());
    let rec = show(&fx, &id);
    assert_eq!(rec["status"], "failed", "{rec}");
    // The record, which the dashboard shows, names the field.
    assert!(rec["error"].as_str().unwrap().contains("(`style_scale` 1000)"), "{rec}");
}

#[test]
fn a_session_whose_process_died_twice_is_failed_not_resumed_forever() {
    let fx = ck_fixture("harden-crashes");
    let mut serve = start_serve(&fx, &[]);
    let follower = spawn_args(&fx, &ck_run("loop.png", &["--iterations", "100000", "--json"]));
    let id = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(id) = ids(&fx).pop() {
                break id;
            }
            assert!(Instant::now() < deadline, "no session");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for round in 1..=2 {
        let rec =
            wait_until(&fx, &id, "ran", |r| r["status"] == "running" && r["unfinished_starts"].as_u64() == Some(round));
        assert_eq!(rec["unfinished_starts"], round);
        serve.kill().unwrap(); // kill -9: the process dies while it runs the session
        serve.wait().unwrap();
        serve = start_serve(&fx, &[]);
    }
    let rec = wait_until(&fx, &id, "failed", |r| r["status"] == "failed");
    let error = rec["error"].as_str().unwrap();
    assert!(error.contains("died 2 times") && error.contains("sessions retry"), "{error}");
    // retry runs it again (and the count starts over).
    let retried = fx.run(&["sessions", "retry", &id]);
    assert_eq!(retried.code, Some(0), "{retried}");
    wait_until(&fx, &id, "ran again", |r| r["status"] == "running");
    let cancel = fx.run(&["sessions", "cancel", &id]);
    assert_eq!(cancel.code, Some(0), "{cancel}");
    let mut follower = follower;
    let _ = follower.kill();
    let _ = follower.wait();
    stop(serve);
}

/// A small tmpfs mounted at `dir` for the life of the value (root only; `None` where mount is
/// not permitted).
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Writes into `path` until the file system is full.
fn fill(path: &std::path::Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let mut byte = [0u8; 1];
    while f.write_all(&byte).is_ok() {
        byte[0] = 1;
    }
    let _ = f.sync_all();
}

/// `losses.csv` as (iteration, loss text) rows.
fn loss_rows(dir: &std::path::Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(dir.join("losses.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[2].to_string())
        })
        .collect()
}

fn pixels(path: &std::path::Path) -> Vec<u8> {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8().into_raw()
}

/// A child whose stdout lines are collected as they come.
struct Follower {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Follower {
    fn spawn(fx: &Fixture, args: &[String]) -> Follower {
        let mut child = spawn_args(fx, args);
        let stdout = child.stdout.take().expect("stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Follower { child, lines }
    }

    /// Waits for a progress event at or past `at`.
    fn wait_for_iteration(&self, at: u64) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let seen = self.lines.lock().unwrap().iter().any(|l| {
                let v: Value = serde_json::from_str(l).unwrap_or(Value::Null);
                v["event"] == "progress" && v["iteration"].as_u64().unwrap_or(0) >= at
            });
            if seen {
                return;
            }
            assert!(Instant::now() < deadline, "no progress to {at}: {:?}", self.lines.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit code and the last stdout line, once it exits (within `limit`, or the test fails).
    fn wait_exit(mut self, limit: Duration) -> (Option<i32>, Value, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the client never exited");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
        }
        std::thread::sleep(Duration::from_millis(100));
        let last = self.lines.lock().unwrap().last().cloned().unwrap_or_default();
        (status.code(), serde_json::from_str(&last).unwrap_or(Value::Null), stderr)
    }
}

#[test]
fn a_full_disk_interrupts_the_session_keeps_its_checkpoint_and_resume_finishes_it_exactly() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let fx = ck_fixture("harden-disk");
    let Some(disk) = Tmpfs::mount(fx.join("disk"), "16m") else {
        eprintln!("skipped: mount -t tmpfs is not permitted here");
        return;
    };
    let ws = disk.dir.join("ws");
    let ws_arg = ws.to_string_lossy().into_owned();
    let with_ws = |args: Vec<String>| {
        let mut a = vec!["--workspace".to_string(), ws_arg.clone()];
        a.extend(args);
        a
    };
    // The uninterrupted reference, on the same disk.
    let reference = run_strs(&fx, &with_ws(ck_run("ref.png", &["--json"])));
    assert_eq!(reference.code, Some(0), "{reference}");
    let ref_id = ids_in(&ws).pop().unwrap();
    let ref_rows = loss_rows(&ws.join("sessions").join(&ref_id));
    let ref_pixels = pixels(&fx.join("ref.png"));

    // Under serve: `run` follows the session; the disk fills after a checkpoint.
    let serve = start_serve_ws(&fx, &ws);
    let follower = Follower::spawn(&fx, &with_ws(ck_run("out.png", &["--json"])));
    follower.wait_for_iteration(10);
    let id = ids_in(&ws).pop().unwrap();
    assert_ne!(id, ref_id);
    fill(&disk.dir.join("filler"));
    // The follower hears of it and exits with the error.
    let (code, last, stderr) = follower.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(1), "{last} {stderr}");
    assert_eq!(last["event"], "error", "{last}");
    assert!(last["message"].as_str().unwrap().contains("No space left"), "{last}");
    let rec = show_ws(&fx, &ws_arg, &id);
    assert_eq!(rec["status"], "interrupted", "{rec}");
    assert!(rec["error"].as_str().unwrap().contains("No space left"), "{rec}");
    let checkpoint = ws.join("sessions").join(&id).join("checkpoint/state.safetensors");
    assert!(checkpoint.is_file(), "the last good checkpoint is gone");
    // Space freed: the worker is free, the session pauses and resumes to the very same end.
    std::fs::remove_file(disk.dir.join("filler")).unwrap();
    let r = fx.run(&["--workspace", &ws_arg, "sessions", "pause", &id]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(show_ws(&fx, &ws_arg, &id)["status"], "paused");
    let r = fx.run(&["--workspace", &ws_arg, "sessions", "resume", &id]);
    assert_eq!(r.code, Some(0), "{r}");
    let rec = wait_until_ws(&fx, &ws_arg, &id, |r| r["status"] == "done");
    assert_eq!(rec["progress"]["iteration"], 60, "{rec}");
    assert_eq!(loss_rows(&ws.join("sessions").join(&id)), ref_rows, "the loss curve differs from the reference");
    assert_eq!(pixels(&fx.join("out.png")), ref_pixels);
    stop(serve);

    // In the foreground: the same, and `retry` continues from the checkpoint too.
    let child = Follower::spawn(&fx, &with_ws(ck_run("fg.png", &["--json"])));
    child.wait_for_iteration(10);
    let fg = ids_in(&ws).pop().unwrap();
    fill(&disk.dir.join("filler"));
    let (code, last, stderr) = child.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(1), "{last} {stderr}");
    let rec = show_ws(&fx, &ws_arg, &fg);
    assert_eq!(rec["status"], "interrupted", "{rec}");
    let at = rec["progress"]["iteration"].as_u64().unwrap();
    std::fs::remove_file(disk.dir.join("filler")).unwrap();
    let r = fx.run(&["--workspace", &ws_arg, "sessions", "retry", &fg, "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(ws.join("sessions").join(&fg).join("checkpoint/state.safetensors").is_file(), "retry dropped it");
    let r = fx.run(&["--workspace", &ws_arg, "sessions", "resume", &fg, "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    let first = r.events().into_iter().find(|e| e["event"] == "progress").unwrap();
    assert_eq!(first["iteration"].as_u64().unwrap(), at + 1, "did not continue from the checkpoint");
    assert_eq!(loss_rows(&ws.join("sessions").join(&fg)), ref_rows);
    assert_eq!(pixels(&fx.join("fg.png")), ref_pixels);
}

fn ids_in(ws: &std::path::Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(ws.join("sessions"))
        .map(|d| {
            d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn start_serve_ws(fx: &Fixture, ws: &std::path::Path) -> Child {
    let mut child = fx
        .command(&["--workspace", &ws.to_string_lossy(), "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    while UnixStream::connect(ws.join("serve.sock")).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn show_ws(fx: &Fixture, ws: &str, id: &str) -> Value {
    let r = fx.run(&["--workspace", ws, "sessions", "show", id, "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    r.events().remove(0)["record"].clone()
}

fn wait_until_ws(fx: &Fixture, ws: &str, id: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let rec = show_ws(fx, ws, id);
        if ok(&rec) {
            return rec;
        }
        assert!(Instant::now() < deadline, "{id}: {rec}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a foreground run after a checkpoint (SIGTERM: checkpoint and exit 130).
fn paused_run(fx: &Fixture, out: &str) -> String {
    let child = Follower::spawn(fx, &ck_run(out, &["--json"]));
    child.wait_for_iteration(6);
    let _ = std::process::Command::new("kill").args(["-TERM", &child.child.id().to_string()]).status();
    let (code, _, stderr) = child.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    ids(fx).pop().unwrap()
}

fn rewrite_checkpoint(fx: &Fixture, id: &str, change: impl Fn(&mut brushwork::engine::ResumeState)) {
    let path = workspace(fx).join("sessions").join(id).join("checkpoint/state.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let mut state = brushwork::engine::ResumeState::from_bytes(&bytes, &candle_core::Device::Cpu, &path).unwrap();
    change(&mut state);
    std::fs::write(&path, state.to_bytes().unwrap()).unwrap();
}

#[test]
fn a_checkpoint_with_nan_or_the_wrong_shape_is_refused_and_the_session_starts_over() {
    let fx = ck_fixture("harden-checkpoint");
    let reference = run_strs(&fx, &ck_run("ref.png", &["--json"]));
    assert_eq!(reference.code, Some(0), "{reference}");
    let ref_id = ids(&fx).pop().unwrap();
    let ref_rows = loss_rows(&workspace(&fx).join("sessions").join(&ref_id));
    type Damage = fn(&mut brushwork::engine::ResumeState);
    let cases: [(&str, &str, Damage); 3] = [
        ("nan.png", "holds NaN", |s| s.image = (&s.image * f64::NAN).unwrap()),
        ("inf.png", "holds inf", |s| {
            if let Some(pair) = s.lbfgs.first_mut() {
                pair.1 = (&pair.1 * f64::INFINITY).unwrap();
            } else {
                s.image = (&s.image * f64::INFINITY).unwrap();
            }
        }),
        ("shape.png", "needs [1, 3,", |s| {
            s.image = candle_core::Tensor::zeros((1, 3, 5, 7), s.image.dtype(), s.image.device()).unwrap()
        }),
    ];
    for (out, why, damage) in cases {
        let id = paused_run(&fx, out);
        rewrite_checkpoint(&fx, &id, damage);
        let r = fx.run(&["sessions", "resume", &id, "--json"]);
        assert_eq!(r.code, Some(0), "{out}: {r}");
        assert!(r.stderr.contains("refused the checkpoint") && r.stderr.contains(why), "{out}: {r}");
        assert!(r.stderr.contains("state.safetensors"), "{out}: the file is not named: {r}");
        let first = r.events().into_iter().find(|e| e["event"] == "progress").unwrap();
        assert_eq!(first["iteration"], 1, "{out}: resumed from a refused checkpoint");
        // Started over, it follows the reference exactly.
        assert_eq!(loss_rows(&workspace(&fx).join("sessions").join(&id)), ref_rows, "{out}");
        assert_eq!(pixels(&fx.join(out)), pixels(&fx.join("ref.png")), "{out}");
    }
}

#[test]
fn empty_or_ambiguous_ids_are_errors_and_numbers_are_never_reused() {
    let fx = ck_fixture("harden-ids");
    for out in ["a.png", "b.png"] {
        let r = run_strs(&fx, &ck_run(out, &["--iterations", "1"]));
        assert_eq!(r.code, Some(0), "{r}");
    }
    let before = ids(&fx);
    assert_eq!(before.len(), 2);
    for cmd in ["rm", "show", "pause", "resume", "cancel", "retry"] {
        for query in ["", " "] {
            let r = fx.run(&["sessions", cmd, query]);
            assert_eq!(r.code, Some(2), "sessions {cmd} {query:?}: {r}");
            assert_eq!(r.stderr_lines().len(), 1, "{r}");
            assert!(r.stderr.contains("empty session id"), "{r}");
        }
    }
    // Two folders with one number (made by hand): `rm 9` is ambiguous, never a guess.
    for dir in ["0009-a", "9-b"] {
        std::fs::create_dir(workspace(&fx).join("sessions").join(dir)).unwrap();
    }
    let r = fx.run(&["sessions", "rm", "9"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert_eq!(r.stderr_lines().len(), 1, "{r}");
    assert!(r.stderr.contains("matches several sessions"), "{r}");
    for dir in ["0009-a", "9-b"] {
        std::fs::remove_dir(workspace(&fx).join("sessions").join(dir)).unwrap();
    }
    assert_eq!(ids(&fx), before, "nothing was removed");
    // Remove the newest, then make another: its number is new.
    let r = fx.run(&["sessions", "rm", "2"]);
    assert_eq!(r.code, Some(0), "{r}");
    let r = run_strs(&fx, &ck_run("c.png", &["--iterations", "1"]));
    assert_eq!(r.code, Some(0), "{r}");
    let now = ids(&fx);
    assert!(now[1].starts_with("0003-"), "{now:?}");
    let r = fx.run(&["sessions", "show", "2"]);
    assert_eq!(r.code, Some(2), "number 2 reached another session: {r}");
    // The same through serve.
    let serve = start_serve(&fx, &[]);
    let r = fx.run(&["sessions", "rm", ""]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("empty session id"), "{r}");
    assert_eq!(ids(&fx), now);
    stop(serve);
}

#[test]
fn control_characters_in_names_and_errors_are_shown_escaped() {
    let fx = ck_fixture("harden-escape");
    let r = run_strs(&fx, &ck_run("a.png", &["--iterations", "1"]));
    assert_eq!(r.code, Some(0), "{r}");
    let id = ids(&fx).pop().unwrap();
    let evil = "evil\u{1b}[2J\u{7}name";
    let dup = fx.run(&["sessions", "duplicate", &id, "--name", evil, "--iterations", "1", "-o", "b.png"]);
    assert_eq!(dup.code, Some(0), "{dup}");
    for args in [&["sessions", "list"][..], &["sessions", "show", "2"][..]] {
        let r = fx.run(args);
        assert_eq!(r.code, Some(0), "{r}");
        assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'), "raw controls: {:?}", r.stdout);
        assert!(r.stdout.contains("evil\\x1b[2J\\x07name"), "{}", r.stdout);
    }
    // brushwork.log: an error naming a file whose name holds the same.
    let serve = start_serve(&fx, &[]);
    let mut bad = spec(&fx, small_settings(&fx));
    bad.job.content = fx.join("gone\u{1b}[2J\u{7}.png");
    let reply = raw_request(&fx, &submit_line(&bad));
    assert_eq!(reply["reply"], "session", "{reply}");
    let new = reply["record"]["id"].as_str().unwrap().to_string();
    wait_until(&fx, &new, "failed", |r| r["status"] == "failed");
    stop(serve);
    let log = std::fs::read_to_string(workspace(&fx).join("brushwork.log")).unwrap();
    assert!(!log.contains('\u{1b}') && !log.contains('\u{7}'), "raw controls in the log: {log:?}");
    assert!(log.contains("gone\\x1b[2J\\x07.png"), "{log}");
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let fx = Fixture::new("harden-same");
    let before = std::fs::read(fx.join("content.png")).unwrap();
    for (out, what) in [("content.png", "the content image"), ("./sub/../style.png", "a style image")] {
        std::fs::create_dir_all(fx.join("sub")).unwrap();
        let r = fx.run(&["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors", "-o", out]);
        let m = cli_message(&r);
        assert!(m.contains(what) && m.contains("choose another -o"), "{r}");
    }
    assert_eq!(std::fs::read(fx.join("content.png")).unwrap(), before);
    assert_eq!(session_count(&fx), 0);
}

#[test]
fn overwriting_an_output_keeps_its_permission_bits() {
    let fx = ck_fixture("harden-perms");
    std::fs::write(fx.join("out.png"), b"old").unwrap();
    std::fs::set_permissions(fx.join("out.png"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = run_strs(&fx, &ck_run("out.png", &["--iterations", "2"]));
    assert_eq!(r.code, Some(0), "{r}");
    assert!(image::open(fx.join("out.png")).is_ok());
    assert_eq!(std::fs::metadata(fx.join("out.png")).unwrap().permissions().mode() & 0o777, 0o640);
}

/// Pictures too thin for the network at the working size are refused before work with one line
/// naming the file, the sizes and a size that works: content, style, and at the coarse scales.
#[test]
fn pictures_too_thin_for_the_network_are_refused_naming_the_file() {
    let fx = Fixture::new("harden-thin");
    // 400x10 at a long side of 64 is 64x2 (round(10 * 64 / 400) = 2): under the 16 px that
    // conv5_1 needs after four poolings. The smallest long side that keeps 16 px is 620
    // (round(10 * 620 / 400) = round(15.5) = 16).
    image::RgbImage::from_pixel(400, 10, image::Rgb([90, 60, 30])).save(fx.join("strip.png")).unwrap();
    let base = ["--weights", "tiny.safetensors", "--iterations", "2", "-o", "out.png"];
    let cases: [(&[&str], &str); 3] = [
        (&["run", "strip.png", "--style", "style.png", "--size", "64", "--scales", "1"], "strip.png: is 400x10"),
        (&["run", "content.png", "--style", "strip.png", "--size", "64", "--scales", "1"], "strip.png: is 400x10"),
        // 40x30 is fine at 64 px but not at the first of three scales (64 / 2^2 = 16, 16x12).
        (&["run", "content.png", "--style", "style.png", "--size", "64", "--scales", "3"], "content.png: is 40x30"),
    ];
    for (args, needle) in cases {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&base);
        let r = fx.run(&all);
        assert_eq!(r.code, Some(2), "{args:?}: {r}");
        assert_eq!(r.stderr_lines().len(), 1, "{args:?}: {r}");
        assert!(r.stderr.contains(needle) && r.stderr.contains("under the 16 px"), "{args:?}: {r}");
        assert!(!r.stderr.contains("NaN"), "{r}");
        assert!(!fx.join("out.png").exists());
    }
    let r = fx.run(&["run", "strip.png", "--style", "style.png", "--size", "64", "--scales", "1", "--weights", "x"]);
    assert!(r.stderr.contains("at least 620 px"), "{r}");
    assert_eq!(session_count(&fx), 0, "a session was made for a refused picture");
}

/// The advice printed when the loss diverges names only flags `run` has.
#[test]
fn divergence_advice_names_only_options_that_exist() {
    let fx = Fixture::new("harden-nan");
    let help = fx.run(&["run", "--help"]).stdout;
    // L-BFGS with fixed steps of 1e30: the first step overflows the loss.
    let preset = "version = 1\nsize = 32\nscales = 1\niterations = 3\noptimizer = \"lbfgs\"\n\
                  line_search = \"none\"\nlearning_rate = 1e30\n";
    std::fs::write(fx.join("wild.toml"), preset).unwrap();
    let r = fx.run(&[
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--preset",
        "wild.toml",
        "-o",
        "out.png",
    ]);
    assert_ne!(r.code, Some(0), "{r}");
    let message = cli_message(&r);
    assert!(message.contains("the loss became") && message.contains("line_search"), "{r}");
    let flags: Vec<&str> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect();
    assert!(!flags.is_empty(), "{message}");
    for flag in flags {
        assert!(help.contains(flag), "the advice names {flag}, which `run` does not have: {message}");
    }
}

/// `run` given a clip says to use `video`.
#[test]
fn run_on_a_video_points_to_the_video_command() {
    let fx = Fixture::new("harden-run-video");
    std::fs::write(fx.join("clip.mp4"), b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom").unwrap();
    let r = fx.run(&["run", "clip.mp4", "--style", "style.png", "--weights", "tiny.safetensors", "-o", "o.png"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("clip.mp4") && r.stderr.contains("brushwork video"), "{r}");
}

/// A `serve` started while a foreground `run` works on a session neither starts that session too
/// nor spins on it, and sees it end without a restart (it reads the session again once the other
/// process lets go of it).
#[test]
fn serve_sees_a_foreground_run_end_without_a_restart() {
    let fx = Fixture::new("harden-elsewhere");
    let preset = "version = 1\nsize = 32\nscales = 1\niterations = 2000\ncheckpoint_every = 100\n";
    std::fs::write(fx.join("long.toml"), preset).unwrap();
    let run_args = ["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors", "--preset"];
    let mut args: Vec<&str> = run_args.to_vec();
    args.extend(["long.toml", "-o", "out.png"]);
    let mut foreground = fx.command(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let dir = workspace(&fx).join("sessions");
    let deadline = Instant::now() + Duration::from_secs(60);
    let id = loop {
        let running = ids(&fx).into_iter().find(|id| {
            std::fs::read_to_string(dir.join(id).join("session.toml")).is_ok_and(|t| t.contains("status = \"running\""))
        });
        if let Some(id) = running {
            break id;
        }
        assert!(Instant::now() < deadline, "the foreground run never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let serve = start_serve(&fx, &[]);
    let pid = serve.id();
    assert_eq!(show(&fx, &id)["status"], "running");
    assert!(foreground.wait().unwrap().success());
    // Told within a few seconds, while serve stays alive and idle.
    let rec = wait_until(&fx, &id, "seen done by serve", |r| r["status"] == "done");
    assert_eq!(rec["progress"]["iteration"], 2000, "{rec}");
    let cpu = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    assert!(cpu_seconds(pid) - cpu < 0.5, "serve is busy while nothing is queued");
    stop(serve);
}
