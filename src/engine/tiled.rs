//! The objective's exact tiled evaluation: the loss and gradient of the whole picture computed
//! one tile at a time, so the network's activations are only ever held for one tile.
//!
//! The style loss needs each layer's Gram matrix of the whole picture before any gradient can be
//! taken, and the Gram matrix is a sum over pixels. So a first pass runs the network forward on
//! each tile (its core plus a halo as wide as the deepest layer's receptive field, see
//! [`super::tiles`]) and adds up `F·Fᵀ` over the core's features; the cores' features equal the
//! whole picture's, so the sum is the whole picture's Gram matrix. A second pass runs each tile
//! again, takes the gradient at its core's features (the style term with the global Gram
//! difference, `β·w·(Ĝ − Â)·F / (nC²·M)`; the content term, which is local), and back-propagates
//! it through the tile to the tile's pixels, halo included; the tiles' input gradients add up to
//! the whole picture's. Total variation and the temporal term are taken on the whole image as
//! usual: they are cheap and need no network.

use candle_core::{DType, Tensor};

use super::loss::LossAndGrad;
use super::objective::{LossParts, Objective};
use super::tiles::{alignment, halo, tiles, Tile};
use crate::error::Result;

/// Where a tile's core meets the part of a layer the losses read: rows and columns as
/// `(offset in the tile's activation, offset in the loss's view of the whole activation, length)`.
#[derive(Debug, Clone, Copy)]
struct Region {
    rows: (usize, usize, usize),
    cols: (usize, usize, usize),
}

impl Region {
    fn pixels(&self) -> usize {
        self.rows.2 * self.cols.2
    }

    fn of_tile(&self, a: &Tensor) -> candle_core::Result<Tensor> {
        a.narrow(2, self.rows.0, self.rows.2)?.narrow(3, self.cols.0, self.cols.2)
    }

    fn of_whole(&self, a: &Tensor) -> candle_core::Result<Tensor> {
        a.narrow(2, self.rows.1, self.rows.2)?.narrow(3, self.cols.1, self.cols.2)
    }

    /// `g` (the core's gradient) placed in zeros of the tile's activation `a`.
    fn embed(&self, g: &Tensor, a: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = a.dims4()?;
        g.pad_with_zeros(2, self.rows.0, h - self.rows.0 - self.rows.2)?.pad_with_zeros(
            3,
            self.cols.0,
            w - self.cols.0 - self.cols.2,
        )
    }
}

/// The unnormalised Gram matrix `F·Fᵀ` of `[1, C, H, W]`.
fn gram_sum(a: &Tensor) -> candle_core::Result<Tensor> {
    let (_, c, h, w) = a.dims4()?;
    let a = a.contiguous()?;
    let g = if a.device().is_cpu() && a.dtype() == DType::F32 {
        a.apply_op1_no_bwd(&super::gram::Gram)?
    } else {
        let f = a.reshape((c, h * w))?;
        (f.matmul(&f.t()?)? / (h * w) as f64)?
    };
    g * (h * w) as f64
}

/// `alpha · D · F` as an activation `[1, C, H, W]`, for `D` `[C, C]` and `a` `[1, C, H, W]`.
fn gram_gradient(d: &Tensor, a: &Tensor, alpha: f64) -> candle_core::Result<Tensor> {
    let a = a.contiguous()?;
    if a.device().is_cpu() && a.dtype() == DType::F32 && d.dtype() == DType::F32 {
        return d.contiguous()?.apply_op2_no_bwd(&a, &super::gram::GramGradient { alpha });
    }
    let (_, c, h, w) = a.dims4()?;
    (d.matmul(&a.reshape((c, h * w))?)? * alpha)?.reshape((1, c, h, w))
}

impl Objective<'_> {
    /// [`Objective::evaluate`] tile by tile, cores of `core` pixels a side (see the module doc).
    pub(super) fn evaluate_tiled(&self, image: &Tensor, core: usize) -> Result<(LossParts, Tensor)> {
        let padded = self.border.pad(image)?;
        let mut parts = LossParts::default();
        let Some(deepest) = self.conv_count.checked_sub(1) else {
            return self.add_image_losses(image, image.zeros_like()?, parts);
        };
        let (_, _, hp, wp) = padded.dims4()?;
        let arch = self.net.arch();
        let convs = arch.convs();
        let grid = tiles(hp, wp, core, alignment(arch, deepest), halo(arch, deepest));
        // Where tile `t`'s core meets the part of conv `index` the losses read (the activation
        // less the mirrored border's margin); `None` when it does not.
        let region = |t: &Tile, index: usize| -> Option<Region> {
            let s = 1usize << (convs[index].block - 1);
            let (rows, cols) = (hp / s, wp / s);
            let m = self.border.margin(index);
            let ((r_off, r_len), (c_off, c_len)) = t.core_features(s, rows, cols);
            let span = |crop0: usize, off: usize, len: usize, total: usize| {
                let start = (crop0 / s + off).max(m);
                let end = (crop0 / s + off + len).min(total.saturating_sub(m));
                (start < end).then(|| (start - crop0 / s, start - m, end - start))
            };
            Some(Region {
                rows: span(t.crop_rows.0, r_off, r_len, rows)?,
                cols: span(t.crop_cols.0, c_off, c_len, cols)?,
            })
        };
        let missing = |index: usize| crate::error::Error::Internal(format!("internal: activation {index} missing"));

        // Pass 1: the whole picture's Gram matrices, summed over the cores.
        let mut sums: Vec<Option<Tensor>> = vec![None; self.style.layers.len()];
        if !sums.is_empty() {
            for t in &grid {
                let trace = self.net.forward(&crop_of(&padded, t)?)?;
                for (slot, (index, _, _)) in sums.iter_mut().zip(&self.style.layers) {
                    let Some(r) = region(t, *index) else { continue };
                    let a = trace.activation(*index).ok_or_else(|| missing(*index))?;
                    let g = gram_sum(&r.of_tile(a)?)?;
                    *slot = Some(match slot.take() {
                        Some(acc) => (acc + g)?,
                        None => g,
                    });
                }
            }
        }
        // The style terms' values and the Gram differences their gradients need.
        let mut style: Vec<(usize, Tensor, f64)> = Vec::new();
        for (sum, (index, target, w)) in sums.into_iter().zip(&self.style.layers) {
            let s = 1usize << (convs[*index].block - 1);
            let m = self.border.margin(*index);
            let pixels = ((hp / s).saturating_sub(2 * m) * (wp / s).saturating_sub(2 * m)) as f64;
            let c = target.dims()[0] as f64;
            let Some(sum) = sum else { continue };
            let diff = ((sum / pixels)? - target)?;
            let scale = self.style_weight * w;
            let value = diff.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()? / (4.0 * c * c);
            parts.style += scale * value;
            style.push((*index, diff, scale / (c * c * pixels)));
        }

        // Pass 2: each tile's gradient at its core's features, back to its pixels.
        let mut grad = padded.zeros_like()?;
        for t in &grid {
            let trace = self.net.forward(&crop_of(&padded, t)?)?;
            let mut grads: Vec<Option<Tensor>> = vec![None; self.conv_count];
            let mut add = |index: usize, g: Tensor| -> candle_core::Result<()> {
                grads[index] = Some(match grads[index].take() {
                    Some(acc) => (acc + g)?,
                    None => g,
                });
                Ok(())
            };
            for (index, target, w) in &self.content {
                let Some(r) = region(t, *index) else { continue };
                let a = trace.activation(*index).ok_or_else(|| missing(*index))?;
                let n = target.elem_count() as f64;
                let diff = (r.of_tile(a)? - r.of_whole(target)?)?;
                let scale = self.content_weight * w;
                let l = LossAndGrad {
                    value: diff.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()? / (4.0 * n),
                    grad: (diff * (scale / (2.0 * n)))?,
                };
                parts.content += scale * l.value;
                add(*index, r.embed(&l.grad, a)?)?;
            }
            for (index, diff, alpha) in &style {
                let Some(r) = region(t, *index) else { continue };
                if r.pixels() == 0 {
                    continue;
                }
                let a = trace.activation(*index).ok_or_else(|| missing(*index))?;
                let g = gram_gradient(diff, &r.of_tile(a)?, *alpha)?;
                add(*index, r.embed(&g, a)?)?;
            }
            if grads.iter().all(Option::is_none) {
                continue;
            }
            let back = self.net.backward(&trace, &grads)?;
            let ranges = [0..1, 0..3, t.crop_rows.0..t.crop_rows.1, t.crop_cols.0..t.crop_cols.1];
            let here = crop_of(&grad, t)?;
            grad = grad.slice_assign(&ranges, &(here + back)?)?;
        }
        let grad = self.border.fold(grad)?;
        self.add_image_losses(image, grad, parts)
    }
}

fn crop_of(x: &Tensor, t: &Tile) -> candle_core::Result<Tensor> {
    x.narrow(2, t.crop_rows.0, t.crop_rows.1 - t.crop_rows.0)?.narrow(3, t.crop_cols.0, t.crop_cols.1 - t.crop_cols.0)
}
