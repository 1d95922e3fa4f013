//! The command line as a user finds it (issue 15): help lines, completions and the man page,
//! plain progress without a terminal, `--save-every`, layer flags, several content images in one
//! `run`, errors naming the flag typed, and the recipe kept in JPEG results. The real binary on a
//! tiny random VGG-16, generated images and an isolated home (see `cli_support`).

use crate::cli_support;

use std::path::Path;

use cli_support::{gradient, Fixture};

const BASE: &[&str] = &["--style", "style.png", "--weights", "tiny.safetensors", "--preset", "quick", "--size", "48"];

fn run_args<'a>(contents: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run"];
    v.extend_from_slice(contents);
    v.extend_from_slice(BASE);
    v.extend_from_slice(extra);
    v
}

fn sessions_in(fx: &Fixture) -> usize {
    let dir = fx.join("home/.local/share/brushwork/sessions");
    std::fs::read_dir(dir).map(|d| d.flatten().filter(|e| e.path().is_dir()).count()).unwrap_or(0)
}

fn recipe_of(path: &Path) -> String {
    brushwork::imageio::read_recipe(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .unwrap_or_else(|| panic!("{} has no recipe", path.display()))
}

#[test]
fn help_says_where_flags_apply_and_shows_no_unset_env() {
    let fx = Fixture::new("help");
    let top = fx.run(&["--help"]);
    assert_eq!(top.code, Some(0), "{top}");
    assert!(top.stdout.contains("Without a subcommand, brushwork opens the dashboard"), "{}", top.stdout);
    for sub in ["run", "video", "flow", "eval", "bench", "watch", "serve", "sessions", "presets", "weights"] {
        let r = fx.run(&[sub, "--help"]);
        assert_eq!(r.code, Some(0), "{r}");
        assert!(!r.stdout.contains("=]"), "`{sub} --help` shows an unset env value:\n{}", r.stdout);
        assert!(!r.stdout.contains("--graphics"), "`{sub} --help` offers --graphics:\n{}", r.stdout);
        let uses_workspace = ["run", "video", "watch", "serve", "sessions"].contains(&sub);
        assert_eq!(r.stdout.contains("--workspace"), uses_workspace, "`{sub} --help`:\n{}", r.stdout);
        assert_eq!(r.stdout.contains("--log-level"), sub == "serve", "`{sub} --help`:\n{}", r.stdout);
    }
    let r = fx.run(&["run", "--help"]);
    assert!(r.stdout.contains("$BRUSHWORK_WEIGHTS"), "{}", r.stdout);
    // The flags still work where they apply, before or after the subcommand.
    let r = fx.run(&["flow", "--workspace", "ws", "a.png", "b.png", "-o", "f.flo"]);
    assert_eq!(r.code, Some(2), "{r}");
    let r = fx.run(&["--workspace", "ws1", "sessions", "list"]);
    assert_eq!(r.code, Some(0), "{r}");
    let r = fx.run(&["sessions", "--workspace", "ws2", "list"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(fx.join("ws1").is_dir() && fx.join("ws2").is_dir());
}

#[test]
fn completions_for_bash_zsh_fish_and_a_man_page() {
    let fx = Fixture::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let r = fx.run(&["completions", shell]);
        assert_eq!(r.code, Some(0), "{r}");
        for name in ["run", "video", "sessions", "presets", "completions"] {
            assert!(r.stdout.contains(name), "{shell} completion lacks `{name}`");
        }
        if shell == "bash" {
            std::fs::write(fx.join("brushwork.bash"), &r.stdout).unwrap();
            let check = std::process::Command::new("bash").arg("-n").arg(fx.join("brushwork.bash")).output();
            let check = check.expect("bash runs");
            assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
        }
    }
    let r = fx.run(&["completions", "tcsh"]);
    assert_eq!(r.code, Some(2), "{r}");
    let man = fx.run(&["man"]);
    assert_eq!(man.code, Some(0), "{man}");
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH brushwork 1"), "{}", man.stdout);
    for name in ["BRUSHWORK RUN", "BRUSHWORK VIDEO", "BRUSHWORK SESSIONS", "\\-\\-save\\-every", "dashboard"] {
        assert!(man.stdout.contains(name), "the man page lacks `{name}`");
    }
}

#[test]
fn without_a_terminal_run_prints_plain_progress_lines() {
    let fx = Fixture::new("plain-progress");
    // stderr is a pipe here: no progress bar, a line every tenth of the work.
    let r = fx.run(&run_args(&["content.png"], &["--iterations", "20", "-o", "out.png"]));
    assert_eq!(r.code, Some(0), "{r}");
    let lines: Vec<&str> = r.stderr_lines().into_iter().filter(|l| l.starts_with("iteration ")).collect();
    assert!(lines.len() >= 5 && lines.len() <= 12, "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains("loss ") && l.contains("elapsed ") && l.contains("eta ")), "{lines:#?}");
    assert!(lines.last().unwrap().starts_with("iteration 40/40 (100%)"), "{lines:#?}");
    assert!(!r.stderr.contains('\u{1b}'), "escape codes on a pipe:\n{}", r.stderr);
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn save_every_writes_intermediate_images_beside_the_output() {
    let fx = Fixture::new("save-every");
    let r = fx.run(&run_args(&["content.png"], &["--iterations", "10", "--save-every", "5", "-o", "out.png"]));
    assert_eq!(r.code, Some(0), "{r}");
    for n in [5, 10, 15] {
        let p = fx.join(format!("out.iter{n}.png"));
        assert!(image::open(&p).is_ok(), "{} missing or unreadable", p.display());
    }
    assert!(!fx.join("out.iter20.png").exists(), "the final image is out.png, not an intermediate");
    assert!(fx.join("out.png").is_file());
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
}

#[test]
fn layer_and_optimiser_flags_reach_the_recipe() {
    let fx = Fixture::new("layer-flags");
    let extra = [
        "--iterations",
        "4",
        "--style-layers",
        "conv1_1,conv2_1:0.5",
        "--content-layers",
        "conv3_1",
        "--scale-step",
        "1.5",
        "--init",
        "content_noise",
        "--noise",
        "0.2",
        "--lbfgs-history",
        "5",
        "-o",
        "out.png",
    ];
    let r = fx.run(&run_args(&["content.png"], &extra));
    assert_eq!(r.code, Some(0), "{r}");
    let recipe = recipe_of(&fx.join("out.png"));
    for needle in
        ["conv2_1 = 0.5", "conv1_1 = 1.0", "conv3_1 = 1.0", "scale_step = 1.5", "noise = 0.2", "lbfgs_history = 5"]
    {
        assert!(recipe.contains(needle), "`{needle}` not in the recipe:\n{recipe}");
    }
    assert!(!recipe.contains("conv4_2"), "the preset's content layer stayed:\n{recipe}");
}

#[test]
fn errors_name_the_flag_typed() {
    let fx = Fixture::new("flag-errors");
    let cases: &[(&[&str], &str)] = &[
        (&["--size", "0"], "--size 0: must be positive"),
        (&["--scale-step", "0.5"], "--scale-step 0.5: must be at least 1"),
        (&["--lbfgs-history", "0"], "--lbfgs-history 0: must be positive"),
        (&["--style-layers", "conv9_9"], "--style-layers conv9_9: unknown layer `conv9_9`"),
        (&["--content-layers", "conv1_1:x"], "--content-layers conv1_1:x: `x`"),
        (&["--init-file", "missing.png"], "--init-file missing.png: "),
        (&["--init", "file"], "--init file needs --init-file FILE"),
    ];
    for (extra, needle) in cases {
        // Not `run_args`: it gives --size.
        let mut args = vec!["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors"];
        args.extend_from_slice(extra);
        args.extend(["-o", "out.png"]);
        let r = fx.run(&args);
        assert_eq!(r.code, Some(2), "{extra:?}: {r}");
        let line = r.stderr.trim();
        assert!(line.contains(needle), "{extra:?}: `{line}` does not contain `{needle}`");
        assert!(!line.contains("field `"), "{extra:?}: names the preset field: {line}");
    }
    // A bad value from a preset file still names the file and the field.
    std::fs::write(fx.join("zero.toml"), "version = 1\nsize = 0\n").unwrap();
    let r = fx.run(&["run", "content.png", "--style", "style.png", "--preset", "zero.toml"]);
    assert!(r.stderr.contains("zero.toml") && r.stderr.contains("`size`"), "{r}");
}

#[test]
fn several_contents_one_session_each() {
    let fx = Fixture::new("several");
    gradient(36, 30).save(fx.join("second.png")).unwrap();
    std::fs::create_dir(fx.join("outs")).unwrap();
    let r = fx.run(&run_args(&["content.png", "second.png"], &["--iterations", "3", "-o", "outs"]));
    assert_eq!(r.code, Some(0), "{r}");
    for name in ["content.quick.png", "second.quick.png"] {
        let p = fx.join("outs").join(name);
        assert!(recipe_of(&p).contains("size = 48"), "{}", p.display());
    }
    assert_eq!(sessions_in(&fx), 2, "{r}");
    assert!(r.stderr.contains("content 2 of 2: second.png"), "{r}");
    assert_eq!(r.stderr.matches("wrote ").count(), 2, "{r}");

    // --json: one `done` event per content.
    let r = fx.run(&run_args(&["content.png", "second.png"], &["--iterations", "2", "-o", "outs", "--json"]));
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(r.events().iter().filter(|e| e["event"] == "done").count(), 2, "{r}");

    // -o a file with several contents, and two contents with one output name, are refused.
    let r = fx.run(&run_args(&["content.png", "second.png"], &["-o", "one.png"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("-o one.png") && r.stderr.contains("folder"), "{r}");
    std::fs::create_dir(fx.join("sub")).unwrap();
    std::fs::copy(fx.join("content.png"), fx.join("sub/content.png")).unwrap();
    let r = fx.run(&run_args(&["content.png", "sub/content.png"], &[]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("both be written to content.quick.png"), "{r}");
    // A missing second content is refused before any work.
    let before = sessions_in(&fx);
    let r = fx.run(&run_args(&["content.png", "nope.png"], &["-o", "outs"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("nope.png"), "{r}");
    assert_eq!(sessions_in(&fx), before);
}

#[test]
fn jpeg_output_keeps_the_recipe_and_reruns_from_it() {
    let fx = Fixture::new("jpeg-recipe");
    let r = fx.run(&run_args(&["content.png"], &["--iterations", "3", "--seed", "11", "-o", "out.jpg"]));
    assert_eq!(r.code, Some(0), "{r}");
    let img = image::open(fx.join("out.jpg")).expect("out.jpg decodes");
    assert_eq!((img.width(), img.height()), (48, 36));
    let recipe = recipe_of(&fx.join("out.jpg"));
    assert!(recipe.contains("seed = 11"), "{recipe}");
    // The recipe is a preset: run it again (styles come from it).
    let r = fx.run(&[
        "run",
        "content.png",
        "--preset",
        "out.jpg",
        "--weights",
        "tiny.safetensors",
        "--iterations",
        "2",
        "-o",
        "again.png",
    ]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(recipe_of(&fx.join("again.png")).contains("seed = 11"));
    // A format that cannot carry it says so.
    let r = fx.run(&run_args(&["content.png"], &["--iterations", "2", "-o", "out.bmp"]));
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.contains("out.bmp cannot carry the recipe"), "{r}");
    // A JPEG without a recipe is refused as a preset, naming the file.
    image::RgbImage::new(8, 8).save(fx.join("plain.jpg")).unwrap();
    let r = fx.run(&["run", "content.png", "--preset", "plain.jpg", "--style", "style.png"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("plain.jpg: this JPEG has no brushwork recipe"), "{r}");
}

/// A listing whose reader went away (`brushwork presets list | head -0`) ends quietly with 141, as
/// a SIGPIPE would, not with a Rust panic (101) on stderr. The pipe's read end is closed before the
/// binary starts, so its first write fails every time.
#[test]
fn a_closed_stdout_ends_a_listing_quietly() {
    let fx = Fixture::new("closed-stdout");
    for args in [&["presets", "list"][..], &["presets", "show", "quick"], &["man"], &["completions", "bash"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = fx.command(args).stdout(writer).stderr(std::process::Stdio::piped()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
