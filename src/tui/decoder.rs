//! The decoder thread: takes [`DecodeJob`]s, keeps only the latest per file, decodes each file at
//! most [`MIN_INTERVAL`] apart (a running session replaces its preview far more often than a
//! terminal needs), and sends the results back to the UI loop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ratatui_image::picker::Picker;

use super::images::{decode, DecodeJob, Decoded};

/// At most about four decodes a second per file.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Starts the thread. It ends when `jobs`' sender is dropped or `deliver` returns false.
pub fn spawn(
    picker: Picker,
    jobs: Receiver<DecodeJob>,
    deliver: impl Fn(Decoded) -> bool + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("tui-preview".into()).spawn(move || run(picker, jobs, deliver))
}

fn run(picker: Picker, jobs: Receiver<DecodeJob>, deliver: impl Fn(Decoded) -> bool) {
    let mut pending: HashMap<PathBuf, DecodeJob> = HashMap::new();
    let mut last: HashMap<PathBuf, Instant> = HashMap::new();
    loop {
        // Wait for work, or until the earliest held-back job may run.
        let now = Instant::now();
        let wait = pending
            .keys()
            .map(|p| ready_at(&last, p).map_or(Duration::ZERO, |t| t.saturating_duration_since(now)))
            .min();
        let received = match wait {
            None => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(w) => jobs.recv_timeout(w),
        };
        match received {
            Ok(job) => {
                pending.insert(job.path.clone(), job);
                while let Ok(job) = jobs.try_recv() {
                    pending.insert(job.path.clone(), job);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let due: Vec<PathBuf> =
            pending.keys().filter(|p| ready_at(&last, p).is_none_or(|t| t <= now)).cloned().collect();
        for path in due {
            let Some(job) = pending.remove(&path) else { continue };
            last.insert(path, Instant::now());
            if !deliver(decode(&picker, job)) {
                return;
            }
        }
    }
}

/// When this file may be decoded again; `None`: now (never decoded).
fn ready_at(last: &HashMap<PathBuf, Instant>, path: &PathBuf) -> Option<Instant> {
    last.get(path).map(|t| *t + MIN_INTERVAL)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use ratatui::layout::Size;

    use super::*;

    /// A burst of jobs for one file decodes the first at once and then only the latest.
    #[test]
    fn bursts_are_coalesced_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preview.png");
        image::RgbImage::from_pixel(20, 10, image::Rgb([1, 2, 3])).save(&path).unwrap();
        let (jobs_tx, jobs_rx) = channel();
        let (out_tx, out_rx) = channel();
        let handle = spawn(Picker::halfblocks(), jobs_rx, move |d| out_tx.send(d.job.generation).is_ok()).unwrap();
        for generation in 0..20 {
            jobs_tx.send(DecodeJob { path: path.clone(), size: Size::new(8, 4), generation, video: false }).unwrap();
        }
        let mut decoded = vec![out_rx.recv_timeout(Duration::from_secs(5)).unwrap()];
        while let Ok(g) = out_rx.recv_timeout(Duration::from_millis(600)) {
            decoded.push(g);
        }
        drop(jobs_tx);
        handle.join().unwrap();
        assert_eq!(decoded.last(), Some(&19), "the latest job is decoded in the end: {decoded:?}");
        assert!(decoded.len() <= 3, "20 jobs for one file, decoded {decoded:?}");
    }
}
