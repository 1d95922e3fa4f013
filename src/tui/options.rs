//! How the dashboard is started: the graphics protocol for previews, and where presets are saved.

use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// Which terminal graphics protocol draws previews. `Auto` asks the environment, then the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GraphicsChoice {
    #[default]
    Auto,
    Sixel,
    Kitty,
    Iterm2,
    /// Unicode half blocks with colours: works in any terminal, including inside tmux.
    Halfblocks,
}

impl GraphicsChoice {
    /// The names the `--graphics` flag accepts.
    pub const NAMES: [&'static str; 5] = ["auto", "sixel", "kitty", "iterm2", "halfblocks"];
}

impl FromStr for GraphicsChoice {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(GraphicsChoice::Auto),
            "sixel" => Ok(GraphicsChoice::Sixel),
            "kitty" => Ok(GraphicsChoice::Kitty),
            "iterm2" => Ok(GraphicsChoice::Iterm2),
            "halfblocks" => Ok(GraphicsChoice::Halfblocks),
            other => Err(Error::Usage(format!(
                "`{other}` is not a graphics protocol (expected one of: {})",
                GraphicsChoice::NAMES.join(", ")
            ))),
        }
    }
}

/// Everything [`super::run_tui`] needs besides the scheduler and the workspace.
#[derive(Debug, Clone, Default)]
pub struct TuiOptions {
    pub graphics: GraphicsChoice,
    /// Where "save preset" writes; `None` means the user's preset folder (`preset::user_dir`).
    pub preset_dir: Option<PathBuf>,
    /// Where the file browser starts; `None` means the current folder.
    pub start_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_name_parses() {
        for name in GraphicsChoice::NAMES {
            assert!(name.parse::<GraphicsChoice>().is_ok(), "{name}");
        }
        assert!("vt340".parse::<GraphicsChoice>().unwrap_err().to_string().contains("halfblocks"));
    }
}
