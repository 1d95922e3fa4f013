//! `brushwork bench` and `brushwork eval` run end to end (the timing itself is not asserted: speed is
//! measured by the benchmark, never by a test).

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_brushwork"));
    c.env_remove("BRUSHWORK_WEIGHTS").env("RUST_BACKTRACE", "0");
    c
}

#[test]
fn bench_smoke_json() {
    let out = bin().args(["bench", "--iterations", "1", "--size", "64", "--json", "--compare"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["arch"], "vgg19");
    assert!(line["median_ms"].as_f64().unwrap() > 0.0);
    // VGG-19 to conv5_1 at 64x64 is 1/16 of the 256x256 work (99.24 GFLOP, see engine::flops).
    let gflop = line["gflop_per_iteration"].as_f64().unwrap();
    assert!((gflop - 99.24 / 16.0).abs() < 0.01, "{gflop}");
    // Side by side: brushwork (Winograd), its f32 products where it ran BF16 (CPUs with AMX), the
    // direct convolution, candle conv2d, candle autograd.
    let variants = line["variants"].as_array().unwrap();
    let bf16 = line["products"] == "bf16";
    assert!(bf16 || line["products"] == "f32", "{line}");
    assert_eq!(variants.len(), 4 + usize::from(bf16));
    if bf16 {
        assert!(variants[1]["name"].as_str().unwrap().ends_with("f32"), "{variants:?}");
    }
    assert!(variants[1 + usize::from(bf16)]["name"].as_str().unwrap().contains("direct"), "{variants:?}");
}

/// `--precision f32` holds the products to f32 whatever the CPU, and so does
/// `BRUSHWORK_PRECISION=f32` for the whole process; `auto` says which it chose (`bf16` only where
/// the CPU has AMX); anything else is a usage error naming the flag.
#[test]
fn bench_precision_flag_and_environment() {
    let products = |args: &[&str], env: Option<&str>| {
        let mut c = bin();
        c.args(["bench", "--iterations", "1", "--size", "32", "--json"]).args(args);
        if let Some(v) = env {
            c.env("BRUSHWORK_PRECISION", v);
        } else {
            c.env_remove("BRUSHWORK_PRECISION");
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        line["products"].as_str().unwrap().to_string()
    };
    assert_eq!(products(&["--precision", "f32"], None), "f32");
    assert_eq!(products(&[], Some("f32")), "f32");
    let auto = products(&["--precision", "auto"], None);
    assert_eq!(auto == "bf16", brushwork::engine::bf16::available(), "auto chose {auto}");
    let out = bin().args(["bench", "--precision", "f16"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--precision"));
}

#[test]
fn bench_rejects_zero_threads() {
    let out = bin().args(["bench", "--threads", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threads"));
}

#[test]
fn eval_scores_images_on_one_scale() {
    let dir = std::env::temp_dir().join(format!("brushwork-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("tiny.safetensors");
    brushwork::weights::random::write_random_vgg(
        &weights,
        brushwork::weights::layout::Arch::Vgg16,
        brushwork::weights::layout::Preprocess::Caffe,
        16,
        1,
    )
    .unwrap();
    let content = dir.join("content.png");
    let style = dir.join("style.png");
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])).save(&content).unwrap();
    image::RgbImage::from_fn(32, 32, |x, y| {
        if (x + y) % 8 < 4 {
            image::Rgb([20, 30, 120])
        } else {
            image::Rgb([240, 150, 20])
        }
    })
    .save(&style)
    .unwrap();
    let eval = |image: &std::path::Path| -> serde_json::Value {
        let out = bin()
            .arg("eval")
            .arg(image)
            .arg("--content")
            .arg(&content)
            .arg("--style")
            .arg(&style)
            .arg("--weights")
            .arg(&weights)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The content photo itself has zero content loss and some style loss.
    let own = eval(&content);
    assert_eq!(own["content"].as_f64().unwrap(), 0.0);
    assert!(own["style"].as_f64().unwrap() > 0.0);
    // A stylised result trades content loss for less style loss.
    let out_png = dir.join("out.png");
    let status = bin()
        .arg("run")
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .arg("--weights")
        .arg(&weights)
        .args(["--size", "40", "--iterations", "20", "--scales", "1", "-o"])
        .arg(&out_png)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let result = eval(&out_png);
    assert!(result["content"].as_f64().unwrap() > 0.0);
    assert!(result["style"].as_f64().unwrap() < own["style"].as_f64().unwrap(), "{result} vs {own}");
    std::fs::remove_dir_all(&dir).unwrap();
}
