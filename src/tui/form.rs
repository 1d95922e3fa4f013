//! The new-session form: inputs, a preset and its main fields, edited inline. Also serves
//! "duplicate with changes": it opens prefilled from an existing session's spec.

use std::path::{Path, PathBuf};

use super::browser::Browser;
use super::form_fields::{Field, FIELDS};
use crate::engine::settings::StyleRef;
use crate::engine::Settings;
use crate::preset::Preset;
use crate::session::{Kind, SessionSpec};

#[derive(Debug, Clone)]
pub struct Form {
    /// One text per entry of [`FIELDS`].
    pub values: Vec<String>,
    pub focus: usize,
    /// The preset (or duplicated session's settings) the fields start from; fields not in the
    /// form (layers, pooling, …) come from here.
    pub base: Settings,
    pub preset_name: String,
    /// The session this duplicates: its kind, weights and priority are kept.
    pub template: Option<SessionSpec>,
    pub browser: Option<(Field, Browser)>,
    /// The name being typed for "save as preset".
    pub save_prompt: Option<String>,
    /// The last problem or confirmation, shown under the fields.
    pub message: Option<String>,
    pub(super) start_dir: PathBuf,
    /// "Watch a folder": Content is the folder; submitting starts a watch instead of a session.
    pub watch: bool,
}

/// What a key did in the form.
#[derive(Debug, Clone)]
pub enum FormOutcome {
    Stay,
    Close,
    Submit(Box<SessionSpec>),
    SavePreset { name: String, settings: Box<Settings> },
    DeletePreset(String),
    ShowHelp,
}

fn index_of(field: Field) -> usize {
    FIELDS.iter().position(|f| *f == field).unwrap_or(0)
}

impl Form {
    /// An empty form on the first preset of the list (or the defaults when there is none).
    pub fn new(presets: &[Preset], start_dir: &Path) -> Self {
        let mut form = Form {
            values: vec![String::new(); FIELDS.len()],
            focus: 0,
            base: Settings::default(),
            preset_name: "default".into(),
            template: None,
            browser: None,
            save_prompt: None,
            message: None,
            start_dir: start_dir.to_path_buf(),
            watch: false,
        };
        form.values[index_of(Field::Device)] = crate::session::record::default_device();
        match presets.iter().find(|p| p.name == "quick").or_else(|| presets.first()) {
            Some(p) => form.load_preset(&p.name, &p.settings),
            None => form.load_preset("default", &Settings::default()),
        }
        form
    }

    /// A form prefilled from an existing session (duplicate with changes).
    /// The form for a new watched folder: the Content field takes the folder (typed: the file
    /// browser picks files), Export the output folder (default FOLDER/stylized).
    pub fn watch_folder(presets: &[Preset], start_dir: &Path) -> Self {
        let mut form = Form::new(presets, start_dir);
        form.watch = true;
        form.message =
            Some("Content: type the folder to watch; Export to: the output folder (default FOLDER/stylized)".into());
        form
    }

    pub fn duplicate(spec: SessionSpec, start_dir: &Path) -> Self {
        let mut form = Form::new(&[], start_dir);
        form.set(Field::Name, spec.name.clone().map(|n| format!("{n} copy")).unwrap_or_default());
        form.set(Field::Content, spec.content.display().to_string());
        form.set(Field::Device, spec.device.clone());
        form.set(Field::Export, spec.export.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        form.set(Field::Style, String::new());
        form.load_preset(&spec.preset, &spec.settings);
        form.template = Some(spec);
        form
    }

    pub fn value(&self, field: Field) -> &str {
        &self.values[index_of(field)]
    }

    pub fn set(&mut self, field: Field, text: String) {
        self.values[index_of(field)] = text;
    }

    pub fn focused(&self) -> Field {
        FIELDS[self.focus]
    }

    /// Takes a preset's settings as the base and refreshes the preset fields. A style already
    /// chosen is kept; otherwise the preset's first style is shown.
    pub fn load_preset(&mut self, name: &str, settings: &Settings) {
        self.base = settings.clone();
        self.preset_name = name.to_string();
        for field in FIELDS {
            if let Some(text) = field.from_settings(settings) {
                self.set(field, text);
            }
        }
        if self.value(Field::Style).trim().is_empty() {
            let first = settings.styles.first().map(|s| s.path.display().to_string()).unwrap_or_default();
            self.set(Field::Style, first);
        }
    }

    /// The form's settings: the base with every field applied and the chosen style.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut s = self.base.clone();
        for (i, field) in FIELDS.iter().enumerate() {
            field.apply(&self.values[i], &mut s)?;
        }
        let style = self.value(Field::Style).trim();
        let keeps_base = s.styles.first().is_some_and(|f| f.path == Path::new(style));
        if !style.is_empty() && !keeps_base {
            s.styles = vec![StyleRef { path: PathBuf::from(style), weight: 1.0 }];
        }
        s.validate()?;
        Ok(s)
    }

    /// The spec to submit, or what is missing.
    pub fn spec(&self) -> Result<SessionSpec, String> {
        let content = self.value(Field::Content).trim();
        if content.is_empty() {
            return Err("Content: pick a content image (Enter opens the file browser)".into());
        }
        let settings = self.settings()?;
        if settings.styles.is_empty() {
            return Err("Style: pick a style image (Enter opens the file browser)".into());
        }
        let optional = |t: &str| Some(t.trim().to_string()).filter(|t| !t.is_empty());
        let device = optional(self.value(Field::Device)).unwrap_or_else(crate::session::record::default_device);
        let template = self.template.as_ref();
        Ok(SessionSpec {
            name: optional(self.value(Field::Name)),
            // A clip as content makes a video session (frames warm-started, audio kept).
            kind: if super::browser::is_video(Path::new(content)) {
                Kind::Video
            } else {
                template.map_or(Kind::Image, |t| if t.kind == Kind::Video { Kind::Image } else { t.kind })
            },
            content: PathBuf::from(content),
            export: optional(self.value(Field::Export)).map(PathBuf::from),
            weights: template.and_then(|t| t.weights.clone()),
            device,
            preset: self.preset_name.clone(),
            priority: template.map_or(0, |t| t.priority),
            settings,
        })
    }

    pub(super) fn cycle_preset(&mut self, presets: &[Preset], step: isize) {
        if presets.is_empty() {
            return;
        }
        let current = presets.iter().position(|p| p.name == self.preset_name);
        let n = presets.len() as isize;
        let next = match current {
            Some(i) => (i as isize + step).rem_euclid(n) as usize,
            None => 0,
        };
        let p = &presets[next];
        self.load_preset(&p.name, &p.settings);
        self.message = Some(format!("loaded preset `{}`", p.name));
    }

    pub(super) fn cycle_choice(&mut self, options: &[&str], step: isize) {
        let i = self.focus;
        let current = options.iter().position(|o| *o == self.values[i]).unwrap_or(0) as isize;
        let n = options.len() as isize;
        self.values[i] = options[(current + step).rem_euclid(n) as usize].to_string();
    }

    pub(super) fn submit(&mut self) -> FormOutcome {
        match self.spec() {
            Ok(spec) => FormOutcome::Submit(Box::new(spec)),
            Err(e) => {
                self.message = Some(e);
                FormOutcome::Stay
            }
        }
    }
}
