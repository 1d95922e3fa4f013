//! What `run`, `video` and `eval` share: loading the style (and init) images, and finding and
//! loading the network, and reporting a failure as a `--json` error event too.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use image::Rgb32FImage;

use super::report::{json_error, Reporter};
use crate::engine::objective::deepest_layer;
use crate::engine::settings::Init;
use crate::engine::vgg::{read_header, WeightsHeader};
use crate::engine::{Settings, StyleInput, Vgg};
use crate::error::{Error, Result};
use crate::imageio::load_rgb;

/// Runs `f`; with `json`, a failure is also printed on stdout as the contract's error event.
pub fn with_json_error(json: bool, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let result = f();
    if let (Err(e), true) = (&result, json) {
        println!("{}", json_error(e));
    }
    result
}

/// The preset's style images, and its init image when `init = "file"`.
pub fn load_images(settings: &Settings) -> Result<(Vec<StyleInput>, Option<Rgb32FImage>)> {
    let styles = settings
        .styles
        .iter()
        .map(|s| Ok(StyleInput { image: load_rgb(&s.path)?, weight: s.weight }))
        .collect::<Result<Vec<_>>>()?;
    let init_image = match &settings.init_file {
        Some(p) if settings.init == Init::File => Some(load_rgb(p)?),
        _ => None,
    };
    Ok((styles, init_image))
}

/// Finds the weights (see `weights::resolve_for_run`) and loads the network, cut after the
/// deepest layer `settings` uses. Says so when the file's arch is not the one the preset asks for.
pub fn load_network(
    settings: &Settings,
    preset_name: &str,
    explicit_weights: Option<&Path>,
    device: &Device,
    reporter: &Reporter,
) -> Result<(Vgg, PathBuf, WeightsHeader)> {
    let weights = super::weights::resolve_for_run(explicit_weights, settings.arch.required(), reporter)?;
    let header = read_header(&weights)?;
    if let Some(wanted) = settings.arch.required().filter(|a| *a != header.arch) {
        reporter.note(&format!(
            "note: preset `{preset_name}` asks for {wanted}; using the {} weights in {}",
            header.arch,
            weights.display()
        ));
    }
    let deepest = deepest_layer(settings, header.arch).map_err(|e| Error::input(&weights, e.to_string()))?;
    let net = Vgg::load(&weights, device, DType::F32, settings.pooling, Some(deepest))?;
    Ok((net, weights, header))
}
