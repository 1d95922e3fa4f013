//! The Gatys losses as pure functions of tensors, each with its gradient.
//!
//! Formulas (the original notebook's, exactly):
//! - content: `J_c = Σ(a_C − a_G)² / (4·nH·nW·nC)`
//! - style, per layer: `J = Σ(G_S − G_G)² / (4·nC²·(nH·nW)²)` with `G = F·Fᵀ`, `F` the `[nC, nH·nW]`
//!   activation matrix.
//!
//! Gram matrices are kept divided by `M = nH·nW` ([`gram`]); then the style loss is
//! `Σ(Ĝ_S − Ĝ_G)² / (4·nC²)`, identical to the notebook when style and output have the same size,
//! and still meaningful when the style image has another size (style scale).

use candle_core::{DType, Result, Tensor};

/// A loss value and its gradient with respect to the tensor the loss was taken of.
#[derive(Debug, Clone)]
pub struct LossAndGrad {
    pub value: f64,
    pub grad: Tensor,
}

fn scalar(t: &Tensor) -> Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

/// Reshapes a `[1, nC, nH, nW]` activation to `[nC, nH·nW]`.
fn features(a: &Tensor) -> Result<Tensor> {
    let (_, c, h, w) = a.dims4()?;
    a.reshape((c, h * w))
}

/// The normalised Gram matrix `Ĝ = F·Fᵀ / (nH·nW)` of a `[1, nC, nH, nW]` activation.
pub fn gram(a: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = a.dims4()?;
    let f = features(a)?;
    f.matmul(&f.t()?)? / (h * w) as f64
}

/// Content loss of generated activation `a_g` against the content target `a_c`.
pub fn content_loss(a_g: &Tensor, a_c: &Tensor) -> Result<LossAndGrad> {
    let n = a_g.elem_count() as f64;
    let diff = (a_g - a_c)?;
    let value = scalar(&diff.sqr()?.sum_all()?)? / (4.0 * n);
    // d/da_G Σ(a_G − a_C)²/(4n) = (a_G − a_C)/(2n)
    let grad = (diff / (2.0 * n))?;
    Ok(LossAndGrad { value, grad })
}

/// Style loss of generated activation `a_g` against a target normalised Gram matrix `target`.
pub fn style_loss(a_g: &Tensor, target: &Tensor) -> Result<LossAndGrad> {
    style_loss_scaled(a_g, target, 1.0)
}

/// [`style_loss`] with the gradient multiplied by `scale` (the value is not). On the CPU in f32
/// both products run as the parallel kernels of [`super::gram`], the scale folded into the
/// gradient's product; elsewhere as candle's ops.
pub fn style_loss_scaled(a_g: &Tensor, target: &Tensor, scale: f64) -> Result<LossAndGrad> {
    let (_, c, h, w) = a_g.dims4()?;
    if a_g.device().is_cpu() && a_g.dtype() == DType::F32 && target.dtype() == DType::F32 {
        let a = a_g.contiguous()?;
        let (m, c2) = ((h * w) as f64, (c * c) as f64);
        let diff = (a.apply_op1_no_bwd(&super::gram::Gram)? - target)?.contiguous()?;
        let value = scalar(&diff.sqr()?.sum_all()?)? / (4.0 * c2);
        let grad = diff.apply_op2_no_bwd(&a, &super::gram::GramGradient { alpha: scale / (c2 * m) })?;
        return Ok(LossAndGrad { value, grad });
    }
    let l = style_loss_unscaled(a_g, target)?;
    match scale {
        1.0 => Ok(l),
        _ => Ok(LossAndGrad { value: l.value, grad: (l.grad * scale)? }),
    }
}

fn style_loss_unscaled(a_g: &Tensor, target: &Tensor) -> Result<LossAndGrad> {
    let (_, c, h, w) = a_g.dims4()?;
    let m = (h * w) as f64;
    let c2 = (c * c) as f64;
    let f = features(a_g)?;
    let diff = (f.matmul(&f.t()?)? / m - target)?;
    let value = scalar(&diff.sqr()?.sum_all()?)? / (4.0 * c2);
    // With Ĝ = F·Fᵀ/M: dJ/dF = 4·(Ĝ − Â)·F / (4·nC²·M) = (Ĝ − Â)·F / (nC²·M).
    let grad = (diff.matmul(&f)? / (c2 * m))?.reshape(a_g.shape())?;
    Ok(LossAndGrad { value, grad })
}

/// Total variation of an image `[1, C, H, W]`: the mean over `C·H·W` of the squared differences
/// between vertically and horizontally neighbouring pixels.
pub fn tv_loss(x: &Tensor) -> Result<LossAndGrad> {
    let (_, _, h, w) = x.dims4()?;
    let n = x.elem_count() as f64;
    let mut value = 0.0;
    let mut grad = x.zeros_like()?;
    // For differences D_i = x_{i+1} − x_i along an axis: dΣD²/dx_i = 2·D_{i−1} − 2·D_i.
    for (axis, len) in [(2usize, h), (3usize, w)] {
        if len < 2 {
            continue;
        }
        let d = (x.narrow(axis, 1, len - 1)? - x.narrow(axis, 0, len - 1)?)?;
        value += scalar(&d.sqr()?.sum_all()?)?;
        let from_prev = d.pad_with_zeros(axis, 1, 0)?;
        let from_next = d.pad_with_zeros(axis, 0, 1)?;
        grad = (grad + (from_prev - from_next)?)?;
    }
    Ok(LossAndGrad { value: value / n, grad: (grad * (2.0 / n))? })
}

/// Temporal loss of an image `x` `[1, C, H, W]` (values in [0,1]) against earlier results warped
/// into this frame: `Σ_j Σ c_j·(s·x − s·ω_j)² / N` with `N = C·H·W` and `s = 255`, so pixel
/// differences count on the 0..255 scale the other losses use (Ruder et al. 2016, eq. 7 and 8).
/// Each target is `(ω_j, c_j)`, `c_j` the per-pixel weight `[1, 1, H, W]` (broadcast over
/// channels): 1 where the flow is reliable, 0 elsewhere, already reduced for long-term terms.
pub fn temporal_loss(x: &Tensor, targets: &[(Tensor, Tensor)]) -> Result<LossAndGrad> {
    let n = x.elem_count() as f64;
    let s2 = PIXEL_SCALE * PIXEL_SCALE;
    let mut value = 0.0;
    let mut grad = x.zeros_like()?;
    for (omega, c) in targets {
        let diff = (x - omega)?;
        let weighted = diff.broadcast_mul(c)?;
        value += scalar(&(&weighted * &diff)?.sum_all()?)?;
        // d/dx Σ c·s²(x − ω)²/N = 2·s²·c·(x − ω)/N
        grad = (grad + weighted)?;
    }
    Ok(LossAndGrad { value: value * s2 / n, grad: (grad * (2.0 * s2 / n))? })
}

/// Image values are in [0,1]; the temporal loss measures them on the 0..255 scale.
const PIXEL_SCALE: f64 = 255.0;

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f64], shape: (usize, usize, usize, usize)) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape, &Device::Cpu).unwrap()
    }

    fn vals(t: &Tensor) -> Vec<f64> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    // All expected numbers below were worked out by hand; the working is in the comments.

    #[test]
    fn gram_is_f_ft_over_m() {
        // F = [[1,2],[3,4]] (nC=2, M=2): F·Fᵀ = [[5,11],[11,25]], divided by M=2.
        let g = gram(&t(&[1., 2., 3., 4.], (1, 2, 1, 2))).unwrap();
        assert_eq!(vals(&g), vec![2.5, 5.5, 5.5, 12.5]);
    }

    #[test]
    fn content_loss_by_hand() {
        // Σ(a−0)² = 1+4+9+16 = 30; n = 4 → 30/16 = 1.875. Gradient (a−c)/(2n) = a/8.
        let l = content_loss(&t(&[1., 2., 3., 4.], (1, 1, 2, 2)), &t(&[0.; 4], (1, 1, 2, 2))).unwrap();
        assert!((l.value - 1.875).abs() < 1e-12);
        assert_eq!(vals(&l.grad), vec![0.125, 0.25, 0.375, 0.5]);
    }

    #[test]
    fn style_loss_by_hand() {
        // Ĝ = [[2.5,5.5],[5.5,12.5]] against Â = 0: ΣĜ² = 6.25+30.25+30.25+156.25 = 223;
        // J = 223/(4·nC²) = 223/16 = 13.9375. Gradient Ĝ·F/(nC²·M) = [[19,27],[43,61]]/8.
        let a = t(&[1., 2., 3., 4.], (1, 2, 1, 2));
        let target = Tensor::zeros((2, 2), DType::F64, &Device::Cpu).unwrap();
        let l = style_loss(&a, &target).unwrap();
        assert!((l.value - 13.9375).abs() < 1e-12);
        assert_eq!(vals(&l.grad), vec![2.375, 3.375, 5.375, 7.625]);
        // Same-size style image: equals the notebook's Σ(G_S−G_G)²/(4·nC²·M²) with unnormalised
        // G = [[5,11],[11,25]]: (25+121+121+625)/(4·4·4) = 892/64 = 13.9375.
        assert!((892.0f64 / 64.0 - l.value).abs() < 1e-12);
    }

    /// The f32 CPU path (the parallel kernels of `engine::gram`) against candle's ops in f64 on the
    /// same numbers: value and scaled gradient within f32 rounding.
    #[test]
    fn style_loss_f32_kernels_match_f64() {
        use crate::util::rng::SplitMix64;
        let (c, h, w) = (24, 37, 29);
        let mut rng = SplitMix64::new(5);
        let a = Tensor::from_vec(rng.uniform(c * h * w, 0.0, 3.0), (1, c, h, w), &Device::Cpu).unwrap();
        let target = Tensor::from_vec(rng.uniform(c * c, 0.0, 2.0), (c, c), &Device::Cpu).unwrap();
        let fast = style_loss_scaled(&a, &target, 2.5).unwrap();
        let f64s = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        let slow = style_loss_scaled(&f64s(&a), &f64s(&target), 2.5).unwrap();
        assert!((fast.value - slow.value).abs() <= 1e-5 * slow.value, "{} against {}", fast.value, slow.value);
        let scale: f64 = slow.grad.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        let err: f64 = (f64s(&fast.grad) - &slow.grad).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(err <= 1e-5 * scale, "gradient error {err} against {scale}");
    }

    #[test]
    fn temporal_loss_by_hand() {
        // x = [0.1, 0.2, 0.3, 0.4] (1 channel, 2x2), ω = 0, c = [1, 0, 1, 1]:
        // Σ c·x² = 0.01 + 0.09 + 0.16 = 0.26; · 255² / N(4) = 0.26·65025/4 = 4226.625.
        // Gradient 2·255²·c·x/4 = 32512.5·c·x = [3251.25, 0, 9753.75, 13005].
        let x = t(&[0.1, 0.2, 0.3, 0.4], (1, 1, 2, 2));
        let c = t(&[1., 0., 1., 1.], (1, 1, 2, 2));
        let l = temporal_loss(&x, &[(x.zeros_like().unwrap(), c.clone())]).unwrap();
        assert!((l.value - 4226.625).abs() < 1e-6, "{}", l.value);
        let g = vals(&l.grad);
        for (a, b) in g.iter().zip([3251.25, 0.0, 9753.75, 13005.0]) {
            assert!((a - b).abs() < 1e-6, "{g:?}");
        }
        // Two targets add; with ω = x the second adds nothing. A 3-channel image shares the mask.
        let l2 = temporal_loss(&x, &[(x.zeros_like().unwrap(), c.clone()), (x.clone(), c)]).unwrap();
        assert!((l2.value - l.value).abs() < 1e-9);
        let x3 = t(&[0.5; 12], (1, 3, 2, 2));
        let c3 = t(&[1., 1., 0., 0.], (1, 1, 2, 2));
        // Σ = 3 channels · 2 pixels · 0.25 = 1.5; · 65025 / 12 = 8128.125.
        let l3 = temporal_loss(&x3, &[(x3.zeros_like().unwrap(), c3)]).unwrap();
        assert!((l3.value - 8128.125).abs() < 1e-6, "{}", l3.value);
    }

    #[test]
    fn tv_loss_by_hand() {
        // x = [[0,1],[2,4]]: vertical diffs 2,3; horizontal 1,2 → Σ = 4+9+1+4 = 18; n = 4 → 4.5.
        // Gradient 2/n·(D_prev − D_next) per pixel: (0,0) −4−2 = −6; (0,1) −6+2 = −4;
        // (1,0) 4−4 = 0; (1,1) 6+4 = 10; each /4 (2/n = 0.5 on the doubled terms above).
        let l = tv_loss(&t(&[0., 1., 2., 4.], (1, 1, 2, 2))).unwrap();
        assert!((l.value - 4.5).abs() < 1e-12);
        assert_eq!(vals(&l.grad), vec![-1.5, -1.0, 0.0, 2.5]);
    }
}
