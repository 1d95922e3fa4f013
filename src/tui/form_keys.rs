//! Keys in the new-session form. Letters type into text fields, so actions use Ctrl (^S submit,
//! ^P save preset, ^D delete preset, ^U clear, ^N add a style, ^X remove the focused style) and F1
//! for help.

use std::path::PathBuf;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::browser::{Browser, BrowserOutcome};
use super::form::{Form, FormOutcome};
use super::form_fields::{Field, FieldKind};
use crate::preset::Preset;

impl Form {
    pub fn handle_key(&mut self, key: KeyEvent, presets: &[Preset]) -> FormOutcome {
        if let Some((_, browser)) = &mut self.browser {
            match browser.handle_key(key) {
                BrowserOutcome::Stay => {}
                BrowserOutcome::Closed => self.browser = None,
                BrowserOutcome::Picked(path) => {
                    // The line that opened the browser is still focused (a style row, say).
                    *self.focused_text() = path.display().to_string();
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
        let row = self.focused_row();
        let lines = self.rows().len();
        if self.checking.is_some() && key.code != KeyCode::Esc {
            return FormOutcome::Stay;
        }
        match key.code {
            KeyCode::Esc => return FormOutcome::Close,
            KeyCode::F(1) => return FormOutcome::ShowHelp,
            KeyCode::Char('s') if ctrl => return self.submit(),
            KeyCode::Char('p') if ctrl => self.save_prompt = Some(String::new()),
            KeyCode::Char('d') if ctrl => return FormOutcome::DeletePreset(self.preset_name.clone()),
            KeyCode::Char('u') if ctrl => self.focused_text().clear(),
            KeyCode::Char('n') if ctrl => self.add_style(),
            KeyCode::Char('x') if ctrl => self.remove_style(),
            KeyCode::Up | KeyCode::BackTab => self.focus = (self.focus + lines - 1) % lines,
            KeyCode::Down | KeyCode::Tab => self.focus = (self.focus + 1) % lines,
            KeyCode::Home if ctrl => self.focus = 0,
            KeyCode::End if ctrl => self.focus = lines - 1,
            KeyCode::Left | KeyCode::Right => {
                let step = if key.code == KeyCode::Left { -1 } else { 1 };
                match row.kind() {
                    FieldKind::Choice(options) => self.cycle_choice(options, step),
                    FieldKind::Preset => self.cycle_preset(presets, step),
                    _ => {}
                }
            }
            KeyCode::Enter => match row.kind() {
                FieldKind::Button => return self.submit(),
                // The watch form's folder is typed: the browser picks files.
                FieldKind::File if !(self.watch && field == Field::Content) => {
                    let current = PathBuf::from(self.row_text(row).trim());
                    let dir = match current.parent() {
                        Some(p) if !p.as_os_str().is_empty() && p.is_dir() => p.to_path_buf(),
                        _ => self.start_dir.clone(),
                    };
                    let browser = Browser::open_with(&dir, field == Field::Content).with_home(&self.start_dir);
                    self.browser = Some((field, browser));
                }
                _ => self.focus = (self.focus + 1) % lines,
            },
            KeyCode::Backspace => {
                if matches!(row.kind(), FieldKind::Text | FieldKind::File) {
                    self.focused_text().pop();
                }
            }
            KeyCode::Char(' ') if matches!(row.kind(), FieldKind::Choice(_)) => {
                if let FieldKind::Choice(options) = row.kind() {
                    self.cycle_choice(options, 1)
                }
            }
            KeyCode::Char(c) if !ctrl => {
                if matches!(row.kind(), FieldKind::Text | FieldKind::File) {
                    self.focused_text().push(c);
                }
            }
            _ => {}
        }
        FormOutcome::Stay
    }
}
