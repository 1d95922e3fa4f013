//! Applying command-line flags on top of a preset's settings.

use std::path::PathBuf;

use crate::cli::{InitArg, SettingsArgs};
use brushwork::engine::settings::StyleRef;
use brushwork::engine::Settings;
use brushwork::error::{Error, Result};
use brushwork::preset::{self, Preset};

/// Loads `--preset` (or `default_preset`) and applies every flag given.
pub fn resolve(args: &SettingsArgs, default_preset: &str) -> Result<Preset> {
    let mut preset = preset::load(args.preset.as_deref().unwrap_or(default_preset))?;
    apply(&mut preset.settings, args)?;
    validate(&preset.settings, args)?;
    Ok(preset)
}

/// [`Settings::validate`], with the error naming the flag the user typed (`--size 0`) rather than
/// the preset field when the value came from a flag.
pub fn validate(s: &Settings, args: &SettingsArgs) -> Result<()> {
    s.validate().map_err(|m| Error::Usage(name_flag(&m, args)))
}

/// The flag behind each preset field, and the value typed, when it was given.
fn flag_for(field: &str, a: &SettingsArgs) -> Option<(&'static str, String)> {
    fn shown<T: std::fmt::Display>(v: &Option<T>) -> Option<String> {
        v.as_ref().map(|v| v.to_string())
    }
    let (flag, value) = match field {
        "size" => ("--size", shown(&a.size)),
        "iterations" => ("--iterations", shown(&a.iterations)),
        "scales" => ("--scales", shown(&a.scales)),
        "scale_step" => ("--scale-step", shown(&a.scale_step)),
        "style_scale" => ("--style-scale", shown(&a.style_scale)),
        "content_weight" => ("--content-weight", shown(&a.content_weight)),
        "style_weight" => ("--style-weight", shown(&a.style_weight)),
        "tv_weight" => ("--tv-weight", shown(&a.tv_weight)),
        "noise" => ("--noise", shown(&a.noise)),
        "learning_rate" => ("--learning-rate", shown(&a.learning_rate)),
        "lbfgs_history" => ("--lbfgs-history", shown(&a.lbfgs_history)),
        "content_layers" => ("--content-layers", a.content_layers.clone()),
        "style_layers" => ("--style-layers", a.style_layers.clone()),
        "init_file" => ("--init-file", a.init_file.as_ref().map(|p| p.display().to_string())),
        _ => return None,
    };
    value.map(|v| (flag, v))
}

/// Rewrites "field `size` must be positive" as "--size 0: must be positive" when `--size` was given.
fn name_flag(message: &str, a: &SettingsArgs) -> String {
    if message.starts_with("init = \"file\"") && a.init == Some(InitArg::File) && a.init_file.is_none() {
        return "--init file needs --init-file FILE".into();
    }
    let Some(rest) = message.strip_prefix("field `") else { return message.to_string() };
    let Some((field, tail)) = rest.split_once('`') else { return message.to_string() };
    match flag_for(field, a) {
        Some((flag, value)) => {
            let tail = tail.trim_start_matches(':').trim_start();
            format!("{flag} {value}: {tail}")
        }
        None => message.to_string(),
    }
}

/// Loads the style and init images, an error about one of them naming the flag that gave it
/// (`--init-file`, `--style`) when it came from a flag rather than the preset.
pub fn load_images(settings: &Settings, a: &SettingsArgs) -> Result<()> {
    brushwork::session::network::load_images(settings).map(|_| ()).map_err(|e| {
        let path = e.path().map(|p| p.to_path_buf());
        match path {
            Some(p) if a.init_file.as_deref() == Some(p.as_path()) => e.named_by_flag("--init-file", &p),
            Some(p) if !a.styles.is_empty() && settings.styles.iter().any(|s| s.path == p) => {
                e.named_by_flag("--style", &p)
            }
            _ => e,
        }
    })
}

/// `LAYER[:WEIGHT],...` (weight 1 when left out) for `flag`.
pub fn parse_layers(flag: &str, value: &str) -> Result<std::collections::BTreeMap<String, f64>> {
    let mut layers = std::collections::BTreeMap::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, weight) = match item.split_once(':') {
            Some((name, w)) => {
                let w: f64 = w
                    .trim()
                    .parse()
                    .map_err(|_| Error::Usage(format!("{flag} {value}: `{w}` in `{item}` is not a number")))?;
                (name.trim(), w)
            }
            None => (item, 1.0),
        };
        if !weight.is_finite() || weight < 0.0 {
            return Err(Error::Usage(format!("{flag} {value}: the weight of `{name}` must be a non-negative number")));
        }
        if layers.insert(name.to_string(), weight).is_some() {
            return Err(Error::Usage(format!("{flag} {value}: `{name}` is named twice")));
        }
    }
    Ok(layers)
}

pub fn apply(s: &mut Settings, a: &SettingsArgs) -> Result<()> {
    if !a.styles.is_empty() {
        s.styles = a.styles.iter().map(|v| parse_style(v)).collect::<Result<_>>()?;
    }
    macro_rules! set {
        ($field:ident) => {
            if let Some(v) = &a.$field {
                s.$field = v.clone();
            }
        };
    }
    set!(size);
    set!(iterations);
    set!(seed);
    set!(scales);
    set!(content_weight);
    set!(style_weight);
    set!(tv_weight);
    set!(style_scale);
    set!(scale_step);
    set!(noise);
    set!(lbfgs_history);
    if let Some(v) = &a.content_layers {
        s.content_layers = parse_layers("--content-layers", v)?;
    }
    if let Some(v) = &a.style_layers {
        s.style_layers = parse_layers("--style-layers", v)?;
    }
    if let Some(v) = a.learning_rate {
        s.learning_rate = Some(v);
    }
    if let Some(v) = &a.init_file {
        s.init_file = Some(v.clone());
        if a.init.is_none() {
            s.init = brushwork::engine::settings::Init::File;
        }
    }
    if let Some(v) = a.optimizer {
        s.optimizer = v.into();
        if a.learning_rate.is_none() {
            s.learning_rate = None;
        }
    }
    if let Some(v) = a.init {
        s.init = v.into();
    }
    if let Some(v) = a.color {
        s.color = v.into();
    }
    if let Some(v) = a.pooling {
        s.pooling = v.into();
    }
    Ok(())
}

/// `FILE` or `FILE:WEIGHT` (the weight is taken only when what follows the last `:` is a number).
pub fn parse_style(value: &str) -> Result<StyleRef> {
    if let Some((path, weight)) = value.rsplit_once(':') {
        if let Ok(w) = weight.parse::<f64>() {
            if !w.is_finite() || w < 0.0 {
                return Err(Error::Usage(format!("--style {value}: the weight must be a non-negative number")));
            }
            return Ok(StyleRef { path: PathBuf::from(path), weight: w });
        }
    }
    Ok(StyleRef { path: PathBuf::from(value), weight: 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_weights() {
        assert_eq!(parse_style("a.jpg").unwrap(), StyleRef { path: "a.jpg".into(), weight: 1.0 });
        assert_eq!(parse_style("a.jpg:0.3").unwrap(), StyleRef { path: "a.jpg".into(), weight: 0.3 });
        assert_eq!(parse_style("c:/x.jpg").unwrap().path, PathBuf::from("c:/x.jpg"));
        assert!(parse_style("a.jpg:-1").is_err());
    }

    #[test]
    fn flags_override_preset() {
        let mut s = Settings::default();
        let a = SettingsArgs {
            size: Some(64),
            optimizer: Some(crate::cli::OptimizerArg::Adam),
            color: Some(crate::cli::ColorArg::Histogram),
            ..Default::default()
        };
        apply(&mut s, &a).unwrap();
        assert_eq!(s.size, 64);
        assert_eq!(s.optimizer, brushwork::engine::settings::Optimizer::Adam);
        assert_eq!(s.learning_rate(), 0.01);
        assert_eq!(s.color, brushwork::engine::settings::ColorMode::Histogram);
    }

    #[test]
    fn layers_with_optional_weights() {
        let l = parse_layers("--style-layers", "conv1_1, conv2_1:0.5,conv3_1").unwrap();
        assert_eq!(l.get("conv1_1"), Some(&1.0));
        assert_eq!(l.get("conv2_1"), Some(&0.5));
        assert_eq!(l.len(), 3);
        assert!(parse_layers("--style-layers", "conv1_1:x").is_err());
        assert!(parse_layers("--style-layers", "conv1_1,conv1_1").is_err());
    }

    #[test]
    fn errors_name_the_flag_typed() {
        let a = SettingsArgs { size: Some(0), ..Default::default() };
        let mut s = Settings::default();
        apply(&mut s, &a).unwrap();
        assert_eq!(validate(&s, &a).unwrap_err().to_string(), "--size 0: must be positive");
        let a = SettingsArgs { style_layers: Some("conv9_9".into()), ..Default::default() };
        let mut s = Settings::default();
        apply(&mut s, &a).unwrap();
        let e = validate(&s, &a).unwrap_err().to_string();
        assert!(e.starts_with("--style-layers conv9_9: unknown layer `conv9_9`"), "{e}");
        // From the preset, not a flag: the field is named.
        let s = Settings { size: 0, ..Settings::default() };
        assert!(validate(&s, &SettingsArgs::default()).unwrap_err().to_string().contains("field `size`"));
    }
}
