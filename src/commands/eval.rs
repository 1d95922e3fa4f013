//! `brushwork eval`: the notebook-formula content and style losses of any finished image, with the
//! layers of a preset, so results of different presets and tools compare on one scale.

use candle_core::DType;
use serde_json::json;

use super::inputs::load_network;
use super::overrides::parse_style;
use super::report::Reporter;
use crate::cli::EvalArgs;
use crate::engine::device::parse_device;
use crate::engine::objective::{Objective, StyleTargets};
use crate::engine::stylize::style_tensors;
use crate::engine::tensor_image::{resize, to_tensor};
use crate::engine::StyleInput;
use crate::error::Result;
use crate::imageio::load_rgb;
use crate::preset;

pub fn eval(args: &EvalArgs) -> Result<()> {
    let preset = preset::load(&args.preset)?;
    // Unweighted terms: J_content = Σ w_c·J_c and J_style = Σ w_l·J_l; α and β applied below.
    let raw =
        crate::engine::Settings { content_weight: 1.0, style_weight: 1.0, tv_weight: 0.0, ..preset.settings.clone() };
    let image = load_rgb(&args.image)?;
    let content = load_rgb(&args.content)?;
    let styles = args
        .styles
        .iter()
        .map(|s| {
            let s = parse_style(s)?;
            Ok(StyleInput { image: load_rgb(&s.path)?, weight: s.weight })
        })
        .collect::<Result<Vec<_>>>()?;
    let device = parse_device(&args.device)?;
    let reporter = Reporter::new(true, 0);
    let (net, _, header) = load_network(&raw, &preset.name, args.weights.as_deref(), &device, &reporter)?;
    let (w, h) = image.dimensions();
    let x = to_tensor(&image, &device, DType::F32)?;
    let content_t = to_tensor(&resize(&content, w, h), &device, DType::F32)?;
    let targets = StyleTargets::compute(&net, &raw, &style_tensors(&net, &styles, w.max(h), raw.style_scale)?)?;
    let (parts, _) = Objective::new(&net, &raw, &content_t, targets)?.evaluate(&x)?;
    let total = preset.settings.content_weight * parts.content + preset.settings.style_weight * parts.style;
    if args.json {
        let line = json!({
            "event": "eval", "image": args.image.display().to_string(), "preset": preset.name,
            "content": parts.content, "style": parts.style, "loss": total, "width": w, "height": h,
            "arch": header.arch.as_str(),
        });
        println!("{line}");
    } else {
        println!("{} ({w}x{h}, layers of preset `{}`, {})", args.image.display(), preset.name, header.arch);
        println!("  content  J_c = {:.6e}", parts.content);
        println!("  style    J_s = {:.6e}", parts.style);
        println!(
            "  total    α·J_c + β·J_s = {total:.6e} (α = {}, β = {})",
            preset.settings.content_weight, preset.settings.style_weight
        );
    }
    Ok(())
}
