//! `brushwork run`: stylise one image.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::inputs::{load_images, load_network, with_json_error};
use super::overrides;
use super::recipe::Recipe;
use super::report::Reporter;
use crate::cli::RunArgs;
use crate::engine::device::parse_device;
use crate::engine::{stylize, StylizeJob};
use crate::error::{Error, Result};
use crate::imageio::{load_rgb, save_image, RECIPE_KEY};

/// The preset `run` uses when none is given.
pub const DEFAULT_PRESET: &str = "quick";

pub fn run(args: &RunArgs) -> Result<()> {
    with_json_error(args.json, || run_inner(args))
}

fn run_inner(args: &RunArgs) -> Result<()> {
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    if settings.styles.is_empty() {
        return Err(Error::Usage("no style image: pass --style FILE (or a preset with `styles`)".into()));
    }
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.content, &preset.name));
    check_output_dir(&output)?;
    let content = load_rgb(&args.content)?;
    let (styles, init_image) = load_images(&settings)?;
    let device = parse_device(&args.device)?;
    let reporter = Reporter::new(args.json, (settings.iterations * settings.scales) as u64);
    let (net, weights, header) = load_network(&settings, &preset.name, args.weights.as_deref(), &device, &reporter)?;
    let job = StylizeJob {
        content: &content,
        styles: &styles,
        init_image: init_image.as_ref(),
        settings: &settings,
        resume: None,
    };
    let result = stylize(&net, &job, &mut |p, _| {
        reporter.progress(p);
        ControlFlow::Continue(())
    });
    reporter.finish();
    let out = result?;
    // Paths in the recipe are absolute so the result can be re-run from anywhere.
    for s in &mut settings.styles {
        s.path = absolute(&s.path);
    }
    let recipe = Recipe {
        brushwork: env!("CARGO_PKG_VERSION").to_string(),
        content: absolute(&args.content),
        weights: absolute(&weights),
        arch: header.arch.to_string(),
        preprocess: header.preprocess.to_string(),
        seconds: out.seconds,
        loss: out.losses.total,
        settings,
    };
    save_image(&output, &out.image, &[(RECIPE_KEY, recipe.to_toml())])?;
    if args.json {
        let done = json!({
            "event": "done", "output": output.display().to_string(), "seconds": out.seconds,
            "loss": out.losses.total, "style": out.losses.style, "content": out.losses.content,
            "tv": out.losses.tv, "iterations": out.iterations,
        });
        println!("{done}");
    } else {
        eprintln!(
            "wrote {} ({}x{}, {} iterations, {:.1} s, loss {:.4e})",
            output.display(),
            out.image.width(),
            out.image.height(),
            out.iterations,
            out.seconds,
            out.losses.total
        );
    }
    Ok(())
}

/// `CONTENT-STEM.PRESET.png` in the current folder.
pub fn default_output(content: &Path, preset: &str) -> PathBuf {
    let stem = content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    PathBuf::from(format!("{stem}.{preset}.png"))
}

pub(super) fn check_output_dir(output: &Path) -> Result<()> {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(output, "the output folder does not exist"));
    }
    Ok(())
}

pub(super) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
