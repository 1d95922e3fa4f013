//! The workspace folder (`docs/CONTRACT.md`): `sessions/<id>/` per session, the `lock` file held by
//! the one scheduler (TUI or `serve`) that owns it, and the `serve.sock` socket it listens on.
//!
//! Every file is written by temp-and-rename, so a `kill -9` at any moment leaves a workspace that
//! loads. A session whose `session.toml` is damaged is listed as failed with the parse error and
//! does not stop the others from loading.

use std::fs;
use std::path::{Path, PathBuf};

use super::record::{now, Job, SessionRecord, SessionSpec, Status};
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

pub const RECORD_FILE: &str = "session.toml";

#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

/// One entry of a listing: a session that loaded, or one whose record is damaged.
#[derive(Debug, Clone)]
pub enum Listed {
    Ok(Box<SessionRecord>),
    Damaged { id: String, error: String },
}

impl Workspace {
    /// `$XDG_DATA_HOME/brushwork`, else `~/.local/share/brushwork`, else `./brushwork-workspace`.
    pub fn default_root() -> PathBuf {
        match crate::util::dirs::data_home() {
            Some(d) => d.join("brushwork"),
            None => PathBuf::from("brushwork-workspace"),
        }
    }

    /// Opens (creating if needed) the workspace at `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let sessions = root.join("sessions");
        fs::create_dir_all(&sessions).map_err(|e| Error::io(&sessions, e))?;
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Ok(Workspace { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn session_dir(&self, id: &str) -> PathBuf {
        self.root.join("sessions").join(id)
    }

    pub fn socket_path(&self) -> PathBuf {
        self.root.join("serve.sock")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Creates a session folder with a fresh id (`0001-tubingen`: a counter and the name) and
    /// writes its record. Creating the folder is the atomic step that claims the id.
    pub fn create(&self, spec: SessionSpec) -> Result<SessionRecord> {
        let stem = spec
            .name
            .clone()
            .or_else(|| spec.job.content.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "session".into());
        let slug = slug(&stem);
        // Numbers are never reused, even after the newest session is removed: a script holding
        // `3` must never reach another job. The counter file remembers the highest one given.
        let highest = self.ids().iter().filter_map(|id| id.split('-').next()?.parse::<u32>().ok()).max().unwrap_or(0);
        let mut n = highest.max(self.last_number());
        loop {
            n += 1;
            let id = format!("{n:04}-{slug}");
            let dir = self.session_dir(&id);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    // Another process may have counted past us meanwhile: never lower it.
                    let last = n.max(self.last_number());
                    write_atomic(&self.counter_path(), format!("{last}\n").as_bytes())?;
                    let record = SessionRecord::new(id, spec);
                    self.save(&record)?;
                    return Ok(record);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
    }

    /// `last-session-number`: the highest session number this workspace has given.
    fn counter_path(&self) -> PathBuf {
        self.root.join("last-session-number")
    }

    fn last_number(&self) -> u32 {
        fs::read_to_string(self.counter_path()).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    pub fn load(&self, id: &str) -> Result<SessionRecord> {
        let path = self.session_dir(id).join(RECORD_FILE);
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let record: SessionRecord = toml::from_str(&text).map_err(|e| {
            let message = e.message().to_string();
            match e.span().map(|s| line_col(&text, s.start)) {
                Some((line, column)) => Error::InputAt { path: path.clone(), line, column, message },
                None => Error::input(&path, message),
            }
        })?;
        if record.id != id {
            return Err(Error::input(&path, format!("its id is `{}` but its folder is `{id}`", record.id)));
        }
        let mut record = record;
        crate::session::distributed::refresh(&mut record);
        Ok(record)
    }

    pub fn save(&self, record: &SessionRecord) -> Result<()> {
        let path = self.session_dir(&record.id).join(RECORD_FILE);
        let text = record
            .to_toml()
            .map_err(|e| Error::Internal(format!("{}: cannot encode the record: {e}", path.display())))?;
        Ok(write_atomic(&path, text.as_bytes())?)
    }

    /// Ids of all session folders, sorted (so oldest first).
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = fs::read_dir(self.root.join("sessions"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .collect();
        ids.sort();
        ids
    }

    pub fn list(&self) -> Vec<Listed> {
        self.ids()
            .into_iter()
            .map(|id| match self.load(&id) {
                Ok(r) => Listed::Ok(Box::new(r)),
                Err(e) => Listed::Damaged { id, error: e.to_string() },
            })
            .collect()
    }

    /// A damaged session shown as a failed record, so lists and the TUI can show it and `rm` it.
    pub fn damaged_record(&self, id: &str, error: &str) -> SessionRecord {
        let mut r = SessionRecord::new(
            id.to_string(),
            SessionSpec {
                name: Some(id.to_string()),
                job: Job {
                    kind: Default::default(),
                    content: PathBuf::new(),
                    export: None,
                    weights: None,
                    device: "cpu".into(),
                    preset: String::new(),
                    priority: 0,
                    settings: Default::default(),
                },
            },
        );
        r.status = Status::Failed;
        r.error = Some(error.to_string());
        r.created_at = 0;
        r.finished_at = Some(now());
        r
    }

    /// Finds a session by id, by its number (`3` or `0003`) or by a unique prefix.
    pub fn resolve_id(&self, query: &str) -> Result<String> {
        // An empty query is a prefix of every id: never let it pick one.
        if query.trim().is_empty() {
            return Err(Error::Usage("an empty session id: give its id, its number or a unique prefix".into()));
        }
        let ids = self.ids();
        if ids.iter().any(|i| i == query) {
            return Ok(query.to_string());
        }
        let by_number: Vec<&String> = match query.parse::<u32>() {
            Ok(n) => {
                ids.iter().filter(|i| i.split('-').next().and_then(|p| p.parse::<u32>().ok()) == Some(n)).collect()
            }
            Err(_) => ids.iter().filter(|i| i.starts_with(query)).collect(),
        };
        match by_number.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::Usage(format!("no session `{query}` in {}", self.root.display()))),
            many => Err(Error::Usage(format!(
                "`{query}` matches several sessions: {}",
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.session_dir(id);
        // Rename first so a half-deleted folder never looks like a session.
        let trash = self.root.join("sessions").join(format!(".deleted-{id}-{}", std::process::id()));
        fs::rename(&dir, &trash).map_err(|e| Error::io(&dir, e))?;
        fs::remove_dir_all(&trash).map_err(|e| Error::io(&trash, e))
    }
}

/// Lower-case ASCII letters, digits and dashes, at most 32 characters.
fn slug(name: &str) -> String {
    let mut s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-');
    let s: String = s.chars().take(32).collect();
    if s.is_empty() {
        "session".into()
    } else {
        s
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SessionSpec {
        SessionSpec {
            name: Some("x".into()),
            job: Job {
                kind: Default::default(),
                content: PathBuf::from("x.png"),
                export: None,
                weights: None,
                device: "cpu".into(),
                preset: String::new(),
                priority: 0,
                settings: Default::default(),
            },
        }
    }

    #[test]
    fn numbers_are_never_reused_and_empty_ids_resolve_to_nothing() {
        let root = std::env::temp_dir().join(format!("brushwork-ws-numbers-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let ws = Workspace::open(&root).unwrap();
        let a = ws.create(spec()).unwrap();
        let b = ws.create(spec()).unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("0001-x", "0002-x"));
        ws.remove(&b.id).unwrap();
        assert_eq!(ws.create(spec()).unwrap().id, "0003-x");
        for empty in ["", " "] {
            let e = ws.resolve_id(empty).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("empty session id"), "{e}");
        }
        // Two folders with one number (made by hand): the number is ambiguous, never a guess.
        fs::create_dir(root.join("sessions/0009-a")).unwrap();
        fs::create_dir(root.join("sessions/9-b")).unwrap();
        let e = ws.resolve_id("9").unwrap_err().to_string();
        assert!(e.contains("matches several sessions"), "{e}");
        assert_eq!(ws.resolve_id("3").unwrap(), "0003-x");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn slugs_are_safe_folder_names() {
        assert_eq!(slug("Tübingen Neckarfront (1)"), "t-bingen-neckarfront-1");
        assert_eq!(slug("///"), "session");
        assert_eq!(slug("a".repeat(40).as_str()).len(), 32);
    }
}
