//! Decoding a clip: the best video stream of any file the system FFmpeg reads (cover art is not
//! a video), every frame converted to RGB at the output size with swscale (rows walked by
//! stride) and turned upright as the stream's display matrix says, timestamps kept.
//!
//! [`Frames`] streams: it holds the demuxer, the decoder and the few frames one packet yields,
//! never the clip, so memory does not grow with the clip's length. [`decode`] collects a whole
//! clip (tests and short clips only).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ffmpeg_next::format::stream::Disposition;
use ffmpeg_next::format::Pixel;
use ffmpeg_next::software::scaling;
use ffmpeg_next::{codec, frame, media, Packet, Rational};
use image::RgbImage;

use super::orient::Orientation;
use super::{codec_error, even_fit, MAX_DIMENSION};
use crate::error::{Error, Result};

/// One decoded frame at the output size, with its presentation timestamp in the stream time base.
pub struct Frame {
    pub image: RgbImage,
    pub pts: i64,
}

/// What is known of a clip once its stream is open: sizes, orientation, timing.
#[derive(Debug, Clone)]
pub struct ClipInfo {
    /// Source size, as displayed (a phone clip shot in portrait is taller than wide).
    pub source_size: (u32, u32),
    /// Output size (even width and height), upright.
    pub size: (u32, u32),
    /// How the coded frames were turned to be upright.
    pub orientation: Orientation,
    /// What the user should know about the source (an orientation that could not be honoured).
    pub warnings: Vec<String>,
    /// The video stream's time base; every `Frame::pts` is in it.
    pub time_base: Rational,
    /// The stream's average frame rate (or its base rate when the average is unknown).
    pub frame_rate: Rational,
}

/// A decoded clip: its frames in presentation order and what the encoder needs to match it.
pub struct Clip {
    pub frames: Vec<Frame>,
    pub info: ClipInfo,
}

impl std::ops::Deref for Clip {
    type Target = ClipInfo;
    fn deref(&self) -> &ClipInfo {
        &self.info
    }
}

/// Decodes the best video stream of `path` whole, scaling each frame so its long side is `long`
/// (both sides even; [`NATIVE`] keeps the stream's own size, rounded down to even). Bad input
/// (not a video, no video stream, no frames, too large) is an input error.
pub fn decode(path: &Path, long: u32) -> Result<Clip> {
    let mut frames = Frames::open(path, long)?;
    let mut all = Vec::new();
    while let Some(f) = frames.next_frame()? {
        all.push(f);
    }
    Ok(Clip { frames: all, info: frames.info().clone() })
}

/// The first frame of the clip, upright, its long side `long` (a thumbnail: the dashboard shows
/// it for a video session). Reads only as far as that frame.
pub fn first_frame(path: &Path, long: u32) -> Result<RgbImage> {
    let mut frames = Frames::open(path, long)?;
    match frames.next_frame()? {
        Some(f) => Ok(f.image),
        None => Err(Error::input(path, "the video stream has no frames")),
    }
}

/// The clip's picture size as displayed (upright), from its headers: no frame is decoded, so it
/// is cheap enough for the memory plan the dashboard's form shows as it is edited.
pub fn display_size(path: &Path) -> Result<(u32, u32)> {
    check_file(path)?;
    let input =
        ffmpeg_next::format::input(path).map_err(|e| Error::input(path, format!("not a readable video ({e})")))?;
    let stream = video_stream(&input).map_err(|e| Error::input(path, e))?;
    let context = codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| Error::input(path, format!("unsupported video codec ({e})")))?;
    let decoder =
        context.decoder().video().map_err(|e| Error::input(path, format!("unsupported video codec ({e})")))?;
    let orientation = Orientation::of_stream(&stream).unwrap_or(Orientation::IDENTITY);
    Ok(orientation.display_size((decoder.width(), decoder.height())))
}

/// Every frame's timestamp, from a pass that decodes but converts nothing (the frame count and
/// the encoder's timing, before any work); the clip as [`Frames::open`] with `long` sees it.
pub fn timestamps(path: &Path, long: u32) -> Result<(ClipInfo, Vec<i64>)> {
    let mut frames = Frames::open(path, long)?;
    let mut pts = Vec::new();
    while let Some(t) = frames.skip_frame()? {
        pts.push(t);
    }
    Ok((frames.info().clone(), pts))
}

/// A clip decoded one frame at a time. Opening it reads as far as the first frame, so a file
/// without one is refused at [`Frames::open`].
pub struct Frames {
    path: PathBuf,
    input: ffmpeg_next::format::context::Input,
    decoder: ffmpeg_next::decoder::Video,
    index: usize,
    info: ClipInfo,
    scaler: Option<(scaling::Context, (Pixel, u32, u32))>,
    /// Decoded frames not yet handed out, with their timestamps.
    pending: VecDeque<(frame::Video, i64)>,
    last_pts: Option<i64>,
    step: i64,
    /// The demuxer is exhausted and the decoder flushed.
    ended: bool,
    damaged: usize,
}

impl Frames {
    pub fn open(path: &Path, long: u32) -> Result<Frames> {
        check_file(path)?;
        let input = ffmpeg_next::format::input(path).map_err(|e| match e {
            ffmpeg_next::Error::Eof => Error::input(path, "the video has no frames (the file ends before any picture)"),
            e => Error::input(path, format!("not a readable video ({e})")),
        })?;
        let demuxer = input.format().name().to_string();
        if demuxer == "image2" || demuxer.ends_with("_pipe") {
            return Err(Error::input(path, "is a still image, not a video (use `brushwork run` for images)"));
        }
        let stream = video_stream(&input).map_err(|e| Error::input(path, e))?;
        let index = stream.index();
        let time_base = stream.time_base();
        let frame_rate = [stream.avg_frame_rate(), stream.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0)
            .unwrap_or(Rational(25, 1));
        let context = codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| Error::input(path, format!("unsupported video codec ({e})")))?;
        let decoder =
            context.decoder().video().map_err(|e| Error::input(path, format!("unsupported video codec ({e})")))?;
        let (sw, sh) = (decoder.width(), decoder.height());
        if sw == 0 || sh == 0 {
            return Err(Error::input(path, "the video stream has no picture size"));
        }
        if sw > MAX_DIMENSION || sh > MAX_DIMENSION {
            return Err(Error::input(
                path,
                format!("video is {sw}x{sh}, larger than {MAX_DIMENSION}x{MAX_DIMENSION} pixels (refused)"),
            ));
        }
        let mut warnings = Vec::new();
        let orientation = Orientation::of_stream(&stream).unwrap_or_else(|why| {
            warnings.push(format!("{}: the video stream has {why}", path.display()));
            Orientation::IDENTITY
        });
        let (dw, dh) = orientation.display_size((sw, sh));
        let size = even_fit(dw, dh, if long == NATIVE { dw.max(dh) } else { long });
        let step = frame_step(time_base, frame_rate);
        let info = ClipInfo { source_size: (dw, dh), size, orientation, warnings, time_base, frame_rate };
        let mut frames = Frames {
            path: path.to_path_buf(),
            input,
            decoder,
            index,
            info,
            scaler: None,
            pending: VecDeque::new(),
            last_pts: None,
            step,
            ended: false,
            damaged: 0,
        };
        frames.fill()?;
        if frames.pending.is_empty() {
            let why = if frames.damaged > 0 { " (the file is damaged or truncated)" } else { "" };
            return Err(Error::input(path, format!("the video stream has no frames{why}")));
        }
        Ok(frames)
    }

    pub fn info(&self) -> &ClipInfo {
        &self.info
    }

    /// The next frame, converted to RGB at the output size and turned upright; `None` at the end.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        self.fill()?;
        let Some((decoded, pts)) = self.pending.pop_front() else { return Ok(None) };
        let image = self.convert(&decoded)?;
        Ok(Some(Frame { image, pts }))
    }

    /// Steps over the next frame without converting it; its timestamp, `None` at the end.
    pub fn skip_frame(&mut self) -> Result<Option<i64>> {
        self.fill()?;
        Ok(self.pending.pop_front().map(|(_, pts)| pts))
    }

    /// Reads packets until a decoded frame waits (or the stream ended and the decoder is flushed).
    fn fill(&mut self) -> Result<()> {
        let mut packet = Packet::empty();
        while self.pending.is_empty() && !self.ended {
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) => {
                    // Flush: without this the decoder keeps its last frames.
                    let _ = self.decoder.send_eof();
                    self.drain();
                    self.ended = true;
                    break;
                }
                Err(ffmpeg_next::Error::InvalidData) => {
                    self.damaged += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::input(&self.path, format!("cannot read the video (truncated or damaged?): {e}")))
                }
            }
            if packet.stream() != self.index {
                continue;
            }
            if self.decoder.send_packet(&packet).is_err() {
                self.damaged += 1;
                continue;
            }
            self.drain();
        }
        Ok(())
    }

    /// Moves every frame the decoder has ready into `pending`, with strictly increasing
    /// timestamps (a frame without one follows the previous by one frame).
    fn drain(&mut self) {
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            let pts = match (decoded.timestamp().or(decoded.pts()), self.last_pts) {
                (Some(t), Some(l)) if t <= l => l + 1,
                (Some(t), _) => t,
                (None, Some(l)) => l + self.step,
                (None, None) => 0,
            };
            self.last_pts = Some(pts);
            self.pending.push_back((std::mem::replace(&mut decoded, frame::Video::empty()), pts));
        }
    }

    fn convert(&mut self, decoded: &frame::Video) -> Result<RgbImage> {
        let path = self.path.as_path();
        let key = (decoded.format(), decoded.width(), decoded.height());
        if key.1 > MAX_DIMENSION || key.2 > MAX_DIMENSION {
            return Err(Error::input(path, format!("a frame is {}x{} (refused)", key.1, key.2)));
        }
        // Scaled in the coded orientation, turned upright afterwards.
        let orientation = self.info.orientation;
        let (w, h) = orientation.coded_size(self.info.size);
        if self.scaler.as_ref().map(|(_, k)| *k) != Some(key) {
            let ctx = scaling::Context::get(key.0, key.1, key.2, Pixel::RGB24, w, h, scaling::Flags::BICUBIC)
                .map_err(|e| codec_error(path, "cannot convert the video's pixels to RGB", e))?;
            self.scaler = Some((ctx, key));
        }
        let Some((scaler, _)) = self.scaler.as_mut() else {
            return Err(codec_error(path, "scaler", "not created"));
        };
        let mut rgb = frame::Video::empty();
        scaler.run(decoded, &mut rgb).map_err(|e| codec_error(path, "cannot convert a frame to RGB", e))?;
        // Rows are padded: walk them by stride.
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let row = 3 * w as usize;
        let mut out = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            let start = y * stride;
            let line =
                data.get(start..start + row).ok_or_else(|| codec_error(path, "RGB frame", "shorter than its size"))?;
            out.extend_from_slice(line);
        }
        let coded = RgbImage::from_raw(w, h, out).ok_or_else(|| codec_error(path, "RGB frame", "wrong size"))?;
        Ok(if orientation.is_identity() { coded } else { orientation.apply(&coded) })
    }
}

/// The stream to decode: the best video stream that is not an attached picture (cover art).
fn video_stream(input: &ffmpeg_next::format::context::Input) -> std::result::Result<ffmpeg_next::Stream<'_>, String> {
    let is_video = |s: &ffmpeg_next::Stream| s.parameters().medium() == media::Type::Video;
    let is_picture = |s: &ffmpeg_next::Stream| s.disposition().contains(Disposition::ATTACHED_PIC);
    if let Some(best) = input.streams().best(media::Type::Video).filter(|s| !is_picture(s)) {
        return Ok(best);
    }
    if let Some(moving) = input.streams().find(|s| is_video(s) && !is_picture(s)) {
        return Ok(moving);
    }
    let has_audio = input.streams().any(|s| s.parameters().medium() == media::Type::Audio);
    if input.streams().any(|s| is_video(&s) && is_picture(&s)) {
        let what = if has_audio { "audio with cover art" } else { "a file whose only picture is cover art" };
        return Err(format!("is {what}, not a video (its only picture is an attached still image)"));
    }
    Err("no video stream (audio only, or not a video)".into())
}

/// The `long` of [`decode`] that keeps the stream's own size.
pub const NATIVE: u32 = 0;

/// Refuses what is not a regular, non-empty file, with the usual one-line messages.
fn check_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "no such file"),
        _ => Error::input(path, format!("cannot read: {e}")),
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, not a video"));
    }
    if meta.len() == 0 {
        return Err(Error::input(path, "file is empty (0 bytes)"));
    }
    Ok(())
}

/// One frame's duration in time-base units (at least 1), for frames that carry no timestamp.
pub(crate) fn frame_step(time_base: Rational, rate: Rational) -> i64 {
    let (tn, td) = (time_base.numerator() as i64, time_base.denominator() as i64);
    let (rn, rd) = (rate.numerator() as i64, rate.denominator() as i64);
    if tn <= 0 || td <= 0 || rn <= 0 || rd <= 0 {
        return 1;
    }
    ((td * rd) as f64 / (tn * rn) as f64).round().max(1.0) as i64
}
