//! Every engine knob, as one struct. A preset file is this struct in TOML (see `crate::preset`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::vgg::Pooling;
use crate::weights::layout::Arch;

/// Which network a preset wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ArchChoice {
    /// Whatever weights are installed (VGG-19 preferred).
    #[default]
    Auto,
    Vgg16,
    Vgg19,
}

impl ArchChoice {
    pub fn required(self) -> Option<Arch> {
        match self {
            ArchChoice::Auto => None,
            ArchChoice::Vgg16 => Some(Arch::Vgg16),
            ArchChoice::Vgg19 => Some(Arch::Vgg19),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Adam,
    /// Limited-memory BFGS, the usual choice for Gatys.
    #[default]
    Lbfgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LineSearch {
    /// A fixed step of `learning_rate` (as torch.optim.LBFGS without line_search_fn, which
    /// jcjohnson/neural-style uses): one network evaluation per iteration, and no guard against an
    /// overshooting step.
    None,
    /// Armijo backtracking (the default): take the step `learning_rate`, and only if the loss did
    /// not fall enough halve it (at most 10 times). Accepted steps cost one evaluation, like `none`.
    #[default]
    Backtracking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// The content photo.
    #[default]
    Content,
    /// The content photo plus uniform noise in ±`noise`, clipped to [0,1] (the notebook).
    ContentNoise,
    /// Uniform noise in [0,1].
    Noise,
    /// The image in `init_file`.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// The painting's colours.
    #[default]
    None,
    /// Keep the content's colours: the result's luminance with the content's chroma (YIQ).
    Luminance,
    /// Match the style image's colour histogram (mean and covariance) to the content first.
    Histogram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WarmStart {
    /// Each video frame starts from the previous stylised frame moved along the optical flow of
    /// the source; pixels the flow cannot vouch for (occluded, disoccluded, motion boundaries)
    /// start from the content frame.
    Warped,
    /// Each video frame starts from the previous stylised frame where it was (no flow).
    #[default]
    Previous,
    /// Each video frame starts as `init` says.
    None,
}

/// The number format of the convolutions' matrix products on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// BF16 operands with f32 sums where the CPU has AMX tiles (about twice as fast; each operand
    /// rounded to 8 significant bits), else f32.
    #[default]
    Auto,
    /// f32 everywhere: the same numbers on every CPU.
    F32,
}

/// What the network sees beyond the image's edge (see `engine::border`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// VGG's own zero padding: a mean-grey frame around the picture.
    #[default]
    Zero,
    /// The picture mirrored outwards; no frame for the style loss to answer.
    Reflect,
}

/// Optical-flow settings for video (DIS presets; see `crate::flow::Quality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FlowQuality {
    Ultrafast,
    #[default]
    Fast,
    Medium,
    Fine,
}

/// A style image named in a preset, with its blend weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleRef {
    pub path: PathBuf,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// All engine settings. Field names are the preset file's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Preset format version; must be 1.
    pub version: u32,
    pub description: String,
    pub arch: ArchChoice,
    pub pooling: Pooling,
    /// The convolutions' products on the CPU: `auto` (BF16 where the CPU has AMX) or `f32`.
    #[serde(skip_serializing_if = "is_auto")]
    pub precision: Precision,
    /// Long side of the output in pixels (aspect ratio kept).
    pub size: u32,
    /// Number of scales, coarse to fine; each scale is `scale_step` times the previous one.
    pub scales: u32,
    pub scale_step: f64,
    /// Iterations at each scale.
    pub iterations: u32,
    pub optimizer: Optimizer,
    /// Step size: Adam's learning rate, or L-BFGS's step (the default is 0.01 for Adam, 1 for L-BFGS).
    pub learning_rate: Option<f64>,
    /// L-BFGS: how many correction pairs are kept.
    pub lbfgs_history: usize,
    pub line_search: LineSearch,
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    pub adam_epsilon: f64,
    pub init: Init,
    pub init_file: Option<PathBuf>,
    /// Amplitude of the uniform noise of `init = "content_noise"`.
    pub noise: f64,
    pub seed: u64,
    /// α: weight of the content loss.
    pub content_weight: f64,
    /// β: weight of the style loss.
    pub style_weight: f64,
    /// Weight of the total-variation term.
    pub tv_weight: f64,
    /// Content layers and their weights, e.g. `conv4_2 = 1.0` (or `block4_conv2`).
    pub content_layers: BTreeMap<String, f64>,
    /// Style layers and their weights.
    pub style_layers: BTreeMap<String, f64>,
    /// Size of the style image relative to the output.
    pub style_scale: f64,
    /// The image border the network sees: `zero` (VGG's padding) or `reflect` (mirrored; no line
    /// grows inside the border in long optimisations and video).
    pub padding: Padding,
    pub color: ColorMode,
    /// Style images that come with the preset (added to those given on the command line).
    pub styles: Vec<StyleRef>,
    /// Video: how each frame after the first starts.
    pub warm_start: WarmStart,
    /// Video: iterations per frame after the first.
    pub frame_iterations: u32,
    /// Video: γ, the weight of the temporal loss `γ·Σ c·(x − ω)²/N` that keeps each frame close to
    /// the previous stylised frame(s) warped by the optical flow, where the flow is reliable
    /// (0: off). Pixels on the 0..255 scale, like the content loss.
    pub temporal_weight: f64,
    /// Video: which earlier frames the temporal loss looks back to (1 = the previous frame); each
    /// older frame counts only where no closer one is reliable (Ruder et al.'s long-term loss).
    pub temporal_frames: Vec<u32>,
    /// Video: the optical flow used for warped starts and the temporal loss.
    pub flow_quality: FlowQuality,
    /// Video: a folder of precomputed flows (`backward_T_S.flo`, `forward_S_T.flo`, frames
    /// numbered from 1, as artistic-videos names them) used instead of computing them.
    pub flow_dir: Option<PathBuf>,
    /// Sessions: write a checkpoint every this many iterations (0: only by time)...
    pub checkpoint_every: u32,
    /// ...or when this many seconds passed since the last one, whichever comes first (0: only by count).
    pub checkpoint_seconds: f64,
    /// Also write the image every this many iterations beside the output, as
    /// `OUT-STEM.iterN.EXT` (0: off; `run --save-every`).
    #[serde(skip_serializing_if = "is_zero")]
    pub save_every: u32,
    /// Evaluate each scale tile by tile, cores of this many pixels a side (exact: the same loss
    /// and gradient as the whole picture, with the memory of one tile). 0: only when the memory
    /// plan needs it, which then chooses the size (`run --plan` shows it).
    #[serde(skip_serializing_if = "is_zero")]
    pub tile: u32,
    /// The most memory a run may use, as `4G`, `512M` or bytes (powers of 1024). Unset: what
    /// the machine (on CUDA, the GPU) has free when the run starts, less a margin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory: Option<String>,
    /// The memory plan's tile per scale, coarse to fine (0: whole), set when a run starts; empty:
    /// every scale uses `tile`. Not a preset field.
    #[serde(skip)]
    pub scale_tiles: Vec<u32>,
    /// The memory plan's choice to keep the L-BFGS history in bf16 (half its memory), set when a
    /// run starts. Not a preset field.
    #[serde(skip)]
    pub lbfgs_compact: bool,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn is_auto(p: &Precision) -> bool {
    *p == Precision::Auto
}

impl Default for Settings {
    fn default() -> Self {
        let style_layers =
            ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"].iter().map(|l| (l.to_string(), 0.2)).collect();
        Self {
            version: 1,
            description: String::new(),
            arch: ArchChoice::Auto,
            pooling: Pooling::Avg,
            precision: Precision::Auto,
            size: 512,
            scales: 1,
            scale_step: 2.0,
            iterations: 300,
            optimizer: Optimizer::Lbfgs,
            learning_rate: None,
            lbfgs_history: 10,
            line_search: LineSearch::Backtracking,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            init: Init::Content,
            init_file: None,
            noise: 0.1,
            seed: 0,
            content_weight: 1.0,
            style_weight: 1.0,
            tv_weight: 0.0,
            content_layers: [("conv4_2".to_string(), 1.0)].into_iter().collect(),
            style_layers,
            style_scale: 1.0,
            padding: Padding::Zero,
            color: ColorMode::None,
            styles: Vec::new(),
            warm_start: WarmStart::Previous,
            frame_iterations: 100,
            temporal_weight: 0.0,
            temporal_frames: vec![1],
            flow_quality: FlowQuality::Fast,
            flow_dir: None,
            checkpoint_every: 50,
            checkpoint_seconds: 30.0,
            save_every: 0,
            tile: 0,
            max_memory: None,
            scale_tiles: Vec::new(),
            lbfgs_compact: false,
        }
    }
}

impl Settings {
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or(match self.optimizer {
            Optimizer::Adam => 0.01,
            Optimizer::Lbfgs => 1.0,
        })
    }

    /// The output sizes (long side) of each scale, coarse to fine.
    pub fn scale_sizes(&self) -> Vec<u32> {
        let n = self.scales.max(1);
        (0..n)
            .map(|k| {
                let f = self.scale_step.powi((n - 1 - k) as i32);
                ((self.size as f64 / f).round() as u32).max(16)
            })
            .collect()
    }

    /// Checks values a TOML type cannot: ranges and layer names. Returns the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != 1 {
            return Err(format!("version {} is not supported (expected 1)", self.version));
        }
        let positive = [
            ("size", self.size as f64),
            ("scales", self.scales as f64),
            ("iterations", self.iterations as f64),
            ("lbfgs_history", self.lbfgs_history as f64),
            ("style_scale", self.style_scale),
        ];
        for (field, v) in positive {
            if !v.is_finite() || v <= 0.0 {
                return Err(format!("field `{field}` must be positive"));
            }
        }
        if self.size > 8192 {
            return Err("field `size` must be at most 8192".into());
        }
        if !self.scale_step.is_finite() || self.scale_step < 1.0 {
            return Err("field `scale_step` must be at least 1".into());
        }
        let non_negative = [
            ("content_weight", self.content_weight),
            ("style_weight", self.style_weight),
            ("tv_weight", self.tv_weight),
            ("noise", self.noise),
            ("checkpoint_seconds", self.checkpoint_seconds),
            ("temporal_weight", self.temporal_weight),
        ];
        for (field, v) in non_negative {
            if !v.is_finite() || v < 0.0 {
                return Err(format!("field `{field}` must be a non-negative number"));
            }
        }
        if let Some(lr) = self.learning_rate {
            if !lr.is_finite() || lr <= 0.0 {
                return Err("field `learning_rate` must be positive".into());
            }
        }
        for (field, layers) in [("content_layers", &self.content_layers), ("style_layers", &self.style_layers)] {
            for name in layers.keys() {
                let known = crate::weights::layout::parse_layer_name(name)
                    .is_some_and(|(b, l)| Arch::Vgg19.convs().iter().any(|c| c.block == b && c.layer == l));
                if !known {
                    return Err(format!("field `{field}`: unknown layer `{name}`"));
                }
            }
        }
        if self.content_layers.is_empty() && self.style_layers.is_empty() {
            return Err("no content_layers and no style_layers: nothing to optimise".into());
        }
        if self.temporal_frames.is_empty() || self.temporal_frames.contains(&0) {
            return Err("field `temporal_frames` must list frame distances of at least 1, e.g. [1, 10, 20]".into());
        }
        if self.temporal_frames.iter().any(|&f| f > 1000) {
            return Err("field `temporal_frames`: distances above 1000 frames are not supported".into());
        }
        if self.init == Init::File && self.init_file.is_none() {
            return Err("init = \"file\" needs `init_file`".into());
        }
        if self.tile != 0 && !(16..=8192).contains(&self.tile) {
            return Err("field `tile` must be 0 (chosen when needed) or 16 to 8192 pixels".into());
        }
        self.max_memory_bytes()?;
        Ok(())
    }

    /// The tile core for scale `scale` (0-based, coarse to fine): the memory plan's, else `tile`.
    pub fn tile_at(&self, scale: usize) -> u32 {
        self.scale_tiles.get(scale).copied().unwrap_or(self.tile)
    }

    /// `max_memory` in bytes, or an error naming the field.
    pub fn max_memory_bytes(&self) -> Result<Option<u64>, String> {
        match &self.max_memory {
            None => Ok(None),
            Some(text) => parse_bytes(text).filter(|&b| b >= 64 << 20).map(Some).ok_or_else(|| {
                format!(
                    "field `max_memory`: `{}` is not a size of at least 64M such as 4G or 512M",
                    text.escape_debug()
                )
            }),
        }
    }
}

/// `4G`, `4GB`, `4GiB`, `512M`, `1.5G`, `1048576`: a size in bytes, suffixes in powers of 1024.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let value: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).unwrap_or(&unit);
    let scale = match unit {
        "" => 1u64,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    let bytes = value * scale as f64;
    (0.0..1e18).contains(&bytes).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes() {
        assert_eq!(parse_bytes("4G"), Some(4 << 30));
        assert_eq!(parse_bytes("4GiB"), Some(4 << 30));
        assert_eq!(parse_bytes(" 512m "), Some(512 << 20));
        assert_eq!(parse_bytes("1.5G"), Some(3 << 29));
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        for bad in ["", "G", "4X", "-1G", "1e3", "4 G B"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
        let s = Settings { max_memory: Some("32M".into()), ..Settings::default() };
        assert!(s.validate().unwrap_err().contains("max_memory"));
        let s = Settings { tile: 8, ..Settings::default() };
        assert!(s.validate().unwrap_err().contains("tile"));
    }
}
