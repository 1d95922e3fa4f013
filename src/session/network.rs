//! Loading what a stylisation needs besides the content photo: the style (and init) images and
//! the network, cut after the deepest layer the preset uses. Shared by the commands and the
//! session runner; finding or fetching the weights file is the caller's business.

use std::path::Path;

use candle_core::{DType, Device};
use image::Rgb32FImage;

use crate::engine::objective::{deepest_layer, min_input_side, too_small_for};
use crate::engine::settings::Init;
use crate::engine::vgg::{read_header, WeightsHeader};
use crate::engine::{Settings, StyleInput, Vgg};
use crate::error::{Error, Result};
use crate::imageio::load_rgb_for;

/// The preset's style images, and its init image when `init = "file"`.
/// Each is decoded at no more than about twice the size it will be used at (see
/// [`load_rgb_for`]).
pub fn load_images(settings: &Settings) -> Result<(Vec<StyleInput>, Option<Rgb32FImage>)> {
    let style_long = crate::engine::stylize::style_long_side(settings.size, settings.style_scale);
    let styles = settings
        .styles
        .iter()
        .map(|s| {
            let image = load_rgb_for(&s.path, Some(style_long))?;
            let dims = crate::imageio::display_dimensions(&s.path)?;
            check_picture_size(&s.path, dims, settings, &|size| {
                crate::engine::stylize::style_long_side(size, settings.style_scale)
            })?;
            Ok(StyleInput { image, weight: s.weight })
        })
        .collect::<Result<Vec<_>>>()?;
    let init_image = match &settings.init_file {
        Some(p) if settings.init == Init::File => Some(load_rgb_for(p, Some(settings.size))?),
        _ => None,
    };
    Ok((styles, init_image))
}

/// Refuses pictures whose short side would fall under the network's minimum at some scale of the
/// schedule, with one line naming the file (`long_at` maps a scale's size to this picture's long
/// side there: the size itself for the content, scaled by `style_scale` for a style).
pub fn check_picture_size(
    path: &Path,
    (w, h): (u32, u32),
    settings: &Settings,
    long_at: &dyn Fn(u32) -> u32,
) -> Result<()> {
    let min = min_input_side(settings);
    for size in settings.scale_sizes() {
        if let Some(message) = too_small_for(w, h, long_at(size), min) {
            return Err(Error::input(path, message));
        }
    }
    Ok(())
}

/// [`check_picture_size`] for a content picture.
pub fn check_content_size(path: &Path, settings: &Settings) -> Result<()> {
    let dims = crate::imageio::display_dimensions(path)?;
    check_picture_size(path, dims, settings, &|size| size)
}

/// Loads the network in `weights`, cut after the deepest layer `settings` uses. Calls `note`
/// when the file's arch is not the one the preset asks for.
pub fn load_network(
    settings: &Settings,
    preset_name: &str,
    weights: &Path,
    device: &Device,
    note: &dyn Fn(&str),
) -> Result<(Vgg, WeightsHeader)> {
    let header = read_header(weights)?;
    if let Some(wanted) = settings.arch.required().filter(|a| *a != header.arch) {
        note(&format!(
            "note: preset `{preset_name}` asks for {wanted}; using the {} weights in {}",
            header.arch,
            weights.display()
        ));
    }
    let deepest = deepest_layer(settings, header.arch).map_err(|e| Error::input(weights, e.to_string()))?;
    let net =
        Vgg::load(weights, device, DType::F32, settings.pooling, Some(deepest))?.with_precision(settings.precision);
    Ok((net, header))
}
