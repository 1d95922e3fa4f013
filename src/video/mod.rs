//! Video mode: decode a clip with FFmpeg (ffmpeg-next), stylise it frame by frame with warm starts,
//! and re-encode it as H.264 at the source timestamps with the original audio copied unchanged.
//!
//! Nothing here knows about terminals; the binary's `video` command turns [`job::VideoEvent`]s into output.

//! Everything that reads or writes a clip needs FFmpeg, the default cargo feature `ffmpeg`; the
//! flow, warping-error and flicker figures do not. A build without the feature refuses video work
//! at [`init`] with one line.

#[cfg(feature = "ffmpeg")]
pub mod decode;
#[cfg(feature = "ffmpeg")]
pub mod encode;
pub mod flicker;
#[cfg(feature = "ffmpeg")]
pub mod job;
pub mod motion;
#[cfg(feature = "ffmpeg")]
pub mod orient;
#[cfg(feature = "ffmpeg")]
pub mod output;
pub mod report;
#[cfg(feature = "ffmpeg")]
pub mod score;
pub mod segments;
pub mod warp_error;

#[cfg(feature = "ffmpeg")]
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Largest width or height accepted from a video stream.
pub const MAX_DIMENSION: u32 = 8192;

/// Initialises FFmpeg once per process and keeps its console logging to errors only.
#[cfg(feature = "ffmpeg")]
pub fn init() -> Result<()> {
    ffmpeg_next::init()
        .map_err(|e| Error::Codec { path: PathBuf::from("ffmpeg"), message: format!("cannot initialise: {e}") })?;
    ffmpeg_next::log::set_level(ffmpeg_next::log::Level::Fatal);
    Ok(())
}

/// This build has no FFmpeg: every video command stops here, before any work.
#[cfg(not(feature = "ffmpeg"))]
pub fn init() -> Result<()> {
    Err(Error::Usage(
        "video needs FFmpeg, and this brushwork was built without it (cargo feature `ffmpeg`, on by default)".into(),
    ))
}

/// A codec or muxer failure about `path` (exit code 1).
#[cfg(feature = "ffmpeg")]
pub(crate) fn codec_error(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::Codec { path: path.to_path_buf(), message: format!("{what}: {e}") }
}

/// `(w, h)` scaled so the long side is `long` (aspect kept), each rounded down to an even number
/// (at least 2), as yuv420p needs.
pub fn even_fit(w: u32, h: u32, long: u32) -> (u32, u32) {
    let (fw, fh) = crate::engine::tensor_image::fit_long_side(w, h, long);
    let even = |v: u32| (v & !1).max(2);
    (even(fw), even(fh))
}

#[cfg(test)]
mod tests {
    use super::even_fit;

    #[test]
    fn even_dimensions() {
        // 66x50 at 32: (32, round(50*32/66) = 24).
        assert_eq!(even_fit(66, 50, 32), (32, 24));
        // 67x51 at 33: (33, round(51*33/67) = 25) -> (32, 24).
        assert_eq!(even_fit(67, 51, 33), (32, 24));
        // Portrait 51x67 at 64: (round(51*64/67) = 49, 64) -> (48, 64).
        assert_eq!(even_fit(51, 67, 64), (48, 64));
        assert_eq!(even_fit(1000, 1, 16), (16, 2));
    }
}
