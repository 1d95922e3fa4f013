//! Image pyramids, image derivatives and the coarse-to-fine flow upsampling.

use rayon::prelude::*;

use super::field::{bilinear, Flow, Gray};

/// Halves an image with the separable binomial filter [1 3 3 1]/8 (a 2x2 box followed by [1 2 1]/4): the box
/// alone aliases fine texture so badly that a shifted image no longer looks shifted at coarse levels. Odd
/// sizes round up and borders clamp; coarse pixel i is centred on fine position 2i + 0.5.
pub(super) fn downsample(img: &Gray) -> Gray {
    let (w, h) = (img.width, img.height);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    const TAPS: [f32; 4] = [0.125, 0.375, 0.375, 0.125];
    let clampi = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    // Horizontal pass into a cw x h buffer, then vertical.
    let mut tmp = vec![0.0; cw * h];
    tmp.par_chunks_mut(cw).enumerate().for_each(|(y, row)| {
        let src = &img.data[y * w..(y + 1) * w];
        for (cx, out) in row.iter_mut().enumerate() {
            let base = 2 * cx as isize - 1;
            *out = TAPS.iter().enumerate().map(|(k, t)| t * src[clampi(base + k as isize, w)]).sum();
        }
    });
    let mut data = vec![0.0; cw * ch];
    data.par_chunks_mut(cw).enumerate().for_each(|(cy, row)| {
        let base = 2 * cy as isize - 1;
        for (k, t) in TAPS.iter().enumerate() {
            let src = &tmp[clampi(base + k as isize, h) * cw..][..cw];
            for (o, s) in row.iter_mut().zip(src) {
                *o += t * s;
            }
        }
    });
    Gray { width: cw, height: ch, data }
}

/// Levels 0 (the image) to `levels - 1`, each half the previous.
pub(super) fn build(img: &Gray, levels: usize) -> Vec<Gray> {
    let mut pyr = vec![img.clone()];
    while pyr.len() < levels {
        let next = downsample(&pyr[pyr.len() - 1]);
        pyr.push(next);
    }
    pyr
}

/// x and y derivatives: central differences inside, one-sided at the borders, 0 along an axis of length 1.
pub(super) fn gradients(data: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let mut gx = vec![0.0; w * h];
    let mut gy = vec![0.0; w * h];
    if w == 0 || h == 0 {
        return (gx, gy);
    }
    gx.par_chunks_mut(w).zip(gy.par_chunks_mut(w)).enumerate().for_each(|(y, (rx, ry))| {
        let (ya, yb, sy) = neighbours(y, h);
        for x in 0..w {
            let (xa, xb, sx) = neighbours(x, w);
            rx[x] = (data[y * w + xb] - data[y * w + xa]) * sx;
            ry[x] = (data[yb * w + x] - data[ya * w + x]) * sy;
        }
    });
    (gx, gy)
}

/// The two samples a derivative at `i` differences and the factor (1/2 central, 1 one-sided, 0 none).
#[inline]
fn neighbours(i: usize, n: usize) -> (usize, usize, f32) {
    if n < 2 {
        (i, i, 0.0)
    } else if i == 0 {
        (0, 1, 1.0)
    } else if i == n - 1 {
        (n - 2, n - 1, 1.0)
    } else {
        (i - 1, i + 1, 0.5)
    }
}

/// Upsamples a flow from one pyramid level to the next finer one (size `w`x`h`): bilinear at the matching
/// coarse position (fine x sits at coarse (x + 0.5)/2 - 0.5, see `downsample`), vectors doubled.
pub(super) fn upsample_flow(coarse: &Flow, w: usize, h: usize) -> Flow {
    let mut out = Flow::zeros(w, h);
    if w == 0 || h == 0 {
        return out;
    }
    out.u.par_chunks_mut(w).zip(out.v.par_chunks_mut(w)).enumerate().for_each(|(y, (ru, rv))| {
        let cy = (y as f32 + 0.5) * 0.5 - 0.5;
        for x in 0..w {
            let cx = (x as f32 + 0.5) * 0.5 - 0.5;
            ru[x] = 2.0 * bilinear(&coarse.u, coarse.width, coarse.height, cx, cy);
            rv[x] = 2.0 * bilinear(&coarse.v, coarse.width, coarse.height, cx, cy);
        }
    });
    out
}
