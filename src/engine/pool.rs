//! 2x2 stride-2 average pooling (floor mode) and its gradient as parallel CPU kernels; candle's own
//! CPU pooling and nearest upsampling run on one thread.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::host::f32_input;

/// `[B,C,H,W]` → `[B,C,H/2,W/2]`, each output the mean of a 2x2 block.
pub struct AvgPool2;

impl CustomOp1 for AvgPool2 {
    fn name(&self) -> &'static str {
        "avg-pool2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        let x = f32_input(s, l, self.name())?;
        let (ho, wo) = (h / 2, w / 2);
        let mut out = vec![0f32; b * c * ho * wo];
        if ho * wo > 0 {
            out.par_chunks_mut(ho * wo).zip(x.par_chunks(h * w)).for_each(|(dst, src)| {
                for y in 0..ho {
                    let (r0, r1) = (&src[2 * y * w..], &src[(2 * y + 1) * w..]);
                    for x in 0..wo {
                        dst[y * wo + x] = 0.25 * (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
                    }
                }
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, ho, wo))))
    }
}

/// The gradient of [`AvgPool2`]: `[B,C,H/2,W/2]` → `[B,C,H,W]`, each input pixel a quarter of its
/// block's output gradient; a trailing odd row or column gets zero.
pub struct AvgPool2Backward {
    pub h: usize,
    pub w: usize,
}

impl CustomOp1 for AvgPool2Backward {
    fn name(&self) -> &'static str {
        "avg-pool2-backward"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, ho, wo) = l.shape().dims4()?;
        let (h, w) = (self.h, self.w);
        if (h / 2, w / 2) != (ho, wo) {
            candle_core::bail!("avg-pool2-backward: {ho}x{wo} is not the pooled size of {h}x{w}");
        }
        let g = f32_input(s, l, self.name())?;
        let mut out = vec![0f32; b * c * h * w];
        if ho * wo > 0 {
            out.par_chunks_mut(h * w).zip(g.par_chunks(ho * wo)).for_each(|(dst, src)| {
                for y in 0..2 * ho {
                    for x in 0..2 * wo {
                        dst[y * w + x] = 0.25 * src[(y / 2) * wo + x / 2];
                    }
                }
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((b, c, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn pooling_by_hand() {
        // 3x5 input 0..15: blocks (0,1,5,6) → 3, (2,3,7,8) → 5; the last row and column are dropped.
        let x = Tensor::arange(0f32, 15., &Device::Cpu).unwrap().reshape((1, 1, 3, 5)).unwrap();
        let y = x.apply_op1_no_bwd(&AvgPool2).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![3.0, 5.0]);
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            x.avg_pool2d(2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        // Gradient of [4, 8]: quarters spread over each block, zeros in the dropped row and column.
        let g = Tensor::new(&[4f32, 8.], &Device::Cpu).unwrap().reshape((1, 1, 1, 2)).unwrap();
        let back = g.apply_op1_no_bwd(&AvgPool2Backward { h: 3, w: 5 }).unwrap();
        let want = [1., 1., 2., 2., 0., 1., 1., 2., 2., 0., 0., 0., 0., 0., 0.];
        assert_eq!(back.flatten_all().unwrap().to_vec1::<f32>().unwrap(), want);
    }
}
