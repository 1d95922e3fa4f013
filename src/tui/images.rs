//! Previews and thumbnails: the UI thread keeps encoded images ([`Protocol`]s) per file and asks a
//! decoder thread for new ones; decoding a PNG and encoding sixel or half blocks never runs on the
//! UI thread. An image shown at a new size, or a preview whose generation moved on, is requested
//! again while the old one stays on screen (latest wins).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use image::DynamicImage;

/// Previews are decoded at no more than about twice this long side (terminals show less).
const PREVIEW_DECODE_SIDE: u32 = 1024;
use ratatui::layout::{Rect, Size};
use ratatui::style::Stylize;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Image, Resize};

/// One image wanted at one size in cells; `generation` changes when the file was replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeJob {
    pub path: PathBuf,
    pub size: Size,
    pub generation: u64,
    /// A clip: its first frame is shown.
    pub video: bool,
}

/// A finished job: the image ready to draw, or why it could not be read.
pub struct Decoded {
    pub job: DecodeJob,
    pub result: Result<Protocol, String>,
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoded").field("job", &self.job).field("ok", &self.result.is_ok()).finish()
    }
}

/// Reads the file and encodes it for the terminal, scaled (up too: a 128 px preview of the first
/// scale should fill its box) to fit `job.size` cells.
/// A clip's first frame, for its preview.
fn first_video_frame(path: &std::path::Path) -> crate::Result<image::RgbImage> {
    crate::video::init()?;
    #[cfg(feature = "ffmpeg")]
    return crate::video::decode::first_frame(path, PREVIEW_DECODE_SIDE);
    #[cfg(not(feature = "ffmpeg"))]
    Err(crate::Error::input(path, "not a picture"))
}

pub fn decode(picker: &Picker, job: DecodeJob) -> Decoded {
    // The message alone: the path is long and the screen says which picture this is.
    let message = |e: crate::Error| match e {
        crate::Error::Input { message, .. } => message,
        other => other.to_string(),
    };
    if !job.path.exists() {
        return Decoded { job, result: Err("not written yet".into()) };
    }
    let image = if job.video {
        first_video_frame(&job.path).map_err(message)
    } else {
        crate::imageio::load_rgb_for(&job.path, Some(PREVIEW_DECODE_SIDE))
            .map_err(message)
            .map(|rgb| DynamicImage::ImageRgb32F(rgb).into_rgb8())
    };
    let result = image.and_then(|image| {
        picker
            .new_protocol(DynamicImage::ImageRgb8(image), job.size, Resize::Scale(Some(FilterType::Triangle)))
            .map_err(|e| e.to_string())
    });
    Decoded { job, result }
}

struct Entry {
    shown: Option<(DecodeJob, Protocol)>,
    /// The last job sent (or failed), so a file is not asked for again until something changes.
    asked: Option<DecodeJob>,
    error: Option<String>,
}

#[derive(Default)]
pub struct ImageStore {
    entries: HashMap<PathBuf, Entry>,
    requests: Vec<DecodeJob>,
}

impl ImageStore {
    /// Draws the image of `path` into `area`, or a placeholder, and asks for a fresh encoding when
    /// the size or the generation differs from what is held.
    pub fn show(&mut self, frame: &mut Frame, area: Rect, path: &Path, generation: u64, what: &str) {
        self.show_any(frame, area, path, generation, what, false);
    }

    /// Like [`ImageStore::show`] for a clip: its first frame, decoded on the decoder thread.
    pub fn show_clip(&mut self, frame: &mut Frame, area: Rect, path: &Path, what: &str) {
        self.show_any(frame, area, path, 0, what, true);
    }

    fn show_any(&mut self, frame: &mut Frame, area: Rect, path: &Path, generation: u64, what: &str, video: bool) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let want = DecodeJob { path: path.to_path_buf(), size: area.as_size(), generation, video };
        let entry = self.entries.entry(path.to_path_buf()).or_insert(Entry { shown: None, asked: None, error: None });
        if entry.asked.as_ref() != Some(&want) {
            entry.asked = Some(want.clone());
            self.requests.push(want.clone());
        }
        match &entry.shown {
            Some((job, protocol)) if job.size == want.size => frame.render_widget(Image::new(protocol), area),
            _ => {
                let text = match &entry.error {
                    Some(e) => format!("{what}: {e}"),
                    None => format!("loading {what}…"),
                };
                frame.render_widget(Paragraph::new(text).dim().wrap(ratatui::widgets::Wrap { trim: true }), area);
            }
        }
    }

    /// The jobs asked for since the last call.
    pub fn take_requests(&mut self) -> Vec<DecodeJob> {
        std::mem::take(&mut self.requests)
    }

    /// Takes a decoder result; a result for a job no longer wanted still replaces an image of the
    /// same size (it is newer than what is shown).
    pub fn accept(&mut self, decoded: Decoded) {
        let Some(entry) = self.entries.get_mut(&decoded.job.path) else { return };
        match decoded.result {
            Ok(protocol) => {
                let newer = entry
                    .shown
                    .as_ref()
                    .is_none_or(|(job, _)| job.generation <= decoded.job.generation || job.size != decoded.job.size);
                if newer {
                    entry.shown = Some((decoded.job, protocol));
                    entry.error = None;
                }
            }
            Err(e) => {
                if entry.shown.is_none() {
                    entry.error = Some(e);
                }
            }
        }
    }

    /// Drops everything (e.g. after the terminal was cleared, so sixel images get redrawn).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use ratatui_image::picker::Picker;

    use super::*;

    /// A clip's first frame is decoded for its thumbnail; as a still it is refused.
    #[test]
    fn a_clip_shows_its_first_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clip.mp4");
        let made = std::process::Command::new("ffmpeg")
            .args(["-y", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"])
            .args(["-t", "0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .arg(&path)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: no ffmpeg to make a clip");
            return;
        }
        let job = DecodeJob { path: path.clone(), size: Size::new(8, 4), generation: 0, video: true };
        assert!(decode(&Picker::halfblocks(), job.clone()).result.is_ok());
        let still = decode(&Picker::halfblocks(), DecodeJob { video: false, ..job });
        assert!(still.result.is_err());
    }
}
