//! Helpers for the video tests: clips made with the ffmpeg CLI, and probing results with
//! ffmpeg-next (frame count, timestamps, frame rate, audio packets).
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use ffmpeg_next::{codec, format, frame, media};

/// Runs `ffmpeg -y -loglevel error ARGS`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-y", "-nostdin", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("run ffmpeg (apt-get install ffmpeg)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A `w`x`h` test pattern at `rate` fps for `seconds`, H.264; with a 440 Hz AAC tone if `audio`.
pub fn clip(path: &Path, w: u32, h: u32, rate: u32, seconds: f64, audio: bool) {
    let src = format!("testsrc=size={w}x{h}:rate={rate}");
    let t = seconds.to_string();
    let p = path.to_str().expect("utf-8 path");
    let mut args = vec!["-f", "lavfi", "-i", &src];
    if audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]);
    }
    args.extend(["-t", &t, "-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    if audio {
        args.extend(["-c:a", "aac"]);
    }
    args.push(p);
    ffmpeg(&args);
}

/// What a test checks about a video file.
#[derive(Debug)]
pub struct Probe {
    pub width: u32,
    pub height: u32,
    /// Presentation times of the decoded frames, seconds.
    pub times: Vec<f64>,
    pub avg_frame_rate: (i32, i32),
    /// The video stream's duration, seconds.
    pub duration: f64,
    pub video_codec: String,
    /// Packets of the first audio stream (their bytes), if any.
    pub audio: Option<Vec<Vec<u8>>>,
}

/// Decodes every frame of the best video stream and reads the first audio stream's packets.
pub fn probe(path: &Path) -> Probe {
    ffmpeg_next::init().expect("ffmpeg init");
    let mut input = format::input(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let video = input.streams().best(media::Type::Video).expect("a video stream");
    let vi = video.index();
    let tb = f64::from(video.time_base());
    let rate = video.avg_frame_rate();
    let duration = if video.duration() > 0 {
        video.duration() as f64 * tb
    } else {
        input.duration() as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE)
    };
    let ai = input.streams().find(|s| s.parameters().medium() == media::Type::Audio).map(|s| s.index());
    let mut decoder = codec::context::Context::from_parameters(video.parameters()).unwrap().decoder().video().unwrap();
    let video_codec = decoder.id().name().to_string();
    let (width, height) = (decoder.width(), decoder.height());
    let mut times = Vec::new();
    let mut audio = ai.map(|_| Vec::new());
    let receive = |d: &mut ffmpeg_next::decoder::Video, times: &mut Vec<f64>| {
        let mut f = frame::Video::empty();
        while d.receive_frame(&mut f).is_ok() {
            times.push(f.timestamp().unwrap_or(0) as f64 * tb);
        }
    };
    for (stream, packet) in input.packets() {
        if stream.index() == vi {
            decoder.send_packet(&packet).expect("video packet decodes");
            receive(&mut decoder, &mut times);
        } else if Some(stream.index()) == ai {
            if let Some(a) = audio.as_mut() {
                a.push(packet.data().unwrap_or_default().to_vec());
            }
        }
    }
    decoder.send_eof().unwrap();
    receive(&mut decoder, &mut times);
    Probe { width, height, times, avg_frame_rate: (rate.numerator(), rate.denominator()), duration, video_codec, audio }
}
