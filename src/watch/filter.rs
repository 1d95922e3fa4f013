//! Which paths in a watched folder are candidates for stylising.
//!
//! A candidate is an image by extension (the content is judged later, when the file has settled),
//! visible (no component below the watched folder starts with `.`), not a partial or temporary file
//! that a browser, editor or copier is still writing, inside the watched folder itself unless the
//! watch is recursive, and not under an ignored folder. The output folder may sit inside the
//! watched folder and must never be watched, or every result would be stylised again: ignored
//! folders are compared as canonical paths, and a folder that does not exist yet (the output folder
//! is often created by the first result) is resolved through its nearest existing ancestor.

use std::ffi::OsStr;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Extensions of the image formats brushwork reads, lower case.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "webp"];

/// Name endings of files still being written by someone: backups, downloads, editor swap files.
const PARTIAL_SUFFIXES: &[&str] = &["~", ".tmp", ".part", ".crdownload", ".swp"];

/// Decides which paths under a watched folder are candidates.
#[derive(Debug, Clone)]
pub struct CandidateFilter {
    root: PathBuf,
    recursive: bool,
    ignore: Vec<PathBuf>,
}

/// What a scan of the watched folder found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Candidate files, in no particular order.
    pub files: Vec<PathBuf>,
    /// One line per folder that could not be read.
    pub errors: Vec<String>,
}

impl CandidateFilter {
    /// A filter for the folder `root` (which must exist). `ignore` lists folders whose contents are
    /// never candidates; they need not exist yet.
    pub fn new(root: &Path, recursive: bool, ignore: &[PathBuf]) -> Result<Self> {
        let canonical = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        if !canonical.is_dir() {
            return Err(Error::input(root, "is not a folder"));
        }
        let ignore = ignore.iter().map(|p| canonical_lenient(p)).collect();
        Ok(CandidateFilter { root: canonical, recursive, ignore })
    }

    /// The watched folder, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether subfolders are watched too.
    pub fn recursive(&self) -> bool {
        self.recursive
    }

    /// Whether `path` (a file path under [`root`](Self::root)) is a candidate by name and place.
    pub fn accepts(&self, path: &Path) -> bool {
        let Some(parts) = self.parts_below_root(path) else { return false };
        let Some(name) = parts.last() else { return false };
        if !self.recursive && parts.len() != 1 {
            return false;
        }
        let name = name.to_string_lossy();
        !parts.iter().any(|p| is_hidden(p))
            && !is_partial(&name)
            && has_image_extension(&name)
            && !self.is_ignored(path)
    }

    /// Whether `path` (a candidate by name) is a symbolic link, or lies under one, whose target is
    /// outside the watched folder or missing. Such files are never read: a link to `/etc/shadow`
    /// dropped into a folder a root `serve` watches must not be stylised and written out.
    pub fn leads_outside(&self, path: &Path) -> bool {
        match fs::canonicalize(path) {
            Ok(real) => !real.starts_with(&self.root),
            // Gone (it is dropped elsewhere) unless it is a dangling link.
            Err(_) => fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()),
        }
    }

    /// Whether the folder `dir` (the root or a folder below it) may hold candidates.
    pub fn enters(&self, dir: &Path) -> bool {
        let Some(parts) = self.parts_below_root(dir) else { return false };
        (parts.is_empty() || self.recursive) && !parts.iter().any(|p| is_hidden(p)) && !self.is_ignored(dir)
    }

    /// Every candidate now in the watched folder (and its subfolders when recursive).
    pub fn scan(&self) -> Scan {
        let mut scan = Scan::default();
        self.scan_into(&self.root, &mut scan);
        scan
    }

    /// Every candidate now in `dir`, a folder below the root (one that just appeared).
    pub fn scan_dir(&self, dir: &Path) -> Scan {
        let mut scan = Scan::default();
        if self.enters(dir) {
            self.scan_into(dir, &mut scan);
        }
        scan
    }

    fn scan_into(&self, dir: &Path, scan: &mut Scan) {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return scan.errors.push(format!("{}: cannot list folder: {e}", dir.display())),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Symbolic links to folders are not followed (they could loop); links to files are, while
            // they stay inside the watched folder (see `leads_outside`).
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if self.recursive && self.enters(&path) {
                    self.scan_into(&path, scan);
                }
            } else if self.accepts(&path) {
                scan.files.push(path);
            }
        }
    }

    /// The names below the root, or `None` when `path` is not below it (or has `..` in it).
    fn parts_below_root<'a>(&self, path: &'a Path) -> Option<Vec<&'a OsStr>> {
        let relative = path.strip_prefix(&self.root).ok()?;
        relative.components().map(|c| if let Component::Normal(name) = c { Some(name) } else { None }).collect()
    }

    fn is_ignored(&self, path: &Path) -> bool {
        if self.ignore.iter().any(|folder| path.starts_with(folder)) {
            return true;
        }
        // A symbolic link below the root may lead into an ignored folder: judge by the real place.
        match path.parent().and_then(|parent| fs::canonicalize(parent).ok()) {
            Some(real) => self.ignore.iter().any(|folder| real.starts_with(folder)),
            None => false,
        }
    }
}

fn is_hidden(name: &OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Partial downloads, backups, swap files and Emacs autosaves (`#name#`).
fn is_partial(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    PARTIAL_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix)) || lower.starts_with('#') || lower.starts_with("~$")
}

fn has_image_extension(name: &str) -> bool {
    let extension = Path::new(name).extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    extension.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// The canonical form of `path`, even when it does not exist yet: the nearest existing ancestor is
/// canonicalised and the missing names are appended to it.
pub fn canonical_lenient(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut missing = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(real) = fs::canonicalize(existing) {
            return missing.iter().rev().fold(real, |acc: PathBuf, name| acc.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(recursive: bool, ignore: &[PathBuf]) -> (tempfile::TempDir, CandidateFilter) {
        let dir = tempfile::tempdir().unwrap();
        let filter = CandidateFilter::new(dir.path(), recursive, ignore).unwrap();
        (dir, filter)
    }

    #[test]
    fn accepts_images_by_extension_in_any_case() {
        let (_dir, f) = filter(false, &[]);
        for name in ["a.png", "b.JPG", "c.jpeg", "d.Bmp", "e.tif", "f.TIFF", "g.webp", "h.gif"] {
            assert!(f.accepts(&f.root().join(name)), "{name}");
        }
        for name in ["a.svg", "notes.txt", "png", "a.png.bak", "a"] {
            assert!(!f.accepts(&f.root().join(name)), "{name}");
        }
    }

    #[test]
    fn rejects_hidden_partial_and_temporary_files() {
        let (_dir, f) = filter(true, &[]);
        for name in [".a.png", ".cache/a.png", "a.png~", "a.png.tmp", "a.png.part", "a.jpg.crdownload", "#a.png#"] {
            assert!(!f.accepts(&f.root().join(name)), "{name}");
        }
        assert!(f.accepts(&f.root().join("sub/a.png")));
    }

    #[test]
    fn non_recursive_ignores_subfolders_and_outside_paths() {
        let (_dir, f) = filter(false, &[]);
        assert!(!f.accepts(&f.root().join("sub/a.png")));
        assert!(!f.accepts(Path::new("/elsewhere/a.png")));
        assert!(!f.accepts(&f.root().join("../a.png")));
        assert!(!f.enters(&f.root().join("sub")));
        assert!(f.enters(f.root()));
    }

    #[cfg(unix)]
    #[test]
    fn ignores_a_not_yet_existing_output_folder_named_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().with_extension("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let f = CandidateFilter::new(dir.path(), true, &[link.join("out/styled")]).unwrap();
        let _ = fs::remove_file(&link);
        assert!(!f.accepts(&f.root().join("out/styled/a.png")));
        assert!(!f.enters(&f.root().join("out/styled/deeper")));
        assert!(f.accepts(&f.root().join("out/a.png")));
    }

    #[cfg(unix)]
    #[test]
    fn links_leading_outside_the_folder_are_caught() {
        let (dir, f) = filter(true, &[]);
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.png"), b"x").unwrap();
        fs::write(dir.path().join("inside.png"), b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, f.root().join(name)).unwrap();
        link(&outside.path().join("secret.png"), "out.png");
        link(&f.root().join("inside.png"), "in.png");
        link(Path::new("/nonexistent/x.png"), "dangling.png");
        link(outside.path(), "dirlink");
        link(Path::new("../inside.png"), "sub/relative.png");
        for name in ["out.png", "dangling.png", "dirlink/secret.png"] {
            assert!(f.leads_outside(&f.root().join(name)), "{name}");
        }
        for name in ["inside.png", "in.png", "sub/relative.png", "vanished.png"] {
            assert!(!f.leads_outside(&f.root().join(name)), "{name}");
        }
    }
}
