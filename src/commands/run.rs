//! `brushwork run`: stylise one image.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use candle_core::DType;
use serde_json::json;

use super::overrides;
use super::recipe::Recipe;
use super::report::Reporter;
use crate::cli::RunArgs;
use crate::engine::device::parse_device;
use crate::engine::objective::deepest_layer;
use crate::engine::vgg::read_header;
use crate::engine::{stylize, StyleInput, StylizeJob, Vgg};
use crate::error::{Error, Result};
use crate::imageio::{load_rgb, save_image, RECIPE_KEY};

/// The preset `run` uses when none is given.
pub const DEFAULT_PRESET: &str = "quick";

pub fn run(args: &RunArgs) -> Result<()> {
    let result = run_inner(args);
    if let (Err(e), true) = (&result, args.json) {
        println!("{}", super::report::json_error(e));
    }
    result
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
    let styles = settings
        .styles
        .iter()
        .map(|s| Ok(StyleInput { image: load_rgb(&s.path)?, weight: s.weight }))
        .collect::<Result<Vec<_>>>()?;
    let init_image = match &settings.init_file {
        Some(p) if settings.init == crate::engine::settings::Init::File => Some(load_rgb(p)?),
        _ => None,
    };
    let device = parse_device(&args.device)?;
    let reporter = Reporter::new(args.json, (settings.iterations * settings.scales) as u64);
    let weights = super::weights::resolve_for_run(args.weights.as_deref(), settings.arch.required(), &reporter)?;
    let header = read_header(&weights)?;
    if let Some(wanted) = settings.arch.required().filter(|a| *a != header.arch) {
        reporter.note(&format!(
            "note: preset `{}` asks for {wanted}; using the {} weights in {}",
            preset.name,
            header.arch,
            weights.display()
        ));
    }
    let deepest = deepest_layer(&settings, header.arch).map_err(|e| Error::input(&weights, e.to_string()))?;
    let net = Vgg::load(&weights, &device, DType::F32, settings.pooling, Some(deepest))?;
    let job = StylizeJob { content: &content, styles: &styles, init_image: init_image.as_ref(), settings: &settings };
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
