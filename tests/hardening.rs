//! Issue #14, the server side: what `serve` and the sessions refuse, and how they survive bad
//! clients, impossible jobs, crashes and full disks. The real binary on a tiny random VGG-16.

mod cli_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use brushwork::engine::settings::StyleRef;
use brushwork::engine::Settings;
use brushwork::session::{Kind, SessionSpec};
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
        kind: Kind::Image,
        content: fx.join("content.png"),
        export: Some(fx.join("out.png")),
        weights: Some(fx.join("tiny.safetensors")),
        device: "cpu".into(),
        preset: "quick".into(),
        priority: 0,
        settings,
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
        let expected = cli_message(&cli);
        let reply = raw_request(&fx, &submit_line(&spec(&fx, settings)));
        assert_eq!(reply["reply"], "error", "{what}: {reply}");
        assert_eq!(reply["exit_code"], 2, "{what}: {reply}");
        assert_eq!(reply["message"].as_str().unwrap(), expected, "{what}");
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
