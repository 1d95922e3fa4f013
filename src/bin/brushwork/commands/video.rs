//! `brushwork video`: stylise a clip frame by frame and re-encode it with its audio, as a video
//! session (frames kept in the session's `frames/`; re-running the same command, or
//! `sessions resume`, continues at the next frame).

use std::path::{Path, PathBuf};

use super::follow;
use super::foreground::run_here;
use super::inputs::with_json_error;
use super::overrides;
use super::report::Reporter;
use super::run::{absolute, absolute_inputs, reuse_or_create};
use super::weights::resolve_for_run;
use crate::cli::{VideoArgs, VideoFlags};
use brushwork::engine::settings::WarmStart;
use brushwork::error::{Error, Result};
use brushwork::session::owner::Owner;
use brushwork::session::{Job, Kind, SessionSpec, Workspace};
use brushwork::video::decode::{first_frame, timestamps};
use brushwork::video::init;
use brushwork::video::motion::check_flow_dir;
use brushwork::video::output::{check_output, check_output_path};

/// The preset `video` uses when none is given.
pub const DEFAULT_PRESET: &str = "video";

pub fn video(args: &VideoArgs, workspace: &Path) -> Result<()> {
    if let Some(command) = &args.segments {
        return super::video_segments::segments(command, workspace);
    }
    with_json_error(args.json, || video_inner(args, workspace))
}

/// The settings checks of a video job, naming `--frame-iterations` when it is the culprit.
pub(super) fn check_video_settings(settings: &brushwork::engine::Settings, flags: &VideoFlags) -> Result<()> {
    overrides::check_settings(settings, Kind::Video).map_err(|e| match (e, flags.frame_iterations) {
        (Error::Usage(m), Some(n)) if m.starts_with("field `frame_iterations`") => {
            Error::Usage(format!("--frame-iterations {n}: must be positive"))
        }
        (e, _) => e,
    })
}

fn video_inner(args: &VideoArgs, workspace: &Path) -> Result<()> {
    let Some(input) = args.input.as_deref() else {
        return Err(Error::Usage("give a clip: brushwork video IN [SETTINGS]".into()));
    };
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    apply_video_flags(&mut settings, &args.video)?;
    check_video_settings(&settings, &args.video)?;
    overrides::check_memory(&settings, Kind::Video, input, &args.device)?;
    let output = args.output.clone().unwrap_or_else(|| default_output(input, &preset.name));
    init()?;
    // The output's container and folder, then (once the clip is known to be a video) whether the
    // container carries its audio: all before a session is made and any frame is stylised.
    check_output_path(&output)?;
    brushwork::session::checks::check_output_is_not_an_input(&output, ("the source clip", input), &settings)?;
    overrides::load_images(&settings, &args.settings)?;
    overrides::parse_device(&args.device)?;
    // Bad clips, and flow folders that do not fit them, are refused before a session is made. The
    // container, the stream and its first frame tell whether the clip is readable and its size;
    // a flow folder needs the frame count, from a pass that decodes without converting or keeping.
    let size = match &settings.flow_dir {
        Some(dir) => {
            let (info, pts) = timestamps(input, settings.size)?;
            let (w, h) = info.size;
            check_flow_dir(dir, pts.len(), w as usize, h as usize, &flow_distances(&settings))?;
            info.size
        }
        None => first_frame(input, settings.size)?.dimensions(),
    };
    brushwork::session::network::check_picture_size(input, size, &settings, &|size| size)?;
    check_output(input, &output)?;
    absolute_inputs(&mut settings);
    let mut spec = SessionSpec {
        name: None,
        job: Job {
            kind: Kind::Video,
            content: absolute(input),
            export: Some(absolute(&output)),
            weights: args.weights.as_deref().map(absolute),
            device: args.device.clone(),
            preset: preset.name.clone(),
            priority: 0,
            settings,
        },
    };
    let ws = Workspace::open(workspace)?;
    if let Some(server) = Owner::remote(&ws) {
        return follow::submit_and_follow(&*server, &ws, spec, args.json);
    }
    let reporter = Reporter::new(args.json, 0);
    let weights = resolve_for_run(args.weights.as_deref(), spec.job.settings.arch.required(), &reporter)?;
    reporter.finish();
    spec.job.weights = Some(absolute(&weights));
    let id = reuse_or_create(&ws, spec, args.json)?;
    run_here(&ws, &id, args.json)
}

/// The video-only flags on top of the preset.
pub(super) fn apply_video_flags(settings: &mut brushwork::engine::Settings, args: &VideoFlags) -> Result<()> {
    if let Some(n) = args.frame_iterations {
        settings.frame_iterations = n;
    }
    if let Some(w) = args.warm_start {
        settings.warm_start = w.into();
    }
    if let Some(w) = args.temporal_weight {
        if !w.is_finite() || w < 0.0 {
            return Err(Error::Usage(format!("--temporal-weight {w}: must be a non-negative number")));
        }
        settings.temporal_weight = w;
    }
    if let Some(f) = &args.temporal_frames {
        settings.temporal_frames = f.clone();
    }
    if let Some(q) = args.flow_quality {
        settings.flow_quality = q.into();
    }
    if let Some(d) = &args.flow_dir {
        settings.flow_dir = Some(d.clone());
    }
    Ok(())
}

/// The frame distances whose flows a run reads: the temporal loss's, or the previous frame's
/// for a warped start.
pub(super) fn flow_distances(settings: &brushwork::engine::Settings) -> Vec<u32> {
    if settings.temporal_weight > 0.0 {
        settings.temporal_frames.clone()
    } else if settings.warm_start == WarmStart::Warped {
        vec![1]
    } else {
        Vec::new()
    }
}

/// `IN-STEM.PRESET.mp4` in the current folder.
pub fn default_output(input: &Path, preset: &str) -> PathBuf {
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    PathBuf::from(format!("{stem}.{preset}.mp4"))
}
