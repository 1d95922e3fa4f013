//! Shared helpers for the watch tests: a temporary watched folder with a sibling staging folder on
//! the same filesystem, distinct small PNGs, and collecting what a watcher reports.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use brushwork::watch::{FolderWatcher, ReadyFile, WatchEvent, WatchOptions};
use sha2::{Digest, Sha256};

/// The settle time the tests use; the grace period for undecodable files is four times this.
pub const SETTLE: Duration = Duration::from_millis(200);
/// How long to keep listening after the expected reports, to catch duplicates and late reports:
/// longer than the grace period plus a poll tick.
pub const LINGER: Duration = Duration::from_millis(1500);
/// Upper bound for the expected reports to arrive on a busy two-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// `<tmp>/in` (watched) and `<tmp>/staging` (where files are prepared before arriving).
pub struct Folders {
    _root: tempfile::TempDir,
    pub watched: PathBuf,
    pub staging: PathBuf,
}

impl Folders {
    pub fn new() -> Folders {
        let root = tempfile::tempdir().unwrap();
        let watched = root.path().join("in");
        let staging = root.path().join("staging");
        std::fs::create_dir(&watched).unwrap();
        std::fs::create_dir(&staging).unwrap();
        Folders { watched: watched.canonicalize().unwrap(), staging, _root: root }
    }

    pub fn options(&self) -> WatchOptions {
        WatchOptions { settle: SETTLE, ..WatchOptions::new(&self.watched) }
    }

    /// Writes a distinct PNG into the staging folder and returns its path and content.
    pub fn stage(&self, name: &str, seed: u32) -> (PathBuf, Vec<u8>) {
        let bytes = png_bytes(seed);
        let path = self.staging.join(name);
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }
}

/// A 48x48 PNG of noise derived from `seed`: distinct seeds give distinct content and hashes, and
/// noise keeps the file large enough (several KiB) to be written in chunks.
pub fn png_bytes(seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let image = image::RgbImage::from_fn(48, 48, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn start(options: WatchOptions) -> (FolderWatcher, Receiver<WatchEvent>) {
    FolderWatcher::start(options).unwrap()
}

/// An event with the moment it was received.
pub struct Received {
    pub event: WatchEvent,
    pub at: Instant,
}

/// Collects events until `expected` `Ready` events arrived (or [`TIMEOUT`]), then for [`LINGER`] more.
pub fn collect(rx: &Receiver<WatchEvent>, expected: usize) -> Vec<Received> {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut done_at = None;
    loop {
        let ready = received.iter().filter(|r: &&Received| matches!(r.event, WatchEvent::Ready(_))).count();
        if ready >= expected && done_at.is_none() {
            done_at = Some(Instant::now());
        }
        let deadline = match done_at {
            Some(at) => at + LINGER,
            None => start + TIMEOUT,
        };
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { return received };
        match rx.recv_timeout(left) {
            Ok(event) => received.push(Received { event, at: Instant::now() }),
            Err(RecvTimeoutError::Timeout) => return received,
            Err(RecvTimeoutError::Disconnected) => panic!("watcher stopped unexpectedly"),
        }
    }
}

/// The `Ready` reports among `received`.
pub fn ready(received: &[Received]) -> Vec<ReadyFile> {
    received
        .iter()
        .filter_map(|r| if let WatchEvent::Ready(file) = &r.event { Some(file.clone()) } else { None })
        .collect()
}

/// The single report for `path`; fails when there is none or more than one.
pub fn only_report_for(reports: &[ReadyFile], path: &Path) -> ReadyFile {
    let matching: Vec<&ReadyFile> = reports.iter().filter(|r| r.path == path).collect();
    assert_eq!(matching.len(), 1, "expected one report for {}, got {reports:#?}", path.display());
    matching[0].clone()
}
