//! One finished frame's figures, as the frame loop reports them and `frames.csv` keeps them.

use crate::engine::objective::LossParts;

/// One finished frame.
#[derive(Debug, Clone)]
pub struct FrameReport {
    /// 1-based.
    pub frame: u32,
    pub frames: u32,
    /// Iterations run on this frame.
    pub iterations: u32,
    /// Loss-and-gradient evaluations on this frame (see [`crate::engine::Progress::evaluations`]).
    pub evaluations: u32,
    pub losses: LossParts,
    /// See [`super::flicker::flicker`]; 0 for the first frame.
    pub flicker: f64,
    /// See [`super::warp_error`]: this frame against the previous output frame, and the same for
    /// the source frames (the floor); `None` for the first frame.
    pub warp_error: Option<f64>,
    pub source_warp_error: Option<f64>,
    /// Seconds spent on this frame.
    pub seconds: f64,
    /// Seconds since the job started.
    pub elapsed: f64,
}
