//! How a scheduler (or a signal) asks a running session to stop at the next iteration.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Checkpoint and become `paused` (the user asked).
    Pause,
    /// Stop and become `cancelled`; the checkpoint is dropped.
    Cancel,
    /// Checkpoint and go back to `queued`: the process is shutting down and the session continues
    /// at the next start.
    Shutdown,
}

/// A stop request, set from any thread, read by the worker after each iteration.
#[derive(Debug, Default)]
pub struct StopFlag(AtomicU8);

impl StopFlag {
    pub fn request(&self, stop: Stop) {
        let v = match stop {
            Stop::Pause => 1,
            Stop::Cancel => 2,
            Stop::Shutdown => 3,
        };
        // A cancel is never downgraded to a pause or a shutdown.
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| (old != 2).then_some(v));
    }

    pub fn get(&self) -> Option<Stop> {
        match self.0.load(Ordering::SeqCst) {
            1 => Some(Stop::Pause),
            2 => Some(Stop::Cancel),
            3 => Some(Stop::Shutdown),
            _ => None,
        }
    }
}
