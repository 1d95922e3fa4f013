//! `brushwork presets list | show NAME | save NAME [flags]`.

use std::path::PathBuf;

use crate::cli::PresetsCommand;
use brushwork::error::{Error, Result};
use brushwork::preset::{self, Entry};
use brushwork::util::text::escape_controls;

pub fn presets(cmd: &PresetsCommand) -> Result<()> {
    match cmd {
        PresetsCommand::List => list(),
        PresetsCommand::Show { name } => {
            let p = preset::load(name)?;
            outln!("# {} ({})", p.name, p.origin);
            print!("{}", preset::to_toml(&p.settings)?);
            Ok(())
        }
        PresetsCommand::Save { name, settings, dir, description, force } => {
            let base = settings.preset.as_deref().unwrap_or("quick");
            let mut p = preset::load(base)?;
            let before = p.settings.clone();
            super::overrides::apply(&mut p.settings, settings)?;
            p.settings.validate().map_err(Error::Usage)?;
            p.settings.description = match description {
                Some(d) => d.trim().to_string(),
                None => preset::derived_description(&p.name, &before, &p.settings),
            };
            let folder = match dir {
                Some(d) => d.clone(),
                None => preset::user_dir()
                    .ok_or_else(|| Error::Usage("cannot find the config folder: set XDG_CONFIG_HOME".into()))?,
            };
            let target = folder.join(format!("{name}.toml"));
            if !force {
                if target.exists() {
                    return Err(Error::Conflict(format!(
                        "preset `{name}` already exists at {}; add --force to overwrite it",
                        target.display()
                    )));
                }
                if preset::is_built_in(name) {
                    return Err(Error::Conflict(format!(
                        "`{name}` is a built-in preset; a saved `{name}` would shadow it: pick another name, \
                         or add --force"
                    )));
                }
            }
            let path = preset::save(name, &p.settings, Some(&folder))?;
            errln!("saved preset `{name}` to {}", path.display());
            // `./presets` is searched first: a file there hides the one just saved elsewhere.
            let local = PathBuf::from("presets").join(format!("{name}.toml"));
            if local.is_file() && std::fs::canonicalize(&local).ok() != std::fs::canonicalize(&path).ok() {
                errln!("note: {} is found first by name, so `--preset {name}` still uses it", local.display());
            }
            Ok(())
        }
    }
}

fn list() -> Result<()> {
    let entries = preset::list_entries();
    let rows: Vec<[String; 3]> = entries
        .iter()
        .map(|e| match e {
            Entry::Ok(p) => [p.name.clone(), p.origin.to_string(), p.settings.description.clone()],
            Entry::Broken { name, path, error } => {
                [name.clone(), path.display().to_string(), format!("BROKEN: {error}")]
            }
        })
        .map(|r| r.map(|c| escape_controls(&c).into_owned()))
        .collect();
    let w0 = rows.iter().map(|r| r[0].chars().count()).chain([4]).max().unwrap_or(4);
    let w1 = rows.iter().map(|r| r[1].chars().count()).chain([6]).max().unwrap_or(6);
    outln!("{:<w0$}  {:<w1$}  DESCRIPTION", "NAME", "ORIGIN");
    for r in &rows {
        outln!("{:<w0$}  {:<w1$}  {}", r[0], r[1], r[2]);
    }
    Ok(())
}
