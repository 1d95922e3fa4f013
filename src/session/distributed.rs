//! The session of a distributed render (`video plan`, `images plan`): a session no worker here
//! runs, whose progress is read from the plan folder whenever it is listed. A video counts frames
//! done of the plan's frames and is `done` once every frame is there and the stitched clip exists;
//! a folder counts results and is `done` once every image has one.

use crate::images::plan::ImagePlan;
use crate::session::record::{now, Kind, ProgressSummary, SessionRecord, Status};
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
    let counted = match record.job.kind {
        Kind::Folder => ImagePlan::read(&dir).map(|plan| {
            let (groups, _) = plan.status();
            let done: usize = groups.iter().map(|(d, _)| d).sum();
            (done, plan.images.len(), done == plan.images.len())
        }),
        _ => Plan::read(&dir).map(|plan| {
            let st = plan_status(&dir, &plan);
            let stitched = record.job.export.as_deref().is_some_and(std::path::Path::is_file);
            (st.done, st.frames, st.finished() && stitched)
        }),
    };
    let (done, total, finished) = match counted {
        Ok(c) => c,
        Err(e) => {
            record.status = Status::Failed;
            record.error = Some(e.to_string());
            return;
        }
    };
    let seconds = now().saturating_sub(record.created_at) as f64;
    let loss = record.progress.map_or(0.0, |p| p.loss);
    record.progress = Some(ProgressSummary { iteration: done as u32, total: total as u32, loss, seconds });
    if finished {
        record.status = Status::Done;
        record.finished_at = Some(now());
    }
}
