//! `brushwork images plan | render | status`: a folder of images split into groups that array
//! tasks render, each image once (see `brushwork::images`).

use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::inputs::with_json_error;
use super::overrides;
use super::report::{out_line, Reporter};
use super::run::{absolute, absolute_inputs};
use super::video_segments::{check_device_name, distributed_job, plan_session, resources, write_emitted};
use super::weights::resolve_for_run;
use crate::cli::{ImagesCommand, ImagesPlanArgs, VideoRenderArgs, VideoStatusArgs};
use brushwork::error::{Error, Result};
use brushwork::images::plan::{folder_images, ImagePlan, PlannedImage, IMAGES_PLAN_VERSION};
use brushwork::images::render::{render_group, GroupInputs, ImageDone};
use brushwork::session::Kind;
use brushwork::util::hash::sha256_file;
use brushwork::util::text::escape_controls;
use brushwork::video::segments::emit::{emit, job_name, Scheduler, Work};
use brushwork::video::segments::plan::{same_file, split_frames, Split};
use brushwork::video::segments::render::segment_index;
use brushwork::video::segments::status::index_list;

/// The preset `images plan` uses when none is given (as `run`).
const DEFAULT_PRESET: &str = "quick";

pub fn images(command: &ImagesCommand, workspace: &Path) -> Result<()> {
    match command {
        ImagesCommand::Plan(a) => {
            let ws = a.workspace.workspace.clone().unwrap_or_else(|| workspace.to_path_buf());
            with_json_error(a.json, || plan(a, &ws))
        }
        ImagesCommand::Render(a) => with_json_error(a.json, || render(a)),
        ImagesCommand::Status(a) => with_json_error(a.json, || status(a)),
    }
}

fn shown(p: &Path) -> String {
    escape_controls(&p.display().to_string()).into_owned()
}

fn plan(args: &ImagesPlanArgs, workspace: &Path) -> Result<()> {
    let preset = overrides::resolve(&args.settings, DEFAULT_PRESET)?;
    let mut settings = preset.settings;
    overrides::check_settings(&settings, Kind::Image)?;
    overrides::load_images(&settings, &args.settings)?;
    check_device_name(&args.device)?;
    let folder = absolute(&args.folder);
    if !folder.is_dir() {
        return Err(Error::input(&folder, "not a folder of images"));
    }
    let output_dir = absolute(&args.out.clone().unwrap_or_else(|| {
        let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "images".into());
        folder.with_file_name(format!("{name}-{}", preset.name))
    }));
    if output_dir == folder {
        return Err(Error::Usage(format!(
            "--out {}: the results cannot go into the folder of images (they would be planned next time)",
            shown(&output_dir)
        )));
    }
    let pairs = folder_images(&folder, &output_dir, &preset.name)?;
    for (image, _) in &pairs {
        overrides::check_memory(&settings, Kind::Image, image, &args.device)?;
        brushwork::session::network::check_content_size(image, &settings)?;
    }
    let split = match (args.segments, args.per_task) {
        (Some(n), _) => Split::Segments(n),
        (None, Some(k)) => Split::FramesEach(k),
        (None, None) => return Err(Error::Usage("give --segments N or --per-task K".into())),
    };
    let groups = split_frames(pairs.len(), split).map_err(|e| match e {
        Error::Usage(m) => Error::Usage(m.replace("--segment-frames", "--per-task").replace("frames", "images")),
        e => e,
    })?;
    absolute_inputs(&mut settings);
    let reporter = Reporter::new(args.json, 0);
    let weights = resolve_for_run(args.weights.as_deref(), settings.arch.required(), &reporter)?;
    reporter.finish();
    let hash = |p: &Path| sha256_file(p).map_err(Error::from);
    let images = pairs
        .iter()
        .map(|(path, output)| Ok(PlannedImage { path: path.clone(), sha256: hash(path)?, output: output.clone() }))
        .collect::<Result<Vec<_>>>()?;
    let plan = ImagePlan {
        version: IMAGES_PLAN_VERSION,
        folder: folder.clone(),
        output_dir,
        preset: preset.name.clone(),
        weights: absolute(&weights),
        weights_sha256: hash(&weights)?,
        style_sha256: settings.styles.iter().map(|s| hash(&s.path)).collect::<Result<Vec<_>>>()?,
        images,
        groups,
        settings,
    };
    let dir = absolute(&args.workdir);
    let existed = plan.write_new(&dir)?;
    let job =
        distributed_job(Kind::Folder, &plan.folder, &plan.output_dir, &plan.weights, &plan.preset, &plan.settings);
    let session = plan_session(workspace, &dir, job)?;
    let work = Work {
        command: "images",
        segments: plan.groups.len(),
        name: job_name(&brushwork::util::hash::sha256_bytes(folder.to_string_lossy().as_bytes())),
        source: folder.clone(),
        stitch_to: None,
    };
    let emitted = match args.emit {
        Some(e) => Some(emit(
            Scheduler::from(e),
            &dir,
            &work,
            &resources(args.weights.as_deref(), &args.device, &args.scheduler, &dir)?,
        )),
        None => None,
    };
    let written = match &emitted {
        Some(e) => write_emitted(&dir, e)?,
        None => Vec::new(),
    };
    if args.json {
        out_line(
            &json!({"event": "plan", "dir": dir, "existing": existed, "folder": folder, "output_dir": plan.output_dir,
                "images": plan.images.len(),
                "groups": plan.groups.iter().map(|g| json!({"first": g.start + 1, "last": g.end})).collect::<Vec<_>>(),
                "files": written, "start": emitted.as_ref().map(|e| e.start.clone()), "session": session})
            .to_string(),
        );
        return Ok(());
    }
    eprintln!(
        "{}: {} images of {} in {} groups → results in {}",
        if existed { "plan unchanged" } else { "planned" },
        plan.images.len(),
        shown(&folder),
        plan.groups.len(),
        shown(&plan.output_dir)
    );
    eprintln!("session {session}: `brushwork sessions list` and the dashboard follow its progress");
    match &emitted {
        Some(e) => {
            for p in &written {
                eprintln!("wrote {}", shown(p));
            }
            eprintln!("start it with:\n  {}", escape_controls(&e.start));
            print!("{}", e.script);
        }
        None => eprintln!(
            "render each group I (0 to {}) on any machine with:\n  brushwork images render {} --segment I",
            plan.groups.len() - 1,
            shown(&dir)
        ),
    }
    Ok(())
}

fn render(args: &VideoRenderArgs) -> Result<()> {
    let dir = absolute(&args.dir);
    let plan = ImagePlan::read(&dir)?;
    let index = segment_index(args.segment, &|name| std::env::var(name).ok())?;
    let group = plan.group(index)?;
    for (style, sha) in plan.settings.styles.iter().zip(&plan.style_sha256) {
        same_file(&style.path, sha, "a style image")?;
    }
    let device = overrides::parse_device(&args.device)?;
    let reporter = Reporter::new(args.json, 0);
    let explicit = args.weights.clone().or_else(|| plan.weights.is_file().then(|| plan.weights.clone()));
    let weights = resolve_for_run(explicit.as_deref(), plan.settings.arch.required(), &reporter)?;
    same_file(&weights, &plan.weights_sha256, "the weights")?;
    let (styles, init_image) = brushwork::session::network::load_images(&plan.settings)?;
    let (net, header) =
        brushwork::session::network::load_network(&plan.settings, &plan.preset, &weights, &device, &|m| {
            reporter.note(m)
        })?;
    reporter.finish();
    let inputs = GroupInputs { net: &net, header, weights: &weights, styles: &styles, init_image: init_image.as_ref() };
    let start = Instant::now();
    let json = args.json;
    let mut kept = 0;
    let rendered = render_group(&dir, &plan, index, &inputs, &mut |done| match done {
        ImageDone::Rendered { output, seconds, loss } => {
            if json {
                out_line(
                    &json!({"event": "image", "group": index, "output": output, "seconds": seconds, "loss": loss})
                        .to_string(),
                );
            } else {
                eprintln!("group {index}: wrote {} in {seconds:.1} s", shown(output));
            }
        }
        ImageDone::Kept { .. } => kept += 1,
    })?;
    let seconds = start.elapsed().as_secs_f64();
    if json {
        out_line(
            &json!({"event": "done", "group": index, "images": group.len(), "rendered": rendered, "kept": kept, "seconds": seconds})
                .to_string(),
        );
    } else {
        eprintln!("group {index}: {} images done ({rendered} rendered, {kept} kept) in {seconds:.1} s", group.len());
    }
    Ok(())
}

fn status(args: &VideoStatusArgs) -> Result<()> {
    let dir = absolute(&args.dir);
    let plan = ImagePlan::read(&dir)?;
    let (done, missing) = plan.status();
    let total_done: usize = done.iter().map(|(d, _)| d).sum();
    if args.json {
        let groups: Vec<_> = plan
            .groups
            .iter()
            .zip(&done)
            .enumerate()
            .map(|(i, (g, (d, n)))| json!({"index": i, "first": g.start + 1, "last": g.end, "images": n, "done": d}))
            .collect();
        out_line(
            &json!({"event": "status", "dir": dir, "images": plan.images.len(), "done": total_done, "groups": groups,
                "missing": missing, "array": index_list(&missing), "finished": missing.is_empty()})
            .to_string(),
        );
        return Ok(());
    }
    println!("{}: {total_done} of {} images done, {} groups", shown(&dir), plan.images.len(), plan.groups.len());
    for (i, (d, n)) in done.iter().enumerate() {
        println!("{i:>7}  {:>11}{}", format!("{d}/{n}"), if d < n { "  missing" } else { "" });
    }
    if !missing.is_empty() {
        println!("missing groups: --array={}", index_list(&missing));
        println!("  SLURM: {}", escape_controls(&brushwork::video::segments::emit::slurm_resubmit(&dir, &missing)));
    }
    Ok(())
}
