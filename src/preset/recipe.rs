//! The recipe stored in every result PNG: enough to re-run it (`--preset result.png`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::Settings;

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
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}
