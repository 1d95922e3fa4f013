//! The sessions table's model: sort order, selection by id (stable while records change), and the
//! derived columns (progress fraction, ETA) computed from the progress summary.

use std::cmp::Ordering;
use std::time::Duration;

use crate::session::{SessionRecord, Status};

/// The column the table is sorted by; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Oldest first, as the scheduler lists them.
    #[default]
    Created,
    Name,
    Status,
    Progress,
    Loss,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Created => SortKey::Name,
            SortKey::Name => SortKey::Status,
            SortKey::Status => SortKey::Progress,
            SortKey::Progress => SortKey::Loss,
            SortKey::Loss => SortKey::Created,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Created => "created",
            SortKey::Name => "name",
            SortKey::Status => "status",
            SortKey::Progress => "progress",
            SortKey::Loss => "loss",
        }
    }
}

/// Running first (here, then on a scheduler elsewhere), then queued, paused and the finished ones.
fn status_rank(s: Status) -> u8 {
    match s {
        Status::Running | Status::Distributed => 0,
        Status::Queued => 1,
        Status::Paused => 2,
        Status::Interrupted => 3,
        Status::Failed => 4,
        Status::Cancelled => 5,
        Status::Done => 6,
    }
}

/// Iterations done over the total, in [0, 1].
pub fn fraction(r: &SessionRecord) -> f64 {
    if r.status == Status::Done {
        return 1.0;
    }
    match r.progress {
        Some(p) if p.total > 0 => (p.iteration as f64 / p.total as f64).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

pub fn compare(a: &SessionRecord, b: &SessionRecord, key: SortKey) -> Ordering {
    let by = match key {
        SortKey::Created => a.created_at.cmp(&b.created_at),
        SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        SortKey::Status => status_rank(a.status).cmp(&status_rank(b.status)),
        SortKey::Progress => fraction(b).total_cmp(&fraction(a)),
        SortKey::Loss => {
            let loss = |r: &SessionRecord| r.progress.map_or(f64::INFINITY, |p| p.loss);
            loss(a).total_cmp(&loss(b))
        }
    };
    by.then_with(|| a.created_at.cmp(&b.created_at)).then_with(|| a.id.cmp(&b.id))
}

/// Indices of `records` in display order.
pub fn sorted_order(records: &[SessionRecord], key: SortKey) -> Vec<usize> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&i, &j| compare(&records[i], &records[j], key));
    order
}

/// Time left for a running session: the work left per scale (or frame) at the rate measured so
/// far (see [`crate::session::eta`]), less the time since that progress arrived (so the tick can
/// count it down between events).
pub fn eta(r: &SessionRecord, since_progress: Duration) -> Option<Duration> {
    if r.status != Status::Running {
        return None;
    }
    let p = r.progress?;
    let plan = crate::session::eta::WorkPlan::for_record(r)?;
    let (done, _, _) = r.progress_counts();
    let left = plan.eta_seconds(done, p.seconds)?;
    Duration::try_from_secs_f64(left).ok().map(|d| d.saturating_sub(since_progress))
}

/// `45s`, `3m05s`, `2h07m`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// A loss in a few characters: `1.23e5`.
pub fn format_loss(v: f64) -> String {
    crate::util::human::loss(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(format_duration(Duration::from_secs(7620)), "2h07m");
        assert_eq!(format_loss(123456.0), "1.23e5");
        assert_eq!(format_loss(12.5), "1.25e1");
    }

    /// A plain image session `s1` with default settings.
    fn image_record() -> SessionRecord {
        let spec = crate::session::SessionSpec {
            name: None,
            job: crate::session::Job {
                kind: Default::default(),
                content: "c.png".into(),
                export: None,
                weights: None,
                device: "cpu".into(),
                preset: "quick".into(),
                priority: 0,
                settings: Default::default(),
            },
        };
        SessionRecord::new("s1".into(), spec)
    }

    #[test]
    fn eta_counts_down_and_survives_nonsense() {
        let mut r = image_record();
        r.job.settings.iterations = 30;
        r.job.settings.scales = 1;
        r.status = Status::Running;
        r.progress = Some(crate::session::ProgressSummary { iteration: 10, total: 30, loss: 1.0, seconds: 5.0 });
        assert_eq!(eta(&r, Duration::ZERO), Some(Duration::from_secs(10)));
        assert_eq!(eta(&r, Duration::from_secs(4)), Some(Duration::from_secs(6)));
        r.progress = Some(crate::session::ProgressSummary { iteration: 1, total: 30, loss: 1.0, seconds: f64::MAX });
        assert_eq!(eta(&r, Duration::ZERO), None);
        r.status = Status::Paused;
        assert_eq!(eta(&r, Duration::ZERO), None);
    }

    #[test]
    fn multi_scale_eta_counts_the_fine_scale_as_dearer() {
        let mut r = image_record();
        (r.job.settings.size, r.job.settings.scales, r.job.settings.iterations, r.job.settings.scale_step) =
            (256, 2, 100, 2.0);
        r.status = Status::Running;
        // The coarse scale (128 px) took 10 s; the fine one has 4x its pixels: 40 s left.
        r.progress = Some(crate::session::ProgressSummary { iteration: 100, total: 200, loss: 1.0, seconds: 10.0 });
        assert_eq!(eta(&r, Duration::ZERO), Some(Duration::from_secs(40)));
    }
}
