//! Presets: TOML files holding [`Settings`]. Found by name in `./presets/`, then in
//! `$XDG_CONFIG_HOME/brushwork/presets/`, then among the presets built into the binary; or by path
//! (a `.toml` file, or a PNG written by brushwork, whose recipe chunk holds its preset).

pub mod recipe;

use std::path::{Path, PathBuf};

use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

/// The presets shipped in `presets/`, built into the binary so they work from any directory.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("quick", include_str!("../../presets/quick.toml")),
    ("gatys", include_str!("../../presets/gatys.toml")),
    ("seed-notebook", include_str!("../../presets/seed-notebook.toml")),
    ("video", include_str!("../../presets/video.toml")),
];

/// Where a preset came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    BuiltIn,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::BuiltIn => f.write_str("built-in"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Preset {
    pub name: String,
    pub origin: Origin,
    pub settings: Settings,
}

/// Parses preset TOML. Errors name the file, line and column (and the field, for unknown fields).
pub fn parse(text: &str, path: &Path) -> Result<Settings> {
    let settings: Settings = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                Error::InputAt { path: path.to_path_buf(), line, column: col, message }
            }
            None => Error::input(path, message),
        }
    })?;
    settings.validate().map_err(|m| Error::input(path, m))?;
    Ok(settings)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The user's preset folder: `$XDG_CONFIG_HOME/brushwork/presets` (or `~/.config/...`).
pub fn user_dir() -> Option<PathBuf> {
    Some(crate::util::dirs::config_home()?.join("brushwork").join("presets"))
}

/// The folders searched by name, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("presets")];
    dirs.extend(user_dir());
    dirs
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || [".toml", ".png", ".jpg", ".jpeg"].iter().any(|e| s.ends_with(e))
}

/// Loads a preset by name or path.
pub fn load(name_or_path: &str) -> Result<Preset> {
    if looks_like_path(name_or_path) {
        let path = PathBuf::from(name_or_path);
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let settings = load_file(&path)?;
        return Ok(Preset { name, origin: Origin::File(path), settings });
    }
    if name_or_path.is_empty() || name_or_path.contains(['\\', '\0']) {
        return Err(Error::Usage(format!("`{name_or_path}` is not a preset name")));
    }
    for dir in search_dirs() {
        let path = dir.join(format!("{name_or_path}.toml"));
        if path.is_file() {
            let settings = load_file(&path)?;
            return Ok(Preset { name: name_or_path.to_string(), origin: Origin::File(path), settings });
        }
    }
    if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
        let settings = parse(text, Path::new(&format!("built-in:{name_or_path}")))?;
        return Ok(Preset { name: name_or_path.to_string(), origin: Origin::BuiltIn, settings });
    }
    let known: Vec<String> = list()?.into_iter().map(|p| p.name).collect();
    Err(Error::Usage(format!("unknown preset `{name_or_path}` (known: {})", known.join(", "))))
}

/// Reads a `.toml` preset, or the recipe of a PNG or JPEG brushwork wrote.
pub fn load_file(path: &Path) -> Result<Settings> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if let Some(kind @ ("png" | "jpg" | "jpeg")) = ext.as_deref() {
        let kind = if kind == "png" { "PNG" } else { "JPEG" };
        let recipe = crate::imageio::read_recipe(path)?
            .ok_or_else(|| Error::input(path, format!("this {kind} has no brushwork recipe")))?;
        let recipe: crate::preset::recipe::Recipe =
            toml::from_str(&recipe).map_err(|e| Error::input(path, format!("bad recipe: {}", e.message())))?;
        return Ok(recipe.settings);
    }
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "no such preset file"),
        _ => Error::input(path, format!("cannot read preset: {e}")),
    })?;
    parse(&text, path)
}

/// A preset file found by [`list_entries`]: read, or broken (with its one-line error).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    Ok(Preset),
    Broken { name: String, path: PathBuf, error: String },
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Ok(p) => &p.name,
            Entry::Broken { name, .. } => name,
        }
    }
}

/// Every preset reachable by name that reads; a broken file is left out (see [`list_entries`]).
pub fn list() -> Result<Vec<Preset>> {
    Ok(list_entries()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Ok(p) => Some(p),
            Entry::Broken { .. } => None,
        })
        .collect())
}

/// Every preset reachable by name, the first one found for each name winning (as in [`load`]);
/// a file that does not read or parse is listed as broken, so one bad file hides nothing else.
pub fn list_entries() -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for dir in search_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if out.iter().any(|p| p.name() == name) {
                continue;
            }
            out.push(match load_file(&path) {
                Ok(settings) => Entry::Ok(Preset { name, origin: Origin::File(path), settings }),
                Err(e) => {
                    let error = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
                    Entry::Broken { name, path, error }
                }
            });
        }
    }
    for (name, text) in BUILT_IN {
        if !out.iter().any(|p| p.name() == *name) {
            // Built-ins are checked by a test; one that failed would be a build mistake.
            if let Ok(settings) = parse(text, Path::new(&format!("built-in:{name}"))) {
                out.push(Entry::Ok(Preset { name: name.to_string(), origin: Origin::BuiltIn, settings }));
            }
        }
    }
    out
}

/// Whether `name` is a preset built into the binary.
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN.iter().any(|(n, _)| *n == name)
}

/// The description for settings saved from `base`: the base's own while no other field changed,
/// otherwise one naming the base and the changed fields (so a description such as "two scales
/// (192, 384 px)" never outlives the fields it describes).
pub fn derived_description(base_name: &str, base: &Settings, new: &Settings) -> String {
    let table = |s: &Settings| match toml::Value::try_from(s) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::map::Map::new(),
    };
    let (old, new_t) = (table(base), table(new));
    let mut keys: Vec<&String> = old.keys().chain(new_t.keys()).filter(|k| *k != "description").collect();
    keys.sort();
    keys.dedup();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| old.get(*k) != new_t.get(*k))
        .map(|k| match new_t.get(k) {
            Some(v) if !v.is_table() && !v.is_array() => format!("{k} = {v}"),
            _ => k.clone(),
        })
        .collect();
    if changed.is_empty() {
        return base.description.clone();
    }
    format!("`{base_name}` with {}", changed.join(", "))
}

/// Renders settings as a preset file.
pub fn to_toml(settings: &Settings) -> Result<String> {
    toml::to_string_pretty(settings).map_err(|e| Error::Internal(format!("cannot write preset: {e}")))
}

/// Saves `settings` as `<dir>/<name>.toml` (default dir: the user's preset folder), atomically.
pub fn save(name: &str, settings: &Settings, dir: Option<&Path>) -> Result<PathBuf> {
    let path = save_path(name, dir)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    write_atomic(&path, to_toml(settings)?.as_bytes())?;
    Ok(path)
}

/// Where [`save`] writes preset `name` (checking the name): `dir`, else the user's preset folder.
pub fn save_path(name: &str, dir: Option<&Path>) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !valid {
        return Err(Error::Usage(format!("`{name}` is not a valid preset name (letters, digits, '-', '_', '.')")));
    }
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => user_dir().ok_or_else(|| Error::Usage("cannot find the config folder: set XDG_CONFIG_HOME".into()))?,
    };
    Ok(dir.join(format!("{name}.toml")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_parse() {
        for (name, text) in BUILT_IN {
            parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn unknown_field_names_field_file_line_and_column() {
        let text = "version = 1\nsize = 256\nstyle_wieght = 3.0\n";
        let e = parse(text, Path::new("presets/bad.toml")).unwrap_err().to_string();
        assert!(e.starts_with("presets/bad.toml:3:1: unknown field `style_wieght`"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("version = 1\nsize = 0\n", Path::new("p.toml")).unwrap_err().to_string();
        assert_eq!(e, "p.toml: field `size` must be positive");
        let e = parse("version = 2\n", Path::new("p.toml")).unwrap_err().to_string();
        assert_eq!(e, "p.toml: version 2 is not supported (expected 1)");
        let e = parse("[style_layers]\nconv9_1 = 1.0\n", Path::new("p.toml")).unwrap_err().to_string();
        assert_eq!(e, "p.toml: field `style_layers`: unknown layer `conv9_1`");
        let e = parse("optimizer = \"sgd\"\n", Path::new("p.toml")).unwrap_err().to_string();
        assert!(e.starts_with("p.toml:1:13: unknown variant `sgd`"), "{e}");
    }

    /// `precision` reads `auto` and `f32`, refuses anything else with the file and place, and is
    /// written back only when it is not the default.
    #[test]
    fn precision_parses_and_round_trips() {
        use crate::engine::settings::Precision;
        assert_eq!(parse("precision = \"f32\"\n", Path::new("p.toml")).unwrap().precision, Precision::F32);
        assert_eq!(parse("precision = \"auto\"\n", Path::new("p.toml")).unwrap().precision, Precision::Auto);
        assert_eq!(parse("size = 64\n", Path::new("p.toml")).unwrap().precision, Precision::Auto);
        let e = parse("precision = \"bf16\"\n", Path::new("p.toml")).unwrap_err().to_string();
        assert!(e.starts_with("p.toml:1:13: unknown variant `bf16`"), "{e}");
        let held = Settings { precision: Precision::F32, ..Settings::default() };
        let text = to_toml(&held).unwrap();
        assert!(text.contains("precision = \"f32\""), "{text}");
        assert_eq!(parse(&text, Path::new("x.toml")).unwrap(), held);
        assert!(!to_toml(&Settings::default()).unwrap().contains("precision"));
    }

    #[test]
    fn round_trip() {
        let mut s = Settings { size: 128, seed: 9, ..Settings::default() };
        s.style_layers.insert("block3_conv2".into(), 0.5);
        let text = to_toml(&s).unwrap();
        assert_eq!(parse(&text, Path::new("x.toml")).unwrap(), s);
    }
}
