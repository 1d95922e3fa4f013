//! Applying command-line flags on top of a preset's settings.

use std::path::PathBuf;

use crate::cli::SettingsArgs;
use crate::engine::settings::StyleRef;
use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::preset::{self, Preset};

/// Loads `--preset` (or `default_preset`) and applies every flag given.
pub fn resolve(args: &SettingsArgs, default_preset: &str) -> Result<Preset> {
    let mut preset = preset::load(args.preset.as_deref().unwrap_or(default_preset))?;
    apply(&mut preset.settings, args)?;
    preset.settings.validate().map_err(Error::Usage)?;
    Ok(preset)
}

fn parse_enum<T: serde::de::DeserializeOwned>(flag: &str, value: &str) -> Result<T> {
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(value))
        .map_err(|e| Error::Usage(format!("--{flag} {value}: {e}")))
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
    if let Some(v) = a.learning_rate {
        s.learning_rate = Some(v);
    }
    if let Some(v) = &a.init_file {
        s.init_file = Some(v.clone());
        if a.init.is_none() {
            s.init = crate::engine::settings::Init::File;
        }
    }
    if let Some(v) = &a.optimizer {
        s.optimizer = parse_enum("optimizer", v)?;
        if a.learning_rate.is_none() {
            s.learning_rate = None;
        }
    }
    if let Some(v) = &a.init {
        s.init = parse_enum("init", v)?;
    }
    if let Some(v) = &a.color {
        s.color = parse_enum("color", v)?;
    }
    if let Some(v) = &a.pooling {
        s.pooling = parse_enum("pooling", v)?;
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
            optimizer: Some("adam".into()),
            color: Some("histogram".into()),
            ..Default::default()
        };
        apply(&mut s, &a).unwrap();
        assert_eq!(s.size, 64);
        assert_eq!(s.optimizer, crate::engine::settings::Optimizer::Adam);
        assert_eq!(s.learning_rate(), 0.01);
        assert_eq!(s.color, crate::engine::settings::ColorMode::Histogram);
    }
}
