//! The new-session form's fields: what each is called, how it is edited, and how its text is read
//! from and written into [`Settings`]. Values are kept as text while editing and checked on submit.

use crate::engine::settings::{ColorMode, Init, Optimizer, WarmStart};
use crate::engine::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Content,
    Style,
    Preset,
    Size,
    Iterations,
    Scales,
    Optimizer,
    StyleWeight,
    ContentWeight,
    TvWeight,
    Seed,
    Init,
    Color,
    /// Video: how frames after the first start.
    WarmStart,
    /// Video: iterations of each warm-started frame.
    FrameIterations,
    /// Video: γ of the temporal loss.
    TemporalWeight,
    Device,
    /// The memory budget (`max_memory`): the machine's, or on CUDA the GPU's.
    MaxMemory,
    Export,
    Submit,
}

/// How a field is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Text, or Enter to open the file browser.
    File,
    /// ←/→ cycle through fixed values.
    Choice(&'static [&'static str]),
    /// ←/→ cycle through the preset list (and load the preset).
    Preset,
    Button,
}

pub const FIELDS: [Field; 21] = [
    Field::Name,
    Field::Content,
    Field::Style,
    Field::Preset,
    Field::Size,
    Field::Iterations,
    Field::Scales,
    Field::Optimizer,
    Field::StyleWeight,
    Field::ContentWeight,
    Field::TvWeight,
    Field::Seed,
    Field::Init,
    Field::Color,
    Field::WarmStart,
    Field::FrameIterations,
    Field::TemporalWeight,
    Field::Device,
    Field::MaxMemory,
    Field::Export,
    Field::Submit,
];

const OPTIMIZERS: &[&str] = &["lbfgs", "adam"];
const INITS: &[&str] = &["content", "content_noise", "noise", "file"];
const COLORS: &[&str] = &["none", "luminance", "histogram"];
const WARM_STARTS: &[&str] = &["warped", "previous", "none"];

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Name => "Name",
            Field::Content => "Content",
            Field::Style => "Style",
            Field::Preset => "Preset",
            Field::Size => "Size (px)",
            Field::Iterations => "Iterations",
            Field::Scales => "Scales",
            Field::Optimizer => "Optimizer",
            Field::StyleWeight => "Style weight",
            Field::ContentWeight => "Content weight",
            Field::TvWeight => "TV weight",
            Field::Seed => "Seed",
            Field::Init => "Init",
            Field::Color => "Colour",
            Field::WarmStart => "Video start",
            Field::FrameIterations => "Frame iters",
            Field::TemporalWeight => "Temporal wt",
            Field::Device => "Device",
            Field::MaxMemory => "Max memory",
            Field::Export => "Export to",
            Field::Submit => "",
        }
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::Content | Field::Style => FieldKind::File,
            Field::Preset => FieldKind::Preset,
            Field::Optimizer => FieldKind::Choice(OPTIMIZERS),
            Field::Init => FieldKind::Choice(INITS),
            Field::Color => FieldKind::Choice(COLORS),
            Field::WarmStart => FieldKind::Choice(WARM_STARTS),
            Field::Submit => FieldKind::Button,
            _ => FieldKind::Text,
        }
    }

    /// The field's text as the preset has it; `None` for fields that are not preset fields.
    pub fn from_settings(self, s: &Settings) -> Option<String> {
        Some(match self {
            Field::Size => s.size.to_string(),
            Field::Iterations => s.iterations.to_string(),
            Field::Scales => s.scales.to_string(),
            Field::Optimizer => enum_text(&s.optimizer),
            Field::StyleWeight => s.style_weight.to_string(),
            Field::ContentWeight => s.content_weight.to_string(),
            Field::TvWeight => s.tv_weight.to_string(),
            Field::Seed => s.seed.to_string(),
            Field::Init => enum_text(&s.init),
            Field::Color => enum_text(&s.color),
            Field::WarmStart => enum_text(&s.warm_start),
            Field::FrameIterations => s.frame_iterations.to_string(),
            Field::TemporalWeight => s.temporal_weight.to_string(),
            Field::MaxMemory => s.max_memory.clone().unwrap_or_default(),
            _ => return None,
        })
    }

    /// Writes the field's text into `s`; the error names the field.
    pub fn apply(self, text: &str, s: &mut Settings) -> Result<(), String> {
        let text = text.trim();
        let whole = |t: &str| t.parse::<u32>().map_err(|_| format!("{}: `{t}` is not a whole number", self.label()));
        let number = |t: &str| match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("{}: `{t}` is not a number", self.label())),
        };
        match self {
            Field::Size => s.size = whole(text)?,
            Field::Iterations => s.iterations = whole(text)?,
            Field::Scales => s.scales = whole(text)?,
            Field::Optimizer => s.optimizer = parse_enum::<Optimizer>(text)?,
            Field::StyleWeight => s.style_weight = number(text)?,
            Field::ContentWeight => s.content_weight = number(text)?,
            Field::TvWeight => s.tv_weight = number(text)?,
            Field::Seed => {
                s.seed = text.parse().map_err(|_| format!("Seed: `{text}` is not a whole number"))?;
            }
            Field::Init => s.init = parse_enum::<Init>(text)?,
            Field::Color => s.color = parse_enum::<ColorMode>(text)?,
            Field::WarmStart => s.warm_start = parse_enum::<WarmStart>(text)?,
            Field::FrameIterations => s.frame_iterations = whole(text)?,
            Field::TemporalWeight => {
                let v = number(text)?;
                if v < 0.0 {
                    return Err(format!("{}: must not be negative", self.label()));
                }
                s.temporal_weight = v;
            }
            Field::MaxMemory => {
                s.max_memory = Some(text.to_string()).filter(|t| !t.is_empty());
                s.max_memory_bytes().map_err(|e| {
                    let why = e.strip_prefix("field `max_memory`: ").unwrap_or(&e);
                    format!("{}: {why} (empty: what is free)", self.label())
                })?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The serde name of a unit enum variant (`Optimizer::Lbfgs` → `lbfgs`).
fn enum_text<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("`{text}` is not allowed here"))
}
