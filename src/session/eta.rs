//! Time left of a run, shared by the dashboard and the CLI's progress bar. A run is a list of
//! stages (the scales of an image, the first and the later frames of a video), each with its
//! cost per step in pixel-iterations; the rate is measured as seconds per pixel-iteration over
//! the work done so far, so the fast coarse scale does not make the fine scales look fast.

use super::record::{Kind, SessionRecord};
use crate::engine::Settings;

/// One stage of a run: `steps` steps (iterations, or frames) costing `work` each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub steps: u32,
    /// Pixel-iterations per step.
    pub work: f64,
}

/// The work of a whole run, in the order it is done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkPlan {
    pub stages: Vec<Stage>,
}

/// Pixels of a picture whose long side is `side` (the aspect ratio is the same at every
/// scale, so it cancels out of the rate).
fn pixels(side: u32) -> f64 {
    f64::from(side) * f64::from(side)
}

impl WorkPlan {
    /// An image: each scale's iterations at that scale's size; progress counts iterations.
    pub fn image(settings: &Settings) -> Self {
        let stages = settings
            .scale_sizes()
            .into_iter()
            .map(|side| Stage { steps: settings.iterations, work: pixels(side) })
            .collect();
        WorkPlan { stages }
    }

    /// A video of `frames` frames; progress counts frames. The first frame runs every scale, the
    /// later ones `frame_iterations` at full size.
    pub fn video(settings: &Settings, frames: u32) -> Self {
        let first = WorkPlan::image(settings).total();
        let later = f64::from(settings.frame_iterations) * pixels(settings.size);
        let mut stages = vec![Stage { steps: frames.min(1), work: first }];
        if frames > 1 {
            stages.push(Stage { steps: frames - 1, work: later });
        }
        WorkPlan { stages }
    }

    /// The plan of a session; a video's frame count comes from its progress (`None` before the
    /// first frame is reported).
    pub fn for_record(r: &SessionRecord) -> Option<Self> {
        match r.job.kind {
            Kind::Video => r.progress.filter(|p| p.total > 0).map(|p| WorkPlan::video(&r.job.settings, p.total)),
            _ => Some(WorkPlan::image(&r.job.settings)),
        }
    }

    pub fn steps(&self) -> u32 {
        self.stages.iter().map(|s| s.steps).sum()
    }

    pub fn total(&self) -> f64 {
        self.work_done(u32::MAX)
    }

    /// The work of the first `done` steps.
    pub fn work_done(&self, done: u32) -> f64 {
        let mut left = done;
        let mut work = 0.0;
        for s in &self.stages {
            let n = left.min(s.steps);
            work += f64::from(n) * s.work;
            left -= n;
        }
        work
    }

    /// Seconds left after `done` steps took `seconds`: the work left at the rate measured so far.
    /// `None` before the first step, for nonsense figures, or past the end.
    pub fn eta_seconds(&self, done: u32, seconds: f64) -> Option<f64> {
        let work = self.work_done(done);
        if done == 0 || done > self.steps() || work <= 0.0 || !seconds.is_finite() || seconds < 0.0 {
            return None;
        }
        let left = (self.total() - work) / work * seconds;
        left.is_finite().then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(size: u32, scales: u32, iterations: u32) -> Settings {
        Settings { size, scales, iterations, scale_step: 2.0, frame_iterations: 10, ..Default::default() }
    }

    #[test]
    fn multi_scale_eta_weighs_each_scale_by_its_pixels() {
        // Scales of 128 and 256 px, 100 iterations each: 100·128² = 1 638 400 and
        // 100·256² = 6 553 600 pixel-iterations, 8 192 000 in all.
        let plan = WorkPlan::image(&settings(256, 2, 100));
        assert_eq!(plan.steps(), 200);
        assert_eq!(plan.total(), 8_192_000.0);
        // The coarse scale took 10 s: the fine scale has 4x its work left, 40 s (an
        // iteration count would say 10 s).
        assert_eq!(plan.eta_seconds(100, 10.0), Some(40.0));
        // Half-way through the fine scale after 30 s: done 1 638 400 + 3 276 800 = 4 915 200,
        // 3 276 800 left at 30 / 4 915 200 s each = 20 s.
        let eta = plan.eta_seconds(150, 30.0).unwrap();
        assert!((eta - 20.0).abs() < 1e-9, "{eta}");
        assert_eq!(plan.eta_seconds(200, 50.0), Some(0.0));
    }

    #[test]
    fn single_scale_is_iterations_left_times_the_rate() {
        let plan = WorkPlan::image(&settings(256, 1, 30));
        assert_eq!(plan.eta_seconds(10, 5.0), Some(10.0));
    }

    #[test]
    fn video_first_frame_costs_all_scales() {
        // 256 px, 2 scales of 100 iterations: the first frame is 8 192 000 pixel-iterations;
        // later frames 10·256² = 655 360. 5 frames: 8 192 000 + 4·655 360 = 10 813 440.
        let plan = WorkPlan::video(&settings(256, 2, 100), 5);
        assert_eq!(plan.steps(), 5);
        assert_eq!(plan.total(), 10_813_440.0);
        // The first frame took 25 s: 4 frames of 655 360 at 25 / 8 192 000 s = 8 s.
        let eta = plan.eta_seconds(1, 25.0).unwrap();
        assert!((eta - 8.0).abs() < 1e-9, "{eta}");
    }

    #[test]
    fn nonsense_gives_none() {
        let plan = WorkPlan::image(&settings(256, 1, 30));
        assert_eq!(plan.eta_seconds(0, 1.0), None);
        assert_eq!(plan.eta_seconds(31, 1.0), None);
        assert_eq!(plan.eta_seconds(1, f64::MAX * 10.0), None);
        assert_eq!(plan.eta_seconds(1, -1.0), None);
        assert_eq!(WorkPlan::video(&settings(256, 1, 30), 0).eta_seconds(1, 1.0), None);
    }
}
