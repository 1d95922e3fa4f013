//! A small file browser for picking content (an image or a video clip) and style images: folders
//! first, then the files that can be picked.
//! It reads folders directly (listing a folder is cheap and keeps navigation instant).

use std::path::{Component, Path, PathBuf};

use ratatui::crossterm::event::{KeyCode, KeyEvent};

const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];
/// Clips the content field accepts; picking one makes a video session.
const VIDEO_EXTENSIONS: [&str; 8] = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "gif"];

/// Entries PageUp and PageDown move by.
const PAGE: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

#[derive(Debug, Clone)]
pub struct Browser {
    /// Where it opened, for the "back to start" key.
    pub start: PathBuf,
    /// The folder the dashboard was started in: `m` goes to its `media/`, wherever the browser
    /// opened (next to a file already picked, say).
    pub home: PathBuf,
    pub dir: PathBuf,
    pub entries: Vec<Entry>,
    pub selected: usize,
    /// Why the folder could not be read, shown instead of the list.
    pub error: Option<String>,
    /// Also list video clips (the content field).
    pub videos: bool,
}

/// What a key did in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserOutcome {
    Stay,
    Picked(PathBuf),
    Closed,
}

pub fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_lowercase().as_str()))
}

pub fn is_video(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_lowercase().as_str()))
}

/// The parent folder, worked out on the text of the path so relative paths stay relative
/// (`media` → `.`, `.` → `..`, `../x` → `..`).
fn parent_of(dir: &Path) -> PathBuf {
    let mut p = dir.to_path_buf();
    match p.components().next_back() {
        Some(Component::Normal(_)) => {
            p.pop();
            if p.as_os_str().is_empty() {
                p.push(".");
            }
        }
        Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
        Some(Component::CurDir) => p = PathBuf::from(".."),
        _ => p.push(".."),
    }
    p
}

impl Browser {
    pub fn open(start: &Path) -> Self {
        Self::open_with(start, false)
    }

    /// A browser that also lists video clips when `videos` is set.
    pub fn open_with(start: &Path, videos: bool) -> Self {
        let mut b = Browser {
            start: start.to_path_buf(),
            home: start.to_path_buf(),
            dir: start.to_path_buf(),
            entries: Vec::new(),
            selected: 0,
            error: None,
            videos,
        };
        b.read();
        b
    }

    /// Sets the folder whose `media/` the `m` key opens.
    pub fn with_home(mut self, home: &Path) -> Self {
        self.home = home.to_path_buf();
        self
    }

    fn read(&mut self) {
        self.entries.clear();
        self.selected = 0;
        self.error = None;
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                self.error = Some(format!("{}: {e}", self.dir.display()));
                return;
            }
        };
        let mut entries: Vec<Entry> = listing
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let is_dir = e.path().is_dir();
                let pickable = is_image(&e.path()) || (self.videos && is_video(&e.path()));
                (!name.starts_with('.') && (is_dir || pickable)).then_some(Entry { name, is_dir })
            })
            .collect();
        entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
        if self.dir.parent().is_some() {
            entries.insert(0, Entry { name: "..".into(), is_dir: true });
        }
        // The cursor starts on the first entry that is not `..`.
        self.selected = usize::from(entries.len() > 1 && entries[0].name == "..");
        self.entries = entries;
    }

    fn go(&mut self, dir: PathBuf) {
        self.dir = dir;
        self.read();
    }

    fn up(&mut self) {
        let parent = parent_of(&self.dir);
        self.go(parent);
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> BrowserOutcome {
        match key.code {
            KeyCode::Esc => return BrowserOutcome::Closed,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(self.entries.len().saturating_sub(1))
            }
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(PAGE),
            KeyCode::PageDown => self.selected = (self.selected + PAGE).min(self.entries.len().saturating_sub(1)),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = self.entries.len().saturating_sub(1),
            KeyCode::Backspace | KeyCode::Left | KeyCode::Char('h') => self.up(),
            KeyCode::Char('m') => self.go(self.home.join("media")),
            KeyCode::Char('.') => self.go(self.start.clone()),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => {
                let Some(entry) = self.entries.get(self.selected).cloned() else { return BrowserOutcome::Stay };
                if entry.name == ".." {
                    self.up();
                } else if entry.is_dir {
                    self.go(self.dir.join(&entry.name));
                } else {
                    return BrowserOutcome::Picked(self.dir.join(&entry.name));
                }
            }
            _ => {}
        }
        BrowserOutcome::Stay
    }
}

#[cfg(test)]
mod tests {
    use ratatui::crossterm::event::KeyModifiers;

    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn m_opens_the_home_media_folder_on_its_first_entry_and_keys_move() {
        let home = tempfile::tempdir().unwrap();
        let media = home.path().join("media");
        std::fs::create_dir_all(media.join("content")).unwrap();
        for i in 0..25 {
            std::fs::write(media.join(format!("p{i:02}.png")), b"x").unwrap();
        }
        // Opened next to a picked file, `m` still goes to the home's media/.
        let mut b = Browser::open(&media.join("content")).with_home(home.path());
        b.handle_key(key(KeyCode::Char('m')));
        assert_eq!(b.dir, media);
        assert_eq!(b.entries[0].name, "..");
        assert_eq!(b.entries[b.selected].name, "content", "the first entry after `..`");
        b.handle_key(key(KeyCode::End));
        assert_eq!(b.entries[b.selected].name, "p24.png");
        b.handle_key(key(KeyCode::PageUp));
        assert_eq!(b.entries[b.selected].name, "p14.png");
        b.handle_key(key(KeyCode::Home));
        assert_eq!(b.selected, 0);
        b.handle_key(key(KeyCode::PageDown));
        assert_eq!(b.entries[b.selected].name, "p08.png");
    }
}
