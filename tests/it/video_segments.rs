//! `brushwork video plan | render | status | stitch` end to end on a generated clip and the tiny
//! random VGG-16: segments rendered one by one (as array tasks would), the stitched clip's timing
//! and audio against the source (read back with ffmpeg-next), reruns writing the same bytes, and
//! the refusals (another source into a plan folder, a segment out of range, damaged frames).

use crate::cli_support;
use crate::video_support;

use cli_support::Fixture;
use serde_json::Value;
use video_support::{clip, probe};

/// `video plan clip.mp4 --workdir plan ... --json` on the fixture's tiny network.
fn plan_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "video",
        "plan",
        "clip.mp4",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--size",
        "32",
        "--iterations",
        "3",
        "--frame-iterations",
        "2",
        "--workdir",
        "plan",
        "-o",
        "out.mp4",
    ];
    args.extend_from_slice(extra);
    args
}

fn render(fx: &Fixture, segment: &str) -> cli_support::Run {
    fx.run(&["video", "render", "plan", "--segment", segment, "--weights", "tiny.safetensors", "--json"])
}

fn frame_bytes(fx: &Fixture, k: usize) -> Vec<u8> {
    std::fs::read(fx.join(format!("plan/frames/{k:06}.png"))).unwrap_or_else(|e| panic!("frame {k}: {e}"))
}

fn done_event(r: &cli_support::Run) -> Value {
    r.events().into_iter().find(|e| e["event"] == "done").unwrap_or_else(|| panic!("no done event:\n{r}"))
}

#[test]
fn segments_render_anywhere_and_stitch_with_the_sources_timing_and_audio() {
    let fx = Fixture::new("segments");
    // 12 frames at 10 fps with an AAC tone.
    clip(&fx.join("clip.mp4"), 66, 50, 10, 1.2, true);
    let r = fx.run(&plan_args(&["--segments", "3", "--preroll", "2", "--json"]));
    assert_eq!(r.code, Some(0), "{r}");
    let plan = &r.events()[0];
    assert_eq!(plan["event"], "plan");
    assert_eq!(plan["frames"], 12);
    // 12 frames in 3 segments of 4.
    let segs: Vec<(u64, u64)> = plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["first"].as_u64().unwrap(), s["last"].as_u64().unwrap()))
        .collect();
    assert_eq!(segs, vec![(1, 4), (5, 8), (9, 12)]);

    // Stitching before anything is rendered names what is missing, exit 1, and writes nothing.
    let r = fx.run(&["video", "stitch", "plan"]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("12 of 12 frames") && r.stderr.contains("segment 0"), "{r}");
    assert!(!fx.join("out.mp4").exists());

    // Segment 1 through the SLURM variable, the others by flag, out of order.
    let r = Run::of_env(
        &fx,
        &["video", "render", "plan", "--weights", "tiny.safetensors", "--json"],
        "SLURM_ARRAY_TASK_ID",
        "1",
    );
    assert_eq!(r.code, Some(0), "{r}");
    let done = done_event(&r);
    assert_eq!((done["segment"].as_u64(), done["rendered"].as_u64()), (Some(1), Some(4)), "{done}");
    // Preroll frames (3 and 4 for segment 1) are not kept among the plan's frames.
    assert!(!fx.join("plan/frames/000003.png").exists());
    let status = fx.run(&["video", "status", "plan", "--json"]);
    let st = &status.events()[0];
    assert_eq!((st["done"].as_u64(), st["array"].as_str()), (Some(4), Some("0,2")), "{status}");
    let text = fx.run(&["video", "status", "plan"]);
    assert!(text.stdout.contains("--array=0,2") && text.stdout.contains("sbatch --array=0,2"), "{text}");
    // The plan is a session of the workspace: listed as distributed, its frames read from the
    // plan folder; no worker here runs it, and it cannot be paused from here.
    let list = fx.run(&["sessions", "list"]);
    assert!(list.stdout.contains("distributed") && list.stdout.contains("4/12"), "{list}");
    let id = list.stdout.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_string();
    let pause = fx.run(&["sessions", "pause", &id]);
    assert_eq!(pause.code, Some(2), "{pause}");
    assert!(pause.stderr.contains("distributed"), "{pause}");
    for s in ["2", "0"] {
        let r = render(&fx, s);
        assert_eq!(r.code, Some(0), "{r}");
    }
    let st = &fx.run(&["video", "status", "plan", "--json"]).events()[0];
    assert_eq!((st["done"].as_u64(), st["finished"].as_bool()), (Some(12), Some(true)), "{st}");
    let list = fx.run(&["sessions", "list"]);
    assert!(
        list.stdout.contains("distributed") && list.stdout.contains("12/12"),
        "not done before the stitch:\n{list}"
    );
    // Segment 1's warm-up (frames 3 and 4) stays for the crossfade at its seam.
    for k in [3, 4] {
        assert!(fx.join(format!("plan/warmup/0001/{k:06}.png")).is_file(), "warm-up frame {k} kept");
    }

    // A rerun of a finished segment renders nothing; with a frame removed it renders that one
    // again, to the same bytes.
    let r = render(&fx, "1");
    assert_eq!(done_event(&r)["rendered"], 0, "{r}");
    let before: Vec<Vec<u8>> = (1..=12).map(|k| frame_bytes(&fx, k)).collect();
    std::fs::remove_file(fx.join("plan/frames/000007.png")).unwrap();
    let r = render(&fx, "1");
    assert_eq!(done_event(&r)["rendered"], 2, "frames 7 and 8 again:\n{r}");
    for k in 1..=12 {
        assert!(frame_bytes(&fx, k) == before[k - 1], "frame {k} changed on a rerun");
    }
    // A warm-up frame the stitch blends in is missing: the segment is unfinished, the stitch
    // refuses naming it, and a rerun renders from there to the same bytes.
    let warm = fx.join("plan/warmup/0001/000004.png");
    let warm_before = std::fs::read(&warm).unwrap();
    std::fs::remove_file(&warm).unwrap();
    let st = &fx.run(&["video", "status", "plan", "--json"]).events()[0];
    assert_eq!((st["finished"].as_bool(), st["array"].as_str()), (Some(false), Some("1")), "{st}");
    let r = fx.run(&["video", "stitch", "plan"]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains("warm-up") && r.stderr.contains("frame 4 of segment 1"), "{r}");
    assert!(!fx.join("out.mp4").exists());
    let r = render(&fx, "1");
    assert_eq!(r.code, Some(0), "{r}");
    assert!(std::fs::read(&warm).unwrap() == warm_before, "the warm-up frame changed");
    for k in 5..=8 {
        assert!(frame_bytes(&fx, k) == before[k - 1], "frame {k} changed after its warm-up was rendered again");
    }

    let r = fx.run(&["video", "stitch", "plan", "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    let src = probe(&fx.join("clip.mp4"));
    let out = probe(&fx.join("out.mp4"));
    assert_eq!((out.width, out.height), (32, 24));
    assert_eq!(out.times.len(), 12);
    for (a, b) in src.times.iter().zip(&out.times) {
        assert!((a - b).abs() < 0.05, "timestamps: {:?} vs {:?}", src.times, out.times);
    }
    assert_eq!(out.avg_frame_rate, src.avg_frame_rate);
    assert!(src.audio == out.audio && out.audio.is_some(), "audio packets differ");
    let list = fx.run(&["sessions", "list"]);
    assert!(list.stdout.contains("done") && list.stdout.contains("12/12"), "done once stitched:\n{list}");
    assert_eq!(list.stdout.lines().count(), 2, "one session for the plan, however often it is planned:\n{list}");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
}

#[test]
fn bad_plans_segments_and_frames_are_refused_and_nothing_is_overwritten() {
    let fx = Fixture::new("segments-bad");
    clip(&fx.join("clip.mp4"), 48, 32, 10, 0.6, false);
    clip(&fx.join("other.mp4"), 48, 32, 10, 0.6, true);
    let r = fx.run(&plan_args(&["--segments", "2", "--preroll", "1"]));
    assert_eq!(r.code, Some(0), "{r}");
    let plan_text = std::fs::read(fx.join("plan/plan.toml")).unwrap();
    // The same plan again is fine; another source or preset into the same folder is not.
    assert_eq!(fx.run(&plan_args(&["--segments", "2", "--preroll", "1"])).code, Some(0));
    let list = fx.run(&["sessions", "list"]);
    assert_eq!(list.stdout.lines().count(), 2, "planned twice, listed once:\n{list}");
    let mut other = plan_args(&["--segments", "2", "--preroll", "1"]);
    other[2] = "other.mp4";
    let r = fx.run(&other);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("plan.toml") && r.stderr.contains("another source"), "{r}");
    let r = fx.run(&plan_args(&["--segments", "2", "--preroll", "1", "--seed", "9"]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("other settings"), "{r}");
    assert!(std::fs::read(fx.join("plan/plan.toml")).unwrap() == plan_text, "the plan was overwritten");
    // More segments than frames, or none.
    assert_eq!(fx.run(&plan_args(&["--segments", "99", "--workdir", "p2"])).code, Some(2));

    // A segment out of range, an index variable that is not a number.
    let r = render(&fx, "2");
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("segment 2") && r.stderr.contains("0 to 1"), "{r}");
    let r =
        Run::of_env(&fx, &["video", "render", "plan", "--weights", "tiny.safetensors"], "JOB_COMPLETION_INDEX", "x");
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("JOB_COMPLETION_INDEX"), "{r}");
    // Other weights than the plan's.
    cli_support::write_tiny_weights(&fx.join("other.safetensors"), 8);
    let r = fx.run(&["video", "render", "plan", "--segment", "0", "--weights", "other.safetensors"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("other.safetensors") && r.stderr.contains("weights changed"), "{r}");
    // A plan folder with a damaged plan.
    std::fs::create_dir_all(fx.join("broken")).unwrap();
    std::fs::write(fx.join("broken/plan.toml"), "version = 1\nframes = \"many\"\n").unwrap();
    let r = fx.run(&["video", "status", "broken"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("broken/plan.toml: not a brushwork plan"), "{r}");

    // A truncated frame: the render that needs it names it and leaves it; so does the stitch.
    assert_eq!(render(&fx, "0").code, Some(0));
    let f2 = fx.join("plan/frames/000002.png");
    let bytes = std::fs::read(&f2).unwrap();
    std::fs::write(&f2, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(fx.join("plan/frames/000003.png")).unwrap();
    let r = render(&fx, "0");
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("000002.png") && r.stderr.contains("not a finished frame"), "{r}");
    assert_eq!(std::fs::read(&f2).unwrap().len(), bytes.len() / 2, "the damaged frame was overwritten");
    std::fs::write(&f2, &bytes).unwrap();
    assert_eq!(render(&fx, "0").code, Some(0));
    assert_eq!(render(&fx, "1").code, Some(0));
    // A frame of another size.
    image::RgbImage::new(20, 20).save(fx.join("plan/frames/000004.png")).unwrap();
    let r = fx.run(&["video", "stitch", "plan"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("000004.png") && r.stderr.contains("20x20"), "{r}");
    assert!(!fx.join("out.mp4").exists(), "a stitch that failed left an output");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files left behind");
}

/// `brushwork ARGS` in the fixture with one more environment variable.
struct Run;

impl Run {
    fn of_env(fx: &Fixture, args: &[&str], key: &str, value: &str) -> cli_support::Run {
        let mut cmd = fx.command(args);
        cmd.env(key, value);
        cli_support::Run::of(cmd)
    }
}

/// The manifest's YAML without comment lines, parsed as `T`; also checked to lose nothing on a
/// round trip through `T` (a misspelt field would be dropped by the API types, and differ).
fn parse_manifest<T: serde::de::DeserializeOwned + serde::Serialize>(path: &std::path::Path) -> T {
    let text = std::fs::read_to_string(path).unwrap();
    let parsed: T = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
    let generic: Value = serde_yaml_ng::from_str(&text).unwrap();
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(back, generic, "{} has fields the Kubernetes API types do not know", path.display());
    parsed
}

#[test]
fn kubernetes_manifests_are_indexed_jobs_the_api_types_accept() {
    use k8s_openapi::api::batch::v1::Job;
    let fx = Fixture::new("segments-k8s");
    clip(&fx.join("clip.mp4"), 48, 32, 10, 0.6, false);
    let r = fx.run(&plan_args(&[
        "--segments",
        "3",
        "--emit",
        "kubernetes",
        "--cpus-per-task",
        "4",
        "--gpus-per-task",
        "1",
        "--device",
        "cuda",
        "--image",
        "registry.example/brushwork:1",
        "--volume-claim",
        "shared",
    ]));
    assert_eq!(r.code, Some(0), "{r}");
    let render: Job = parse_manifest(&fx.join("plan/kubernetes/render.yaml"));
    let spec = render.spec.expect("spec");
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    assert_eq!((spec.completions, spec.parallelism), (Some(3), Some(3)));
    let pod = spec.template.spec.expect("pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("registry.example/brushwork:1"));
    let command = c.command.clone().unwrap();
    let plan_dir = fx.join("plan").to_string_lossy().into_owned();
    assert_eq!(&command[1..4], &["video".to_string(), "render".into(), plan_dir.clone()]);
    assert!(command.windows(2).any(|w| w == ["--device", "cuda"]), "{command:?}");
    // No --segment: the pod's JOB_COMPLETION_INDEX says which.
    assert!(!command.iter().any(|a| a == "--segment"), "{command:?}");
    let resources = c.resources.clone().unwrap();
    assert_eq!(resources.limits.unwrap()["nvidia.com/gpu"].0, "1");
    assert_eq!(resources.requests.unwrap()["cpu"].0, "4");
    let mount = &c.volume_mounts.clone().unwrap()[0];
    assert_eq!(mount.mount_path, fx.path().to_string_lossy(), "the plan folder's parent by default");
    let volumes = pod.volumes.unwrap();
    assert_eq!(volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name, "shared");
    assert_eq!(volumes[0].name, mount.name);

    let stitch: Job = parse_manifest(&fx.join("plan/kubernetes/stitch.yaml"));
    let spec = stitch.spec.unwrap();
    assert_eq!(spec.completion_mode, None);
    let command = spec.template.spec.unwrap().containers[0].command.clone().unwrap();
    assert_eq!(&command[1..4], &["video".to_string(), "stitch".into(), plan_dir]);
    // The printed script applies the render, waits for it, then applies the stitch.
    assert!(r.stdout.contains("kubectl wait --for=condition=complete"), "{r}");
}

#[test]
fn the_shell_script_renders_and_stitches_on_one_machine() {
    let fx = Fixture::new("segments-shell");
    clip(&fx.join("clip.mp4"), 48, 32, 10, 0.6, true);
    let r = fx.run(&plan_args(&["--segments", "2", "--emit", "shell", "--jobs", "2"]));
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("xargs -P 2"), "{r}");
    // The printed script, run as a user would pipe it to bash.
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(&r.stdout)
        .current_dir(fx.path())
        .env("HOME", fx.join("home"))
        .env_remove("BRUSHWORK_WEIGHTS")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = probe(&fx.join("out.mp4"));
    assert_eq!(out.times.len(), 6);
    assert!(out.audio.is_some());
}
