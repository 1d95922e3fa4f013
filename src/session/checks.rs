//! The checks `run` and `video` make before a session is created, for a spec made elsewhere (the
//! dashboard's form): settings, memory, the output, and that every input can be read. They read
//! files (a clip's first frame), so callers with a user interface run them off its thread.

use std::path::Path;

use crate::engine::device::parse_device;
use crate::error::{Error, Result};
use crate::imageio::load_rgb_for;
use crate::session::record::check_settings;
use crate::session::{Kind, SessionSpec};

/// What `brushwork run` (an image) or `brushwork video` (a clip) would refuse about `spec`.
pub fn check_session(spec: &SessionSpec) -> Result<()> {
    let settings = &spec.job.settings;
    let content = spec.job.content.as_path();
    match spec.job.kind {
        Kind::Video => {
            check_settings(settings, Kind::Video)?;
            crate::session::memory::check_job(settings, Kind::Video, content, &spec.job.device)?;
            // Refuses in a build without FFmpeg.
            crate::video::init()?;
            #[cfg(feature = "ffmpeg")]
            {
                if let Some(output) = &spec.job.export {
                    crate::video::output::check_output_path(output)?;
                    check_output_is_not_an_input(output, ("the source clip", content), settings)?;
                }
                crate::session::network::load_images(settings)?;
                parse_device(&spec.job.device)?;
                // One frame is enough to know it is a readable clip.
                crate::video::decode::first_frame(content, settings.size)?;
                if let Some(output) = &spec.job.export {
                    crate::video::output::check_output(content, output)?;
                }
            }
        }
        _ => {
            check_settings(settings, Kind::Image)?;
            crate::session::memory::check_job(settings, Kind::Image, content, &spec.job.device)?;
            if let Some(output) = &spec.job.export {
                check_output_dir(output)?;
                check_output_is_not_an_input(output, ("the content image", content), settings)?;
            }
            load_rgb_for(content, Some(settings.size))?;
            crate::session::network::load_images(settings)?;
            crate::session::network::check_content_size(content, settings)?;
            parse_device(&spec.job.device)?;
        }
    }
    Ok(())
}

/// What `brushwork watch` would refuse: the folder, the settings, the style images and the
/// output folder's parent.
pub fn check_watch(spec: &SessionSpec) -> Result<()> {
    let dir: &Path = &spec.job.content;
    if !dir.is_dir() {
        return Err(Error::input(dir, "not a folder"));
    }
    check_settings(&spec.job.settings, Kind::Image)?;
    crate::session::network::load_images(&spec.job.settings)?;
    parse_device(&spec.job.device)?;
    if let Some(out) = &spec.job.export {
        if !out.is_dir() {
            check_output_dir(out)?;
        }
    }
    Ok(())
}

pub fn check_output_dir(output: &Path) -> Result<()> {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(output, "the output folder does not exist"));
    }
    Ok(())
}

/// Refuses an output that is one of the inputs (after resolving links and `..`): writing it
/// would destroy the photo or painting the job reads.
pub fn check_output_is_not_an_input(
    output: &Path,
    content: (&str, &Path),
    settings: &crate::engine::Settings,
) -> Result<()> {
    let Ok(out) = std::fs::canonicalize(output) else { return Ok(()) };
    let inputs = std::iter::once(content)
        .chain(settings.styles.iter().map(|s| ("a style image", s.path.as_path())))
        .chain(settings.init_file.as_deref().map(|p| ("the init image", p)));
    for (what, path) in inputs {
        if std::fs::canonicalize(path).is_ok_and(|p| p == out) {
            return Err(Error::input(output, format!("the output is {what}; choose another -o")));
        }
    }
    Ok(())
}
