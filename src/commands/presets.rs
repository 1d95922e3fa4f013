//! `brushwork presets list | show NAME | save NAME [flags]`.

use crate::cli::PresetsCommand;
use crate::error::Result;
use crate::preset;

pub fn presets(cmd: &PresetsCommand) -> Result<()> {
    match cmd {
        PresetsCommand::List => {
            for p in preset::list()? {
                let d = &p.settings.description;
                println!("{:<16} {:<28} {}", p.name, p.origin.to_string(), d);
            }
        }
        PresetsCommand::Show { name } => {
            let p = preset::load(name)?;
            println!("# {} ({})", p.name, p.origin);
            print!("{}", preset::to_toml(&p.settings)?);
        }
        PresetsCommand::Save { name, settings, dir } => {
            let base = settings.preset.as_deref().unwrap_or("quick");
            let mut p = preset::load(base)?;
            super::overrides::apply(&mut p.settings, settings)?;
            p.settings.validate().map_err(crate::error::Error::Usage)?;
            let path = preset::save(name, &p.settings, dir.as_deref())?;
            eprintln!("saved preset `{name}` to {}", path.display());
        }
    }
    Ok(())
}
