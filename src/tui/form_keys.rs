//! Keys in the new-session form. Letters type into text fields, so actions use Ctrl (^S submit,
//! ^P save preset, ^D delete preset, ^U clear) and F1 for help.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::browser::{Browser, BrowserOutcome};
use super::form::{Form, FormOutcome};
use super::form_fields::{Field, FieldKind, FIELDS};
use crate::preset::Preset;

impl Form {
    pub fn handle_key(&mut self, key: KeyEvent, presets: &[Preset]) -> FormOutcome {
        if let Some((field, browser)) = &mut self.browser {
            match browser.handle_key(key) {
                BrowserOutcome::Stay => {}
                BrowserOutcome::Closed => self.browser = None,
                BrowserOutcome::Picked(path) => {
                    let field = *field;
                    self.set(field, path.display().to_string());
                    self.browser = None;
                }
            }
            return FormOutcome::Stay;
        }
        if let Some(name) = &mut self.save_prompt {
            match key.code {
                KeyCode::Esc => self.save_prompt = None,
                KeyCode::Backspace => {
                    name.pop();
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => name.push(c),
                KeyCode::Enter => {
                    let name = name.trim().to_string();
                    self.save_prompt = None;
                    return match self.settings() {
                        Ok(s) => FormOutcome::SavePreset { name, settings: Box::new(s) },
                        Err(e) => {
                            self.message = Some(e);
                            FormOutcome::Stay
                        }
                    };
                }
                _ => {}
            }
            return FormOutcome::Stay;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let field = self.focused();
        match key.code {
            KeyCode::Esc => return FormOutcome::Close,
            KeyCode::F(1) => return FormOutcome::ShowHelp,
            KeyCode::Char('s') if ctrl => return self.submit(),
            KeyCode::Char('p') if ctrl => self.save_prompt = Some(String::new()),
            KeyCode::Char('d') if ctrl => return FormOutcome::DeletePreset(self.preset_name.clone()),
            KeyCode::Char('u') if ctrl => self.values[self.focus].clear(),
            KeyCode::Up | KeyCode::BackTab => self.focus = (self.focus + FIELDS.len() - 1) % FIELDS.len(),
            KeyCode::Down | KeyCode::Tab => self.focus = (self.focus + 1) % FIELDS.len(),
            KeyCode::Left | KeyCode::Right => {
                let step = if key.code == KeyCode::Left { -1 } else { 1 };
                match field.kind() {
                    FieldKind::Choice(options) => self.cycle_choice(options, step),
                    FieldKind::Preset => self.cycle_preset(presets, step),
                    _ => {}
                }
            }
            KeyCode::Enter => match field.kind() {
                FieldKind::Button => return self.submit(),
                FieldKind::File => {
                    let current = PathBuf::from(self.value(field).trim());
                    let dir = match current.parent() {
                        Some(p) if !p.as_os_str().is_empty() && p.is_dir() => p.to_path_buf(),
                        _ => self.start_dir.clone(),
                    };
                    self.browser = Some((field, Browser::open_with(&dir, field == Field::Content)));
                }
                _ => self.focus = (self.focus + 1) % FIELDS.len(),
            },
            KeyCode::Backspace => {
                if matches!(field.kind(), FieldKind::Text | FieldKind::File) {
                    self.values[self.focus].pop();
                }
            }
            KeyCode::Char(' ') if matches!(field.kind(), FieldKind::Choice(_)) => {
                if let FieldKind::Choice(options) = field.kind() {
                    self.cycle_choice(options, 1)
                }
            }
            KeyCode::Char(c) if !ctrl => {
                if matches!(field.kind(), FieldKind::Text | FieldKind::File) {
                    self.values[self.focus].push(c);
                }
            }
            _ => {}
        }
        FormOutcome::Stay
    }
}
