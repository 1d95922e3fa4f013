//! The user's folders by the XDG base-directory rules: `$XDG_*_HOME` when set and not empty,
//! else the usual place under `$HOME`; `None` when neither is known.

use std::path::PathBuf;

/// An environment variable's value as a path, when set and not empty.
pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn xdg(var: &str, under_home: &str) -> Option<PathBuf> {
    env_path(var).or_else(|| env_path("HOME").map(|h| h.join(under_home)))
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
pub fn cache_home() -> Option<PathBuf> {
    xdg("XDG_CACHE_HOME", ".cache")
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
pub fn data_home() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}
