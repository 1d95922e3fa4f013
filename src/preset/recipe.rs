//! The recipe stored in every result PNG: enough to re-run it (`--preset result.png`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::Settings;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recipe {
    pub brushwork: String,
    pub content: PathBuf,
    pub weights: PathBuf,
    pub arch: String,
    pub preprocess: String,
    pub seconds: f64,
    pub loss: f64,
    /// The resolved preset, with the style images it was run with.
    pub settings: Settings,
}

impl Recipe {
    /// The recipe as the TOML text a result image carries. An error (never an empty recipe) when
    /// it cannot be written: a path TOML cannot hold.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Internal(format!("cannot write the recipe: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_quotes_and_backslashes_round_trip() {
        let recipe = Recipe {
            brushwork: "0.0.0".into(),
            content: PathBuf::from(r#"/photos/"best" \ of.png"#),
            weights: PathBuf::from(r"C:\weights\vgg16.safetensors"),
            arch: "vgg16".into(),
            preprocess: "caffe".into(),
            seconds: 1.5,
            loss: 2.0,
            settings: Settings::default(),
        };
        let text = recipe.to_toml().unwrap();
        let back: Recipe = toml::from_str(&text).unwrap();
        assert_eq!(back.content, recipe.content, "{text}");
        assert_eq!(back.weights, recipe.weights, "{text}");
        assert_eq!(back.settings, recipe.settings);
    }
}
