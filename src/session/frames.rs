//! `frames.csv` in a video session's folder: one row per finished frame, `frame,iterations,loss,
//! style,content,tv,temporal,flicker,warp_error,source_warp_error,seconds` (sessions made before
//! the temporal work have the first eight columns without `temporal`, `warp_error` and
//! `source_warp_error`; both are read).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::video::report::FrameReport;

pub const FRAMES_CSV: &str = "frames.csv";
const FRAMES_HEADER: &str =
    "frame,iterations,loss,style,content,tv,temporal,flicker,warp_error,source_warp_error,seconds";

pub fn append_frame_row(dir: &Path, f: &FrameReport) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let mut file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
    let l = &f.losses;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:e}"));
    let line = format!(
        "{},{},{:e},{:e},{:e},{:e},{:e},{:e},{},{},{:.3}\n",
        f.frame,
        f.iterations,
        l.total,
        l.style,
        l.content,
        l.tv,
        l.temporal,
        f.flicker,
        opt(f.warp_error),
        opt(f.source_warp_error),
        f.seconds
    );
    file.write_all(line.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// Keeps the rows of the first `frames` frames, under the current header (rows of an older
/// layout are dropped: those frames keep their images, only their figures are not shown).
pub fn truncate_frames_csv(dir: &Path, frames: u32) -> Result<()> {
    let path = dir.join(FRAMES_CSV);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out = format!("{FRAMES_HEADER}\n");
    let columns = FRAMES_HEADER.split(',').count();
    let current = text.lines().next() == Some(FRAMES_HEADER);
    for line in text.lines().skip(1).filter(|_| current) {
        if line.split(',').next().and_then(|f| f.parse::<u32>().ok()).is_some_and(|f| f <= frames)
            && line.split(',').count() == columns
        {
            out += line;
            out.push('\n');
        }
    }
    Ok(crate::util::fs::write_atomic(&path, out.as_bytes())?)
}

/// The sum of the `seconds` column of `frames.csv` (the time spent on each kept frame).
pub fn kept_seconds(dir: &Path) -> f64 {
    let text = std::fs::read_to_string(dir.join(FRAMES_CSV)).unwrap_or_default();
    let mut lines = text.lines();
    let Some(col) = lines.next().and_then(|h| h.split(',').position(|c| c == "seconds")) else { return 0.0 };
    lines.filter_map(|l| l.split(',').nth(col)?.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0).sum()
}

/// One finished frame's figures as `frames.csv` has them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameScore {
    pub frame: u32,
    pub flicker: f64,
    pub warp_error: Option<f64>,
    pub source_warp_error: Option<f64>,
}

/// Every complete row of `frames.csv` (a partial last line is skipped), in either layout.
pub fn read_frame_scores(dir: &Path) -> Vec<FrameScore> {
    let text = std::fs::read_to_string(dir.join(FRAMES_CSV)).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let mut lines = complete.lines();
    let header: Vec<&str> = lines.next().map(|h| h.split(',').collect()).unwrap_or_default();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(frame), Some(flicker)) = (col("frame"), col("flicker")) else { return Vec::new() };
    let (warp, source) = (col("warp_error"), col("source_warp_error"));
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == header.len()).then_some(())?;
            let opt = |i: Option<usize>| i.and_then(|i| f[i].parse::<f64>().ok());
            Some(FrameScore {
                frame: f[frame].parse().ok()?,
                flicker: f[flicker].parse().ok()?,
                warp_error: opt(warp),
                source_warp_error: opt(source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_scores_in_both_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let old = "frame,iterations,loss,style,content,tv,flicker,seconds\n1,60,9e2,8e2,1e2,0,0,7.5\n2,15,8e2,7e2,1e2,0,-2e-2,1.5\n";
        std::fs::write(dir.path().join(FRAMES_CSV), old).unwrap();
        let rows = read_frame_scores(dir.path());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], FrameScore { frame: 2, flicker: -0.02, warp_error: None, source_warp_error: None });
        let new =
            format!("{FRAMES_HEADER}\n1,60,9e2,8e2,1e2,0,0,0,,,7.5\n2,15,8e2,7e2,1e2,0,5,1e-2,2e-3,5e-4,1.5\n3,15,8e2");
        std::fs::write(dir.path().join(FRAMES_CSV), new).unwrap();
        let rows = read_frame_scores(dir.path());
        assert_eq!(rows.len(), 2, "the cut last line is skipped");
        assert_eq!(rows[0].warp_error, None);
        assert_eq!(
            rows[1],
            FrameScore { frame: 2, flicker: 0.01, warp_error: Some(0.002), source_warp_error: Some(0.0005) }
        );
        truncate_frames_csv(dir.path(), 1).unwrap();
        assert_eq!(read_frame_scores(dir.path()).len(), 1);
        assert_eq!(kept_seconds(dir.path()), 7.5);
    }
}
