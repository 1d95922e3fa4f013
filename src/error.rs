//! The library's error type. Every variant renders as one line that names the file and the problem.

use std::path::PathBuf;

use crate::weights::WeightsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user: unreadable image, bad preset, bad flag value. Exit code 2.
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    /// Bad input at a place in a text file (a preset). Exit code 2.
    #[error("{path}:{line}:{column}: {message}")]
    InputAt { path: PathBuf, line: usize, column: usize, message: String },
    /// Bad input in a file the user named with a flag: `--init-file x.png: no such file`. Exit code 2.
    #[error("{flag} {path}: {message}")]
    FlagInput { flag: &'static str, path: PathBuf, message: String },
    /// A usage problem that names no file. Exit code 2.
    #[error("{0}")]
    Usage(String),
    /// Weights missing, damaged or of the wrong shape. Exit code 2.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// Reading or writing a file failed. Exit code 1.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// FFmpeg could not encode, mux or convert a video. Exit code 1.
    #[error("{path}: {message}")]
    Codec { path: PathBuf, message: String },
    /// The numeric engine failed. Exit code 1.
    #[error("engine: {}", first_line(.0))]
    Engine(#[from] candle_core::Error),
    /// Work that failed in another process (a `serve` this command talks to). Exit code 1.
    #[error("{0}")]
    Remote(String),
    /// Stopped by a signal after a checkpoint; the message says how to continue. Exit code 130.
    #[error("{0}")]
    Interrupted(String),
    /// The run was cancelled by the caller. Exit code 1.
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// This error, naming `flag` first when it is about `file` (given by that flag): a missing
    /// `--init-file` reads `--init-file x.png: ...`, not just `x.png: ...`.
    pub fn named_by_flag(self, flag: &'static str, file: &std::path::Path) -> Self {
        match self {
            Error::Input { path, message } if path == file => Error::FlagInput { flag, path, message },
            Error::Io { path, source } if path == file => Error::FlagInput { flag, path, message: source.to_string() },
            e => e,
        }
    }

    /// The process exit code `docs/CONTRACT.md` gives this error: 2 for bad input, 1 for failed work.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. }
            | Error::InputAt { .. }
            | Error::FlagInput { .. }
            | Error::Usage(_)
            | Error::Weights(_) => 2,
            Error::Io { .. } | Error::Codec { .. } | Error::Engine(_) | Error::Remote(_) | Error::Cancelled => 1,
            Error::Interrupted(_) => 130,
        }
    }

    /// The file this error is about, for `--json` error events.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Input { path, .. }
            | Error::InputAt { path, .. }
            | Error::FlagInput { path, .. }
            | Error::Io { path, .. }
            | Error::Codec { path, .. } => Some(path),
            Error::Weights(w) => w.path(),
            _ => None,
        }
    }
}

impl From<crate::util::fs::FileError> for Error {
    fn from(e: crate::util::fs::FileError) -> Self {
        Error::Io { path: e.path, source: e.source }
    }
}

/// candle errors may carry a backtrace after the message; the user gets the message line only.
fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}
