//! A session's loss history: `losses.csv` when the detail screen opens, then live `Progress` events.

use std::path::Path;

use crate::session::frames::FrameScore;
pub use crate::session::losses::LossRow;

/// Parses the file's text (see [`crate::session::losses::parse_rows`]): a cut last line must not
/// stop the chart from showing.
pub fn parse_csv(text: &str) -> Vec<LossRow> {
    crate::session::losses::parse_rows(text)
}

/// Reads `losses.csv`; a missing file is an empty history (the session has not run yet).
pub fn read_csv(path: &Path) -> std::io::Result<Vec<LossRow>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_csv(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Adds rows after the last iteration held; earlier ones (a file read racing live events, or a
/// retry starting over) are handled by keeping the sequence increasing.
pub fn merge(history: &mut Vec<LossRow>, rows: impl IntoIterator<Item = LossRow>) {
    for row in rows {
        match history.last() {
            Some(last) if row.iteration <= last.iteration => {
                if row.iteration <= 1 {
                    // A retried session starts again at iteration 1.
                    history.clear();
                    history.push(row);
                }
            }
            _ => history.push(row),
        }
    }
}

/// Adds frames after the last frame held; a frame 1 again (a retry) starts over.
pub fn merge_frames(history: &mut Vec<FrameScore>, points: impl IntoIterator<Item = FrameScore>) {
    for p in points {
        match history.last() {
            Some(last) if p.frame <= last.frame => {
                if p.frame <= 1 {
                    history.clear();
                    history.push(p);
                }
            }
            _ => history.push(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_header_and_cut_last_line() {
        let text = "iteration,scale,loss,style,content,tv,seconds\n1,0,100,90,10,0,0.5\n2,0,50,45,5,0,1.0\n3,1,2";
        let rows = parse_csv(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].iteration, 2);
        assert_eq!(rows[1].loss, 50.0);
    }

    #[test]
    fn merge_keeps_iterations_increasing() {
        let row =
            |iteration| LossRow { iteration, scale: 0, loss: 1.0, style: 1.0, content: 1.0, tv: 0.0, seconds: 0.0 };
        let mut h = vec![row(1), row(2)];
        merge(&mut h, [row(2), row(3)]);
        assert_eq!(h.iter().map(|r| r.iteration).collect::<Vec<_>>(), vec![1, 2, 3]);
        merge(&mut h, [row(1)]);
        assert_eq!(h.len(), 1);
    }
}
