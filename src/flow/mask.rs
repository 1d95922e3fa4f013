//! Reliability of a warped previous frame (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos",
//! GCPR 2016, sec. 4.2 "temporal consistency").

use rayon::prelude::*;

use super::field::Flow;

/// Per-pixel weight for frame t: 1.0 where the previous frame warped by `back` can be trusted, 0.0 where not.
///
/// * `back`: flow of frame t into frame t-1 (for each pixel x of t, where it was in t-1), i.e.
///   `dis(gray_t, gray_prev)`; the flow the previous output is warped with.
/// * `fwd`: flow of frame t-1 into frame t, i.e. `dis(gray_prev, gray_t)`.
///
/// Pixel x of frame t (w = back, ŵ = fwd) is unreliable when
/// * x + w(x) leaves the image (it came in from outside the previous frame),
/// * forward and backward disagree (disocclusion):
///   |w(x) + ŵ(x + w(x))|² > 0.01 (|w(x)|² + |ŵ(x + w(x))|²) + 0.5, ŵ sampled bilinearly, or
/// * it lies on a motion boundary: |∇u|² + |∇v|² > 0.01 |w(x)|² + 0.002 (w = (u, v), central differences).
pub fn reliability(back: &Flow, fwd: &Flow) -> Vec<f32> {
    back.check();
    fwd.check();
    assert!(
        back.width == fwd.width && back.height == fwd.height,
        "reliability: {}x{} backward vs {}x{} forward flow",
        back.width,
        back.height,
        fwd.width,
        fwd.height
    );
    let (w, h) = (back.width, back.height);
    let mut out = vec![0.0f32; w * h];
    if out.is_empty() {
        return out;
    }
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, r) in row.iter_mut().enumerate() {
            *r = if reliable(back, fwd, x, y) { 1.0 } else { 0.0 };
        }
    });
    out
}

fn reliable(back: &Flow, fwd: &Flow, x: usize, y: usize) -> bool {
    let (w, h) = (back.width, back.height);
    let (u, v) = back.at(x, y);
    let (px, py) = (x as f32 + u, y as f32 + v);
    // The previous frame covers [-0.5, size - 0.5] (pixel footprints); NaN fails these tests too.
    let inside = px >= -0.5 && py >= -0.5 && px <= w as f32 - 0.5 && py <= h as f32 - 0.5;
    if !inside {
        return false;
    }
    let (fu, fv) = fwd.sample(px, py);
    let sum2 = (u + fu).powi(2) + (v + fv).powi(2);
    let w2 = u * u + v * v;
    if sum2 > 0.01 * (w2 + fu * fu + fv * fv) + 0.5 {
        return false;
    }
    let (ux, vx) = central(back, x, y, true);
    let (uy, vy) = central(back, x, y, false);
    ux * ux + uy * uy + vx * vx + vy * vy <= 0.01 * w2 + 0.002
}

/// Central difference of (u, v) along x (`along_x`) or y; one-sided at the borders, 0 on a 1-pixel axis.
fn central(f: &Flow, x: usize, y: usize, along_x: bool) -> (f32, f32) {
    let (i, n) = if along_x { (x, f.width) } else { (y, f.height) };
    if n < 2 {
        return (0.0, 0.0);
    }
    let (a, b, s) = if i == 0 {
        (0, 1, 1.0)
    } else if i == n - 1 {
        (n - 2, n - 1, 1.0)
    } else {
        (i - 1, i + 1, 0.5)
    };
    let (pa, pb) = if along_x { (f.at(a, y), f.at(b, y)) } else { (f.at(x, a), f.at(x, b)) };
    ((pb.0 - pa.0) * s, (pb.1 - pa.1) * s)
}
