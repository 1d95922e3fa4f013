//! How far a distributed render is: finished frames per segment (a frame is finished when its
//! file is in `frames/`: every frame is written to a temporary name and renamed), and the
//! segments still to run as a scheduler index list.

use std::path::Path;

use serde::Serialize;

use super::plan::{Plan, Segment};

/// One segment's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentStatus {
    pub index: usize,
    /// 1-based, inclusive: the frame numbers users see.
    pub first: usize,
    pub last: usize,
    pub frames: usize,
    pub done: usize,
    /// Frames of its warm-up the stitch blends in at its seam ([`Plan::crossfade`]), and how
    /// many of them are on disk.
    pub crossfade: usize,
    pub crossfade_done: usize,
}

impl SegmentStatus {
    pub fn finished(&self) -> bool {
        self.done == self.frames && self.crossfade_done == self.crossfade
    }
}

/// A plan folder's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanStatus {
    pub frames: usize,
    pub done: usize,
    pub segments: Vec<SegmentStatus>,
    /// Segments with a frame missing.
    pub missing: Vec<usize>,
}

impl PlanStatus {
    pub fn finished(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Counts the finished frames of every segment of `plan` in `dir`.
pub fn plan_status(dir: &Path, plan: &Plan) -> PlanStatus {
    let segments: Vec<SegmentStatus> = plan
        .segments
        .iter()
        .enumerate()
        .map(|(index, s): (usize, &Segment)| {
            let crossfade = plan.crossfade(index);
            SegmentStatus {
                index,
                first: s.start + 1,
                last: s.end,
                frames: s.len(),
                done: (s.start..s.end).filter(|&k| Plan::kept_frame(dir, k).is_file()).count(),
                crossfade: crossfade.len(),
                crossfade_done: crossfade.filter(|&k| Plan::warmup_frame(dir, index, k).is_file()).count(),
            }
        })
        .collect();
    let missing = segments.iter().filter(|s| !s.finished()).map(|s| s.index).collect();
    PlanStatus { frames: plan.frames, done: segments.iter().map(|s| s.done).sum(), segments, missing }
}

/// `3,7-9,12`: indexes as SLURM's `--array` (and most schedulers' index lists) take them, runs
/// of three or more consecutive indexes joined with a dash.
pub fn index_list(indexes: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indexes.len() {
        let mut j = i;
        while j + 1 < indexes.len() && indexes[j + 1] == indexes[j] + 1 {
            j += 1;
        }
        match j - i {
            0 => parts.push(indexes[i].to_string()),
            1 => parts.extend([indexes[i].to_string(), indexes[j].to_string()]),
            _ => parts.push(format!("{}-{}", indexes[i], indexes[j])),
        }
        i = j + 1;
    }
    parts.join(",")
}

/// Missing frames as 1-based ranges: `[(39, 75), (120, 120)]`.
pub fn missing_frames(dir: &Path, plan: &Plan) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for k in 0..plan.frames {
        if Plan::kept_frame(dir, k).is_file() {
            continue;
        }
        match ranges.last_mut() {
            Some((_, end)) if *end == k => *end = k + 1,
            _ => ranges.push((k + 1, k + 1)),
        }
    }
    ranges
}

/// Warm-up frames the stitch blends in that are not on disk, as (segment, 1-based frame).
pub fn missing_crossfade(dir: &Path, plan: &Plan) -> Vec<(usize, usize)> {
    (1..plan.segments.len())
        .flat_map(|i| {
            plan.crossfade(i).filter(move |&k| !Plan::warmup_frame(dir, i, k).is_file()).map(move |k| (i, k + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_as_slurm_reads_them() {
        assert_eq!(index_list(&[]), "");
        assert_eq!(index_list(&[3]), "3");
        assert_eq!(index_list(&[3, 7]), "3,7");
        assert_eq!(index_list(&[3, 4]), "3,4");
        assert_eq!(index_list(&[0, 1, 2, 5, 7, 8, 9, 10]), "0-2,5,7-10");
    }
}
