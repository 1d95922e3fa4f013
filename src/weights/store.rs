//! The local weights store: contract files plus `index.toml`, which lists only complete files.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::format::WeightsMeta;
use super::layout::{Arch, Preprocess};
use super::WeightsError;
use crate::util::fs::write_atomic;
use crate::util::hash::sha256_file;

const INDEX: &str = "index.toml";

/// One installed weights file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub arch: Arch,
    pub preprocess: Preprocess,
    pub source: String,
    pub size: u64,
    pub sha256: String,
    pub is_default: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    #[serde(default)]
    weights: Vec<IndexEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IndexEntry {
    name: String,
    file: String,
    arch: Arch,
    preprocess: Preprocess,
    source: String,
    size: u64,
    sha256: String,
}

/// One entry of [`Store::verify`]: the entry and whether its file still matches its sha256.
pub type Verified = (Entry, Result<(), WeightsError>);

/// A directory of weights files and their index.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// `$XDG_CACHE_HOME/brushwork/weights`, else `$HOME/.cache/brushwork/weights`; created if missing.
    pub fn open_default() -> Result<Store, WeightsError> {
        let cache = crate::util::dirs::cache_home().ok_or(WeightsError::NoCacheDir)?;
        Store::at(cache.join("brushwork").join("weights"))
    }

    /// A store in `dir`, created if missing.
    pub fn at(dir: PathBuf) -> Result<Store, WeightsError> {
        fs::create_dir_all(&dir).map_err(|e| WeightsError::io(&dir, e))?;
        Ok(Store { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join(INDEX)
    }

    fn load(&self) -> Result<Index, WeightsError> {
        let path = self.index_path();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
            Err(e) => return Err(WeightsError::io(&path, e)),
        };
        let index: Index = toml::from_str(&text)
            .map_err(|e| WeightsError::Index { path: path.clone(), msg: e.message().to_string() })?;
        Ok(index)
    }

    fn save(&self, index: &Index) -> Result<(), WeightsError> {
        let path = self.index_path();
        let text =
            toml::to_string(index).map_err(|e| WeightsError::Index { path: path.clone(), msg: e.to_string() })?;
        Ok(write_atomic(&path, text.as_bytes())?)
    }

    fn entry(&self, index: &Index, e: &IndexEntry) -> Entry {
        Entry {
            name: e.name.clone(),
            path: self.dir.join(&e.file),
            arch: e.arch,
            preprocess: e.preprocess,
            source: e.source.clone(),
            size: e.size,
            sha256: e.sha256.clone(),
            is_default: index.default.as_deref() == Some(e.name.as_str()),
        }
    }

    /// All installed entries, in installation order.
    pub fn list(&self) -> Result<Vec<Entry>, WeightsError> {
        let index = self.load()?;
        Ok(index.weights.iter().map(|e| self.entry(&index, e)).collect())
    }

    /// The default entry, if one is set.
    pub fn default_entry(&self) -> Result<Option<Entry>, WeightsError> {
        Ok(self.list()?.into_iter().find(|e| e.is_default))
    }

    /// The default if it fits `arch`, else any installed entry of that arch.
    pub fn entry_for(&self, arch: Option<Arch>) -> Result<Option<Entry>, WeightsError> {
        let list = self.list()?;
        let fits = |e: &Entry| arch.is_none_or(|a| a == e.arch);
        if let Some(d) = list.iter().find(|e| e.is_default && fits(e)) {
            return Ok(Some(d.clone()));
        }
        Ok(list.into_iter().find(|e| fits(e)))
    }

    /// Re-hashes every file against its recorded sha256.
    pub fn verify(&self) -> Result<Vec<Verified>, WeightsError> {
        Ok(self
            .list()?
            .into_iter()
            .map(|e| {
                let check = sha256_file(&e.path).map_err(WeightsError::from).and_then(|actual| {
                    if actual == e.sha256 {
                        Ok(())
                    } else {
                        Err(WeightsError::Checksum { path: e.path.clone(), expected: e.sha256.clone(), actual })
                    }
                });
                (e, check)
            })
            .collect())
    }

    pub fn set_default(&self, name: &str) -> Result<(), WeightsError> {
        let mut index = self.load()?;
        if !index.weights.iter().any(|e| e.name == name) {
            return Err(WeightsError::NoSuchEntry { dir: self.dir.clone(), name: name.to_string() });
        }
        index.default = Some(name.to_string());
        self.save(&index)
    }

    /// Removes an entry and its file; the default moves to the first remaining entry.
    pub fn remove(&self, name: &str) -> Result<Entry, WeightsError> {
        let mut index = self.load()?;
        let Some(pos) = index.weights.iter().position(|e| e.name == name) else {
            return Err(WeightsError::NoSuchEntry { dir: self.dir.clone(), name: name.to_string() });
        };
        let entry = self.entry(&index, &index.weights[pos]);
        index.weights.remove(pos);
        if entry.is_default {
            index.default = index.weights.first().map(|e| e.name.clone());
        }
        self.save(&index)?;
        match fs::remove_file(&entry.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(WeightsError::io(&entry.path, e)),
            _ => Ok(entry),
        }
    }

    /// Where to write a new contract file before [`Store::install`] (a hidden name in the store dir,
    /// never listed).
    pub fn staging_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!(".{name}.incoming.safetensors"))
    }

    /// Moves a complete contract file (best written at [`Store::staging_path`]) into the store as
    /// `name`, records its size and sha256, and lists it. An entry of the same name is replaced;
    /// the first entry of a store becomes the default.
    pub fn install(&self, name: &str, file: &Path, meta: &WeightsMeta) -> Result<Entry, WeightsError> {
        check_name(name, &self.dir)?;
        let sha256 = sha256_file(file)?;
        let size = fs::metadata(file).map_err(|e| WeightsError::io(file, e))?.len();
        let file_name = format!("{name}.safetensors");
        let dest = self.dir.join(&file_name);
        fs::rename(file, &dest).map_err(|e| WeightsError::io(&dest, e))?;
        let mut index = self.load()?;
        let new = IndexEntry {
            name: name.to_string(),
            file: file_name,
            arch: meta.arch,
            preprocess: meta.preprocess,
            source: meta.source.clone(),
            size,
            sha256,
        };
        match index.weights.iter_mut().find(|e| e.name == name) {
            Some(old) => *old = new.clone(),
            None => index.weights.push(new.clone()),
        }
        if index.default.as_ref().is_none_or(|d| !index.weights.iter().any(|e| &e.name == d)) {
            index.default = Some(name.to_string());
        }
        self.save(&index)?;
        Ok(self.entry(&index, &new))
    }
}

/// Entry names become file names: letters, digits, `.`, `_`, `-`; not starting with `.`.
fn check_name(name: &str, dir: &Path) -> Result<(), WeightsError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(WeightsError::format(dir, format!("invalid weights name `{name}` (use letters, digits, `.`, `_`, `-`)")))
    }
}

/// Turns any text into a valid entry name.
pub fn sanitize_name(text: &str) -> String {
    let s: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '-' }).collect();
    let s = s.trim_start_matches('.').chars().take(100).collect::<String>();
    if s.is_empty() {
        "weights".to_string()
    } else {
        s
    }
}
