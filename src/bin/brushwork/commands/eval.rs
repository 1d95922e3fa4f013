//! `brushwork eval`: the notebook-formula content and style losses of any finished image, with the
//! layers of a preset, so results of different presets and tools compare on one scale.

use candle_core::DType;
use serde_json::json;

use super::inputs::load_network;
use super::overrides::parse_style;
use super::report::Reporter;
use crate::cli::EvalArgs;
use brushwork::engine::objective::{Objective, StyleTargets};
use brushwork::engine::stylize::style_tensors;
use brushwork::engine::tensor_image::{resize, to_tensor};
use brushwork::engine::StyleInput;
use brushwork::error::{Error, Result};
use brushwork::imageio::load_rgb;
use brushwork::preset;

pub fn eval(args: &EvalArgs) -> Result<()> {
    if !is_image(&args.content) {
        return eval_clip(args);
    }
    if args.styles.is_empty() {
        return Err(Error::Usage("eval of an image needs --style FILE (the painting it was made from)".into()));
    }
    let preset = preset::load(&args.preset)?;
    // Unweighted terms: J_content = Σ w_c·J_c and J_style = Σ w_l·J_l; α and β applied below.
    let raw = brushwork::engine::Settings {
        content_weight: 1.0,
        style_weight: 1.0,
        tv_weight: 0.0,
        ..preset.settings.clone()
    };
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
    let device = super::overrides::parse_device(&args.device)?;
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
        outln!("{line}");
    } else {
        outln!("{} ({w}x{h}, layers of preset `{}`, {})", args.image.display(), preset.name, header.arch);
        outln!("  content  J_c = {:.6e}", parts.content);
        outln!("  style    J_s = {:.6e}", parts.style);
        outln!(
            "  total    α·J_c + β·J_s = {total:.6e} (α = {}, β = {})",
            preset.settings.content_weight,
            preset.settings.style_weight
        );
    }
    Ok(())
}

/// Whether `path` holds a picture the image crate knows (by its bytes, not its name); anything
/// else is treated as a clip, which the video decoder then checks.
fn is_image(path: &std::path::Path) -> bool {
    image::ImageReader::open(path).ok().and_then(|r| r.with_guessed_format().ok()).is_some_and(|r| r.format().is_some())
}

#[cfg(not(feature = "ffmpeg"))]
fn eval_clip(_: &EvalArgs) -> Result<()> {
    brushwork::video::init()
}

#[cfg(feature = "ffmpeg")]
/// `eval OUT.mp4 --content IN.mp4`: warping error per frame of the output and of the source.
fn eval_clip(args: &EvalArgs) -> Result<()> {
    if is_image(&args.image) {
        return Err(Error::input(&args.image, "is an image, but --content is a clip: give the stylised clip"));
    }
    let score = brushwork::video::score::score_clip(&args.image, &args.content)?;
    let (w, h) = score.size;
    if score.output_frames != score.source_frames {
        super::report::err_line(&format!(
            "brushwork: {}: {} frames, the source has {}; the first {} are compared",
            args.image.display(),
            score.output_frames,
            score.source_frames,
            score.compared
        ));
    }
    if args.json {
        let frames: Vec<_> = score
            .frames
            .iter()
            .map(|f| json!({"frame": f.frame, "warp_error": f.output, "source_warp_error": f.source}))
            .collect();
        let line = json!({
            "event": "eval", "video": args.image.display().to_string(),
            "content": args.content.display().to_string(), "width": w, "height": h,
            "frames": score.compared, "output_frames": score.output_frames, "source_frames": score.source_frames,
            "warp_error": score.mean_output, "source_warp_error": score.mean_source, "per_frame": frames,
        });
        outln!("{line}");
    } else {
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4e}"));
        outln!(
            "{} against {} ({w}x{h}, {} frames compared)",
            args.image.display(),
            args.content.display(),
            score.compared
        );
        outln!("  warping error, output   {}", show(score.mean_output));
        outln!("  warping error, source   {}  (the floor: what the flow cannot explain)", show(score.mean_source));
        if let (Some(o), Some(s)) = (score.mean_output, score.mean_source) {
            if s > 0.0 {
                outln!("  output / source         {:.2}x", o / s);
            }
        }
    }
    Ok(())
}
