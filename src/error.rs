//! The library's error type. Every variant renders as one line that names the file and the problem.

use std::path::PathBuf;

use crate::weights::WeightsError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input in a file the user gave: an unreadable image, a bad preset, a folder that is not
    /// one. Exit code 2.
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    /// Bad input at a place in a text file (a preset). Exit code 2.
    #[error("{path}:{line}:{column}: {message}")]
    InputAt { path: PathBuf, line: usize, column: usize, message: String },
    /// Bad input in a file the user named with a flag: `--init-file x.png: no such file`. Exit code 2.
    #[error("{flag} {path}: {message}")]
    FlagInput { flag: &'static str, path: PathBuf, message: String },
    /// A bad request or value that names no file: a setting or flag out of range, an unknown
    /// preset, layer or session id, a command that needs a terminal. Exit code 2.
    #[error("{0}")]
    Usage(String),
    /// A session or workspace that is busy or in the wrong state for the request: run by another
    /// process, owned by another `serve`, already finished, shutting down. Nothing was done, and
    /// nothing failed: the request works once the state changes (or it is asked differently), as
    /// bad usage does. Exit code 2.
    #[error("{0}")]
    Conflict(String),
    /// Weights missing, not installed, damaged or of the wrong shape. Exit code 2.
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
    /// Work that failed for no fault of the input: a broken invariant (a bug), our own data that
    /// cannot be serialised, a thread or signal handler the system would not give. Exit code 1.
    #[error("{0}")]
    Internal(String),
    /// Work that failed in another process (a `serve` this command talks to). Exit code 1.
    #[error("{0}")]
    Remote(String),
    /// A request the `serve` this command talks to refused as bad input or usage, or for a
    /// session in the wrong state there (its exit code 2); the message is the server's. Exit code 2.
    #[error("{0}")]
    RemoteRefused(String),
    /// Stopped by a signal after a checkpoint; the message says how to continue. Exit code 130.
    #[error("{0}")]
    Interrupted(String),
    /// Work another process has not finished yet: frames of a distributed render still missing
    /// when it is stitched. Not bad input: the same command works once the work is done. Exit code 1.
    #[error("{path}: {message}")]
    Unfinished { path: PathBuf, message: String },
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

    /// The process exit code `docs/CONTRACT.md` gives this error: 2 for bad input or usage (a
    /// request refused before any work), 1 for failed work, 130 for a run stopped by a signal.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. }
            | Error::InputAt { .. }
            | Error::FlagInput { .. }
            | Error::Usage(_)
            | Error::Conflict(_)
            | Error::Weights(_)
            | Error::RemoteRefused(_) => 2,
            Error::Io { .. }
            | Error::Codec { .. }
            | Error::Engine(_)
            | Error::Internal(_)
            | Error::Remote(_)
            | Error::Unfinished { .. }
            | Error::Cancelled => 1,
            Error::Interrupted(_) => 130,
        }
    }

    /// The file this error is about, for `--json` error events; `None` for the kinds that name
    /// no file (usage, conflicts, internal and remote failures, stops).
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Input { path, .. }
            | Error::InputAt { path, .. }
            | Error::FlagInput { path, .. }
            | Error::Io { path, .. }
            | Error::Unfinished { path, .. }
            | Error::Codec { path, .. } => Some(path),
            Error::Weights(w) => w.path(),
            Error::Usage(_)
            | Error::Conflict(_)
            | Error::Engine(_)
            | Error::Internal(_)
            | Error::Remote(_)
            | Error::RemoteRefused(_)
            | Error::Interrupted(_)
            | Error::Cancelled => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn io_error() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
    }

    /// One error of every kind, with the exit code and the file the contract gives it.
    fn every_kind() -> Vec<(Error, i32, Option<&'static str>)> {
        vec![
            (Error::input("a.png", "not an image"), 2, Some("a.png")),
            (Error::InputAt { path: "p.toml".into(), line: 3, column: 1, message: "bad".into() }, 2, Some("p.toml")),
            (
                Error::FlagInput { flag: "--init-file", path: "i.png".into(), message: "missing".into() },
                2,
                Some("i.png"),
            ),
            (Error::Usage("field `size` must be positive".into()), 2, None),
            (Error::Conflict("session 0001-a is being run by another process".into()), 2, None),
            (Error::Weights(WeightsError::NotInstalled("no VGG weights installed".into())), 2, None),
            (Error::Weights(WeightsError::UnknownFormat { path: "w.bin".into() }), 2, Some("w.bin")),
            (Error::io("out.png", io_error()), 1, Some("out.png")),
            (Error::Codec { path: "o.mp4".into(), message: "no encoder".into() }, 1, Some("o.mp4")),
            (Error::Engine(candle_core::Error::Msg("out of memory".into())), 1, None),
            (Error::Internal("cannot start a worker thread".into()), 1, None),
            (Error::Remote("the server stopped".into()), 1, None),
            (Error::RemoteRefused("no session `x`".into()), 2, None),
            (Error::Interrupted("interrupted".into()), 130, None),
            (Error::Cancelled, 1, None),
        ]
    }

    #[test]
    fn each_kind_has_its_exit_code_and_file() {
        for (e, code, path) in every_kind() {
            assert_eq!(e.exit_code(), code, "{e:?}");
            assert_eq!(e.path(), path.map(Path::new), "{e:?}");
            assert_eq!(e.to_string().lines().count(), 1, "{e:?}");
        }
    }

    #[test]
    fn bad_input_is_two_failed_work_one_and_a_stop_130() {
        let codes: Vec<i32> = every_kind().iter().map(|(e, _, _)| e.exit_code()).collect();
        assert!(codes.iter().all(|c| [1, 2, 130].contains(c)), "{codes:?}");
        // Internal failures are never reported as the user's bad input.
        assert_eq!(Error::Internal("internal: activation 3 was not computed".into()).exit_code(), 1);
        assert_eq!(Error::Conflict("the workspace is in use".into()).exit_code(), 2);
    }

    #[test]
    fn named_by_flag_names_the_flag_only_for_its_file() {
        let e = Error::input("x.png", "no such file").named_by_flag("--init-file", Path::new("x.png"));
        assert_eq!(e.to_string(), "--init-file x.png: no such file");
        assert_eq!(e.exit_code(), 2);
        let e = Error::io("x.png", io_error()).named_by_flag("--init-file", Path::new("x.png"));
        assert!(matches!(e, Error::FlagInput { flag: "--init-file", .. }), "{e:?}");
        assert_eq!(e.exit_code(), 2, "a file the user named that cannot be read is bad input");
        let e = Error::input("y.png", "no such file").named_by_flag("--init-file", Path::new("x.png"));
        assert_eq!(e.to_string(), "y.png: no such file");
        let e = Error::Internal("x.png".into()).named_by_flag("--init-file", Path::new("x.png"));
        assert!(matches!(e, Error::Internal(_)));
    }
}
