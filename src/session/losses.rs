//! `losses.csv`: one row per iteration, `iteration,scale,loss,style,content,tv,seconds`.
//!
//! Rows are appended as they come (a full rewrite per iteration would cost more than the work on
//! small images). A crash can leave a partial last line; readers skip any line that does not
//! parse. When a session resumes from a checkpoint the file is rewritten (temp and rename) with
//! only the rows up to the checkpoint, so the curve continues without duplicates.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::Progress;
use crate::error::{Error, Result};
use crate::util::fs::write_atomic;

pub const HEADER: &str = "iteration,scale,loss,style,content,tv,seconds";

/// One iteration's losses: a row of `losses.csv` and the body of a progress event.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossRow {
    pub iteration: u32,
    pub scale: u32,
    pub loss: f64,
    pub style: f64,
    pub content: f64,
    pub tv: f64,
    pub seconds: f64,
}

impl LossRow {
    pub fn from_progress(p: &Progress) -> Self {
        LossRow {
            iteration: p.iteration,
            scale: p.scale,
            loss: p.losses.total,
            style: p.losses.style,
            content: p.losses.content,
            tv: p.losses.tv,
            seconds: p.seconds,
        }
    }

    fn to_line(self) -> String {
        // The notation of every loss brushwork prints (`1.23e5`), with six significant digits so
        // the curve keeps its detail.
        let n = |v: f64| if v.is_finite() { crate::util::human::sci(v, 6) } else { "NaN".into() };
        format!(
            "{},{},{},{},{},{},{:.3}\n",
            self.iteration,
            self.scale,
            n(self.loss),
            n(self.style),
            n(self.content),
            n(self.tv),
            self.seconds
        )
    }

    fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.trim().split(',').collect();
        if f.len() != 7 {
            return None;
        }
        let num = |i: usize| f[i].trim().parse::<f64>().ok().filter(|v| v.is_finite());
        Some(LossRow {
            iteration: f[0].trim().parse().ok()?,
            scale: f[1].trim().parse().ok()?,
            loss: num(2)?,
            style: num(3)?,
            content: num(4)?,
            tv: num(5)?,
            seconds: num(6)?,
        })
    }
}

pub struct LossLog {
    path: PathBuf,
}

impl LossLog {
    pub fn new(session_dir: &Path) -> Self {
        LossLog { path: session_dir.join("losses.csv") }
    }

    /// Every complete row (a damaged or partial line is skipped).
    pub fn read(&self) -> Vec<LossRow> {
        read_rows(&self.path)
    }

    /// Keeps the rows up to `iteration`, written atomically.
    pub fn truncate_to(&self, iteration: u32) -> Result<()> {
        let mut text = format!("{HEADER}\n");
        for row in self.read().into_iter().filter(|r| r.iteration <= iteration) {
            text += &row.to_line();
        }
        Ok(write_atomic(&self.path, text.as_bytes())?)
    }

    pub fn append(&self, rows: &[LossRow]) -> Result<()> {
        let mut file =
            OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let text: String = rows.iter().map(|r| r.to_line()).collect();
        file.write_all(text.as_bytes()).map_err(|e| Error::io(&self.path, e))
    }
}

pub fn read_rows(path: &Path) -> Vec<LossRow> {
    fs::read_to_string(path).map(|text| parse_rows(&text)).unwrap_or_default()
}

/// The complete rows of `losses.csv` text: only lines ending in a newline, and only those that
/// parse to finite numbers (the header, a damaged line and a cut last line are skipped).
pub fn parse_rows(text: &str) -> Vec<LossRow> {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete.lines().filter_map(LossRow::parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_last_line_and_garbage_are_skipped() {
        let dir = std::env::temp_dir().join(format!("bw-losses-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("losses.csv");
        fs::write(&path, format!("{HEADER}\n1,0,1e3,9e2,1e2,0e0,0.5\nxx\n2,0,9e2,8e2,1e2,0e0,1.0\n3,0,8e2")).unwrap();
        let rows = read_rows(&path);
        assert_eq!(rows.iter().map(|r| r.iteration).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(rows[1].loss, 900.0);
        LossLog::new(&dir).truncate_to(1).unwrap();
        assert_eq!(read_rows(&path).len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
