//! Encoding the stylised frames: H.264 (libx264, yuv420p) at the source timestamps, with the
//! source's audio and subtitle streams copied packet for packet (with their language and other
//! tags, and their default/forced flags), written to a temporary name then renamed. Which streams
//! the container can carry is decided by [`super::output::plan_streams`], checked before any work.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ffmpeg_next::format::{self, Pixel};
use ffmpeg_next::software::scaling;
use ffmpeg_next::{codec, encoder, frame, Dictionary, Packet, Rational};
use image::RgbImage;

use super::codec_error;
use super::decode::frame_step;
use super::output::{muxer_for, plan_streams};
use crate::error::{Error, Result};

/// Encoders tried in order: libx264, then others Debian's FFmpeg has.
const ENCODERS: [&str; 3] = ["libx264", "libopenh264", "mpeg4"];

/// What the encoder needs to know about the source.
pub struct EncodeSpec<'a> {
    /// The source file: its audio and subtitle streams are copied.
    pub source: &'a Path,
    /// Time base of the frames' timestamps (the source video stream's).
    pub time_base: Rational,
    pub frame_rate: Rational,
}

/// Writes the frames `frame(0)`, `frame(1)`, ... (all of `size`, an even size) at the strictly
/// increasing timestamps `pts` to `output` with the source's audio and the subtitles the container
/// can carry. Frames are asked for one at a time and the packets written as they come, so memory
/// does not grow with the clip. Returns the encoder's name and any warnings (fallback encoder;
/// dropped subtitles are reported by the check before the work).
pub fn encode(
    output: &Path,
    spec: &EncodeSpec,
    size: (u32, u32),
    pts: &[i64],
    frame: &mut dyn FnMut(usize) -> Result<RgbImage>,
) -> Result<(String, Vec<String>)> {
    let tmp = temp_output(output);
    let result = encode_to(&tmp, output, spec, size, pts, frame);
    match result {
        Ok(done) => {
            std::fs::rename(&tmp, output).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                Error::io(output, e)
            })?;
            Ok(done)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `.NAME.tmp-PID.EXT` next to `output`: hidden, unique, with the extension the muxer is chosen by.
pub fn temp_output(output: &Path) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = output.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "mp4".into());
    output.with_file_name(format!(".{stem}.tmp-{}.{ext}", std::process::id()))
}

fn encode_to(
    tmp: &Path,
    output: &Path,
    spec: &EncodeSpec,
    (w, h): (u32, u32),
    timestamps: &[i64],
    frame_at: &mut dyn FnMut(usize) -> Result<RgbImage>,
) -> Result<(String, Vec<String>)> {
    if timestamps.is_empty() {
        return Err(codec_error(output, "encode", "no frames"));
    }
    let mut input =
        format::input(spec.source).map_err(|e| Error::input(spec.source, format!("cannot reopen the video: {e}")))?;
    let plan = plan_streams(&input, spec.source, output, muxer_for(output)?)?;
    let mut octx = format::output(tmp)
        .map_err(|e| Error::input(output, format!("unknown output format, use .mp4, .mkv or .mov ({e})")))?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let (mut video, name, warnings) = open_encoder(output, spec, (w, h), global_header)?;
    let video_index = {
        let mut ost =
            octx.add_stream(encoder::find(codec::Id::None)).map_err(|e| codec_error(output, "add stream", e))?;
        // Stream parameters from the opened encoder (with its SPS/PPS extradata).
        ost.set_parameters(&video);
        ost.index()
    };
    // Audio and subtitle streams, copied: input index -> output index.
    let mut copy_map = Vec::new();
    for ist in input.streams() {
        if !plan.copy.contains(&ist.index()) {
            continue;
        }
        let mut ost =
            octx.add_stream(encoder::find(codec::Id::None)).map_err(|e| codec_error(output, "add stream", e))?;
        ost.set_parameters(ist.parameters());
        // Language, title and handler tags.
        ost.set_metadata(ist.metadata().to_owned());
        // SAFETY: `ost` owns valid codec parameters; a zero tag lets the muxer pick its own, as a
        // tag from another container may be invalid here. The disposition (default, forced, ...)
        // is a plain int of the stream. ffmpeg-next has no safe setters for either.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
            (*ost.as_mut_ptr()).disposition = ist.disposition().bits();
        }
        copy_map.push((ist.index(), ist.time_base(), ost.index()));
    }
    octx.write_header().map_err(|e| codec_error(output, "write header", e))?;
    // The muxer may change time bases in write_header: read them now.
    let ost_tb = |octx: &format::context::Output, i: usize| octx.stream(i).map(|s| s.time_base());
    let video_tb = ost_tb(&octx, video_index).ok_or_else(|| codec_error(output, "stream", "missing"))?;
    let mut copy_tbs = Vec::new();
    for (_, _, ost_index) in &copy_map {
        copy_tbs.push(ost_tb(&octx, *ost_index).ok_or_else(|| codec_error(output, "stream", "missing"))?);
    }

    let mut scaler = scaling::Context::get(Pixel::RGB24, w, h, Pixel::YUV420P, w, h, scaling::Flags::BILINEAR)
        .map_err(|e| codec_error(output, "colour conversion", e))?;
    // Each frame lasts until the next one; the last for one frame at the average rate. Without
    // durations the muxer's edit list ends at the last frame's start and players drop that frame.
    let durations: HashMap<i64, i64> = timestamps
        .iter()
        .enumerate()
        .map(|(k, pts)| {
            let next = timestamps.get(k + 1).map(|n| n - pts);
            (*pts, next.unwrap_or_else(|| frame_step(spec.time_base, spec.frame_rate)))
        })
        .collect();
    // The copied streams' packets, read as the video reaches their time so the file is written
    // interleaved as it goes (the muxer's own queue evens out what is left).
    let mut copied = input.packets().filter_map(|(stream, p)| {
        let k = copy_map.iter().position(|(i, _, _)| *i == stream.index())?;
        Some((k, p))
    });
    let mut next_copy = copied.next();
    let mut write_copies_until = |limit: f64, octx: &mut format::context::Output| -> Result<()> {
        while let Some((k, p)) = next_copy.as_mut() {
            let (_, ist_tb, ost_index) = copy_map[*k];
            if seconds(p.dts().or(p.pts()), ist_tb) > limit {
                break;
            }
            p.rescale_ts(ist_tb, copy_tbs[*k]);
            p.set_position(-1);
            p.set_stream(ost_index);
            p.write_interleaved(octx).map_err(|e| codec_error(output, "write a packet", e))?;
            next_copy = copied.next();
        }
        Ok(())
    };
    let mut write_video = |video: &mut encoder::Video, octx: &mut format::context::Output| -> Result<()> {
        let mut p = Packet::empty();
        while video.receive_packet(&mut p).is_ok() {
            if let Some(d) = p.pts().and_then(|t| durations.get(&t)) {
                p.set_duration(*d);
            }
            p.set_stream(video_index);
            let at = seconds(p.dts().or(p.pts()), spec.time_base);
            write_copies_until(at, octx)?;
            p.rescale_ts(spec.time_base, video_tb);
            p.write_interleaved(octx).map_err(|e| codec_error(output, "write a packet", e))?;
            p = Packet::empty();
        }
        Ok(())
    };
    let mut rgb = frame::Video::new(Pixel::RGB24, w, h);
    for (k, pts) in timestamps.iter().enumerate() {
        let image = frame_at(k)?;
        if image.dimensions() != (w, h) {
            return Err(codec_error(output, "encode", format!("frame {} is not {w}x{h}", k + 1)));
        }
        let stride = rgb.stride(0);
        let row = 3 * w as usize;
        let data = rgb.data_mut(0);
        for (y, line) in image.as_raw().chunks_exact(row).enumerate() {
            data[y * stride..y * stride + row].copy_from_slice(line);
        }
        let mut yuv = frame::Video::empty();
        scaler.run(&rgb, &mut yuv).map_err(|e| codec_error(output, "colour conversion", e))?;
        yuv.set_pts(Some(*pts));
        video.send_frame(&yuv).map_err(|e| codec_error(output, "encode a frame", e))?;
        write_video(&mut video, &mut octx)?;
    }
    // Flush: the encoder holds back its last frames until told the stream ended.
    video.send_eof().map_err(|e| codec_error(output, "flush the encoder", e))?;
    write_video(&mut video, &mut octx)?;
    write_copies_until(f64::INFINITY, &mut octx)?;
    octx.write_trailer().map_err(|e| codec_error(output, "finish the file", e))?;
    Ok((name, warnings))
}

fn seconds(ts: Option<i64>, tb: Rational) -> f64 {
    ts.unwrap_or(0) as f64 * f64::from(tb)
}

/// Opens the first encoder of [`ENCODERS`] that this FFmpeg has and accepts the settings.
fn open_encoder(
    output: &Path,
    spec: &EncodeSpec,
    (w, h): (u32, u32),
    global_header: bool,
) -> Result<(encoder::Video, String, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut last_error = String::from("no H.264 or MPEG-4 encoder in this FFmpeg");
    for name in ENCODERS {
        let Some(codec) = encoder::find_by_name(name) else {
            continue;
        };
        let Ok(mut enc) = codec::context::Context::new_with_codec(codec).encoder().video() else {
            continue;
        };
        enc.set_width(w);
        enc.set_height(h);
        enc.set_format(Pixel::YUV420P);
        enc.set_time_base(spec.time_base);
        enc.set_frame_rate(Some(spec.frame_rate));
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        if name == "libx264" {
            options.set("preset", "medium");
            options.set("crf", "18");
        } else {
            enc.set_bit_rate(((w * h) as usize * 8).max(400_000));
        }
        match enc.open_with(options) {
            Ok(opened) => {
                if name != ENCODERS[0] {
                    warnings.push(format!("libx264 is not available in this FFmpeg: encoded with {name} instead"));
                }
                return Ok((opened, name.to_string(), warnings));
            }
            Err(e) => last_error = format!("{name}: {e}"),
        }
    }
    Err(codec_error(output, "no usable video encoder", last_error))
}
