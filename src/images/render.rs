//! Rendering one group of an image plan: each image whose result is not there yet, stylised and
//! written (to a temporary name, then renamed) with its recipe, as `brushwork run` writes it.

use std::path::Path;

use image::Rgb32FImage;

use super::plan::ImagePlan;
use crate::engine::vgg::WeightsHeader;
use crate::engine::{stylize_cached, StyleCache, StyleInput, StylizeJob, Vgg};
use crate::error::{Error, Result};
use crate::imageio::{load_rgb_for, save_image, RECIPE_KEY};
use crate::preset::recipe::Recipe;
use crate::video::segments::plan::same_file;

/// What a group render needs besides the plan: the network and the loaded images.
pub struct GroupInputs<'a> {
    pub net: &'a Vgg,
    pub header: WeightsHeader,
    pub weights: &'a Path,
    pub styles: &'a [StyleInput],
    pub init_image: Option<&'a Rgb32FImage>,
}

/// One image of the group: finished now, or found finished.
pub enum ImageDone<'a> {
    Rendered { output: &'a Path, seconds: f64, loss: f64 },
    Kept { output: &'a Path },
}

/// Renders group `index` of the plan in `dir`; returns how many images it rendered. An image
/// that changed since the plan (by SHA-256) is refused before its work, naming it; images done
/// before it stay done.
pub fn render_group(
    dir: &Path,
    plan: &ImagePlan,
    index: usize,
    inputs: &GroupInputs,
    on_image: &mut dyn FnMut(ImageDone),
) -> Result<usize> {
    let group = plan.group(index)?;
    let _lock = crate::video::segments::lock::SegmentLock::acquire(dir, index)?;
    std::fs::create_dir_all(&plan.output_dir).map_err(|e| Error::io(&plan.output_dir, e))?;
    let mut cache = StyleCache::default();
    let mut rendered = 0;
    for image in &plan.images[group.start..group.end] {
        if image.output.is_file() {
            on_image(ImageDone::Kept { output: &image.output });
            continue;
        }
        same_file(&image.path, &image.sha256, "the image")?;
        check_size(&image.path, &plan.settings)?;
        let content = load_rgb_for(&image.path, Some(plan.settings.size))?;
        let job = StylizeJob {
            content: &content,
            styles: inputs.styles,
            init_image: inputs.init_image,
            settings: &plan.settings,
            resume: None,
            temporal: None,
        };
        let out = stylize_cached(inputs.net, &job, &mut cache, &mut |_, _| std::ops::ControlFlow::Continue(()))?;
        let recipe = Recipe {
            brushwork: env!("CARGO_PKG_VERSION").to_string(),
            content: image.path.clone(),
            weights: inputs.weights.to_path_buf(),
            arch: inputs.header.arch.to_string(),
            preprocess: inputs.header.preprocess.to_string(),
            seconds: out.seconds,
            loss: out.losses.total,
            settings: plan.settings.clone(),
        };
        save_image(&image.output, &out.image, &[(RECIPE_KEY, recipe.to_toml()?)])?;
        rendered += 1;
        on_image(ImageDone::Rendered { output: &image.output, seconds: out.seconds, loss: out.losses.total });
    }
    Ok(rendered)
}

/// Refuses a picture whose short side would fall under the network's minimum at some scale.
fn check_size(path: &Path, settings: &crate::engine::Settings) -> Result<()> {
    use crate::engine::objective::{min_input_side, too_small_for};
    let (w, h) = crate::imageio::display_dimensions(path)?;
    let min = min_input_side(settings);
    for size in settings.scale_sizes() {
        if let Some(message) = too_small_for(w, h, size, min) {
            return Err(Error::input(path, message));
        }
    }
    Ok(())
}
