//! Dense Inverse Search (Kroeger, Timofte, Dai & Van Gool, "Fast Optical Flow using Dense Inverse Search",
//! ECCV 2016): coarse to fine, a grid of patches per level, each patch's displacement found by
//! inverse-compositional Gauss-Newton, patches blended into a dense field, then variational refinement.

use rayon::prelude::*;

use super::field::{bilinear, floor_i, Flow, Gray};
use super::pyramid;
use super::refine::{self, RefineParams};

/// Speed/quality presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quality {
    Ultrafast,
    Fast,
    Medium,
    Fine,
}

impl Quality {
    pub const ALL: [Quality; 4] = [Quality::Ultrafast, Quality::Fast, Quality::Medium, Quality::Fine];

    /// Parses a preset name as `name` writes it (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.name().eq_ignore_ascii_case(s.trim()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Quality::Ultrafast => "ultrafast",
            Quality::Fast => "fast",
            Quality::Medium => "medium",
            Quality::Fine => "fine",
        }
    }

    /// The parameters behind the preset (OpenCV's preset values with an 8-pixel patch; Fine is ours).
    pub fn params(self) -> DisParams {
        let (finest_scale, patch_stride, gd_iterations, refine_iterations) = match self {
            Quality::Ultrafast => (2, 4, 12, 0),
            Quality::Fast => (2, 4, 16, 5),
            Quality::Medium => (1, 3, 25, 5),
            Quality::Fine => (0, 2, 40, 10),
        };
        DisParams { finest_scale, patch_size: 8, patch_stride, gd_iterations, refine_iterations, ..DisParams::DEFAULT }
    }
}

/// Every knob of `dis_with`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DisParams {
    /// Pyramid level the patch search stops at (0 = full resolution); finer levels get the upsampled flow.
    pub finest_scale: usize,
    /// Side of the square patches, pixels.
    pub patch_size: usize,
    /// Distance between neighbouring patches, pixels (at most `patch_size`).
    pub patch_stride: usize,
    /// Gauss-Newton iterations per patch.
    pub gd_iterations: usize,
    /// Fixed-point iterations of the variational refinement per level (0 = none).
    pub refine_iterations: usize,
    /// SOR sweeps per fixed-point iteration.
    pub sor_iterations: usize,
    /// Smoothness weight.
    pub alpha: f32,
    /// Gradient-constancy weight.
    pub gamma: f32,
    /// Intensity-constancy weight.
    pub delta: f32,
}

impl DisParams {
    /// OpenCV's refinement defaults (alpha 20, gamma 10, delta 5, 5 SOR sweeps); intensities are scaled to
    /// [0,255] inside `dis_with` so these weights mean what they mean there.
    pub const DEFAULT: DisParams = DisParams {
        finest_scale: 1,
        patch_size: 8,
        patch_stride: 3,
        gd_iterations: 25,
        refine_iterations: 5,
        sor_iterations: 5,
        alpha: 20.0,
        gamma: 10.0,
        delta: 5.0,
    };
}

/// DIS flow from `a` to `b`: for each pixel x of `a`, `b`'s matching point is x + flow(x).
///
/// Images smaller than one patch get the zero field. Deterministic: the result does not depend on the
/// number of threads.
pub fn dis(a: &Gray, b: &Gray, quality: Quality) -> Flow {
    dis_with(a, b, &quality.params())
}

/// `dis` with explicit parameters.
pub fn dis_with(a: &Gray, b: &Gray, params: &DisParams) -> Flow {
    assert!(
        a.width == b.width && a.height == b.height,
        "dis: images differ in size ({}x{} vs {}x{})",
        a.width,
        a.height,
        b.width,
        b.height
    );
    assert!(a.data.len() == a.width * a.height && b.data.len() == b.width * b.height, "dis: image data size");
    let (w, h) = (a.width, a.height);
    let ps = params.patch_size.max(2);
    let stride = params.patch_stride.clamp(1, ps);
    if w < ps || h < ps {
        return Flow::zeros(w, h);
    }
    // Work on the [0,255] scale: the densification weight 1/max(1, |error|) and OpenCV's refinement weights
    // are defined there.
    // Non-finite pixels (a caller's NaN) read as black rather than poisoning the whole field.
    let scale = |g: &Gray| Gray {
        width: w,
        height: h,
        data: g.data.iter().map(|&v| if v.is_finite() { v * 255.0 } else { 0.0 }).collect(),
    };
    let coarsest = coarsest_level(w, h, ps);
    let finest = params.finest_scale.min(coarsest);
    let pyr0 = pyramid::build(&scale(a), coarsest + 1);
    let pyr1 = pyramid::build(&scale(b), coarsest + 1);

    let refine_params = RefineParams {
        outer: params.refine_iterations,
        inner: params.sor_iterations,
        alpha: params.alpha,
        gamma: params.gamma,
        delta: params.delta,
    };
    let mut flow = Flow::zeros(pyr0[coarsest].width, pyr0[coarsest].height);
    for level in (finest..=coarsest).rev() {
        let (i0, i1) = (&pyr0[level], &pyr1[level]);
        if level < coarsest {
            flow = pyramid::upsample_flow(&flow, i0.width, i0.height);
        }
        flow = level_flow(i0, i1, &flow, ps, stride, params.gd_iterations);
        if refine_params.outer > 0 {
            refine::refine(i0, i1, &mut flow, &refine_params);
        }
    }
    for level in (0..finest).rev() {
        flow = pyramid::upsample_flow(&flow, pyr0[level].width, pyr0[level].height);
    }
    flow
}

/// The coarsest level: about where the longer side is 4 patches (as OpenCV picks it, so the coarse search
/// sees large motions), but never so coarse that the shorter side is under 2 patches (under 1 for images
/// that small already).
fn coarsest_level(w: usize, h: usize, ps: usize) -> usize {
    let longest = w.max(h) as f64;
    let mut level = (longest / (4.0 * ps as f64)).log2().round().max(0.0) as usize;
    let min_side = |l: usize| {
        let (mut lw, mut lh) = (w, h);
        for _ in 0..l {
            lw = lw.div_ceil(2);
            lh = lh.div_ceil(2);
        }
        lw.min(lh)
    };
    while level > 0 && min_side(level) < 2 * ps {
        level -= 1;
    }
    level
}

/// Top-left corners of the patches along an axis of length `n`: every `stride`, plus one flush with the far
/// border so every pixel is covered.
fn grid(n: usize, ps: usize, stride: usize) -> Vec<usize> {
    if n < ps {
        return Vec::new();
    }
    let mut out: Vec<usize> = (0..=n - ps).step_by(stride).collect();
    if out.last() != Some(&(n - ps)) {
        out.push(n - ps);
    }
    out
}

/// One pyramid level: patch search initialised from `init`, then densification.
fn level_flow(i0: &Gray, i1: &Gray, init: &Flow, ps: usize, stride: usize, iters: usize) -> Flow {
    let (w, h) = (i0.width, i0.height);
    let xs = grid(w, ps, stride);
    let ys = grid(h, ps, stride);
    let (gx, gy) = pyramid::gradients(&i0.data, w, h);
    let half = (ps as f32 - 1.0) * 0.5;
    let search = PatchSearch { i0, i1, gx: &gx, gy: &gy, ps, iters };
    // One Vec in grid order, filled by an order-preserving parallel map: deterministic.
    let disp: Vec<(f32, f32)> = (0..xs.len() * ys.len())
        .into_par_iter()
        .map(|k| {
            let (x0, y0) = (xs[k % xs.len()], ys[k / xs.len()]);
            let start = init.sample(x0 as f32 + half, y0 as f32 + half);
            search.run(x0, y0, start)
        })
        .collect();
    densify(i0, i1, &xs, &ys, &disp, ps)
}

/// What one patch's inverse search reads.
struct PatchSearch<'a> {
    i0: &'a Gray,
    i1: &'a Gray,
    gx: &'a [f32],
    gy: &'a [f32],
    ps: usize,
    iters: usize,
}

impl PatchSearch<'_> {
    /// Displacement of the patch at (x0, y0) of `i0`, refined from `start`.
    ///
    /// Inverse compositional: the Jacobian and 2x2 Hessian come from the template (first image) once; each
    /// iteration only samples the second image. Patches are mean-normalised (residual minus its mean, and
    /// so the template gradients minus theirs) for robustness to brightness changes, as in the paper.
    fn run(&self, x0: usize, y0: usize, start: (f32, f32)) -> (f32, f32) {
        let (w, ps) = (self.i0.width, self.ps);
        let n = ps * ps;
        let mut t = Vec::with_capacity(n);
        let mut tx = Vec::with_capacity(n);
        let mut ty = Vec::with_capacity(n);
        for j in 0..ps {
            let row = (y0 + j) * w + x0;
            t.extend_from_slice(&self.i0.data[row..row + ps]);
            tx.extend_from_slice(&self.gx[row..row + ps]);
            ty.extend_from_slice(&self.gy[row..row + ps]);
        }
        let inv_n = 1.0 / n as f32;
        let mx = tx.iter().sum::<f32>() * inv_n;
        let my = ty.iter().sum::<f32>() * inv_n;
        let (mut h11, mut h12, mut h22) = (0.0f32, 0.0f32, 0.0f32);
        for (gx, gy) in tx.iter_mut().zip(ty.iter_mut()) {
            *gx -= mx;
            *gy -= my;
            h11 += *gx * *gx;
            h12 += *gx * *gy;
            h22 += *gy * *gy;
        }
        let trace = h11 + h22;
        if trace.is_nan() || trace <= 1e-6 {
            // Flat patch: nothing to match, keep the coarser level's guess.
            return start;
        }
        // A little Tikhonov damping keeps edge patches (aperture problem, near-singular Hessian) from
        // sliding along the edge while still letting them move across it.
        let damp = 1e-3 * trace;
        let (h11, h22) = (h11 + damp, h22 + damp);
        let det = h11 * h22 - h12 * h12;
        let (a11, a12, a22) = (h22 / det, -h12 / det, h11 / det);

        let mut resid = vec![0.0f32; n];
        let err0 = self.residual(x0, y0, start, &t, &mut resid);
        let mut d = start;
        for _ in 0..self.iters {
            self.residual(x0, y0, d, &t, &mut resid);
            // sum of centred gradient * residual; the residual's own mean drops out because the centred
            // gradients sum to zero.
            let (mut b1, mut b2) = (0.0f32, 0.0f32);
            for ((r, gx), gy) in resid.iter().zip(&tx).zip(&ty) {
                b1 += gx * r;
                b2 += gy * r;
            }
            let du = a11 * b1 + a12 * b2;
            let dv = a12 * b1 + a22 * b2;
            d = (d.0 - du, d.1 - dv);
            if du * du + dv * dv < 1e-6 {
                break;
            }
        }
        let err = self.residual(x0, y0, d, &t, &mut resid);
        let moved = ((d.0 - start.0).powi(2) + (d.1 - start.1).powi(2)).sqrt();
        // Keep the initial guess when the search made things worse or ran off (farther than a patch).
        if err <= err0 && moved <= ps as f32 && d.0.is_finite() && d.1.is_finite() {
            d
        } else {
            start
        }
    }

    /// Fills `resid` with (I1(x + d) - T(x)) for the patch and returns the sum of squares of the
    /// mean-removed residual.
    fn residual(&self, x0: usize, y0: usize, d: (f32, f32), t: &[f32], resid: &mut [f32]) -> f32 {
        let (w, h, ps) = (self.i1.width, self.i1.height, self.ps);
        let img = &self.i1.data;
        // Every pixel of the patch shares the same fraction; integer indices clamp per pixel, which gives
        // exactly the edge-clamped bilinear value.
        let (px, py) = (x0 as f32 + d.0, y0 as f32 + d.1);
        let (bx, by) = (floor_i(px), floor_i(py));
        let (fx, fy) = (px - bx as f32, py - by as f32);
        let clampi = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
        let mut sum = 0.0f32;
        for j in 0..ps {
            let r0 = clampi(by + j as isize, h) * w;
            let r1 = clampi(by + j as isize + 1, h) * w;
            for i in 0..ps {
                let c0 = clampi(bx + i as isize, w);
                let c1 = clampi(bx + i as isize + 1, w);
                let top = img[r0 + c0] + fx * (img[r0 + c1] - img[r0 + c0]);
                let bot = img[r1 + c0] + fx * (img[r1 + c1] - img[r1 + c0]);
                let k = j * ps + i;
                resid[k] = top + fy * (bot - top) - t[k];
                sum += resid[k];
            }
        }
        let mean = sum / (ps * ps) as f32;
        resid.iter().map(|r| (r - mean) * (r - mean)).sum()
    }
}

/// For each coordinate along an axis, the range of patch indices whose patch covers it.
fn cover(n: usize, starts: &[usize], ps: usize) -> Vec<(usize, usize)> {
    (0..n)
        .map(|x| {
            let lo = starts.partition_point(|&s| s + ps <= x);
            let hi = starts.partition_point(|&s| s <= x);
            (lo, hi)
        })
        .collect()
}

/// Dense flow as the per-pixel weighted mean of the covering patches' displacements, each weighted by
/// 1 / max(1, |I1(x + d) - I0(x)|) on the [0,255] scale (paper eq. 3): a patch that explains this pixel
/// badly counts less.
fn densify(i0: &Gray, i1: &Gray, xs: &[usize], ys: &[usize], disp: &[(f32, f32)], ps: usize) -> Flow {
    let (w, h) = (i0.width, i0.height);
    let cx = cover(w, xs, ps);
    let cy = cover(h, ys, ps);
    let nx = xs.len();
    let mut out = Flow::zeros(w, h);
    out.u.par_chunks_mut(w).zip(out.v.par_chunks_mut(w)).enumerate().for_each(|(y, (ru, rv))| {
        let (ylo, yhi) = cy[y];
        for (x, (pu, pv)) in ru.iter_mut().zip(rv.iter_mut()).enumerate() {
            let (xlo, xhi) = cx[x];
            let base = i0.data[y * w + x];
            let (mut su, mut sv, mut sw) = (0.0f32, 0.0f32, 0.0f32);
            for ky in ylo..yhi {
                for &(du, dv) in &disp[ky * nx + xlo..ky * nx + xhi] {
                    let err = bilinear(&i1.data, w, h, x as f32 + du, y as f32 + dv) - base;
                    let wgt = 1.0 / err.abs().max(1.0);
                    su += wgt * du;
                    sv += wgt * dv;
                    sw += wgt;
                }
            }
            if sw > 0.0 {
                *pu = su / sw;
                *pv = sv / sw;
            }
        }
    });
    out
}
