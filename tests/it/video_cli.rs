//! `brushwork video` end to end: clips made with the ffmpeg CLI, the real binary on a tiny random
//! VGG-16, and the results checked with ffmpeg-next (frames, timestamps, rate, audio packets).

use crate::cli_support;
use crate::video_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cli_support::Fixture;
use serde_json::Value;
use video_support::{
    clip, display_matrix, ffmpeg, first_frame_gray, probe, set_mp4_display_matrix, streams, Probe, StreamInfo,
};

/// `video IN -o OUT --json` on the fixture's tiny network; `--size 32 --iterations 4
/// --frame-iterations 2` unless `extra` sets them.
fn video_args<'a>(input: &'a str, output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args =
        vec!["video", input, "--style", "style.png", "--weights", "tiny.safetensors", "--json", "-o", output];
    for (flag, default) in [("--size", "32"), ("--iterations", "4"), ("--frame-iterations", "2")] {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend_from_slice(extra);
    args
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
}

fn rate(p: &Probe) -> f64 {
    p.avg_frame_rate.0 as f64 / p.avg_frame_rate.1 as f64
}

/// Same frame count and rate, each timestamp and the duration within one frame.
fn assert_same_timing(src: &Probe, out: &Probe) {
    assert_eq!(out.times.len(), src.times.len(), "frame count: source {:?}, output {:?}", src.times, out.times);
    assert!((rate(out) - rate(src)).abs() < 1e-6, "frame rate {} vs {}", rate(out), rate(src));
    let frame = 1.0 / rate(src);
    for (a, b) in src.times.iter().zip(&out.times) {
        assert!((a - b).abs() < 0.5 * frame, "timestamps differ: source {:?}, output {:?}", src.times, out.times);
    }
    assert!((out.duration - src.duration).abs() <= frame + 1e-6, "duration {} vs {}", out.duration, src.duration);
}

#[test]
fn video_keeps_frames_rate_duration_and_audio() {
    let fx = Fixture::new("video-audio");
    clip(&fx.join("clip.mp4"), 66, 50, 10, 1.0, true);
    let r = fx.run(&video_args("clip.mp4", "out.mp4", &[]));
    assert_eq!(r.code, Some(0), "{r}");
    let events = r.events();
    let (done, progress) = events.split_last().expect("no events");
    assert_eq!(done["event"], "done", "{done}");
    assert_eq!(progress.len(), 10, "one progress event per frame:\n{r}");
    for (k, p) in progress.iter().enumerate() {
        assert_eq!(p["event"], "progress");
        assert_eq!(num(p, "frame"), (k + 1) as f64, "{p}");
        assert_eq!(num(p, "frames"), 10.0, "{p}");
        // Frame 1: the preset's full iterations; later frames warm-start with frame_iterations.
        assert_eq!(num(p, "iteration"), if k == 0 { 4.0 } else { 2.0 }, "{p}");
        for key in ["loss", "style", "content", "tv", "flicker", "seconds"] {
            assert!(num(p, key).is_finite(), "{key} in {p}");
        }
    }
    assert_eq!(num(done, "frames"), 10.0);
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "temp files or the frames folder left behind");

    let src = probe(&fx.join("clip.mp4"));
    let out = probe(&fx.join("out.mp4"));
    // 66x50 at 32: (32, round(50 * 32 / 66) = 24).
    assert_eq!((out.width, out.height), (32, 24));
    assert_eq!(out.video_codec, "h264");
    assert_same_timing(&src, &out);
    let (a, b) = (src.audio.expect("source audio"), out.audio.expect("no audio stream in the output"));
    assert!(!a.is_empty());
    assert!(a == b, "audio packets differ: {} source packets, {} output packets", a.len(), b.len());
}

#[test]
fn odd_size_without_audio_gets_even_dimensions_and_no_audio() {
    let fx = Fixture::new("video-odd");
    // libx264 refuses odd sizes in yuv420p: FFV1 in Matroska.
    let odd = fx.join("odd.mkv");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=67x51:rate=10", "-t", "0.5", "-c:v", "ffv1", odd.to_str().unwrap()]);
    let r = fx.run(&video_args("odd.mkv", "out.mp4", &["--size", "33"]));
    assert_eq!(r.code, Some(0), "{r}");
    let out = probe(&fx.join("out.mp4"));
    // 67x51 at 33: (33, round(51 * 33 / 67) = 25), rounded down to even: 32x24.
    assert_eq!((out.width, out.height), (32, 24));
    assert!(out.audio.is_none(), "the output has an audio stream");
    assert_same_timing(&probe(&odd), &out);
}

#[test]
fn variable_frame_rate_keeps_timestamps() {
    let fx = Fixture::new("video-vfr");
    // Frames 0..9 of a 10 fps pattern, keeping 0,1,2,4,7,8: gaps of 0.1, 0.2 and 0.3 s.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-t",
        "1",
        "-i",
        "testsrc=size=48x36:rate=10",
        "-vf",
        "select='eq(n\\,0)+eq(n\\,1)+eq(n\\,2)+eq(n\\,4)+eq(n\\,7)+eq(n\\,8)'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        fx.join("vfr.mp4").to_str().unwrap(),
    ]);
    let src = probe(&fx.join("vfr.mp4"));
    assert_eq!(src.times.len(), 6, "the generated clip: {src:?}");
    let r = fx.run(&video_args("vfr.mp4", "out.mp4", &["--warm-start", "none"]));
    assert_eq!(r.code, Some(0), "{r}");
    let out = probe(&fx.join("out.mp4"));
    assert_eq!(out.times.len(), 6);
    for (a, b) in src.times.iter().zip(&out.times) {
        assert!((a - b).abs() < 1e-3, "timestamps: source {:?}, output {:?}", src.times, out.times);
    }
    // With warm_start = "none" every frame runs the full iterations.
    assert!(r.events().iter().filter(|e| e["event"] == "progress").all(|e| num(e, "iteration") == 4.0), "{r}");
}

/// Exit 2, one stderr line naming the file, nothing under the output name, no temp files.
fn assert_refused(fx: &Fixture, file: &str, expect: &str) {
    let r = fx.run(&video_args(file, "out.mp4", &[]));
    assert_eq!(r.code, Some(2), "{file}: {r}");
    let lines = r.stderr_lines();
    assert_eq!(lines.len(), 1, "{file}: expected one stderr line:\n{r}");
    assert!(lines[0].contains(file), "{file}: the error does not name the file: {}", lines[0]);
    assert!(lines[0].contains(expect), "{file}: expected `{expect}` in: {}", lines[0]);
    let error = r.events().pop().expect("an error event");
    assert_eq!(error["event"], "error", "{r}");
    assert!(!fx.join("out.mp4").exists(), "{file}: out.mp4 was written");
    assert_eq!(fx.hidden_files(), Vec::<String>::new(), "{file}: temp files left behind");
}

#[test]
fn bad_inputs_are_refused_with_exit_2() {
    let fx = Fixture::new("video-bad");
    std::fs::write(fx.join("text.mp4"), "this is not a video\n").unwrap();
    assert_refused(&fx, "text.mp4", "not a readable video");
    assert_refused(&fx, "missing.mp4", "no such file");
    std::fs::write(fx.join("empty.mp4"), "").unwrap();
    assert_refused(&fx, "empty.mp4", "empty");
    // An image, even one FFmpeg could read as a one-frame stream.
    assert_refused(&fx, "content.png", "still image");
    assert_refused(&fx, "content.png", "brushwork run");
    let p = |n: &str| fx.join(n).to_str().unwrap().to_string();
    ffmpeg(&["-f", "lavfi", "-t", "0.5", "-i", "sine=frequency=440:sample_rate=44100", "-c:a", "aac", &p("audio.mp4")]);
    assert_refused(&fx, "audio.mp4", "no video stream");
    // Audio whose only picture is cover art (an attached picture): MP3 with an ID3 picture, and
    // M4A with a `covr` atom. FFmpeg offers the picture as a one-frame video stream.
    for (name, codec) in [("cover.mp3", "libmp3lame"), ("cover.m4a", "aac")] {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-t",
            "0.5",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-i",
            &p("content.png"),
            "-map",
            "0",
            "-map",
            "1",
            "-c:a",
            codec,
            "-c:v",
            "copy",
            "-disposition:v",
            "attached_pic",
            &p(name),
        ]);
        assert_refused(&fx, name, "cover art");
    }
    // A video stream with no frames (a Matroska header only).
    ffmpeg(&["-f", "lavfi", "-i", "testsrc=size=32x32:rate=10", "-frames:v", "0", "-c:v", "ffv1", &p("zero.mkv")]);
    assert_refused(&fx, "zero.mkv", "no frames");
    // Truncated: the first half of a good clip (its index, at the end, is missing).
    clip(&fx.join("good.mp4"), 32, 32, 10, 1.0, false);
    let bytes = std::fs::read(fx.join("good.mp4")).unwrap();
    std::fs::write(fx.join("cut.mp4"), &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(&fx, "cut.mp4", "not a readable video");
    // An output name whose container cannot hold H.264 is refused before any work.
    clip(&fx.join("ok.mp4"), 32, 32, 10, 0.2, false);
    let r = fx.run(&video_args("ok.mp4", "out.png", &[]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr_lines().len() == 1 && r.stderr.contains("out.png"), "{r}");
    assert!(!fx.join("out.png").exists());
    // The output may not be the clip it reads: it would be replaced by its own stylisation.
    let before = std::fs::read(fx.join("ok.mp4")).unwrap();
    let r = fx.run(&video_args("ok.mp4", "./ok.mp4", &[]));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr_lines().len() == 1 && r.stderr.contains("the source clip"), "{r}");
    assert_eq!(std::fs::read(fx.join("ok.mp4")).unwrap(), before, "the source was touched");
    // Over the 8192 px cap (lossless codec: a tiny file).
    ffmpeg(&["-f", "lavfi", "-i", "color=size=8200x8:rate=1", "-frames:v", "1", "-c:v", "ffv1", &p("huge.mkv")]);
    assert_refused(&fx, "huge.mkv", "8200x8");
    // Too thin for the network at the working size: 400x8 at 32 px is 32x1 (even-fitted 32x2).
    ffmpeg(&["-f", "lavfi", "-i", "color=size=400x8:rate=5", "-frames:v", "2", "-c:v", "ffv1", &p("thin.mkv")]);
    assert_refused(&fx, "thin.mkv", "under the 16 px the network needs");
}

#[test]
fn a_killed_job_resumes_from_its_sessions_frames_folder() {
    let fx = Fixture::new("video-resume");
    clip(&fx.join("clip.mp4"), 48, 36, 20, 1.0, true);
    // Warped starts with the temporal loss looking back 1, 2 and 4 frames: the resumed frames
    // must equal an uninterrupted run's byte for byte (flows are recomputed deterministically and
    // every frame starts from the saved 8-bit frames before it).
    let temporal = ["--warm-start", "warped", "--temporal-weight", "2", "--temporal-frames", "1,2,4"];
    let mut extra = vec!["--iterations", "30", "--frame-iterations", "30"];
    extra.extend(temporal);
    let args = video_args("clip.mp4", "out.mp4", &extra);
    let mut child = fx.command(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == "progress" && num(&v, "frame") >= 3.0 {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!fx.join("out.mp4").exists(), "the job finished before it was killed");
    // The finished frames are kept in the session's folder.
    let sessions = fx.join("home/.local/share/brushwork/sessions");
    let session = std::fs::read_dir(&sessions).unwrap().next().expect("a session").unwrap().path();
    let work = session.join("frames");
    let saved = std::fs::read_dir(&work)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert!((3..20).contains(&saved), "{saved} frames saved");

    let r = fx.run(&args);
    assert_eq!(r.code, Some(0), "{r}");
    let first = r.events().into_iter().find(|e| e["event"] == "progress").expect("progress");
    assert!(num(&first, "frame") as usize > saved, "did not resume after frame {saved}: {first}");
    assert!(r.stderr.contains("resuming at frame"), "{r}");
    let kept = std::fs::read_dir(&work)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(kept, 20, "every frame is kept in the session");
    let out = probe(&fx.join("out.mp4"));
    assert_same_timing(&probe(&fx.join("clip.mp4")), &out);

    let fresh = Fixture::new("video-resume-reference");
    std::fs::copy(fx.join("clip.mp4"), fresh.join("clip.mp4")).unwrap();
    let r = fresh.run(&args);
    assert_eq!(r.code, Some(0), "{r}");
    let reference = fresh.join("home/.local/share/brushwork/sessions");
    let reference = std::fs::read_dir(&reference).unwrap().next().unwrap().unwrap().path().join("frames");
    for k in 1..=20 {
        let name = format!("{k:06}.png");
        let (a, b) = (std::fs::read(work.join(&name)).unwrap(), std::fs::read(reference.join(&name)).unwrap());
        assert!(a == b, "frame {k} differs between the resumed and the uninterrupted run");
    }
}

/// A clip panning right by 4 px a frame over a textured test pattern, 64x48, 10 frames.
fn pan_clip(path: &std::path::Path) {
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=200x60:rate=10",
        "-vf",
        "crop=64:48:x='n*4':y=6",
        "-frames:v",
        "10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        "10",
        path.to_str().unwrap(),
    ]);
}

/// `eval OUT --content IN` scores the warping error against the source's. A clip scored against
/// itself matches its floor exactly; a frozen clip (the first frame held), which the old flicker
/// figure called steadier than the source, scores far worse than the source once things move.
#[test]
fn eval_scores_warping_error_against_the_source() {
    let fx = Fixture::new("video-eval");
    pan_clip(&fx.join("pan.mp4"));
    let r = fx.run(&["eval", "pan.mp4", "--content", "pan.mp4", "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    let e = r.events().pop().expect("an eval event");
    assert_eq!(num(&e, "frames"), 10.0, "{e}");
    assert_eq!(e["per_frame"].as_array().map(Vec::len), Some(9), "{e}");
    let (own, floor) = (num(&e, "warp_error"), num(&e, "source_warp_error"));
    assert!((own - floor).abs() < 1e-12, "{e}");
    // The pan is what the flow explains: the source's own error is small on a 0..3 scale.
    assert!(floor < 0.02, "{e}");

    ffmpeg(&["-i", fx.join("pan.mp4").to_str().unwrap(), "-frames:v", "1", fx.join("first.png").to_str().unwrap()]);
    let first = fx.join("first.png");
    ffmpeg(&[
        "-loop",
        "1",
        "-framerate",
        "10",
        "-i",
        first.to_str().unwrap(),
        "-frames:v",
        "10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        "10",
        fx.join("frozen.mp4").to_str().unwrap(),
    ]);
    let r = fx.run(&["eval", "frozen.mp4", "--content", "pan.mp4", "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    let e = r.events().pop().expect("an eval event");
    assert!(num(&e, "warp_error") > 3.0 * num(&e, "source_warp_error"), "{e}");
    assert!(num(&e, "warp_error") > 0.01, "{e}");

    // A picture given as the clip, or a missing source: exit 2 naming the file.
    let r = fx.run(&["eval", "first.png", "--content", "pan.mp4"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("first.png"), "{r}");
    let r = fx.run(&["eval", "frozen.mp4", "--content", "missing.mp4"]);
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("missing.mp4"), "{r}");
}

/// `brushwork flow` writes Middlebury .flo files (and a colour picture); `video --flow-dir` takes
/// such files instead of computing flows, and refuses a missing, damaged or wrong-sized one before
/// any frame is stylised, naming it.
#[test]
fn flow_files_from_the_flow_command_drive_a_video() {
    let fx = Fixture::new("video-flow-dir");
    pan_clip(&fx.join("pan.mp4"));
    // The video runs at --size 32: 64x48 becomes 32x24; the flows must be of that size.
    let pattern = fx.join("f%02d.png");
    ffmpeg(&["-i", fx.join("pan.mp4").to_str().unwrap(), "-vf", "scale=32:24", pattern.to_str().unwrap()]);
    std::fs::create_dir(fx.join("flows")).unwrap();
    for t in 2..=10 {
        let (a, b) = (format!("f{:02}.png", t - 1), format!("f{t:02}.png"));
        let back = format!("flows/backward_{t}_{}.flo", t - 1);
        let fwd = format!("flows/forward_{}_{t}.flo", t - 1);
        for (x, y, out) in [(&b, &a, &back), (&a, &b, &fwd)] {
            let r = fx.run(&["flow", x, y, "-o", out, "--quality", "fast"]);
            assert_eq!(r.code, Some(0), "{r}");
        }
    }
    // 12-byte header and 8 bytes per pixel.
    assert_eq!(std::fs::metadata(fx.join("flows/backward_5_4.flo")).unwrap().len(), 12 + 32 * 24 * 8);
    let r = fx.run(&["flow", "f01.png", "f02.png", "-o", "one.flo", "--png", "one.png", "--json"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(image::open(fx.join("one.png")).unwrap().to_rgb8().dimensions(), (32, 24));
    // The pan moves the picture by 2 px a frame at this size (4 at 64 px); flat parts of the test
    // pattern carry no motion a 32x24 flow can see, so the mean lies between 0 and 2. A frame
    // against itself has none.
    let e = r.events().pop().unwrap();
    assert!((0.5..2.5).contains(&num(&e, "mean_motion")), "{e}");
    let r = fx.run(&["flow", "f01.png", "f01.png", "-o", "still.flo", "--json"]);
    let e = r.events().pop().unwrap();
    assert!(num(&e, "mean_motion") < 0.05, "{e}");

    let with_flows =
        ["--flow-dir", "flows", "--warm-start", "warped", "--temporal-weight", "1", "--temporal-frames", "1"];
    let r = fx.run(&video_args("pan.mp4", "out.mp4", &with_flows));
    assert_eq!(r.code, Some(0), "{r}");
    let events = r.events();
    let frame2 = events.iter().find(|e| e["event"] == "progress" && e["frame"] == 2).expect("frame 2");
    assert!(num(frame2, "warp_error").is_finite() && num(frame2, "source_warp_error").is_finite(), "{frame2}");

    // Wrong size (a flow made at 16 px), damaged, missing: each refused with exit 2 naming it.
    let r = fx.run(&["flow", "f05.png", "f04.png", "-o", "small.flo", "--size", "16"]);
    assert_eq!(r.code, Some(0), "{r}");
    std::fs::rename(fx.join("small.flo"), fx.join("flows/backward_5_4.flo")).unwrap();
    let r = fx.run(&video_args("pan.mp4", "out2.mp4", &with_flows));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("backward_5_4.flo") && r.stderr.contains("16x12"), "{r}");
    std::fs::write(fx.join("flows/backward_5_4.flo"), b"not a flow file at all").unwrap();
    let r = fx.run(&video_args("pan.mp4", "out2.mp4", &with_flows));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("backward_5_4.flo") && r.stderr.contains("not a .flo"), "{r}");
    std::fs::remove_file(fx.join("flows/backward_5_4.flo")).unwrap();
    let r = fx.run(&video_args("pan.mp4", "out2.mp4", &with_flows));
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.stderr.contains("backward_5_4.flo") && r.stderr.contains("missing"), "{r}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {r}");
    assert!(!fx.join("out2.mp4").exists());
    // A damaged .flo given to nothing but the reader: `flow` output must end in .flo.
    let r = fx.run(&["flow", "f01.png", "f02.png", "-o", "x.txt"]);
    assert_eq!(r.code, Some(2), "{r}");
}

/// The mean grey level of each 8x8 corner of a frame: top-left, top-right, bottom-left,
/// bottom-right.
fn corners((w, h, grey): &(u32, u32, Vec<u8>)) -> [f64; 4] {
    let (w, h) = (*w as usize, *h as usize);
    let mean = |x0: usize, y0: usize| {
        let sum: u32 =
            (y0..y0 + 8).flat_map(|y| (x0..x0 + 8).map(move |x| (x, y))).map(|(x, y)| u32::from(grey[y * w + x])).sum();
        f64::from(sum) / 64.0
    };
    [mean(0, 0), mean(w - 8, 0), mean(0, h - 8), mean(w - 8, h - 8)]
}

const CORNER_NAMES: [&str; 4] = ["top-left", "top-right", "bottom-left", "bottom-right"];

/// Phone clips store the sensor's picture and a display matrix saying how to turn it (the MP4
/// `tkhd` matrix; older files a `rotate` tag). The output must be the upright picture with no
/// matrix of its own: a 64x32 clip whose top-left corner is marked, shown turned, comes out with
/// the displayed size and the mark in the displayed corner.
#[test]
fn phone_rotation_and_mirroring_come_out_upright() {
    let fx = Fixture::new("video-rotation");
    let mark = "color=c=black:size=64x32:rate=10,drawbox=x=0:y=0:w=16:h=16:color=white:t=fill";
    let make = |name: &str| {
        let p = fx.join(name);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            mark,
            "-frames:v",
            "3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            p.to_str().unwrap(),
        ]);
        p
    };
    // (file, display matrix a b c d, displayed size, the corner the mark is shown in)
    let cases = [
        ("plain.mp4", (1, 0, 0, 1), (64, 32), 0),
        // An iPhone held upright: shown turned 90° clockwise (ffprobe says rotation -90).
        ("rot90.mp4", (0, 1, -1, 0), (32, 64), 1),
        ("rot180.mp4", (-1, 0, 0, -1), (64, 32), 3),
        ("rot270.mp4", (0, -1, 1, 0), (32, 64), 2),
        // A mirrored front camera: av_display_matrix_flip's horizontal flip.
        ("mirror.mp4", (-1, 0, 0, 1), (64, 32), 1),
    ];
    let mut clips: Vec<(String, (u32, u32), usize)> = Vec::new();
    for (name, m, size, corner) in cases {
        let p = make(name);
        set_mp4_display_matrix(&p, m);
        clips.push((name.to_string(), size, corner));
    }
    // The legacy tag, in Matroska (no display matrix there): clockwise degrees.
    let plain = fx.join("plain.mp4");
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v",
        "ROTATE=90",
        fx.join("tag.mkv").to_str().unwrap(),
    ]);
    assert!(display_matrix(&fx.join("tag.mkv")).is_none(), "the tagged clip should carry only the tag");
    clips.push(("tag.mkv".to_string(), (32, 64), 1));

    for (name, size, corner) in clips {
        let out = format!("{name}.out.mp4");
        let r = fx.run(&video_args(&name, &out, &["--size", "64"]));
        assert_eq!(r.code, Some(0), "{name}: {r}");
        let out = fx.join(&out);
        let frame = first_frame_gray(&out);
        assert_eq!((frame.0, frame.1), size, "{name}: output size");
        if let Some(m) = display_matrix(&out) {
            assert_eq!(m, [1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30], "{name}: the output is turned again");
        }
        let c = corners(&frame);
        let brightest = (0..4).max_by(|a, b| c[*a].total_cmp(&c[*b])).unwrap();
        assert_eq!(
            CORNER_NAMES[brightest], CORNER_NAMES[corner],
            "{name}: the mark should be {}: corner means {c:?}",
            CORNER_NAMES[corner]
        );
        let others = (0..4).filter(|k| *k != corner).map(|k| c[k]).fold(0.0, f64::max);
        assert!(c[corner] > others + 60.0, "{name}: the mark is not clear: corner means {c:?}");
    }
}

/// Audio and subtitle streams are copied with their language tags when the container can carry
/// them; a subtitle stream it cannot carry is dropped with one warning line naming it.
#[test]
fn subtitles_and_language_tags_are_kept_or_reported() {
    let fx = Fixture::new("video-subtitles");
    std::fs::write(
        fx.join("s.srt"),
        "1\n00:00:00,000 --> 00:00:00,300\nhello\n\n2\n00:00:00,300 --> 00:00:00,500\nbye\n\n",
    )
    .unwrap();
    let p = |n: &str| fx.join(n).to_str().unwrap().to_string();
    let (srt, mkv, mp4) = (p("s.srt"), p("subs.mkv"), p("subs.mp4"));
    let source = |out: &str, subtitle_codec: &str, language: &str| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=48x36:rate=10",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-i",
            &srt,
            "-t",
            "0.5",
            "-map",
            "0",
            "-map",
            "1",
            "-map",
            "2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-c:s",
            subtitle_codec,
            "-metadata:s:a:0",
            "language=fra",
            "-metadata:s:s:0",
            &format!("language={language}"),
            out,
        ]);
    };
    source(&mkv, "srt", "eng");
    source(&mp4, "mov_text", "spa");
    let kept = |src: &str, out: &str| -> (Vec<StreamInfo>, Vec<StreamInfo>) {
        let (a, b) = (streams(&fx.join(src)), streams(&fx.join(out)));
        (a.into_iter().skip(1).collect(), b.into_iter().skip(1).collect())
    };
    use ffmpeg_next::media::Type;

    // Matroska to Matroska, MP4 to MP4: everything kept, no warning.
    for (src, out, codec, language) in
        [("subs.mkv", "out.mkv", "subrip", "eng"), ("subs.mp4", "out.mp4", "mov_text", "spa")]
    {
        let r = fx.run(&video_args(src, out, &[]));
        assert_eq!(r.code, Some(0), "{src}: {r}");
        assert!(!r.stderr.contains("dropped"), "{src}: {r}");
        let (source_streams, out_streams) = kept(src, out);
        assert_eq!(source_streams.len(), 2, "{src}: {source_streams:?}");
        assert_eq!(out_streams, source_streams, "{src}: audio and subtitles, languages and packets");
        assert_eq!((out_streams[0].kind, out_streams[0].language.as_deref()), (Type::Audio, Some("fra")));
        assert_eq!((out_streams[1].kind, out_streams[1].codec.as_str()), (Type::Subtitle, codec));
        assert_eq!(out_streams[1].language.as_deref(), Some(language));
    }

    // SubRip cannot go into MP4: dropped, said in one line naming the output, the codec and a
    // container that keeps it; the audio and its language are kept.
    let r = fx.run(&video_args("subs.mkv", "dropped.mp4", &[]));
    assert_eq!(r.code, Some(0), "{r}");
    let warnings: Vec<&str> = r.stderr_lines().into_iter().filter(|l| l.contains("dropped")).collect();
    assert_eq!(warnings.len(), 1, "one warning line: {r}");
    for part in ["dropped.mp4", "subrip", "eng", ".mkv"] {
        assert!(warnings[0].contains(part), "`{part}` in: {}", warnings[0]);
    }
    let out = streams(&fx.join("dropped.mp4"));
    assert_eq!(out.len(), 2, "video and audio only: {out:?}");
    assert_eq!((out[1].kind, out[1].language.as_deref()), (Type::Audio, Some("fra")));
}

/// The output is checked before any work: a container that cannot carry the source's audio
/// (PCM into MP4), a folder that is missing or cannot be written, a name that is a folder or not a
/// container brushwork writes. Each is one line naming the file, exit 2, no session made.
#[test]
fn the_output_is_checked_before_any_frame() {
    let fx = Fixture::new("video-output-checks");
    let p = |n: &str| fx.join(n).to_str().unwrap().to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=48x36:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        "0.3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "pcm_s16le",
        &p("pcm.mov"),
    ]);
    let sessions = fx.join("home/.local/share/brushwork/sessions");
    let refused = |output: &str, expect: &[&str]| {
        let r = fx.run(&video_args("pcm.mov", output, &[]));
        assert_eq!(r.code, Some(2), "{output}: {r}");
        let lines = r.stderr_lines();
        assert_eq!(lines.len(), 1, "{output}: one line:\n{r}");
        for part in expect {
            assert!(lines[0].contains(part), "{output}: `{part}` in: {}", lines[0]);
        }
        assert!(!r.events().iter().any(|e| e["event"] == "progress"), "{output}: work started: {r}");
        let made = std::fs::read_dir(&sessions).map(|d| d.count()).unwrap_or(0);
        assert_eq!(made, 0, "{output}: a session was made");
        assert_eq!(fx.hidden_files(), Vec::<String>::new(), "{output}: temp files left behind");
    };
    refused("out.mp4", &["out.mp4", "pcm_s16le", "pcm.mov", ".mkv", ".mov"]);
    assert!(!fx.join("out.mp4").exists());
    refused("nowhere/out.mp4", &["nowhere/out.mp4", "folder does not exist"]);
    std::fs::create_dir(fx.join("dir.mkv")).unwrap();
    refused("dir.mkv", &["dir.mkv", "is a folder"]);
    // A container FFmpeg knows but brushwork does not write, and no extension at all.
    refused("out.webm", &["out.webm", "unsupported output format"]);
    refused("out", &["out", "unsupported output format"]);
    // A folder that cannot be written (root may write anywhere: then the check cannot fail).
    std::fs::create_dir(fx.join("locked")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fx.join("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(fx.join("locked/probe"), b"").is_err() {
        refused("locked/out.mp4", &["locked/out.mp4", "cannot write"]);
    } else {
        std::fs::remove_file(fx.join("locked/probe")).unwrap();
        eprintln!("running as root: the unwritable-folder case is checked on /proc instead");
    }
    std::fs::set_permissions(fx.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    // /proc takes no new files, even from root.
    refused("/proc/brushwork-out.mp4", &["/proc/brushwork-out.mp4", "cannot write"]);

    // The same clip into a container that carries PCM: the audio is copied unchanged.
    let r = fx.run(&video_args("pcm.mov", "out.mov", &[]));
    assert_eq!(r.code, Some(0), "{r}");
    let (a, b) = (probe(&fx.join("pcm.mov")).audio.unwrap(), probe(&fx.join("out.mov")).audio.expect("audio"));
    assert!(a == b, "PCM packets differ");
}

/// A video session's progress counts frames everywhere: `sessions list` and `sessions show`
/// (not frames over the preset's iterations, `121/60 201%`).
#[test]
fn video_progress_counts_frames_in_sessions_list_and_show() {
    let fx = Fixture::new("video-counts");
    clip(&fx.join("clip.mp4"), 32, 24, 10, 0.5, false);
    let r = fx.run(&video_args("clip.mp4", "out.mp4", &["--iterations", "2", "--frame-iterations", "1"]));
    assert_eq!(r.code, Some(0), "{r}");
    let list = fx.run(&["sessions", "list"]);
    assert_eq!(list.code, Some(0), "{list}");
    assert!(list.stdout.contains("5/5 100%"), "{list}");
    let id = list.stdout.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_string();
    let show = fx.run(&["sessions", "show", &id]);
    assert!(show.stdout.contains("progress  5/5 frames"), "{show}");
}

/// Video with tiles (cores of 16 px on 48x36 frames; the temporal term, the warped starts and the
/// flow are the same code as untiled): every frame reaches the untiled run's loss.
#[test]
fn a_tiled_video_reaches_the_untiled_losses_frame_by_frame() {
    let fx = Fixture::new("video-tiles");
    clip(&fx.join("clip.mp4"), 64, 48, 5, 1.0, false);
    let losses = |extra: &[&str], out: &str| -> Vec<f64> {
        let args = [&["--size", "48", "--precision", "f32", "--temporal-weight", "100"][..], extra].concat();
        let r = fx.run(&video_args("clip.mp4", out, &args));
        assert_eq!(r.code, Some(0), "{r}");
        r.events().iter().filter(|e| e["event"] == "progress").map(|p| num(p, "loss")).collect()
    };
    let whole = losses(&[], "whole.mp4");
    let tiled = losses(&["--tile", "16"], "tiled.mp4");
    assert_eq!(whole.len(), 5);
    assert_eq!(tiled.len(), whole.len());
    for (k, (t, w)) in tiled.iter().zip(&whole).enumerate() {
        assert!((t - w).abs() <= 1e-3 * w.abs(), "frame {}: tiled {t} vs whole {w}", k + 1);
    }
}

/// The memory plan of a video counts its frames at their real shape, read from the stream's
/// headers (a 4:1 clip at `--size 2048` is 2048x512), not as squares.
#[test]
fn a_video_is_planned_at_its_frame_shape() {
    use brushwork::engine::Settings;
    use brushwork::session::{memory::plan_job, Kind};
    let fx = Fixture::new("video-plan-shape");
    clip(&fx.join("wide.mp4"), 128, 32, 5, 0.4, false);
    let settings = Settings { size: 2048, scales: 2, max_memory: Some("64G".into()), ..Settings::default() };
    let p = plan_job(&settings, Kind::Video, &fx.join("wide.mp4"), Some(&fx.join("tiny.safetensors")), "cpu").unwrap();
    let sizes: Vec<(u32, u32)> = p.scales.iter().map(|s| (s.width, s.height)).collect();
    assert_eq!(sizes, vec![(1024, 256), (2048, 512)], "{p:?}");
    // What FFmpeg cannot read counts as square (the clip itself is refused elsewhere, naming it).
    std::fs::write(fx.join("broken.mp4"), b"not a video").unwrap();
    let p =
        plan_job(&settings, Kind::Video, &fx.join("broken.mp4"), Some(&fx.join("tiny.safetensors")), "cpu").unwrap();
    assert_eq!((p.scales[1].width, p.scales[1].height), (2048, 2048));
}
