//! The session of a distributed render (`video plan`): a video session no worker here runs,
//! whose progress is read from the plan folder whenever it is listed: frames done of the plan's
//! frames, and `done` once every frame is there and the stitched clip exists.

use crate::session::record::{now, ProgressSummary, SessionRecord, Status};
use crate::video::segments::plan::Plan;
use crate::video::segments::status::plan_status;

/// Brings a distributed session's progress and status up to date from its plan folder; other
/// sessions are left as they are. A plan folder that is gone or damaged fails the session with
/// the plan's error.
pub fn refresh(record: &mut SessionRecord) {
    let Some(dir) = record.plan_dir.clone() else { return };
    if record.status != Status::Distributed {
        return;
    }
    let plan = match Plan::read(&dir) {
        Ok(plan) => plan,
        Err(e) => {
            record.status = Status::Failed;
            record.error = Some(e.to_string());
            return;
        }
    };
    let st = plan_status(&dir, &plan);
    let seconds = now().saturating_sub(record.created_at) as f64;
    let loss = record.progress.map_or(0.0, |p| p.loss);
    record.progress = Some(ProgressSummary { iteration: st.done as u32, total: st.frames as u32, loss, seconds });
    if st.finished() && record.job.export.as_deref().is_some_and(std::path::Path::is_file) {
        record.status = Status::Done;
        record.finished_at = Some(now());
    }
}
