//! The image border the network sees. VGG pads every convolution with zeros, and on the input
//! zero is the mean colour: a flat grey frame around the picture. The style loss then rewards
//! strokes that answer that frame, and the longer an image is optimised the more a line grows a
//! few pixels inside the border (video warm starts optimise the same pixels for thousands of
//! iterations, so there it becomes a visible rectangle). With `padding = "reflect"` the image is
//! mirrored outwards by [`REFLECT`] pixels before the network, the activations each loss reads are
//! cropped back to the picture, and the gradient of the mirrored pixels is folded back onto the
//! pixels they copy: the losses never see the grey frame of the input.

use candle_core::{Device, Result, Tensor};

/// Pixels mirrored on each side; activations of block `b` (downsampled `2^(b−1)` times) are
/// cropped by `REFLECT >> (b−1)` on each side, so blocks 1–4 lose their whole margin and block 5
/// (conv5_x, 1/16 of the image) keeps half a cell of it.
pub const REFLECT: usize = 8;

/// Source index along an axis of `len` pixels for each of the `len + 2·pad` padded positions,
/// mirrored about the edge pixels (…2 1 | 0 1 2 … n−1 | n−2 n−3…), bouncing for tiny sizes.
fn reflect_indices(len: usize, pad: usize) -> Vec<u32> {
    let n = len as i64;
    (0..len + 2 * pad)
        .map(|i| {
            if n == 1 {
                return 0;
            }
            let mut j = i as i64 - pad as i64;
            let period = 2 * (n - 1);
            j = j.rem_euclid(period);
            if j >= n {
                j = period - j;
            }
            j as u32
        })
        .collect()
}

/// Mirror padding of `[1, C, H, W]` by `pad`, with what its gradient needs.
pub struct Reflect {
    pad: usize,
    rows: Tensor,
    cols: Tensor,
    h: usize,
    w: usize,
}

impl Reflect {
    pub fn new(h: usize, w: usize, pad: usize, device: &Device) -> Result<Self> {
        let rows = Tensor::new(reflect_indices(h, pad), device)?;
        let cols = Tensor::new(reflect_indices(w, pad), device)?;
        Ok(Self { pad, rows, cols, h, w })
    }

    pub fn pad(&self, x: &Tensor) -> Result<Tensor> {
        x.index_select(&self.cols, 3)?.index_select(&self.rows, 2)
    }

    /// The adjoint of [`Reflect::pad`]: each padded pixel's gradient added onto its source.
    pub fn fold(&self, g: &Tensor) -> Result<Tensor> {
        let (b, c, _, wp) = g.dims4()?;
        let rows = Tensor::zeros((b, c, self.h, wp), g.dtype(), g.device())?.index_add(&self.rows, g, 2)?;
        Tensor::zeros((b, c, self.h, self.w), g.dtype(), g.device())?.index_add(&self.cols, &rows, 3)
    }

    /// How much of each side to crop from an activation of VGG block `block` (1-based).
    pub fn margin(&self, block: usize) -> usize {
        self.pad >> (block.saturating_sub(1)).min(usize::BITS as usize - 1)
    }
}

/// `a` `[1, C, H, W]` without `m` cells on each side.
pub fn crop(a: &Tensor, m: usize) -> Result<Tensor> {
    if m == 0 {
        return Ok(a.clone());
    }
    let (_, _, h, w) = a.dims4()?;
    a.narrow(2, m, h.saturating_sub(2 * m).max(1))?.narrow(3, m, w.saturating_sub(2 * m).max(1))
}

/// The adjoint of [`crop`]: `g` put back into zeros of `full`'s shape.
pub fn uncrop(g: &Tensor, m: usize, full: &Tensor) -> Result<Tensor> {
    if m == 0 {
        return Ok(g.clone());
    }
    let (_, _, h, w) = full.dims4()?;
    let (_, _, gh, gw) = g.dims4()?;
    g.pad_with_zeros(2, m, h - m - gh)?.pad_with_zeros(3, m, w - m - gw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_indices_by_hand() {
        // 4 pixels padded by 2: 2 1 | 0 1 2 3 | 2 1.
        assert_eq!(reflect_indices(4, 2), vec![2, 1, 0, 1, 2, 3, 2, 1]);
        // 2 pixels padded by 3 bounce: positions -3..5 → 1 0 1 | 0 1 | 0 1 0.
        assert_eq!(reflect_indices(2, 3), vec![1, 0, 1, 0, 1, 0, 1, 0]);
        assert_eq!(reflect_indices(1, 2), vec![0; 5]);
    }

    #[test]
    fn fold_is_the_adjoint_of_pad() {
        // <pad(x), y> = <x, fold(y)> for any x, y: the defining property of an adjoint.
        let dev = Device::Cpu;
        let x = Tensor::arange(0f64, 2.0 * 3.0 * 5.0, &dev).unwrap().reshape((1, 2, 3, 5)).unwrap();
        let r = Reflect::new(3, 5, 2, &dev).unwrap();
        let y = (Tensor::arange(0f64, 2.0 * 7.0 * 9.0, &dev).unwrap().reshape((1, 2, 7, 9)).unwrap() * 0.37)
            .unwrap()
            .sin()
            .unwrap();
        let lhs = (r.pad(&x).unwrap() * &y).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        let rhs = (x * r.fold(&y).unwrap()).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
        assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
        let a = Tensor::ones((1, 1, 6, 6), candle_core::DType::F64, &dev).unwrap();
        let c = crop(&a, 2).unwrap();
        assert_eq!(c.dims(), &[1, 1, 2, 2]);
        assert_eq!(uncrop(&c, 2, &a).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap(), 4.0);
    }
}
