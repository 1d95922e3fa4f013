//! What a scheduler tells its observers (the TUI, `serve`'s socket clients, a following `run`):
//! small messages only. Images never travel in events; a `Preview` event says `preview.png` in
//! the session folder was replaced (the folder is the latest-wins slot).

use serde::{Deserialize, Serialize};

use super::losses::LossRow;
use super::record::SessionRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// One iteration finished. Field names follow the contract's `--json` progress event: the
    /// loss row's fields sit at the top level beside `id` and `total` (serde's `flatten`).
    Progress {
        id: String,
        total: u32,
        #[serde(flatten)]
        row: LossRow,
        /// Video: the weighted temporal loss (0 otherwise).
        #[serde(default, skip_serializing_if = "is_zero")]
        temporal: f64,
        /// Loss-and-gradient evaluations so far (the image's, or the frame's in video): more than
        /// `iteration` where the L-BFGS line search backtracked. 0 (absent) from older servers.
        #[serde(default, skip_serializing_if = "is_zero_u32")]
        evaluations: u32,
        /// Video: which frame these iterations belong to, and its scores once it is finished.
        #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
        video: Option<FrameProgress>,
    },
    /// A session was added or changed (status, error, progress summary, priority).
    Session { record: Box<SessionRecord> },
    /// A session was deleted.
    Removed { id: String },
    /// `preview.png` of this session was replaced.
    Preview { id: String },
    /// The watched folders changed (added, removed, a file queued or skipped).
    Watches { watches: Vec<super::watches::WatchStatus> },
    /// A warning or error for the log panel.
    Log { level: LogLevel, message: String },
}

/// The video part of a progress event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameProgress {
    /// The frame (1-based) of `frames`.
    pub frame: u32,
    pub frames: u32,
    /// Once the frame is finished: its flicker (see `video::flicker`); `None` on the events of
    /// the frame's iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flicker: Option<f64>,
    /// Once the frame is finished: its warping error and the source's (see `video::warp_error`);
    /// absent for the first frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warp_error: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_warp_error: Option<f64>,
}

impl FrameProgress {
    /// The event closes its frame (carries the frame's scores).
    pub fn finished(&self) -> bool {
        self.flicker.is_some()
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

impl Event {
    /// The session the event is about, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Event::Progress { id, .. } | Event::Removed { id } | Event::Preview { id } => Some(id),
            Event::Session { record } => Some(&record.id),
            Event::Log { .. } | Event::Watches { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LossRow {
        LossRow { iteration: 7, scale: 1, loss: 3.5, style: 2.0, content: 1.5, tv: 0.0, seconds: 0.25 }
    }

    /// The wire shape is flat (the JSON written by hand below is the contract's progress event,
    /// as the socket carried it before the loss row was embedded), both ways.
    #[test]
    fn progress_events_travel_flat() {
        let image =
            Event::Progress { id: "s1".into(), total: 10, row: row(), temporal: 0.0, evaluations: 0, video: None };
        let text = r#"{"event":"progress","id":"s1","iteration":7,"total":10,"scale":1,"loss":3.5,"style":2.0,
            "content":1.5,"tv":0.0,"seconds":0.25}"#;
        let flat: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&image).unwrap(), flat);
        assert_eq!(serde_json::from_str::<Event>(text).unwrap(), image);

        let video =
            FrameProgress { frame: 2, frames: 9, flicker: Some(0.5), warp_error: Some(1e-3), source_warp_error: None };
        let frame = Event::Progress {
            id: "v".into(),
            total: 10,
            row: row(),
            temporal: 4.0,
            evaluations: 9,
            video: Some(video),
        };
        let text = r#"{"event":"progress","id":"v","iteration":7,"total":10,"scale":1,"loss":3.5,"style":2.0,
            "content":1.5,"tv":0.0,"seconds":0.25,"frame":2,"frames":9,"flicker":0.5,"temporal":4.0,
            "warp_error":0.001,"evaluations":9}"#;
        let flat: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&frame).unwrap(), flat);
        assert_eq!(serde_json::from_str::<Event>(text).unwrap(), frame);
        // A frame's iterations carry the frame but no scores.
        let text = r#"{"event":"progress","id":"v","iteration":7,"total":10,"scale":1,"loss":3.5,"style":2.0,
            "content":1.5,"tv":0.0,"seconds":0.25,"frame":2,"frames":9}"#;
        let Event::Progress { video: Some(v), .. } = serde_json::from_str::<Event>(text).unwrap() else {
            panic!("no frame in {text}")
        };
        assert!(!v.finished());
    }
}
