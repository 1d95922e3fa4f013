//! Helpers for the video tests: clips made with the ffmpeg CLI, and probing results with
//! ffmpeg-next (frame count, timestamps, frame rate, audio packets).

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

/// Sets the display matrix of an MP4's first track (`a, b, c, d` in whole units, as phones write
/// the `tkhd` box: an iPhone shot in portrait is `0, 1, -1, 0`), by rewriting the file's bytes.
pub fn set_mp4_display_matrix(path: &Path, (a, b, c, d): (i32, i32, i32, i32)) {
    let mut bytes = std::fs::read(path).expect("read the clip");
    let at = find_box(&bytes, 0, bytes.len(), &[b"moov", b"trak", b"tkhd"]).expect("a tkhd box");
    // Full box: version (1 byte), flags (3); then times, track id and duration (20 or 32 bytes),
    // 8 reserved, layer, group, volume, 2 reserved (8): the matrix.
    let version = bytes[at];
    let matrix = at + 4 + if version == 0 { 20 } else { 32 } + 8 + 8;
    let m = [a << 16, b << 16, 0, c << 16, d << 16, 0, 0, 0, 1 << 30];
    for (k, v) in m.iter().enumerate() {
        bytes[matrix + 4 * k..matrix + 4 * k + 4].copy_from_slice(&v.to_be_bytes());
    }
    std::fs::write(path, bytes).expect("write the clip");
}

/// The offset of the payload of the box at `path` (nested box types) within `bytes[start..end]`.
fn find_box(bytes: &[u8], start: usize, end: usize, path: &[&[u8; 4]]) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    let mut at = start;
    while at + 8 <= end {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        if size < 8 || at + size > end {
            return None;
        }
        if kind == *first {
            return if rest.is_empty() { Some(at + 8) } else { find_box(bytes, at + 8, at + size, rest) };
        }
        at += size;
    }
    None
}

/// The display matrix of the best video stream, if it has one.
pub fn display_matrix(path: &Path) -> Option<[i32; 9]> {
    ffmpeg_next::init().expect("ffmpeg init");
    let input = format::input(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let video = input.streams().best(media::Type::Video).expect("a video stream");
    let side = video.side_data().find(|s| s.kind() == ffmpeg_next::codec::packet::side_data::Type::DisplayMatrix)?;
    let mut m = [0i32; 9];
    for (v, c) in m.iter_mut().zip(side.data().chunks_exact(4)) {
        *v = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
    }
    Some(m)
}

/// The first frame of `path` as stored (no autorotation), grey, with its width and height.
pub fn first_frame_gray(path: &Path) -> (u32, u32, Vec<u8>) {
    let p = probe(path);
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-noautorotate", "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout.len(), (p.width * p.height) as usize, "one grey frame");
    (p.width, p.height, out.stdout)
}

/// One stream of a file as the tests look at it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub kind: media::Type,
    pub codec: String,
    pub language: Option<String>,
    pub packets: usize,
}

/// Every stream of `path`: kind, codec, `language` tag and packet count.
pub fn streams(path: &Path) -> Vec<StreamInfo> {
    ffmpeg_next::init().expect("ffmpeg init");
    let mut input = format::input(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out: Vec<StreamInfo> = input
        .streams()
        .map(|s| StreamInfo {
            kind: s.parameters().medium(),
            codec: s.parameters().id().name().to_string(),
            language: s.metadata().get("language").map(str::to_string),
            packets: 0,
        })
        .collect();
    for (stream, _) in input.packets() {
        out[stream.index()].packets += 1;
    }
    out
}
