//! The keys each screen offers, as shown by the help bar (the current screen's line) and the `?`
//! overlay (every group). The order is the order of importance: the bar drops keys from the end
//! when the terminal is narrow, keeping the last two (help and quit).

use super::app::{App, Panel, Screen};

pub const SESSIONS_KEYS: &[(&str, &str)] = &[
    ("Enter", "detail"),
    ("n", "new"),
    ("p", "pause"),
    ("r", "resume"),
    ("c", "cancel"),
    ("d", "delete"),
    ("R", "retry"),
    ("D", "duplicate"),
    ("s", "sort"),
    ("Tab", "panel"),
    ("↑↓", "select"),
    ("+/-", "priority"),
    ("?", "help"),
    ("q", "quit"),
];

pub const DETAIL_KEYS: &[(&str, &str)] = &[
    ("Esc", "back"),
    ("p", "pause"),
    ("r", "resume"),
    ("c", "cancel"),
    ("d", "delete"),
    ("R", "retry"),
    ("D", "duplicate"),
    ("?", "help"),
    ("q", "quit"),
];

pub const FORM_KEYS: &[(&str, &str)] = &[
    ("^S", "submit"),
    ("↑↓/Tab", "field"),
    ("←→", "choose"),
    ("Enter", "browse file"),
    ("^N/^X", "add/remove style"),
    ("^P", "save preset"),
    ("^D", "delete preset"),
    ("^U", "clear"),
    ("F1", "help"),
    ("Esc", "cancel"),
];

/// The watch form: its Folder is typed, only styles are browsed.
pub const WATCH_FORM_KEYS: &[(&str, &str)] = &[
    ("^S", "start watching"),
    ("↑↓/Tab", "field"),
    ("←→", "choose"),
    ("Enter", "browse style"),
    ("^N/^X", "add/remove style"),
    ("^P", "save preset"),
    ("^U", "clear"),
    ("F1", "help"),
    ("Esc", "cancel"),
];

pub const BROWSER_KEYS: &[(&str, &str)] = &[
    ("↑↓", "select"),
    ("Enter/→", "open/pick"),
    ("Bksp/←", "up"),
    ("m", "media/"),
    (".", "start"),
    ("PgUp/Dn Home/End", "jump"),
    ("Esc", "close"),
];

pub const LOG_KEYS: &[(&str, &str)] = &[("↑↓", "scroll log"), ("Tab", "panel"), ("?", "help"), ("q", "quit")];

pub const WATCHED_KEYS: &[(&str, &str)] = &[
    ("a", "watch a folder"),
    ("x", "stop watching"),
    ("↑↓", "select"),
    ("Tab", "panel"),
    ("?", "help"),
    ("q", "quit"),
];

/// Every group, for the help overlay.
pub const ALL_GROUPS: &[(&str, &[(&str, &str)])] = &[
    ("Sessions", SESSIONS_KEYS),
    ("Session detail", DETAIL_KEYS),
    ("New session form", FORM_KEYS),
    ("File browser", BROWSER_KEYS),
    ("Watched folders panel", WATCHED_KEYS),
    ("Log panel", LOG_KEYS),
];

/// The keys of what has focus now.
pub fn current_keys(app: &App) -> &'static [(&'static str, &'static str)] {
    match &app.screen {
        Screen::Sessions if app.panel == Panel::Log => LOG_KEYS,
        Screen::Sessions if app.panel == Panel::Watched => WATCHED_KEYS,
        Screen::Sessions => SESSIONS_KEYS,
        Screen::Detail(_) => DETAIL_KEYS,
        Screen::Form if app.form.as_ref().is_some_and(|f| f.browser.is_some()) => BROWSER_KEYS,
        Screen::Form if app.form.as_ref().is_some_and(|f| f.watch) => WATCH_FORM_KEYS,
        Screen::Form => FORM_KEYS,
    }
}
