//! The new-session form: inputs, a preset and its main fields, edited inline. Also serves
//! "duplicate with changes": it opens prefilled from an existing session's spec.

use std::path::{Path, PathBuf};

use super::browser::Browser;
use super::form_fields::{Field, FieldKind, FIELDS};
use crate::engine::settings::StyleRef;
use crate::engine::Settings;
use crate::preset::Preset;
use crate::session::{Job, Kind, SessionSpec};

/// One style of the form: its file and its weight, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StyleRow {
    pub path: String,
    pub weight: String,
}

/// A line of the form: a field of [`FIELDS`], or the file or weight of style `k` (the style
/// rows stand where [`Field::Style`] is in [`FIELDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Field(Field),
    Style(usize),
    Weight(usize),
}

impl Row {
    /// The field this line edits like ([`Field::Style`] for a style's file, a text for its weight).
    pub fn kind(self) -> FieldKind {
        match self {
            Row::Field(f) => f.kind(),
            Row::Style(_) => FieldKind::File,
            Row::Weight(_) => FieldKind::Text,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    /// One text per entry of [`FIELDS`] (the entry of [`Field::Style`] is unused: see `styles`).
    pub values: Vec<String>,
    /// The styles with their weights; at least one row.
    pub styles: Vec<StyleRow>,
    /// The focused line, an index into [`Form::rows`].
    pub focus: usize,
    /// The number of the check of this form's spec running off the UI thread; keys other than
    /// Esc wait for its answer.
    pub checking: Option<u64>,
    /// The preset (or duplicated session's settings) the fields start from; fields not in the
    /// form (layers, pooling, …) come from here.
    pub base: Settings,
    pub preset_name: String,
    /// The session this duplicates: its kind, weights and priority are kept.
    pub template: Option<SessionSpec>,
    pub browser: Option<(Field, Browser)>,
    /// The name being typed for "save as preset".
    pub save_prompt: Option<String>,
    /// A preset name whose save was held back because it would overwrite a file or shadow a
    /// built-in; saving the same name again goes ahead (the CLI's `--force`).
    pub overwrite: Option<String>,
    /// The last problem or confirmation, shown under the fields.
    pub message: Option<String>,
    pub(super) start_dir: PathBuf,
    /// "Watch a folder": Content is the folder; submitting starts a watch instead of a session.
    pub watch: bool,
    /// The memory line and the spec (as JSON) it was planned for ([`Form::memory_line`]).
    memory_cache: std::cell::RefCell<Option<(String, String)>>,
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
            styles: vec![StyleRow::default()],
            focus: 0,
            checking: None,
            base: Settings::default(),
            preset_name: "default".into(),
            template: None,
            browser: None,
            save_prompt: None,
            overwrite: None,
            message: None,
            start_dir: start_dir.to_path_buf(),
            watch: false,
            memory_cache: std::cell::RefCell::new(None),
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
            Some("Folder: type the folder to watch; Output folder: where results go (default FOLDER/stylized)".into());
        form
    }

    pub fn duplicate(spec: SessionSpec, start_dir: &Path) -> Self {
        let mut form = Form::new(&[], start_dir);
        form.set(Field::Name, spec.name.clone().map(|n| format!("{n} copy")).unwrap_or_default());
        form.set(Field::Content, spec.job.content.display().to_string());
        form.set(Field::Device, spec.job.device.clone());
        form.set(Field::Export, spec.job.export.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        form.styles = vec![StyleRow::default()];
        form.load_preset(&spec.job.preset, &spec.job.settings);
        form.template = Some(spec);
        form
    }

    pub fn value(&self, field: Field) -> &str {
        &self.values[index_of(field)]
    }

    pub fn set(&mut self, field: Field, text: String) {
        self.values[index_of(field)] = text;
    }

    /// Every line of the form, in order.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::with_capacity(FIELDS.len() + 2 * self.styles.len());
        for field in FIELDS {
            if field == Field::Style {
                for k in 0..self.styles.len() {
                    rows.extend([Row::Style(k), Row::Weight(k)]);
                }
            } else {
                rows.push(Row::Field(field));
            }
        }
        rows
    }

    /// The line of a field (its first style line for [`Field::Style`]).
    pub fn row_of(&self, field: Field) -> usize {
        let want = if field == Field::Style { Row::Style(0) } else { Row::Field(field) };
        self.rows().iter().position(|r| *r == want).unwrap_or(0)
    }

    pub fn focused_row(&self) -> Row {
        let rows = self.rows();
        rows[self.focus.min(rows.len() - 1)]
    }

    /// The field of the focused line ([`Field::Style`] for a style's file or weight).
    pub fn focused(&self) -> Field {
        match self.focused_row() {
            Row::Field(f) => f,
            Row::Style(_) | Row::Weight(_) => Field::Style,
        }
    }

    /// The text of a line.
    pub fn row_text(&self, row: Row) -> &str {
        match row {
            Row::Field(f) => self.value(f),
            Row::Style(k) => &self.styles[k].path,
            Row::Weight(k) => &self.styles[k].weight,
        }
    }

    /// The text of the focused line, to edit.
    pub(super) fn focused_text(&mut self) -> &mut String {
        match self.focused_row() {
            Row::Field(f) => {
                let i = FIELDS.iter().position(|x| *x == f).unwrap_or(0);
                &mut self.values[i]
            }
            Row::Style(k) => &mut self.styles[k].path,
            Row::Weight(k) => &mut self.styles[k].weight,
        }
    }

    /// Adds an empty style (weight 1) after the focused one (or after the last) and focuses it.
    pub fn add_style(&mut self) {
        let at = match self.focused_row() {
            Row::Style(k) | Row::Weight(k) => k + 1,
            Row::Field(_) => self.styles.len(),
        };
        self.styles.insert(at, StyleRow { path: String::new(), weight: "1".into() });
        self.focus = self.rows().iter().position(|r| *r == Row::Style(at)).unwrap_or(self.focus);
    }

    /// Removes the focused style; the last one left is only cleared.
    pub fn remove_style(&mut self) {
        let (Row::Style(k) | Row::Weight(k)) = self.focused_row() else {
            self.message = Some("^X removes the focused style: move to a style first".into());
            return;
        };
        if self.styles.len() == 1 {
            self.styles[0] = StyleRow { path: String::new(), weight: "1".into() };
        } else {
            self.styles.remove(k);
        }
        let k = k.min(self.styles.len() - 1);
        self.focus = self.rows().iter().position(|r| *r == Row::Style(k)).unwrap_or(0);
    }

    /// Takes a preset's settings as the base and refreshes the preset fields. Styles already
    /// chosen are kept; otherwise the preset's styles are shown with their weights.
    pub fn load_preset(&mut self, name: &str, settings: &Settings) {
        self.base = settings.clone();
        self.preset_name = name.to_string();
        for field in FIELDS {
            if let Some(text) = field.from_settings(settings) {
                self.set(field, text);
            }
        }
        if self.styles.iter().all(|s| s.path.trim().is_empty()) {
            self.styles = settings
                .styles
                .iter()
                .map(|s| StyleRow { path: s.path.display().to_string(), weight: s.weight.to_string() })
                .collect();
            if self.styles.is_empty() {
                self.styles.push(StyleRow { path: String::new(), weight: "1".into() });
            }
            self.focus = self.focus.min(self.rows().len() - 1);
        }
    }

    /// The styles as chosen: every row with a file, its weight read (empty: 1).
    fn style_refs(&self) -> Result<Vec<StyleRef>, String> {
        let numbered = self.styles.len() > 1;
        let mut out = Vec::new();
        for (k, row) in self.styles.iter().enumerate() {
            let path = row.path.trim();
            if path.is_empty() {
                continue;
            }
            let name = if numbered { format!("Style {} weight", k + 1) } else { "Style weight".to_string() };
            let text = row.weight.trim();
            let weight = if text.is_empty() {
                1.0
            } else {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => v,
                    _ => return Err(format!("{name}: `{text}` is not a non-negative number")),
                }
            };
            out.push(StyleRef { path: PathBuf::from(path), weight });
        }
        Ok(out)
    }

    /// The form's settings: the base with every field applied and the chosen styles.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut s = self.base.clone();
        for (i, field) in FIELDS.iter().enumerate() {
            field.apply(&self.values[i], &mut s)?;
        }
        s.styles = self.style_refs()?;
        s.validate()?;
        Ok(s)
    }

    /// What the job being edited would need in memory (the memory plan of `brushwork run --plan`:
    /// peak, budget, tiles), or why it would be refused; `None` while the form is incomplete.
    /// Planning reads the images' and the weights' headers, so the line is kept for the spec it
    /// was made for and made again only when the spec changes (not on every redraw).
    pub fn memory_line(&self) -> Option<String> {
        let spec = self.spec().ok()?;
        let key = serde_json::to_string(&spec).ok()?;
        let mut cache = self.memory_cache.borrow_mut();
        match &*cache {
            Some((k, line)) if *k == key => Some(line.clone()),
            _ => {
                let line = Self::plan_line(&spec);
                *cache = Some((key, line.clone()));
                Some(line)
            }
        }
    }

    fn plan_line(spec: &SessionSpec) -> String {
        use crate::session::memory::{check, human};
        match check(spec) {
            Ok(plan) => {
                let budget = plan.budget.map_or(String::new(), |b| format!(" of {}", human(b)));
                let how =
                    if plan.changes.is_empty() { String::new() } else { format!(": {}", plan.changes.join(", ")) };
                let whose = if plan.device == "cpu" { String::new() } else { format!(" ({})", plan.device) };
                format!("memory{whose}: about {}{budget} at the peak{how}", human(plan.bytes))
            }
            Err(e) => format!("memory: {e}"),
        }
    }

    /// The spec to submit, or what is missing.
    pub fn spec(&self) -> Result<SessionSpec, String> {
        let content = self.value(Field::Content).trim();
        if content.is_empty() {
            return Err(if self.watch {
                "Folder: type the folder to watch".into()
            } else {
                "Content: pick a content image or clip (Enter opens the file browser)".into()
            });
        }
        let settings = self.settings()?;
        if settings.styles.is_empty() {
            return Err("Style: pick a style image (Enter opens the file browser; ^N adds a style)".into());
        }
        let optional = |t: &str| Some(t.trim().to_string()).filter(|t| !t.is_empty());
        let device = optional(self.value(Field::Device)).unwrap_or_else(crate::session::record::default_device);
        let template = self.template.as_ref();
        Ok(SessionSpec {
            name: optional(self.value(Field::Name)),
            job: Job {
                // A clip as content makes a video session (frames warm-started, audio kept).
                kind: if super::browser::is_video(Path::new(content)) {
                    Kind::Video
                } else {
                    template.map_or(Kind::Image, |t| match t.job.kind {
                        // A folder plan's form makes an image session of the file typed in.
                        Kind::Video | Kind::Folder => Kind::Image,
                        kind => kind,
                    })
                },
                content: PathBuf::from(content),
                export: optional(self.value(Field::Export)).map(PathBuf::from),
                weights: template.and_then(|t| t.job.weights.clone()),
                device,
                preset: self.preset_name.clone(),
                priority: template.map_or(0, |t| t.job.priority),
                settings,
            },
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
        let text = self.focused_text();
        let current = options.iter().position(|o| *o == text.as_str()).unwrap_or(0) as isize;
        let n = options.len() as isize;
        *text = options[(current + step).rem_euclid(n) as usize].to_string();
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
