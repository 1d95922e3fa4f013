//! Flow visualisation with the Middlebury colour wheel (Baker, Scharstein, Lewis, Roth, Black & Szeliski,
//! "A Database and Evaluation Methodology for Optical Flow", IJCV 2011): hue is the direction, saturation
//! the length relative to the longest vector.

use super::field::Flow;

/// Hue segments of the wheel (red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red);
/// the lengths are the paper's, chosen so perceptually similar hues get similar arc lengths.
const SEGMENTS: [usize; 6] = [15, 6, 4, 11, 13, 6];

fn wheel() -> Vec<[f32; 3]> {
    let mut cols = Vec::with_capacity(SEGMENTS.iter().sum());
    // Each segment ramps one channel while the others hold: R->Y raises G, Y->G lowers R, and so on.
    let ramps: [(usize, bool); 6] = [(1, true), (0, false), (2, true), (1, false), (0, true), (2, false)];
    let mut c = [1.0f32, 0.0, 0.0];
    for (&len, &(ch, up)) in SEGMENTS.iter().zip(&ramps) {
        for k in 0..len {
            let t = k as f32 / len as f32;
            c[ch] = if up { t } else { 1.0 - t };
            cols.push(c);
        }
        c[ch] = if up { 1.0 } else { 0.0 };
    }
    cols
}

/// Colour-wheel image of `flow`: white for zero motion, fully saturated at the longest vector.
/// Non-finite vectors are drawn black.
pub fn to_color(flow: &Flow) -> image::RgbImage {
    flow.check();
    let cols = wheel();
    let n = cols.len();
    let max = flow.max_magnitude();
    let norm = if max > 0.0 { 1.0 / max } else { 0.0 };
    let mut img = image::RgbImage::new(flow.width as u32, flow.height as u32);
    for (i, px) in img.pixels_mut().enumerate() {
        let (u, v) = (flow.u[i], flow.v[i]);
        if !u.is_finite() || !v.is_finite() {
            *px = image::Rgb([0, 0, 0]);
            continue;
        }
        let rad = (u * u + v * v).sqrt() * norm;
        // Angle measured so that motion to the right is red, as in the Middlebury code's convention.
        let a = (-v).atan2(-u) / std::f32::consts::PI;
        let fk = (a + 1.0) * 0.5 * (n - 1) as f32;
        let k0 = (fk.floor() as usize).min(n - 1);
        let k1 = (k0 + 1) % n;
        let f = fk - k0 as f32;
        let mut rgb = [0u8; 3];
        for (ch, out) in rgb.iter_mut().enumerate() {
            let col = (1.0 - f) * cols[k0][ch] + f * cols[k1][ch];
            let col = if rad <= 1.0 { 1.0 - rad * (1.0 - col) } else { col * 0.75 };
            *out = (255.0 * col).round().clamp(0.0, 255.0) as u8;
        }
        *px = image::Rgb(rgb);
    }
    img
}
