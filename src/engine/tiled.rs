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
use super::vgg::Vgg;
use crate::error::Result;

/// Where a tile's core meets the part of a layer the losses read: rows and columns as
/// `(offset in the tile's activation, offset in the loss's view of the whole activation, length)`.
#[derive(Debug, Clone, Copy)]
struct Region {
    rows: (usize, usize, usize),
    cols: (usize, usize, usize),
}

impl Region {
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

/// Whether a picture of `h` x `w` is evaluated by tiles of cores `core`: only when a core is
/// smaller than the picture the network sees (with the mirrored border).
pub(super) fn tiles_needed(core: Option<usize>, h: usize, w: usize) -> Option<usize> {
    core.filter(|&c| c < h.max(w) + 2 * super::border::REFLECT)
}

/// The tiles of the padded picture `padded` for the layers up to conv `deepest`, and for each the
/// function that says where its core meets a layer's loss view.
struct Grid<'n> {
    tiles: Vec<Tile>,
    rows: usize,
    cols: usize,
    net: &'n Vgg,
}

impl Grid<'_> {
    fn new<'n>(net: &'n Vgg, padded: &Tensor, core: usize, deepest: usize) -> candle_core::Result<Grid<'n>> {
        let (_, _, rows, cols) = padded.dims4()?;
        let arch = net.arch();
        Ok(Grid { tiles: tiles(rows, cols, core, alignment(arch, deepest), halo(arch, deepest)), rows, cols, net })
    }

    fn stride(&self, index: usize) -> usize {
        1usize << (self.net.arch().convs()[index].block - 1)
    }

    /// The pixels of conv `index`'s loss view (the activation less `margin` on each side).
    fn view_pixels(&self, index: usize, margin: usize) -> usize {
        let s = self.stride(index);
        (self.rows / s).saturating_sub(2 * margin) * (self.cols / s).saturating_sub(2 * margin)
    }

    /// Where tile `t`'s core meets conv `index`'s loss view; `None` when it does not.
    fn region(&self, t: &Tile, index: usize, margin: usize) -> Option<Region> {
        let s = self.stride(index);
        let (rows, cols) = (self.rows / s, self.cols / s);
        let ((r_off, r_len), (c_off, c_len)) = t.core_features(s, rows, cols);
        let span = |crop0: usize, off: usize, len: usize, total: usize| {
            let start = (crop0 / s + off).max(margin);
            let end = (crop0 / s + off + len).min(total.saturating_sub(margin));
            (start < end).then(|| (start - crop0 / s, start - margin, end - start))
        };
        Some(Region { rows: span(t.crop_rows.0, r_off, r_len, rows)?, cols: span(t.crop_cols.0, c_off, c_len, cols)? })
    }

    /// Runs the network on each tile and hands `visit` the core features of each conv in
    /// `indexes` (with the margin of its loss view): `visit(k, region, core)` for `indexes[k]`.
    fn for_each_core(
        &self,
        padded: &Tensor,
        indexes: &[(usize, usize)],
        visit: &mut dyn FnMut(usize, Region, Tensor) -> Result<()>,
    ) -> Result<()> {
        for t in &self.tiles {
            let trace = self.net.forward(&crop_of(padded, t)?)?;
            for (k, &(index, margin)) in indexes.iter().enumerate() {
                let Some(r) = self.region(t, index, margin) else { continue };
                let a = trace.activation(index).ok_or_else(|| missing(index))?;
                visit(k, r, r.of_tile(a)?)?;
            }
        }
        Ok(())
    }
}

fn missing(index: usize) -> crate::error::Error {
    crate::error::Error::Internal(format!("internal: activation {index} was not computed"))
}

/// The loss views of convs `layers` (index, margin) of the padded picture `padded`, computed tile
/// by tile: the content targets. Each view is filled in place, one strip of a tile row at a time
/// (no second copy of a view is ever made: at 4096x3072 conv4_2's is 400 MB).
pub(super) fn tiled_views(net: &Vgg, padded: &Tensor, core: usize, layers: &[(usize, usize)]) -> Result<Vec<Tensor>> {
    let Some(deepest) = layers.iter().map(|l| l.0).max() else { return Ok(Vec::new()) };
    let grid = Grid::new(net, padded, core, deepest)?;
    // Per layer: the whole view, and the strip of the current tile row (its first row, pieces).
    let mut views: Vec<Option<Tensor>> = vec![None; layers.len()];
    let mut strips: Vec<Option<(usize, Tensor)>> = vec![None; layers.len()];
    let flush = |view: &Tensor, strip: Option<(usize, Tensor)>| -> candle_core::Result<()> {
        match strip {
            Some((row, t)) => view.slice_set(&t, 2, row),
            None => Ok(()),
        }
    };
    grid.for_each_core(padded, layers, &mut |k, r, core| {
        let (index, margin) = layers[k];
        let c = core.dims()[1];
        if views[k].is_none() {
            let s = grid.stride(index);
            let (h, w) = ((grid.rows / s).saturating_sub(2 * margin), (grid.cols / s).saturating_sub(2 * margin));
            views[k] = Some(Tensor::zeros((1, c, h, w), core.dtype(), core.device())?);
        }
        let view = views[k].as_ref().ok_or_else(|| missing(index))?;
        if strips[k].as_ref().is_none_or(|(row, _)| *row != r.rows.1) {
            flush(view, strips[k].take())?;
            let w = view.dims()[3];
            strips[k] = Some((r.rows.1, Tensor::zeros((1, c, r.rows.2, w), core.dtype(), core.device())?));
        }
        if let Some((_, strip)) = &strips[k] {
            strip.slice_set(&core.contiguous()?, 3, r.cols.1)?;
        }
        Ok(())
    })?;
    for (view, strip) in views.iter().zip(strips) {
        if let Some(view) = view {
            flush(view, strip)?;
        }
    }
    views.into_iter().zip(layers).map(|(v, l)| v.ok_or_else(|| missing(l.0))).collect()
}

/// The normalised Gram matrices (`F·Fᵀ / M` over each loss view) of convs `layers` (index,
/// margin) of the padded picture `padded`, computed tile by tile.
pub(super) fn tiled_grams(net: &Vgg, padded: &Tensor, core: usize, layers: &[(usize, usize)]) -> Result<Vec<Tensor>> {
    let Some(deepest) = layers.iter().map(|l| l.0).max() else { return Ok(Vec::new()) };
    let grid = Grid::new(net, padded, core, deepest)?;
    let mut sums: Vec<Option<Tensor>> = vec![None; layers.len()];
    grid.for_each_core(padded, layers, &mut |k, _, core| {
        let g = gram_sum(&core)?;
        sums[k] = Some(match sums[k].take() {
            Some(acc) => (acc + g)?,
            None => g,
        });
        Ok(())
    })?;
    sums.into_iter()
        .zip(layers)
        .map(|(g, &(index, margin))| Ok((g.ok_or_else(|| missing(index))? / grid.view_pixels(index, margin) as f64)?))
        .collect()
}

impl Objective<'_> {
    /// [`Objective::evaluate`] tile by tile, cores of `core` pixels a side (see the module doc).
    pub(super) fn evaluate_tiled(&self, image: &Tensor, core: usize) -> Result<(LossParts, Tensor)> {
        let padded = self.border.pad(image)?;
        let mut parts = LossParts::default();
        let Some(deepest) = self.conv_count.checked_sub(1) else {
            return self.add_image_losses(image, image.zeros_like()?, parts);
        };
        let grid = Grid::new(self.net, &padded, core, deepest)?;

        // Pass 1: the whole picture's Gram matrices, summed over the cores; the style terms'
        // values and the Gram differences their gradients need.
        let layers: Vec<(usize, usize)> =
            self.style.layers.iter().map(|(index, _, _)| (*index, self.border.margin(*index))).collect();
        let grams = if layers.is_empty() { Vec::new() } else { tiled_grams(self.net, &padded, core, &layers)? };
        let mut style: Vec<(usize, Tensor, f64)> = Vec::new();
        for (g, (index, target, w)) in grams.into_iter().zip(&self.style.layers) {
            let pixels = grid.view_pixels(*index, self.border.margin(*index)) as f64;
            let c = target.dims()[0] as f64;
            let diff = (g - target)?;
            let scale = self.style_weight * w;
            let value = diff.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()? / (4.0 * c * c);
            parts.style += scale * value;
            style.push((*index, diff, scale / (c * c * pixels)));
        }

        // Pass 2: each tile's gradient at its core's features, back to its pixels.
        let mut grad = padded.zeros_like()?;
        for t in &grid.tiles {
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
                let Some(r) = grid.region(t, *index, self.border.margin(*index)) else { continue };
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
                let Some(r) = grid.region(t, *index, self.border.margin(*index)) else { continue };
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
