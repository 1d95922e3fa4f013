//! The temporal warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): for
//! frame `t`, the mean over reliable pixels of `|O_t − warp(O_{t−1})|²`, RGB in [0,1], with the
//! flow and the mask taken from the *source* frames at a stronger flow setting than stylisation
//! uses, so a method is not graded by its own flow. The same number for the source frames is the
//! floor: what the flow itself cannot explain (lighting, blur, flow errors).

use image::RgbImage;

use crate::flow::{self, Flow, Gray, Quality};

/// The flow setting every score is computed with.
pub const GRADING_QUALITY: Quality = Quality::Fine;

/// The source's motion from frame `t` back to `t − 1`, for grading.
pub struct Grader {
    back: Flow,
    mask: Vec<f32>,
}

impl Grader {
    /// `cur` is frame `t`, `prev` frame `t − 1` of the source, at the size being scored.
    pub fn new(prev: &Gray, cur: &Gray) -> Self {
        let (back, fwd) =
            rayon::join(|| flow::dis(cur, prev, GRADING_QUALITY), || flow::dis(prev, cur, GRADING_QUALITY));
        let mask = flow::reliability(&back, &fwd);
        Self { back, mask }
    }

    /// The warping error of `cur` against `prev` (8-bit RGB frames of the grader's size); `None`
    /// when no pixel is reliable or the sizes differ.
    pub fn score(&self, prev: &RgbImage, cur: &RgbImage) -> Option<f64> {
        warp_error(prev, cur, &self.back, &self.mask)
    }
}

/// Mean over pixels with `mask > 0.5` of the squared RGB difference (channels summed, [0,1] scale)
/// between `cur` and `prev` warped by `back` (the flow from `cur`'s frame to `prev`'s).
pub fn warp_error(prev: &RgbImage, cur: &RgbImage, back: &Flow, mask: &[f32]) -> Option<f64> {
    let (w, h) = (cur.width() as usize, cur.height() as usize);
    if prev.dimensions() != cur.dimensions() || back.width != w || back.height != h || mask.len() != w * h {
        return None;
    }
    let p: Vec<f32> = prev.as_raw().iter().map(|&v| v as f32 / 255.0).collect();
    let warped = flow::warp(&p, w, h, 3, back);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for (i, &m) in mask.iter().enumerate() {
        if m > 0.5 {
            let d: f64 = (0..3)
                .map(|c| {
                    let diff = cur.as_raw()[3 * i + c] as f64 / 255.0 - warped[3 * i + c] as f64;
                    diff * diff
                })
                .sum();
            sum += d;
            count += 1;
        }
    }
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(w: usize, h: usize, u: f32, v: f32) -> Flow {
        Flow { width: w, height: h, u: vec![u; w * h], v: vec![v; w * h] }
    }

    #[test]
    fn warp_error_by_hand() {
        // 2x1 frames, zero flow: pixel 0 differs by 51/255 = 0.2 in each channel (0.04 · 3 = 0.12),
        // pixel 1 is equal. Both reliable: (0.12 + 0) / 2 = 0.06. Only pixel 0 reliable: 0.12.
        let prev = RgbImage::from_raw(2, 1, vec![0, 0, 0, 9, 9, 9]).unwrap();
        let cur = RgbImage::from_raw(2, 1, vec![51, 51, 51, 9, 9, 9]).unwrap();
        let e = warp_error(&prev, &cur, &flow(2, 1, 0.0, 0.0), &[1.0, 1.0]).unwrap();
        assert!((e - 0.06).abs() < 1e-9, "{e}");
        let e = warp_error(&prev, &cur, &flow(2, 1, 0.0, 0.0), &[1.0, 0.0]).unwrap();
        assert!((e - 0.12).abs() < 1e-9, "{e}");
        assert_eq!(warp_error(&prev, &cur, &flow(2, 1, 0.0, 0.0), &[0.0, 0.0]), None);
    }

    #[test]
    fn a_frame_moved_by_its_flow_scores_zero() {
        // cur(x) = prev(x + 1): the backward flow is +1 everywhere; the last column samples the
        // clamped edge, so only the first columns are compared.
        let (w, h) = (6usize, 2usize);
        let prev = RgbImage::from_fn(w as u32, h as u32, |x, _| image::Rgb([(x * 40) as u8; 3]));
        let cur = RgbImage::from_fn(w as u32, h as u32, |x, _| image::Rgb([((x + 1).min(5) * 40) as u8; 3]));
        let mask: Vec<f32> = (0..w * h).map(|i| if i % w < w - 1 { 1.0 } else { 0.0 }).collect();
        let e = warp_error(&prev, &cur, &flow(w, h, 1.0, 0.0), &mask).unwrap();
        assert!(e < 1e-12, "{e}");
        // Without the flow the same frames differ by 40/255 per channel at every compared pixel.
        let e0 = warp_error(&prev, &cur, &flow(w, h, 0.0, 0.0), &mask).unwrap();
        assert!((e0 - 3.0 * (40.0f64 / 255.0).powi(2)).abs() < 1e-6, "{e0}");
    }
}
