//! Applying command-line flags on top of a preset's settings, and the library's errors about
//! settings as the CLI says them: the library names a preset field (`` `size` ``, the dashboard and
//! the socket show its messages to people who typed no flag); the CLI names the flag (`--size`).

use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::cli::{InitArg, SettingsArgs};
use brushwork::engine::settings::StyleRef;
use brushwork::engine::Settings;
use brushwork::error::{Error, Result};
use brushwork::preset::{self, Preset};
use brushwork::session::Kind;

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

/// The flag that sets each preset field that has one.
fn flag_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "size" => "--size",
        "iterations" => "--iterations",
        "scales" => "--scales",
        "scale_step" => "--scale-step",
        "style_scale" => "--style-scale",
        "content_weight" => "--content-weight",
        "style_weight" => "--style-weight",
        "tv_weight" => "--tv-weight",
        "noise" => "--noise",
        "learning_rate" => "--learning-rate",
        "lbfgs_history" => "--lbfgs-history",
        "content_layers" => "--content-layers",
        "style_layers" => "--style-layers",
        "init_file" => "--init-file",
        "tile" => "--tile",
        "max_memory" => "--max-memory",
        _ => return None,
    })
}

/// The flag behind each preset field, and the value typed, when it was given.
fn flag_for(field: &str, a: &SettingsArgs) -> Option<(&'static str, String)> {
    fn shown<T: std::fmt::Display>(v: &Option<T>) -> Option<String> {
        v.as_ref().map(|v| v.to_string())
    }
    let value = match field {
        "size" => shown(&a.size),
        "iterations" => shown(&a.iterations),
        "scales" => shown(&a.scales),
        "scale_step" => shown(&a.scale_step),
        "style_scale" => shown(&a.style_scale),
        "content_weight" => shown(&a.content_weight),
        "style_weight" => shown(&a.style_weight),
        "tv_weight" => shown(&a.tv_weight),
        "noise" => shown(&a.noise),
        "learning_rate" => shown(&a.learning_rate),
        "lbfgs_history" => shown(&a.lbfgs_history),
        "content_layers" => a.content_layers.clone(),
        "style_layers" => a.style_layers.clone(),
        "init_file" => a.init_file.as_ref().map(|p| p.display().to_string()),
        "tile" => shown(&a.tile),
        "max_memory" => a.max_memory.clone(),
        _ => None,
    };
    Some((flag_name(field)?, value?))
}

/// A library message as the CLI says it: each preset field named in backticks (`` `size` ``)
/// becomes the flag that sets it (`--size`). A preset check's `` field `size` `` is left to
/// [`name_flag`], which knows whether the flag was typed.
pub fn fields_as_flags(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        let (before, quoted) = (&rest[..open], &rest[open + 1..]);
        let Some(close) = quoted.find('`') else { break };
        let word = &quoted[..close];
        out.push_str(before);
        match flag_name(word).filter(|_| !before.ends_with("field ")) {
            Some(flag) => out.push_str(flag),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &quoted[close + 1..];
    }
    out.push_str(rest);
    out
}

/// [`fields_as_flags`] on a usage error (the memory check, a diverged loss).
pub fn with_flags(e: Error) -> Error {
    match e {
        Error::Usage(m) => Error::Usage(fields_as_flags(&m)),
        e => e,
    }
}

/// [`brushwork::engine::device::parse_device`] for `--device`: its errors name the flag.
pub fn parse_device(spec: &str) -> Result<Device> {
    brushwork::engine::device::parse_device(spec).map_err(|e| match e {
        Error::Usage(m) => Error::Usage(m.replacen(&format!("device `{spec}`"), &format!("--device {spec}"), 1)),
        e => e,
    })
}

/// [`brushwork::session::record::check_settings`], a missing style image naming `--style`.
pub fn check_settings(settings: &Settings, kind: Kind) -> Result<()> {
    brushwork::session::record::check_settings(settings, kind).map_err(|e| match e {
        Error::Usage(m) if m == brushwork::session::record::NO_STYLE => {
            Error::Usage("no style image: pass --style FILE (or a preset with `styles`)".into())
        }
        e => e,
    })
}

/// [`brushwork::session::memory::check_job`], naming the flags that lower the need.
pub fn check_memory(
    settings: &Settings,
    kind: Kind,
    content: &Path,
    device: &str,
) -> Result<brushwork::session::memory::MemoryPlan> {
    brushwork::session::memory::check_job(settings, kind, content, device).map_err(with_flags)
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
    set!(tile);
    if let Some(v) = &a.max_memory {
        s.max_memory = Some(v.clone());
    }
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
    if let Some(v) = a.precision {
        s.precision = v.into();
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

    #[test]
    fn fields_in_library_messages_become_flags() {
        assert_eq!(
            fields_as_flags("mostly x (`style_scale` 1000); lower `size`, `style_scale` or `scales`"),
            "mostly x (--style-scale 1000); lower --size, --style-scale or --scales"
        );
        // Not a field with a flag, a preset check's field, an unclosed quote: as they were.
        assert_eq!(fields_as_flags("unknown preset `x`: `line_search`"), "unknown preset `x`: `line_search`");
        assert_eq!(fields_as_flags("field `size` must be positive"), "field `size` must be positive");
        assert_eq!(fields_as_flags("a `size"), "a `size");
        assert_eq!(fields_as_flags("lower `learning_rate` (now 1e30)"), "lower --learning-rate (now 1e30)");
    }

    #[test]
    fn the_memory_refusal_names_flags_here_and_fields_in_the_library() {
        use brushwork::session::memory::{check_against, Shapes};
        let settings = Settings { size: 512, style_scale: 1000.0, ..Settings::default() };
        let shapes = Shapes { content: Some((640, 480)), styles: vec![Some((512, 512))], arch: None };
        let e = check_against(&settings, &shapes, 1e9).unwrap_err();
        let library = e.to_string();
        assert!(library.contains("(`style_scale` 1000)") && !library.contains("--"), "{library}");
        let cli = with_flags(e).to_string();
        assert!(
            cli.contains("(--style-scale 1000)")
                && cli.ends_with("use a smaller --size or --style-scale, fewer --scales or a larger --max-memory"),
            "{cli}"
        );
    }

    #[test]
    fn device_and_style_errors_name_the_flags() {
        let e = parse_device("cudax").unwrap_err().to_string();
        assert_eq!(e, "--device cudax: expected cpu, cuda or cuda:N");
        let library = brushwork::engine::device::parse_device("cudax").unwrap_err().to_string();
        assert_eq!(library, "device `cudax`: expected cpu, cuda or cuda:N");
        let e = check_settings(&Settings::default(), Kind::Image).unwrap_err().to_string();
        assert_eq!(e, "no style image: pass --style FILE (or a preset with `styles`)");
    }
}
