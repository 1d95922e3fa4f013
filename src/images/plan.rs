//! The plan of a folder render: which images, in which groups, with which settings and weights.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;
use crate::video::segments::plan::{check_parts, read_plan_file, Segment};

/// The plan file's name in the plan folder.
pub const IMAGES_PLAN_FILE: &str = "images.toml";

pub const IMAGES_PLAN_VERSION: u32 = 1;

/// Most images a plan may hold.
pub const MAX_IMAGES: usize = 1_000_000;

/// One image of the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedImage {
    /// The image (absolute) and its SHA-256 when the plan was made.
    pub path: PathBuf,
    pub sha256: String,
    /// Its result (absolute).
    pub output: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePlan {
    pub version: u32,
    /// The folder the images came from and the folder the results go to.
    pub folder: PathBuf,
    pub output_dir: PathBuf,
    pub preset: String,
    pub weights: PathBuf,
    pub weights_sha256: String,
    pub style_sha256: Vec<String>,
    pub images: Vec<PlannedImage>,
    /// Groups of consecutive images (indexes into `images`).
    pub groups: Vec<Segment>,
    pub settings: Settings,
}

impl ImagePlan {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(IMAGES_PLAN_FILE)
    }

    /// Writes the plan into `dir`; a folder holding another plan is refused (its results belong
    /// to that plan), the same plan again is kept. Returns whether it was already there.
    pub fn write_new(&self, dir: &Path) -> Result<bool> {
        let path = ImagePlan::path(dir);
        self.check().map_err(|m| Error::Internal(format!("the plan does not hold together: {m}")))?;
        if path.exists() {
            if ImagePlan::read(dir)? == *self {
                return Ok(true);
            }
            return Err(Error::input(
                &path,
                "this folder holds the plan of another folder, preset or split: plan into another --workdir, or remove it",
            ));
        }
        std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(dir, e))?;
        let text = toml::to_string(self).map_err(|e| Error::Internal(format!("cannot write the plan: {e}")))?;
        write_atomic(&path, text.as_bytes())?;
        Ok(false)
    }

    /// Reads `dir/images.toml` and checks it holds together.
    pub fn read(dir: &Path) -> Result<ImagePlan> {
        let path = ImagePlan::path(dir);
        let missing = "no image plan here (make one with `brushwork images plan`)";
        let plan: ImagePlan = read_plan_file(&path, (MAX_IMAGES as u64) * 1024, missing, "image plan")?;
        plan.check().map_err(|m| Error::input(&path, m))?;
        Ok(plan)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.version != IMAGES_PLAN_VERSION {
            return Err(format!("plan version {}, this brushwork reads {IMAGES_PLAN_VERSION}", self.version));
        }
        if self.images.is_empty() || self.images.len() > MAX_IMAGES {
            return Err(format!("{} images: must be 1 to {MAX_IMAGES}", self.images.len()));
        }
        check_parts(&self.groups, self.images.len(), "group", "image")?;
        // Results stay in the output folder, under their own names: a plan may not write elsewhere.
        for image in &self.images {
            let inside = image.output.parent() == Some(self.output_dir.as_path());
            let name_ok = image.output.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'));
            if !inside || !name_ok {
                return Err(format!("the result {} is not in the output folder", image.output.display()));
            }
        }
        if self.style_sha256.len() != self.settings.styles.len() {
            return Err(format!("{} style hashes for {} styles", self.style_sha256.len(), self.settings.styles.len()));
        }
        self.settings.validate().map_err(|e| format!("settings: {e}"))?;
        Ok(())
    }

    /// The group `index`, or a usage error naming the valid range.
    pub fn group(&self, index: usize) -> Result<Segment> {
        self.groups.get(index).copied().ok_or_else(|| {
            Error::Usage(format!(
                "group {index}: the plan has {} groups, numbered 0 to {}",
                self.groups.len(),
                self.groups.len() - 1
            ))
        })
    }

    /// Results done per group, and the groups with one missing.
    pub fn status(&self) -> (Vec<(usize, usize)>, Vec<usize>) {
        let done: Vec<(usize, usize)> = self
            .groups
            .iter()
            .map(|g| (self.images[g.start..g.end].iter().filter(|i| i.output.is_file()).count(), g.len()))
            .collect();
        let missing = done.iter().enumerate().filter(|(_, (d, n))| d < n).map(|(i, _)| i).collect();
        (done, missing)
    }
}

/// The images of `folder` (not its subfolders), sorted by name: regular files with an image
/// extension, hidden files and symbolic links left out (a link could lead out of the folder).
/// Two images whose results would share a name (`a.png`, `a.jpg`) are refused, naming both.
pub fn folder_images(folder: &Path, output_dir: &Path, preset: &str) -> Result<Vec<(PathBuf, PathBuf)>> {
    let entries = std::fs::read_dir(folder).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(folder, "no such folder"),
        _ => Error::io(folder, e),
    })?;
    let mut images: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(folder, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        let ext = Path::new(&name).extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        let image = ext.is_some_and(|e| crate::watch::filter::IMAGE_EXTENSIONS.contains(&e.as_str()));
        if is_file && image && !name.starts_with('.') {
            images.push(entry.path());
        }
    }
    images.sort();
    if images.is_empty() {
        return Err(Error::input(folder, "no images in this folder (png, jpg, gif, bmp, tif, webp)"));
    }
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(images.len());
    let mut seen: std::collections::HashMap<PathBuf, PathBuf> = std::collections::HashMap::new();
    for image in images {
        let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let result = output_dir.join(format!("{stem}.{preset}.png"));
        if let Some(other) = seen.insert(result.clone(), image.clone()) {
            return Err(Error::input(
                &image,
                format!(
                    "its result would have the same name as {}'s ({}): rename one",
                    other.display(),
                    result.display()
                ),
            ));
        }
        out.push((image, result));
    }
    Ok(out)
}
