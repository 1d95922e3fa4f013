//! `brushwork video plan | render | status | stitch`: a long clip split into segments that any
//! machine renders (see `brushwork::video::segments`), driven by the scheduler the user runs.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::inputs::with_json_error;
use super::overrides;
use super::report::{out_line, Reporter};
use super::run::{absolute, absolute_inputs};
use super::video::{apply_video_flags, check_video_settings, default_output, flow_distances, DEFAULT_PRESET};
use super::weights::resolve_for_run;
use crate::cli::{SchedulerArgs, VideoCommand, VideoPlanArgs, VideoRenderArgs, VideoStatusArgs, VideoStitchArgs};
use brushwork::engine::Settings;
use brushwork::error::{Error, Result};
use brushwork::session::workspace::Listed;
use brushwork::session::{Job, Kind, SessionSpec, Status, Workspace};
use brushwork::util::hash::sha256_file;
use brushwork::util::text::escape_controls;
use brushwork::video::decode::timestamps;
use brushwork::video::init;
use brushwork::video::job::VideoEvent;
use brushwork::video::motion::check_flow_dir;
use brushwork::video::output::{check_output, check_output_path};
use brushwork::video::segments::emit::{emit, slurm_resubmit, Emitted, Resources, Scheduler, Work};
use brushwork::video::segments::plan::{split_frames, Split, PLAN_VERSION};
use brushwork::video::segments::render::{render_segment, segment_index, SegmentInputs};
use brushwork::video::segments::status::{index_list, plan_status};
use brushwork::video::segments::stitch::stitch;
use brushwork::video::segments::{Plan, Segment};

/// Frames a segment renders before its first one when `--preroll` is not given (see the README's
/// seam table).
pub const DEFAULT_PREROLL: usize = 48;

/// `workspace`: the one named before `video` (or the default); `plan --workspace` wins over it.
pub fn segments(command: &VideoCommand, workspace: &Path) -> Result<()> {
    match command {
        VideoCommand::Plan(a) => {
            let ws = a.workspace.workspace.clone().unwrap_or_else(|| workspace.to_path_buf());
            with_json_error(a.json, || plan(a, &ws))
        }
        VideoCommand::Render(a) => with_json_error(a.json, || render(a)),
        VideoCommand::Status(a) => with_json_error(a.json, || status(a)),
        VideoCommand::Stitch(a) => with_json_error(a.json, || stitch_command(a)),
    }
}

fn shown(p: &Path) -> String {
    escape_controls(&p.display().to_string()).into_owned()
}

/// The job a distributed plan's session records: `kind` on `content`, its result `export`, made
/// with `weights`, `preset` and `settings` (no worker here runs it, so no device or priority).
pub fn distributed_job(
    kind: Kind,
    content: &Path,
    export: &Path,
    weights: &Path,
    preset: &str,
    settings: &Settings,
) -> Job {
    Job {
        kind,
        content: content.to_path_buf(),
        export: Some(export.to_path_buf()),
        weights: Some(weights.to_path_buf()),
        device: "cpu".into(),
        preset: preset.to_string(),
        priority: 0,
        settings: settings.clone(),
    }
}

/// The workspace's session for the plan in `dir`: the one made for it before, or a new one of
/// status `distributed` running `job` (no worker here runs it; listing it reads its progress from
/// `dir`). Used by `video plan` and `images plan`.
pub fn plan_session(workspace: &Path, dir: &Path, job: Job) -> Result<String> {
    let ws = Workspace::open(workspace)?;
    let existing = ws.list().into_iter().find_map(|l| match l {
        Listed::Ok(r) if r.plan_dir.as_deref() == Some(dir) => Some(r.id),
        _ => None,
    });
    if let Some(id) = existing {
        return Ok(id);
    }
    let mut record = ws.create(SessionSpec { name: None, job })?;
    record.status = Status::Distributed;
    record.plan_dir = Some(dir.to_path_buf());
    ws.save(&record)?;
    Ok(record.id)
}

fn plan(args: &VideoPlanArgs, workspace: &Path) -> Result<()> {
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    apply_video_flags(&mut settings, &args.video)?;
    check_video_settings(&settings, &args.video)?;
    overrides::check_memory(&settings, Kind::Video, &args.input, &args.device)?;
    let output = absolute(&args.output.clone().unwrap_or_else(|| default_output(&args.input, &preset.name)));
    init()?;
    check_output_path(&output)?;
    brushwork::session::checks::check_output_is_not_an_input(&output, ("the source clip", &args.input), &settings)?;
    overrides::load_images(&settings, &args.settings)?;
    // The plan is often made on a login node without the GPUs the renders will use: only the
    // spelling of the device is checked here; each render checks it can have it.
    check_device_name(&args.device)?;
    // The whole clip is decoded once here (nothing converted or kept) for its frame count and
    // timestamps: every segment and the stitch use them.
    let (info, pts) = timestamps(&args.input, settings.size)?;
    let (w, h) = info.size;
    if let Some(dir) = &settings.flow_dir {
        check_flow_dir(dir, pts.len(), w as usize, h as usize, &flow_distances(&settings))?;
    }
    brushwork::session::network::check_picture_size(&args.input, info.size, &settings, &|size| size)?;
    check_output(&args.input, &output)?;
    let split = match (args.segments, args.segment_frames) {
        (Some(n), _) => Split::Segments(n),
        (None, Some(f)) => Split::FramesEach(f),
        (None, None) => return Err(Error::Usage("give --segments N or --segment-frames F".into())),
    };
    let segments = split_frames(pts.len(), split)?;
    let preroll = args.preroll.unwrap_or(DEFAULT_PREROLL);
    absolute_inputs(&mut settings);
    let reporter = Reporter::new(args.json, 0);
    let weights = resolve_for_run(args.weights.as_deref(), settings.arch.required(), &reporter)?;
    reporter.finish();
    let hash = |p: &Path| sha256_file(p).map_err(Error::from);
    let style_sha256 = settings.styles.iter().map(|s| hash(&s.path)).collect::<Result<Vec<_>>>()?;
    let init_sha256 = match (&settings.init_file, settings.init) {
        (Some(p), brushwork::engine::settings::Init::File) => Some(hash(p)?),
        _ => None,
    };
    let dir = absolute(&args.workdir);
    let plan = Plan {
        version: PLAN_VERSION,
        source: absolute(&args.input),
        source_sha256: hash(&args.input)?,
        output: output.clone(),
        preset: preset.name.clone(),
        weights_sha256: hash(&weights)?,
        weights: absolute(&weights),
        style_sha256,
        init_sha256,
        width: w,
        height: h,
        frames: pts.len(),
        time_base: (info.time_base.numerator(), info.time_base.denominator()),
        frame_rate: (info.frame_rate.numerator(), info.frame_rate.denominator()),
        preroll,
        segments,
        timestamps: pts,
        settings,
    };
    let existed = plan.write_new(&dir)?;
    let job = distributed_job(Kind::Video, &plan.source, &plan.output, &plan.weights, &plan.preset, &plan.settings);
    let session = plan_session(workspace, &dir, job)?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let resources = resources(args.weights.as_deref(), &args.device, &args.scheduler, &dir)?;
    let emitted = args.emit.map(|e| emit(Scheduler::from(e), &dir, &Work::video(&plan, &output), &resources));
    let written = match &emitted {
        Some(e) => write_emitted(&dir, e)?,
        None => Vec::new(),
    };
    let lens: Vec<usize> = plan.segments.iter().map(Segment::len).collect();
    if args.json {
        out_line(
            &json!({
                "event": "plan",
                "dir": dir,
                "existing": existed,
                "source": plan.source,
                "output": plan.output,
                "frames": plan.frames,
                "width": w,
                "height": h,
                "preroll": preroll,
                "segments": plan.segments.iter().map(|s| json!({"first": s.start + 1, "last": s.end})).collect::<Vec<_>>(),
                "files": written,
                "start": emitted.as_ref().map(|e| e.start.clone()),
                "session": session,
            })
            .to_string(),
        );
        return Ok(());
    }
    let what = if existed { "plan unchanged" } else { "planned" };
    let sizes = if lens.iter().all(|&l| l == lens[0]) {
        format!("{} of {} frames", lens.len(), lens[0])
    } else {
        format!("{} of {}–{} frames", lens.len(), lens.iter().min().unwrap_or(&0), lens.iter().max().unwrap_or(&0))
    };
    eprintln!(
        "{what}: {} frames of {} at {w}x{h} in {sizes} segments, preroll {preroll} → {}",
        plan.frames,
        shown(&plan.source),
        shown(&Plan::path(&dir))
    );
    eprintln!("session {session}: `brushwork sessions list` and the dashboard follow its progress");
    match &emitted {
        Some(e) => {
            for p in &written {
                eprintln!("wrote {}", shown(p));
            }
            eprintln!("start it with:\n  {}", escape_controls(&e.start));
            // The script itself on stdout, so `brushwork video plan ... --emit slurm | bash` works.
            print!("{}", e.script);
        }
        None => {
            eprintln!(
                "render each segment I (0 to {}) on any machine with:\n  brushwork video render {} --segment I\nthen: brushwork video stitch {}",
                plan.segments.len() - 1,
                shown(&dir),
                shown(&dir)
            );
        }
    }
    Ok(())
}

/// How the emitted scripts call brushwork and what they ask of the scheduler.
pub(super) fn resources(
    weights: Option<&Path>,
    device: &str,
    scheduler: &SchedulerArgs,
    dir: &Path,
) -> Result<Resources> {
    let program = std::env::current_exe().map_err(|e| Error::Internal(format!("cannot find this program: {e}")))?;
    Ok(Resources {
        program,
        weights: weights.map(absolute),
        device: device.to_string(),
        cpus_per_task: scheduler.cpus_per_task,
        gpus_per_task: scheduler.gpus_per_task,
        gres: scheduler.gres.clone(),
        time: scheduler.time.clone(),
        partition: scheduler.partition.clone(),
        image: scheduler.image.clone(),
        volume_claim: scheduler.volume_claim.clone(),
        mount: scheduler
            .mount
            .as_deref()
            .map(absolute)
            .unwrap_or_else(|| dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))),
        jobs: scheduler.jobs.max(1),
    })
}

/// Writes what `--emit` made into the plan folder (scripts executable); returns their paths.
pub(super) fn write_emitted(dir: &Path, emitted: &Emitted) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in &emitted.files {
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        brushwork::util::fs::write_atomic(&path, f.text.as_bytes())?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|e| Error::io(&path, e))?;
        }
        written.push(path);
    }
    Ok(written)
}

/// `cpu`, `cuda` or `cuda:N`.
pub(super) fn check_device_name(device: &str) -> Result<()> {
    let ok = device == "cpu"
        || device == "cuda"
        || device.strip_prefix("cuda:").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("--device {}: use cpu, cuda or cuda:N", escape_controls(device))))
    }
}

fn render(args: &VideoRenderArgs) -> Result<()> {
    let dir = absolute(&args.dir);
    let plan = Plan::read(&dir)?;
    let index = segment_index(args.segment, &|name| std::env::var(name).ok())?;
    let segment = plan.segment(index)?;
    init()?;
    plan.check_inputs()?;
    let device = overrides::parse_device(&args.device)?;
    let reporter = Reporter::new(args.json, 0);
    // The plan's own weights file when it is reachable here, else the usual search.
    let explicit = args.weights.clone().or_else(|| plan.weights.is_file().then(|| plan.weights.clone()));
    let weights = resolve_for_run(explicit.as_deref(), plan.settings.arch.required(), &reporter)?;
    plan.check_weights(&weights)?;
    let (styles, init_image) = brushwork::session::network::load_images(&plan.settings)?;
    let (net, _) = brushwork::session::network::load_network(&plan.settings, &plan.preset, &weights, &device, &|m| {
        reporter.note(m)
    })?;
    reporter.finish();
    let inputs = SegmentInputs { net: &net, styles: &styles, init_image: init_image.as_ref() };
    let start = Instant::now();
    let json = args.json;
    let label = segment.frames_label();
    let mut frames_done = 0u32;
    let rendered = render_segment(&dir, &plan, index, &inputs, &mut |event| {
        match event {
            VideoEvent::Started { resumed, .. } if !json => {
                let left = segment.len() as u32 - resumed.min(segment.len() as u32);
                eprintln!("segment {index}: frames {label} ({resumed} kept, {left} to render)");
            }
            VideoEvent::Frame(f, _) => {
                frames_done += 1;
                if json {
                    out_line(
                        &json!({"event": "frame", "segment": index, "frame": f.frame, "frames": f.frames,
                            "seconds": f.seconds, "loss": f.losses.total, "warp_error": f.warp_error,
                            "source_warp_error": f.source_warp_error})
                        .to_string(),
                    );
                } else {
                    eprintln!("segment {index}: frame {} of {} in {:.1} s", f.frame, f.frames, f.seconds);
                }
            }
            VideoEvent::Note(m) => eprintln!("{}", escape_controls(&m)),
            _ => {}
        }
        ControlFlow::Continue(())
    })?;
    let seconds = start.elapsed().as_secs_f64();
    if json {
        out_line(
            &json!({"event": "done", "segment": index, "first": segment.start + 1, "last": segment.end,
                "rendered": frames_done, "kept": rendered.resumed, "seconds": seconds})
            .to_string(),
        );
    } else {
        eprintln!(
            "segment {index}: frames {label} done ({frames_done} rendered, {} kept) in {seconds:.1} s",
            rendered.resumed
        );
    }
    Ok(())
}

fn status(args: &VideoStatusArgs) -> Result<()> {
    let dir = absolute(&args.dir);
    let plan = Plan::read(&dir)?;
    let st = plan_status(&dir, &plan);
    if args.json {
        out_line(
            &json!({"event": "status", "dir": dir, "frames": st.frames, "done": st.done,
                "segments": st.segments, "missing": st.missing, "array": index_list(&st.missing),
                "finished": st.finished()})
            .to_string(),
        );
        return Ok(());
    }
    println!("{}: {} of {} frames done, {} segments", shown(&dir), st.done, st.frames, st.segments.len());
    println!("{:>7}  {:>13}  {:>11}", "segment", "frames", "done");
    for s in &st.segments {
        let mark = match (s.finished(), s.done == s.frames) {
            (true, _) => String::new(),
            (false, true) => format!("  missing warm-up frames for the seam ({}/{})", s.crossfade_done, s.crossfade),
            (false, false) => "  missing".into(),
        };
        println!(
            "{:>7}  {:>13}  {:>11}{mark}",
            s.index,
            format!("{}–{}", s.first, s.last),
            format!("{}/{}", s.done, s.frames)
        );
    }
    if st.finished() {
        println!("every segment is rendered: brushwork video stitch {}", shown(&dir));
    } else {
        println!("missing segments: --array={}", index_list(&st.missing));
        println!("  SLURM: {}", escape_controls(&slurm_resubmit(&dir, &st.missing)));
        println!("  any machine: brushwork video render {} --segment I", shown(&dir));
    }
    Ok(())
}

fn stitch_command(args: &VideoStitchArgs) -> Result<()> {
    let dir = absolute(&args.dir);
    let plan = Plan::read(&dir)?;
    let output = args.output.as_deref().map(absolute).unwrap_or_else(|| plan.output.clone());
    init()?;
    check_output_path(&output)?;
    brushwork::session::checks::check_output_is_not_an_input(
        &output,
        ("the source clip", &plan.source),
        &plan.settings,
    )?;
    plan.check_inputs()?;
    let start = Instant::now();
    let (encoder, warnings) = stitch(&dir, &plan, &output)?;
    for w in warnings {
        eprintln!("{}", escape_controls(&w));
    }
    let seconds = start.elapsed().as_secs_f64();
    if args.json {
        out_line(
            &json!({"event": "done", "output": output, "frames": plan.frames, "encoder": encoder, "seconds": seconds})
                .to_string(),
        );
    } else {
        eprintln!("wrote {} ({} frames, {encoder}) in {seconds:.1} s", shown(&output), plan.frames);
    }
    Ok(())
}
