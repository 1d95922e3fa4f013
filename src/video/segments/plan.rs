//! The plan of a distributed render: what every segment renders from, written once by
//! `brushwork video plan` and read (and checked) by every `render`, `status` and `stitch`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

/// [`Plan::crossfade`] for contiguous `segments` each started `preroll` frames early.
pub fn crossfade_range(segments: &[Segment], preroll: usize, index: usize) -> std::ops::Range<usize> {
    match (index.checked_sub(1).and_then(|i| segments.get(i)), segments.get(index)) {
        (Some(prev), Some(seg)) => seg.start - preroll.min(prev.len())..seg.start,
        _ => 0..0,
    }
}

/// The weight of the later segment's render of frame `k` in the crossfade `range` (the earlier
/// segment's has `1 − weight`): `(k − start + 1) / (len + 1)`, so the first blended frame is
/// mostly the earlier render, the last mostly the later one, and the step from frame to frame is
/// the same everywhere, `1 / (len + 1)`, including into the first frame after the range (weight 1).
pub fn crossfade_weight(range: &std::ops::Range<usize>, k: usize) -> f32 {
    (k + 1 - range.start) as f32 / (range.len() + 1) as f32
}

/// The plan file's name in the plan folder.
pub const PLAN_FILE: &str = "plan.toml";

/// The plan format this build writes and reads.
pub const PLAN_VERSION: u32 = 1;

/// Most frames a plan may hold (ten hours at 60 fps): bounds what a hostile plan can ask for.
pub const MAX_FRAMES: usize = 2_160_000;

/// Most segments a plan may hold (the largest SLURM array most sites allow is far below).
pub const MAX_SEGMENTS: usize = 100_000;

/// Frames of a segment, 0-based, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
}

impl Segment {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// `"39–75"`: the 1-based frame numbers users see.
    pub fn frames_label(&self) -> String {
        format!("{}–{}", self.start + 1, self.end)
    }
}

/// What every segment renders from. Everything that decides a frame's pixels is here, so any
/// machine renders the same bytes, and a render refuses a source, styles or weights that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    /// The source clip (absolute) and its SHA-256.
    pub source: PathBuf,
    pub source_sha256: String,
    /// Where `stitch` writes the video unless told otherwise.
    pub output: PathBuf,
    /// The preset's name (for messages) and the resolved settings, paths absolute.
    pub preset: String,
    /// The weights file the plan was made with (what a render uses when it is given none and the
    /// file is there), and its SHA-256: a render with other weights is refused.
    pub weights: PathBuf,
    pub weights_sha256: String,
    /// SHA-256 of each style image, in `settings.styles` order, and of the init image if any.
    pub style_sha256: Vec<String>,
    pub init_sha256: Option<String>,
    /// Frame size (even, upright) and count.
    pub width: u32,
    pub height: u32,
    pub frames: usize,
    /// The video stream's time base and frame rate (numerator, denominator), and each frame's
    /// presentation timestamp in that time base.
    pub time_base: (i32, i32),
    pub frame_rate: (i32, i32),
    /// Frames rendered before a segment's first one and discarded, so its first kept frame is
    /// warm-started (with flow and temporal loss when the preset has them) like any other.
    pub preroll: usize,
    pub segments: Vec<Segment>,
    pub timestamps: Vec<i64>,
    pub settings: Settings,
}

/// How to cut a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Into this many segments of (nearly) equal length.
    Segments(usize),
    /// Into segments of this many frames (the last may be shorter).
    FramesEach(usize),
}

/// Cuts `frames` frames as `split` asks: consecutive, non-empty, covering every frame; lengths
/// differ by at most one for [`Split::Segments`] (longer ones first). A usage error when the
/// split asks for no segment, more segments than frames, or more than [`MAX_SEGMENTS`].
pub fn split_frames(frames: usize, split: Split) -> Result<Vec<Segment>> {
    let count = match split {
        Split::Segments(0) => return Err(Error::Usage("--segments 0: must be at least 1".into())),
        Split::FramesEach(0) => return Err(Error::Usage("--segment-frames 0: must be at least 1".into())),
        Split::Segments(n) if n > frames => {
            return Err(Error::Usage(format!("--segments {n}: the clip has only {frames} frames")))
        }
        Split::Segments(n) => n,
        Split::FramesEach(f) => frames.div_ceil(f),
    };
    if count > MAX_SEGMENTS {
        return Err(Error::Usage(format!("{count} segments: at most {MAX_SEGMENTS}")));
    }
    let mut out = Vec::with_capacity(count);
    let mut start = 0;
    for i in 0..count {
        let len = match split {
            Split::Segments(n) => frames / n + usize::from(i < frames % n),
            Split::FramesEach(f) => f.min(frames - start),
        };
        out.push(Segment { start, end: start + len });
        start += len;
    }
    Ok(out)
}

impl Plan {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(PLAN_FILE)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Internal(format!("cannot write the plan: {e}")))
    }

    /// The segment `index`, or a usage error naming the valid range.
    pub fn segment(&self, index: usize) -> Result<Segment> {
        self.segments.get(index).copied().ok_or_else(|| {
            Error::Usage(format!(
                "segment {index}: the plan has {} segments, numbered 0 to {}",
                self.segments.len(),
                self.segments.len() - 1
            ))
        })
    }

    /// Writes the plan into `dir` (created if needed). A folder that already holds a plan keeps
    /// it when it is this one, and is refused when it is another: its frames belong to that plan
    /// and are not overwritten. Returns whether the plan was already there.
    pub fn write_new(&self, dir: &Path) -> Result<bool> {
        let path = Plan::path(dir);
        self.check().map_err(|m| Error::Internal(format!("the plan does not hold together: {m}")))?;
        if path.exists() {
            let old = Plan::read(dir)?;
            if old == *self {
                return Ok(true);
            }
            let what = if old.source_sha256 != self.source_sha256 {
                format!("another source ({})", old.source.display())
            } else if old.settings != self.settings || old.weights_sha256 != self.weights_sha256 {
                format!("other settings (preset `{}`)", old.preset)
            } else {
                "another split or output".to_string()
            };
            return Err(Error::input(
                &path,
                format!(
                    "this folder holds the plan of {what} and its frames: plan into another --workdir, or remove it"
                ),
            ));
        }
        std::fs::create_dir_all(dir.join("frames")).map_err(|e| Error::io(dir, e))?;
        write_atomic(&path, self.to_toml()?.as_bytes())?;
        Ok(false)
    }

    /// Reads `dir/plan.toml` and checks it holds together (a plan is input: another tool or a
    /// person may have edited it).
    pub fn read(dir: &Path) -> Result<Plan> {
        let path = Plan::path(dir);
        // Timestamps take about 20 bytes a frame.
        let limit = (MAX_FRAMES as u64) * 32 + (1 << 20);
        let plan: Plan = read_plan_file(&path, limit, "no plan here (make one with `brushwork video plan`)", "plan")?;
        plan.check().map_err(|m| Error::input(&path, m))?;
        Ok(plan)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.version != PLAN_VERSION {
            return Err(format!("plan version {}, this brushwork reads version {PLAN_VERSION}", self.version));
        }
        if self.frames == 0 || self.frames > MAX_FRAMES {
            return Err(format!("{} frames: must be 1 to {MAX_FRAMES}", self.frames));
        }
        if self.timestamps.len() != self.frames {
            return Err(format!("{} timestamps for {} frames", self.timestamps.len(), self.frames));
        }
        if self.timestamps.windows(2).any(|w| w[1] <= w[0]) {
            return Err("the timestamps do not increase".into());
        }
        let max = crate::video::MAX_DIMENSION;
        let even = |v: u32| (2..=max).contains(&v) && v.is_multiple_of(2);
        if !even(self.width) || !even(self.height) {
            return Err(format!("frame size {}x{}: must be even, 2 to {max}", self.width, self.height));
        }
        check_parts(&self.segments, self.frames, "segment", "frame")?;
        if self.preroll > MAX_FRAMES {
            return Err(format!("preroll {}: at most {MAX_FRAMES} frames", self.preroll));
        }
        let positive = |(n, d): (i32, i32)| n > 0 && d > 0;
        if !positive(self.time_base) || !positive(self.frame_rate) {
            return Err("time base and frame rate must be positive fractions".into());
        }
        if self.style_sha256.len() != self.settings.styles.len() {
            return Err(format!("{} style hashes for {} styles", self.style_sha256.len(), self.settings.styles.len()));
        }
        self.settings.validate().map_err(|e| format!("settings: {e}"))?;
        Ok(())
    }

    /// The kept frames' folder.
    pub fn frames_dir(dir: &Path) -> PathBuf {
        dir.join("frames")
    }

    /// Where frame `k` (0-based) of the plan in `dir` is kept once finished.
    pub fn kept_frame(dir: &Path, k: usize) -> PathBuf {
        Plan::frames_dir(dir).join(format!("{:06}.png", k + 1))
    }

    /// Segment `index`'s warm-up folder.
    pub fn warmup_dir(dir: &Path, index: usize) -> PathBuf {
        dir.join("warmup").join(format!("{index:04}"))
    }

    /// Frame `k` (0-based) as segment `index` rendered it during its warm-up.
    pub fn warmup_frame(dir: &Path, index: usize, k: usize) -> PathBuf {
        Plan::warmup_dir(dir, index).join(format!("{:06}.png", k + 1))
    }

    /// The frames blended at segment `index`'s seam: the last frames of the segment before it,
    /// which this segment also rendered as its warm-up, at most the length of that segment.
    /// Empty for the first segment and for `preroll = 0`. At the stitch each of these frames is a
    /// blend of the two renders, moving linearly from the earlier segment's to this one's (see
    /// [`crossfade_weight`]), so the jump between two independently started chains is spread over
    /// the overlap instead of falling between two frames.
    pub fn crossfade(&self, index: usize) -> std::ops::Range<usize> {
        crossfade_range(&self.segments, self.preroll, index)
    }

    /// Which segment frame `k` belongs to.
    pub fn segment_of(&self, k: usize) -> usize {
        self.segments.partition_point(|s| s.end <= k)
    }
}

/// Reads a plan file of type `T` from `path`: `missing` when it is not there, refused above
/// `limit` bytes before reading (a plan is input: another tool or a person may have edited it),
/// and one line naming the file when it is not a `what` (`plan`, `image plan`).
pub fn read_plan_file<T: serde::de::DeserializeOwned>(path: &Path, limit: u64, missing: &str, what: &str) -> Result<T> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path.parent().unwrap_or(path), missing),
        _ => Error::io(path, e),
    })?;
    if meta.len() > limit {
        return Err(Error::input(path, format!("the plan is {} bytes, too large to be one (refused)", meta.len())));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    toml::from_str(&text).map_err(|e| {
        Error::input(path, format!("not a brushwork {what}: {}", e.message().lines().next().unwrap_or("")))
    })
}

/// Checks that `parts` (segments of a clip, groups of a folder) are 1 to [`MAX_SEGMENTS`]
/// consecutive, non-empty ranges covering `0..total` exactly.
pub fn check_parts(parts: &[Segment], total: usize, part: &str, item: &str) -> std::result::Result<(), String> {
    if parts.is_empty() || parts.len() > MAX_SEGMENTS {
        return Err(format!("{} {part}s: must be 1 to {MAX_SEGMENTS}", parts.len()));
    }
    let mut next = 0;
    for (i, s) in parts.iter().enumerate() {
        if s.start != next || s.end <= s.start {
            return Err(format!("{part} {i} ({}..{}) does not follow on from {item} {next}", s.start, s.end));
        }
        next = s.end;
    }
    if next != total {
        return Err(format!("the {part}s end at {item} {next}, the plan has {total}"));
    }
    Ok(())
}

/// Checks the file at `path` still has the SHA-256 `sha` it had when a plan was made (`what`
/// names it in the message): anything rendered from another file would not match its neighbours.
pub fn same_file(path: &Path, sha: &str, what: &str) -> Result<()> {
    if crate::util::hash::sha256_file(path)? != sha {
        return Err(Error::input(
            path,
            format!("{what} changed since the plan was made (its SHA-256 is not the plan's): results would not match"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossfades_stay_inside_the_segment_before() {
        // Segments 0–3, 3–6, 6–8, preroll 4: segment 1 warms up from frame 0 (3 − 4 clamped) and
        // blends segment 0's three frames; segment 2 warms up over frames 2–5 but blends only
        // segment 1's frames 3–5, so no frame is blended at two seams.
        let segs = [Segment { start: 0, end: 3 }, Segment { start: 3, end: 6 }, Segment { start: 6, end: 8 }];
        assert_eq!(crossfade_range(&segs, 4, 0), 0..0);
        assert_eq!(crossfade_range(&segs, 4, 1), 0..3);
        assert_eq!(crossfade_range(&segs, 4, 2), 3..6);
        assert_eq!(crossfade_range(&segs, 2, 2), 4..6);
        assert_eq!(crossfade_range(&segs, 0, 2), 6..6);
        assert_eq!(crossfade_range(&segs, 4, 3), 0..0);
        // Over 3 frames the later render weighs 1/4, 2/4, 3/4: equal steps into its own frames.
        let r = 3..6;
        let w: Vec<f32> = r.clone().map(|k| crossfade_weight(&r, k)).collect();
        assert_eq!(w, vec![0.25, 0.5, 0.75]);
    }

    #[test]
    fn splits_cover_every_frame_once() {
        // 10 frames in 4: 3, 3, 2, 2 (10 = 4*2 + 2, the first two one longer).
        let s = split_frames(10, Split::Segments(4)).unwrap();
        let lens: Vec<usize> = s.iter().map(Segment::len).collect();
        assert_eq!(lens, vec![3, 3, 2, 2]);
        assert_eq!(s[0].start, 0);
        assert_eq!(s[3].end, 10);
        assert!(s.windows(2).all(|w| w[0].end == w[1].start));
        // 10 frames, 4 each: 4, 4, 2.
        let f: Vec<usize> = split_frames(10, Split::FramesEach(4)).unwrap().iter().map(Segment::len).collect();
        assert_eq!(f, vec![4, 4, 2]);
        assert_eq!(split_frames(5, Split::Segments(5)).unwrap().len(), 5);
        assert!(split_frames(5, Split::Segments(6)).is_err());
        assert!(split_frames(5, Split::Segments(0)).is_err());
        assert!(split_frames(5, Split::FramesEach(0)).is_err());
        assert_eq!(s[1].frames_label(), "4–6");
    }
}
