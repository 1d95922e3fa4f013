//! A resumable download of some byte ranges of a remote file: the wanted bytes are appended, in
//! order, to a partial file; a small state file records how much of it is safely on disk.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::fs::write_atomic;
use crate::weights::WeightsError;

use super::FetchEvent;

/// Flush and record progress this often.
const CHECKPOINT_BYTES: u64 = 4 << 20;

/// Sorted, merged absolute byte ranges `[start, end)` to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub segments: Vec<(u64, u64)>,
}

impl Plan {
    /// Merges ranges that touch or overlap.
    pub fn new(mut ranges: Vec<(u64, u64)>) -> Self {
        ranges.sort();
        let mut segments: Vec<(u64, u64)> = Vec::new();
        for (s, e) in ranges {
            match segments.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => segments.push((s, e)),
            }
        }
        Plan { segments }
    }

    pub fn total(&self) -> u64 {
        self.segments.iter().map(|(s, e)| e - s).sum()
    }

    /// Where in the partial file absolute offset `abs` (inside a segment) lands.
    pub fn compact_offset(&self, abs: u64) -> Option<u64> {
        let mut cum = 0;
        for &(s, e) in &self.segments {
            if abs >= s && abs < e {
                return Some(cum + abs - s);
            }
            cum += e - s;
        }
        None
    }

    /// The absolute position of compact offset `done` and the end of its segment; None when done.
    pub fn next_remote(&self, done: u64) -> Option<(u64, u64)> {
        let mut cum = 0;
        for &(s, e) in &self.segments {
            if done < cum + (e - s) {
                return Some((s + done - cum, e));
            }
            cum += e - s;
        }
        None
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct State {
    url: String,
    header_sha256: String,
    segments: Vec<(u64, u64)>,
    done: u64,
}

/// The partial file and its state file, open for appending.
pub(super) struct Partial {
    pub data_path: PathBuf,
    state_path: PathBuf,
    file: File,
    state: State,
    since_checkpoint: u64,
}

impl Partial {
    /// Opens (or starts over) the partial download for `url` whose header hashes to `header_sha256`.
    /// Resumes only if the recorded url, header and plan all match.
    pub fn open(dir: &Path, stem: &str, url: &str, header_sha256: &str, plan: &Plan) -> Result<Partial, WeightsError> {
        let data_path = dir.join(format!(".{stem}.partial"));
        let state_path = dir.join(format!(".{stem}.state.json"));
        let fresh = State {
            url: url.to_string(),
            header_sha256: header_sha256.to_string(),
            segments: plan.segments.clone(),
            done: 0,
        };
        let old: Option<State> = std::fs::read(&state_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&data_path)
            .map_err(|e| WeightsError::io(&data_path, e))?;
        let len = file.metadata().map_err(|e| WeightsError::io(&data_path, e))?.len();
        let mut state = fresh;
        if let Some(old) = old {
            if old.url == state.url && old.header_sha256 == state.header_sha256 && old.segments == state.segments {
                state.done = old.done.min(len).min(plan.total());
            }
        }
        file.set_len(state.done).map_err(|e| WeightsError::io(&data_path, e))?;
        let mut p = Partial { data_path, state_path, file, state, since_checkpoint: 0 };
        p.seek_end()?;
        p.save_state()?;
        Ok(p)
    }

    fn seek_end(&mut self) -> Result<(), WeightsError> {
        use std::io::Seek;
        self.file.seek(std::io::SeekFrom::Start(self.state.done)).map_err(|e| WeightsError::io(&self.data_path, e))?;
        Ok(())
    }

    pub fn done(&self) -> u64 {
        self.state.done
    }

    fn save_state(&self) -> Result<(), WeightsError> {
        let json =
            serde_json::to_vec(&self.state).map_err(|e| WeightsError::format(&self.state_path, e.to_string()))?;
        Ok(write_atomic(&self.state_path, &json)?)
    }

    /// Makes everything written so far durable and records it.
    pub fn checkpoint(&mut self) -> Result<(), WeightsError> {
        self.file.sync_data().map_err(|e| WeightsError::io(&self.data_path, e))?;
        self.since_checkpoint = 0;
        self.save_state()
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), WeightsError> {
        self.file.write_all(bytes).map_err(|e| WeightsError::io(&self.data_path, e))?;
        self.state.done += bytes.len() as u64;
        self.since_checkpoint += bytes.len() as u64;
        if self.since_checkpoint >= CHECKPOINT_BYTES {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Copies the wanted bytes out of `body`, which starts at absolute offset `body_pos` and may
    /// span several segments (a full 200 body) or one (a 206 body): gaps are read and dropped.
    /// Stops at the end of the segment that contains `body_pos` unless `spans_all`.
    pub fn copy_from(
        &mut self,
        plan: &Plan,
        body: &mut dyn Read,
        mut body_pos: u64,
        spans_all: bool,
        url: &str,
        on_event: &mut dyn FnMut(FetchEvent),
    ) -> Result<(), WeightsError> {
        let mut buf = vec![0u8; 256 << 10];
        let mut first = true;
        while let Some((want, seg_end)) = plan.next_remote(self.state.done) {
            if !first && !spans_all {
                break;
            }
            first = false;
            if want < body_pos {
                return Err(WeightsError::Download {
                    url: url.to_string(),
                    msg: format!("the body starts at byte {body_pos}, past the needed byte {want}"),
                });
            }
            skip(body, want - body_pos, url)?;
            body_pos = want;
            while body_pos < seg_end {
                let n = ((seg_end - body_pos) as usize).min(buf.len());
                let got = body.read(&mut buf[..n]).map_err(|e| self.cut(url, e.to_string()))?;
                if got == 0 {
                    return Err(self.cut(url, "connection closed early".into()));
                }
                self.append(&buf[..got])?;
                body_pos += got as u64;
                on_event(FetchEvent::Bytes { done: self.state.done });
            }
        }
        Ok(())
    }

    /// An interrupted body: keep what arrived (so a rerun resumes) and describe the problem.
    fn cut(&mut self, url: &str, msg: String) -> WeightsError {
        let saved = self.checkpoint();
        let msg = match saved {
            Ok(()) => format!("{msg} after {} bytes; run the fetch again to resume", self.state.done),
            Err(e) => format!("{msg} ({e})"),
        };
        WeightsError::Download { url: url.to_string(), msg }
    }

    /// The whole partial file (call when done).
    pub fn read_all(&mut self) -> Result<Vec<u8>, WeightsError> {
        self.checkpoint()?;
        let mut out = Vec::new();
        File::open(&self.data_path)
            .and_then(|mut f| f.read_to_end(&mut out))
            .map_err(|e| WeightsError::io(&self.data_path, e))?;
        Ok(out)
    }

    /// Removes the partial and state files (after a successful install).
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.data_path);
        let _ = std::fs::remove_file(&self.state_path);
    }
}

fn skip(body: &mut dyn Read, n: u64, url: &str) -> Result<(), WeightsError> {
    let skipped = std::io::copy(&mut body.take(n), &mut std::io::sink())
        .map_err(|e| WeightsError::Download { url: url.to_string(), msg: format!("reading the body: {e}") })?;
    if skipped != n {
        return Err(WeightsError::Download { url: url.to_string(), msg: "connection closed early".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Plan;

    #[test]
    fn merges_and_maps() {
        let p = Plan::new(vec![(30, 40), (10, 20), (20, 25)]);
        assert_eq!(p.segments, vec![(10, 25), (30, 40)]);
        assert_eq!(p.total(), 25);
        assert_eq!(p.next_remote(0), Some((10, 25)));
        assert_eq!(p.next_remote(15), Some((30, 40)));
        assert_eq!(p.next_remote(20), Some((35, 40)));
        assert_eq!(p.next_remote(25), None);
        assert_eq!(p.compact_offset(31), Some(16));
    }
}
