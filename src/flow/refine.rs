//! Variational refinement of a flow field (DIS paper sec. 2.3, after Brox et al. 2004): minimise
//! delta * Psi(intensity constancy) + gamma * Psi(gradient constancy) + alpha * Psi(|grad u|^2 + |grad v|^2)
//! for an increment (du, dv) around the current flow, with Psi the Charbonnier penalty. Lagged
//! non-linearity (fixed-point iterations), each solving the linear system by red-black SOR.

use rayon::prelude::*;

use super::field::{axis, Flow, Gray};
use super::pyramid::gradients;

pub(super) struct RefineParams {
    /// Fixed-point iterations (robust weights recomputed each).
    pub outer: usize,
    /// SOR sweeps per fixed-point iteration.
    pub inner: usize,
    pub alpha: f32,
    pub gamma: f32,
    pub delta: f32,
}

/// Charbonnier epsilon squared and the normalisation floor zeta squared of the data terms (the paper's
/// normalised data terms, so a strong edge does not outweigh a weak one).
const EPS2: f32 = 1e-6;
const ZETA2: f32 = 0.01;
/// SOR over-relaxation factor.
const OMEGA: f32 = 1.6;

/// Per-pixel linearised data terms, built once per call from the images warped by the incoming flow.
struct Data {
    it: Vec<f32>,
    ix: Vec<f32>,
    iy: Vec<f32>,
    ixt: Vec<f32>,
    iyt: Vec<f32>,
    ixx: Vec<f32>,
    ixy: Vec<f32>,
    iyy: Vec<f32>,
    /// 1 where x + flow(x) lands inside the second image, else 0 (no data there: smoothness fills in).
    valid: Vec<f32>,
}

/// Samples several planes of the same size at one position (shared weights).
fn sample_many(planes: &[&[f32]], w: usize, h: usize, x: f32, y: f32, out: &mut [f32]) {
    let (x0, x1, fx) = axis(x, w);
    let (y0, y1, fy) = axis(y, h);
    let (a, b, c, d) = (y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1);
    for (o, p) in out.iter_mut().zip(planes) {
        let top = p[a] + fx * (p[b] - p[a]);
        let bot = p[c] + fx * (p[d] - p[c]);
        *o = top + fy * (bot - top);
    }
}

fn data_terms(i0: &Gray, i1: &Gray, flow: &Flow) -> Data {
    let (w, h) = (i0.width, i0.height);
    let (i0x, i0y) = gradients(&i0.data, w, h);
    let (i0xx, i0xy) = gradients(&i0x, w, h);
    let (_, i0yy) = gradients(&i0y, w, h);
    let (i1x, i1y) = gradients(&i1.data, w, h);
    let (i1xx, i1xy) = gradients(&i1x, w, h);
    let (_, i1yy) = gradients(&i1y, w, h);
    let planes: [&[f32]; 6] = [&i1.data, &i1x, &i1y, &i1xx, &i1xy, &i1yy];
    let n = w * h;
    let mut d = Data {
        it: vec![0.0; n],
        ix: vec![0.0; n],
        iy: vec![0.0; n],
        ixt: vec![0.0; n],
        iyt: vec![0.0; n],
        ixx: vec![0.0; n],
        ixy: vec![0.0; n],
        iyy: vec![0.0; n],
        valid: vec![0.0; n],
    };
    let rows =
        d.it.par_chunks_mut(w)
            .zip(d.ix.par_chunks_mut(w))
            .zip(d.iy.par_chunks_mut(w))
            .zip(d.ixt.par_chunks_mut(w))
            .zip(d.iyt.par_chunks_mut(w))
            .zip(d.ixx.par_chunks_mut(w))
            .zip(d.ixy.par_chunks_mut(w))
            .zip(d.iyy.par_chunks_mut(w))
            .zip(d.valid.par_chunks_mut(w))
            .enumerate();
    rows.for_each(|(y, ((((((((it, ix), iy), ixt), iyt), ixx), ixy), iyy), valid))| {
        let mut s = [0.0f32; 6];
        for x in 0..w {
            let i = y * w + x;
            let px = x as f32 + flow.u[i];
            let py = y as f32 + flow.v[i];
            sample_many(&planes, w, h, px, py, &mut s);
            let inside = px >= 0.0 && py >= 0.0 && px <= (w - 1) as f32 && py <= (h - 1) as f32;
            valid[x] = if inside { 1.0 } else { 0.0 };
            // Spatial derivatives averaged over both images (symmetric, better conditioned); temporal ones
            // are the differences.
            it[x] = s[0] - i0.data[i];
            ix[x] = 0.5 * (s[1] + i0x[i]);
            iy[x] = 0.5 * (s[2] + i0y[i]);
            ixt[x] = s[1] - i0x[i];
            iyt[x] = s[2] - i0y[i];
            ixx[x] = 0.5 * (s[3] + i0xx[i]);
            ixy[x] = 0.5 * (s[4] + i0xy[i]);
            iyy[x] = 0.5 * (s[5] + i0yy[i]);
        }
    });
    d
}

/// The 2x2 system of one pixel: A [du dv]^T = b, before the smoothness coupling.
#[derive(Clone, Copy, Default)]
struct Local {
    a11: f32,
    a12: f32,
    a22: f32,
    b1: f32,
    b2: f32,
}

/// Rows per parallel task: a row of a coarse level is too little work to be worth a task of its own.
const MIN_ROWS: usize = 8;

/// Refines `flow` in place (images on the [0,255] scale).
pub(super) fn refine(i0: &Gray, i1: &Gray, flow: &mut Flow, p: &RefineParams) {
    let (w, h) = (i0.width, i0.height);
    if w == 0 || h == 0 || p.outer == 0 {
        return;
    }
    let d = data_terms(i0, i1, flow);
    let n = w * h;
    // The unknowns are kept as the full flow (base + increment): the smoothness term reads it directly.
    let mut tu = flow.u.clone();
    let mut tv = flow.v.clone();
    let mut local = vec![Local::default(); n];
    let mut smooth = vec![0.0f32; n];
    for _ in 0..p.outer {
        // Robust data weights at the current increment.
        local.par_chunks_mut(w).with_min_len(MIN_ROWS).enumerate().for_each(|(y, row)| {
            for (x, l) in row.iter_mut().enumerate() {
                let i = y * w + x;
                *l = linearise(&d, i, tu[i] - flow.u[i], tv[i] - flow.v[i], p);
            }
        });
        // Robust smoothness weight per pixel from forward differences of the full flow; it is the weight
        // of the edges to the right and below neighbours.
        smooth.par_chunks_mut(w).with_min_len(MIN_ROWS).enumerate().for_each(|(y, row)| {
            for (x, s) in row.iter_mut().enumerate() {
                let i = y * w + x;
                let mut g2 = 0.0f32;
                if x + 1 < w {
                    g2 += (tu[i + 1] - tu[i]).powi(2) + (tv[i + 1] - tv[i]).powi(2);
                }
                if y + 1 < h {
                    g2 += (tu[i + w] - tu[i]).powi(2) + (tv[i + w] - tv[i]).powi(2);
                }
                *s = p.alpha * 0.5 / (g2 + EPS2).sqrt();
            }
        });
        for _ in 0..p.inner {
            for colour in 0..2 {
                sor_half_sweep(flow, &local, &smooth, &mut tu, &mut tv, colour);
            }
        }
    }
    flow.u = tu;
    flow.v = tv;
}

/// Linearised, robustly weighted data terms of pixel `i` at increment (du, dv).
fn linearise(d: &Data, i: usize, du: f32, dv: f32, p: &RefineParams) -> Local {
    if d.valid[i] == 0.0 {
        return Local::default();
    }
    let (ix, iy, it) = (d.ix[i], d.iy[i], d.it[i]);
    let (ixx, ixy, iyy, ixt, iyt) = (d.ixx[i], d.ixy[i], d.iyy[i], d.ixt[i], d.iyt[i]);
    // Normalisation (the paper's beta): each constancy term divided by its squared gradient.
    let ni = 1.0 / (ix * ix + iy * iy + ZETA2);
    let ngx = 1.0 / (ixx * ixx + ixy * ixy + ZETA2);
    let ngy = 1.0 / (ixy * ixy + iyy * iyy + ZETA2);
    let ri = it + ix * du + iy * dv;
    let rgx = ixt + ixx * du + ixy * dv;
    let rgy = iyt + ixy * du + iyy * dv;
    // Charbonnier derivative Psi'(s^2) = 1 / (2 sqrt(s^2 + eps^2)), times the term weight and normaliser.
    let wi = p.delta * 0.5 / (ri * ri * ni + EPS2).sqrt() * ni;
    let wg = p.gamma * 0.5 / ((rgx * rgx * ngx + rgy * rgy * ngy) + EPS2).sqrt();
    let (wgx, wgy) = (wg * ngx, wg * ngy);
    Local {
        a11: wi * ix * ix + wgx * ixx * ixx + wgy * ixy * ixy,
        a12: wi * ix * iy + wgx * ixx * ixy + wgy * ixy * iyy,
        a22: wi * iy * iy + wgx * ixy * ixy + wgy * iyy * iyy,
        b1: -(wi * ix * it + wgx * ixx * ixt + wgy * ixy * iyt),
        b2: -(wi * iy * it + wgx * ixy * ixt + wgy * iyy * iyt),
    }
}

/// Updates the pixels with (x + y) % 2 == colour. They only read pixels of the other colour (unchanged in
/// this half-sweep, read from a snapshot), so rows can run in parallel and the result is deterministic.
///
/// Pixel i solves (A11 + sum w) du_i = b1 + sum_j w_ij (tu_j - u_i) - A12 dv_i (likewise for dv), where
/// tu = u + du is the current full flow and u the flow being refined.
fn sor_half_sweep(base: &Flow, local: &[Local], smooth: &[f32], tu: &mut [f32], tv: &mut [f32], colour: usize) {
    let (w, h) = (base.width, base.height);
    let su = tu.to_vec();
    let sv = tv.to_vec();
    tu.par_chunks_mut(w).zip(tv.par_chunks_mut(w)).with_min_len(MIN_ROWS).enumerate().for_each(|(y, (ru, rv))| {
        for x in ((colour + y) % 2..w).step_by(2) {
            let i = y * w + x;
            // Neighbours and edge weights: right/below use this pixel's weight, left/above the neighbour's.
            let (mut wsum, mut nu, mut nv) = (0.0f32, 0.0f32, 0.0f32);
            if x + 1 < w {
                let wt = smooth[i];
                (wsum, nu, nv) = (wsum + wt, nu + wt * su[i + 1], nv + wt * sv[i + 1]);
            }
            if x > 0 {
                let wt = smooth[i - 1];
                (wsum, nu, nv) = (wsum + wt, nu + wt * su[i - 1], nv + wt * sv[i - 1]);
            }
            if y + 1 < h {
                let wt = smooth[i];
                (wsum, nu, nv) = (wsum + wt, nu + wt * su[i + w], nv + wt * sv[i + w]);
            }
            if y > 0 {
                let wt = smooth[i - w];
                (wsum, nu, nv) = (wsum + wt, nu + wt * su[i - w], nv + wt * sv[i - w]);
            }
            let l = local[i];
            let (u0, v0) = (base.u[i], base.v[i]);
            let den_u = l.a11 + wsum;
            let den_v = l.a22 + wsum;
            if den_u > 0.0 && den_v > 0.0 {
                let (du, dv) = (ru[x] - u0, rv[x] - v0);
                let du = du + OMEGA * ((l.b1 + nu - wsum * u0 - l.a12 * dv) / den_u - du);
                let dv = dv + OMEGA * ((l.b2 + nv - wsum * v0 - l.a12 * du) / den_v - dv);
                ru[x] = u0 + du;
                rv[x] = v0 + dv;
            }
        }
    });
}
