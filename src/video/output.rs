//! Checking the output before any frame is stylised: a container this FFmpeg can write, in a
//! folder that exists and can be written, able to carry the H.264 video and every audio stream of
//! the source (refused otherwise, naming a container that would work); subtitle streams it cannot
//! carry are dropped with a warning.

use std::ffi::CString;
use std::path::Path;

use ffmpeg_next::ffi;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::{codec, media};

use super::encode::temp_output;
use crate::error::{Error, Result};

/// Containers the output may use (by extension).
pub const OUTPUT_FORMATS: [&str; 4] = ["mp4", "m4v", "mov", "mkv"];

/// Containers suggested when the chosen one cannot carry a source stream, in this order.
const SUGGESTED: [&str; 3] = ["mkv", "mov", "mp4"];

/// A muxer of this FFmpeg, found by file name as `format::output` finds it.
#[derive(Clone, Copy)]
pub struct Muxer(*const ffi::AVOutputFormat);

impl Muxer {
    /// The muxer FFmpeg picks for `name`'s extension, if any.
    pub fn guess(name: &str) -> Option<Muxer> {
        let name = CString::new(name).ok()?;
        // SAFETY: `name` is a valid C string; FFmpeg returns a pointer to a static muxer
        // description (or null), valid for the life of the process.
        let ptr = unsafe { ffi::av_guess_format(std::ptr::null(), name.as_ptr(), std::ptr::null()) };
        (!ptr.is_null()).then_some(Muxer(ptr))
    }

    /// The muxer's short name (`mp4`, `mov`, `matroska`).
    pub fn name(&self) -> String {
        // SAFETY: a non-null muxer description always has a static, NUL-terminated name.
        unsafe {
            let name = (*self.0).name;
            if name.is_null() {
                return String::from("?");
            }
            std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }

    /// Whether this container can store `id` (FFmpeg's `avformat_query_codec`; "unknown" is no).
    pub fn can_carry(&self, id: codec::Id) -> bool {
        // SAFETY: `self.0` is a static muxer description; the call only reads it.
        unsafe { ffi::avformat_query_codec(self.0, id.into(), ffi::FF_COMPLIANCE_NORMAL) == 1 }
    }
}

/// The muxer for `output`, refusing names whose container is not one of [`OUTPUT_FORMATS`] or
/// that this FFmpeg cannot write. Needs [`super::init`] first.
pub fn muxer_for(output: &Path) -> Result<Muxer> {
    let unsupported = || Error::input(output, "unsupported output format: use .mp4, .m4v, .mov or .mkv");
    let ext = output.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if !ext.as_deref().is_some_and(|e| OUTPUT_FORMATS.contains(&e)) {
        return Err(unsupported());
    }
    let name = output.file_name().and_then(|n| n.to_str()).unwrap_or("out.mp4");
    let muxer = Muxer::guess(name).ok_or_else(unsupported)?;
    let video = [codec::Id::H264, codec::Id::MPEG4];
    if !video.iter().any(|id| muxer.can_carry(*id)) {
        return Err(Error::input(output, format!("this FFmpeg's {} muxer cannot carry H.264 video", muxer.name())));
    }
    Ok(muxer)
}

/// Everything about `output` that does not depend on the source: a known container this FFmpeg
/// can write, not a folder, in a folder that exists and can be written (checked by creating and
/// removing a hidden file there). Needs [`super::init`] first.
pub fn check_output_path(output: &Path) -> Result<Muxer> {
    let muxer = muxer_for(output)?;
    if output.is_dir() {
        return Err(Error::input(output, "is a folder; give a file name such as out.mp4"));
    }
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(output, "the output folder does not exist"));
    }
    let probe = temp_output(output).with_extension("check");
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(muxer)
        }
        // A leftover from a killed check of this same process id: the folder is writable.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&probe);
            Ok(muxer)
        }
        Err(e) => Err(Error::input(output, format!("cannot write in the output folder {}: {e}", dir.display()))),
    }
}

/// Which source streams the output keeps besides the new video.
#[derive(Debug, Clone, Default)]
pub struct StreamPlan {
    /// Indexes of the source's audio and subtitle streams to copy, in source order.
    pub copy: Vec<usize>,
    /// One line per stream that is dropped (a subtitle codec the container cannot carry).
    pub warnings: Vec<String>,
}

/// Decides what happens to each audio and subtitle stream of `input` (the file `source`) in
/// `output`: audio must be carried (refused otherwise, before any work, naming a container that
/// would work); a subtitle stream the container cannot carry is dropped with a warning. Cover
/// art, data and attachment streams are not copied.
pub fn plan_streams(input: &Input, source: &Path, output: &Path, muxer: Muxer) -> Result<StreamPlan> {
    let mut plan = StreamPlan::default();
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("?").to_ascii_lowercase();
    for stream in input.streams() {
        let params = stream.parameters();
        let kind = params.medium();
        if kind != media::Type::Audio && kind != media::Type::Subtitle {
            continue;
        }
        let id = params.id();
        if muxer.can_carry(id) {
            plan.copy.push(stream.index());
            continue;
        }
        let codec = id.name();
        let language = stream.metadata().get("language").map(|l| format!(", language {l}")).unwrap_or_default();
        let would = alternatives(id, &ext);
        if kind == media::Type::Audio {
            let hint = match would.as_slice() {
                [] => "no container brushwork writes can hold it: convert the audio first".to_string(),
                w => format!("use {} instead", w.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(" or ")),
            };
            return Err(Error::input(
                output,
                format!(
                    "a .{ext} file cannot carry the {codec} audio of {} (stream {}{language}); {hint}",
                    source.display(),
                    stream.index()
                ),
            ));
        }
        let hint = match would.first() {
            Some(e) => format!(" (.{e} keeps it)"),
            None => String::new(),
        };
        plan.warnings.push(format!(
            "{}: a .{ext} file cannot carry the {codec} subtitles of stream {}{language}: dropped{hint}",
            output.display(),
            stream.index()
        ));
    }
    Ok(plan)
}

/// Output containers other than `ext` that can carry `id`.
fn alternatives(id: codec::Id, ext: &str) -> Vec<&'static str> {
    SUGGESTED
        .into_iter()
        .filter(|e| *e != ext)
        .filter(|e| Muxer::guess(&format!("x.{e}")).is_some_and(|m| m.can_carry(id)))
        .collect()
}

/// [`check_output_path`] and [`plan_streams`] for the file `source`, before any work.
pub fn check_output(source: &Path, output: &Path) -> Result<StreamPlan> {
    let muxer = check_output_path(output)?;
    let input =
        ffmpeg_next::format::input(source).map_err(|e| Error::input(source, format!("not a readable video ({e})")))?;
    plan_streams(&input, source, output, muxer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_and_codecs() {
        crate::video::init().unwrap();
        let mp4 = Muxer::guess("a.mp4").unwrap();
        let mkv = Muxer::guess("a.mkv").unwrap();
        let mov = Muxer::guess("a.mov").unwrap();
        assert!(mp4.can_carry(codec::Id::H264) && mkv.can_carry(codec::Id::H264) && mov.can_carry(codec::Id::H264));
        assert!(mp4.can_carry(codec::Id::AAC));
        // The classes the checks are for: PCM in MP4, SubRip in MP4.
        assert!(!mp4.can_carry(codec::Id::PCM_S16LE));
        assert!(mkv.can_carry(codec::Id::PCM_S16LE) && mov.can_carry(codec::Id::PCM_S16LE));
        assert!(!mp4.can_carry(codec::Id::SUBRIP));
        assert!(mkv.can_carry(codec::Id::SUBRIP));
        assert!(mp4.can_carry(codec::Id::MOV_TEXT));
        assert_eq!(alternatives(codec::Id::PCM_S16LE, "mp4"), vec!["mkv", "mov"]);
        assert!(Muxer::guess("a.nosuchformat").is_none());
        assert!(muxer_for(Path::new("a.png")).is_err());
        assert!(muxer_for(Path::new("dir/a.MKV")).is_ok());
    }
}
