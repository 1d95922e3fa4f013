//! What each key does, per screen. The lists shown to the user are in `key_help.rs`.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, CheckJob, Confirm, Detail, Effect, Panel, Screen};
use super::form::{Form, FormOutcome};
use crate::preset::Origin;
use crate::session::Request;

impl App {
    pub fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        if let Some(confirm) = self.confirm.take() {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => vec![confirm.effect],
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Vec::new(),
                _ => {
                    self.confirm = Some(confirm);
                    Vec::new()
                }
            };
        }
        if self.help {
            self.help = false;
            return Vec::new();
        }
        self.status = None;
        match self.screen.clone() {
            Screen::Sessions => self.sessions_key(key),
            Screen::Detail(id) => self.detail_key(key, &id),
            Screen::Form => self.form_key(key),
        }
    }

    fn sessions_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Tab => {
                self.panel = match self.panel {
                    Panel::Sessions => Panel::Watched,
                    Panel::Watched => Panel::Log,
                    Panel::Log => Panel::Sessions,
                };
                return Vec::new();
            }
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('n') => self.open_form(Form::new(&self.presets, &self.start_dir)),
            KeyCode::Char('a') if self.panel == Panel::Watched => {
                self.open_form(Form::watch_folder(&self.presets, &self.start_dir))
            }
            KeyCode::Up | KeyCode::Char('k') if self.panel == Panel::Watched => {
                self.watch_selected = self.watch_selected.saturating_sub(1)
            }
            KeyCode::Down | KeyCode::Char('j') if self.panel == Panel::Watched => {
                self.watch_selected = (self.watch_selected + 1).min(self.watches.len().saturating_sub(1))
            }
            KeyCode::Char('x') | KeyCode::Char('d') if self.panel == Panel::Watched => {
                if let Some(w) = self.watches.get(self.watch_selected) {
                    self.confirm = Some(Confirm {
                        question: format!("Stop watching {}?", w.config.dir.display()),
                        effect: Effect::Request(Request::Unwatch { dir: w.config.dir.clone() }),
                    });
                }
                return Vec::new();
            }
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Up | KeyCode::Char('k') if self.panel == Panel::Log => {
                self.log_scroll = (self.log_scroll + 1).min(self.log.len().saturating_sub(1))
            }
            KeyCode::Down | KeyCode::Char('j') if self.panel == Panel::Log => {
                self.log_scroll = self.log_scroll.saturating_sub(1)
            }
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Enter => {
                if let Some(id) = self.selected.clone() {
                    self.detail = Some(Detail { id: id.clone(), losses: Vec::new(), frames: Vec::new() });
                    self.screen = Screen::Detail(id.clone());
                    return vec![Effect::LoadLosses(id)];
                }
            }
            _ => {
                if let Some(id) = self.selected.clone() {
                    return self.session_action(key, &id);
                }
            }
        }
        Vec::new()
    }

    fn detail_key(&mut self, key: KeyEvent, id: &str) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc | KeyCode::Backspace | KeyCode::Left => {
                self.screen = Screen::Sessions;
                self.detail = None;
            }
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            _ => return self.session_action(key, id),
        }
        Vec::new()
    }

    /// The actions on one session, shared by the list and the detail screen.
    fn session_action(&mut self, key: KeyEvent, id: &str) -> Vec<Effect> {
        // A session whose deletion is on its way takes no more actions (duplicating it still works).
        let acts = matches!(key.code, KeyCode::Char('p' | 'r' | 'c' | 'R' | '+' | '-' | 'd'));
        if acts && self.pending_for(id) == Some("deleting") {
            let name = self.session(id).map_or(id, |r| r.name.as_str());
            self.status = Some(format!("`{name}` is being deleted"));
            return Vec::new();
        }
        let id = id.to_string();
        let request = match key.code {
            KeyCode::Char('p') => Request::Pause { id },
            KeyCode::Char('r') => Request::Resume { id },
            KeyCode::Char('c') => Request::Cancel { id },
            KeyCode::Char('R') => Request::Retry { id },
            KeyCode::Char('+') | KeyCode::Char('-') => {
                let Some(r) = self.session(&id) else { return Vec::new() };
                let priority = r.job.priority + if key.code == KeyCode::Char('+') { 1 } else { -1 };
                Request::SetPriority { id, priority }
            }
            KeyCode::Char('d') => {
                let name = self.session(&id).map_or(id.clone(), |r| r.name.clone());
                self.confirm = Some(Confirm {
                    question: format!("Delete session `{name}` and its folder?"),
                    effect: Effect::Request(Request::Remove { id }),
                });
                return Vec::new();
            }
            KeyCode::Char('D') => {
                if let Some(spec) = self.session(&id).map(|r| r.spec()) {
                    self.open_form(Form::duplicate(spec, &self.start_dir));
                }
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        vec![Effect::Request(request)]
    }

    fn open_form(&mut self, form: Form) {
        self.form = Some(form);
        self.screen = Screen::Form;
    }

    fn close_form(&mut self) {
        self.form = None;
        self.screen = Screen::Sessions;
    }

    fn form_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(form) = self.form.as_mut() else {
            self.screen = Screen::Sessions;
            return Vec::new();
        };
        match form.handle_key(key, &self.presets) {
            FormOutcome::Stay => Vec::new(),
            FormOutcome::Close => {
                self.close_form();
                Vec::new()
            }
            FormOutcome::ShowHelp => {
                self.help = true;
                Vec::new()
            }
            FormOutcome::Submit(spec) => {
                // Checked as the CLI checks (inputs read, output checked) before it is sent.
                self.check_seq += 1;
                let seq = self.check_seq;
                let Some(form) = self.form.as_mut() else { return Vec::new() };
                form.checking = Some(seq);
                form.message = Some("checking the inputs…".into());
                vec![Effect::Check(CheckJob { seq, spec, watch: form.watch })]
            }
            FormOutcome::SavePreset { name, settings } => vec![Effect::SavePreset { name, settings }],
            FormOutcome::DeletePreset(name) => {
                match self.deletable_preset(&name) {
                    Some(path) => {
                        self.confirm = Some(Confirm {
                            question: format!("Delete preset file {}?", path.display()),
                            effect: Effect::DeletePreset(path),
                        })
                    }
                    None => {
                        if let Some(form) = self.form.as_mut() {
                            form.message = Some(format!("`{name}` is not a user preset: only files can be deleted"));
                        }
                    }
                }
                Vec::new()
            }
        }
    }

    /// The answer to a form check: submit (closing the form), or show why not. An answer for a
    /// form no longer open is dropped.
    pub fn checked(&mut self, job: CheckJob, result: Result<(), String>) -> Vec<Effect> {
        let Some(form) = self.form.as_mut().filter(|f| f.checking == Some(job.seq)) else { return Vec::new() };
        form.checking = None;
        if let Err(message) = result {
            form.message = Some(message);
            return Vec::new();
        }
        self.close_form();
        if job.watch {
            return vec![Effect::Request(Request::Watch { config: Box::new(watch_config(*job.spec)) })];
        }
        vec![Effect::Request(Request::Submit { spec: job.spec })]
    }

    /// The file of a user preset: one under `./presets`, the user's preset folder or the
    /// folder presets are saved to. Built-in presets cannot be deleted.
    pub fn deletable_preset(&self, name: &str) -> Option<std::path::PathBuf> {
        let preset = self.presets.iter().find(|p| p.name == name)?;
        let Origin::File(path) = &preset.origin else { return None };
        let mut dirs = crate::preset::search_dirs();
        dirs.extend(self.preset_dir.clone());
        let parent = path.parent()?;
        dirs.iter().any(|d| d == parent).then(|| path.clone())
    }

    fn move_selection(&mut self, step: isize) {
        let order = self.ordered();
        if order.is_empty() {
            return;
        }
        let current = self.selected.as_deref().and_then(|id| order.iter().position(|r| r.id == id)).unwrap_or(0);
        let next = (current as isize + step).clamp(0, order.len() as isize - 1) as usize;
        self.selected = Some(order[next].id.clone());
    }
}

/// A saved watch from the watch form's fields.
fn watch_config(spec: crate::session::SessionSpec) -> crate::session::watches::WatchConfig {
    let out = spec.job.export.clone().unwrap_or_else(|| spec.job.content.join("stylized"));
    crate::session::watches::WatchConfig {
        dir: spec.job.content,
        recursive: false,
        out,
        poll_seconds: None,
        preset: spec.job.preset,
        weights: spec.job.weights,
        device: spec.job.device,
        persistent: true,
        settings: spec.job.settings,
    }
}
