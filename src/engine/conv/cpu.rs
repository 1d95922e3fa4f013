//! The CPU kernels for a frozen 3x3 convolution, as candle custom ops: one with the input alone
//! (`relu(conv(x) + bias)`), and one fusing a ReLU's backward mask into the input
//! (`conv(grad · (activation > 0))`).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape};

use super::direct::TapConv;
use super::winograd::WinogradConv;
use crate::engine::host::f32_input;

/// Which algorithm computes a 3x3 convolution on the CPU.
#[derive(Debug, Clone)]
pub enum CpuConv {
    /// Nine shifted matrix products: the direct convolution.
    Direct(TapConv),
    /// Winograd F(2x2, 3x3): 2.25x fewer multiplies.
    Winograd(WinogradConv),
}

impl CpuConv {
    /// `direct` or `winograd`.
    pub fn name_of_algorithm(&self) -> &'static str {
        match self {
            Self::Direct(_) => "direct",
            Self::Winograd(_) => "winograd",
        }
    }

    /// The same convolution, allowed BF16 products where the CPU has them or held to f32 (the
    /// direct convolution is f32 either way).
    pub fn with_bf16(&self, allowed: bool) -> Self {
        match self {
            Self::Direct(c) => Self::Direct(c.clone()),
            Self::Winograd(c) => Self::Winograd(c.with_bf16(allowed)),
        }
    }

    fn cin(&self) -> usize {
        match self {
            Self::Direct(c) => c.cin(),
            Self::Winograd(c) => c.cin(),
        }
    }

    fn cout(&self) -> usize {
        match self {
            Self::Direct(c) => c.cout(),
            Self::Winograd(c) => c.cout(),
        }
    }

    fn run(&self, x: &[f32], mask: Option<&[f32]>, h: usize, w: usize) -> Vec<f32> {
        match self {
            Self::Direct(c) => c.run(x, mask, h, w),
            Self::Winograd(c) => c.run(x, mask, h, w),
        }
    }
}

impl CustomOp1 for CpuConv {
    fn name(&self) -> &'static str {
        "conv3x3"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = layout.shape().dims4()?;
        if c != self.cin() {
            candle_core::bail!("conv3x3: input has {c} channels, the kernel expects {}", self.cin());
        }
        let data = f32_input(storage, layout, "conv3x3")?;
        let out = if b == 1 {
            self.run(data, None, h, w)
        } else {
            let mut out = Vec::with_capacity(b * self.cout() * h * w);
            for image in data.chunks(c * h * w) {
                out.extend(self.run(image, None, h, w));
            }
            out
        };
        Ok((CpuStorage::F32(out), Shape::from((b, self.cout(), h, w))))
    }
}

/// `conv(grad · (activation > 0))`: the backward pass through a ReLU and then a convolution (with
/// the input-gradient kernel), as one operation. Arguments: the gradient, then the ReLU output.
impl CustomOp2 for CpuConv {
    fn name(&self) -> &'static str {
        "masked-conv3x3"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l1.shape().dims4()?;
        if c != self.cin() || l2.shape() != l1.shape() {
            candle_core::bail!("masked-conv3x3: gradient {:?} and mask {:?} do not fit", l1.shape(), l2.shape());
        }
        let g = f32_input(s1, l1, "masked-conv3x3")?;
        let m = f32_input(s2, l2, "masked-conv3x3")?;
        let out = if b == 1 {
            self.run(g, Some(m), h, w)
        } else {
            let per = c * h * w;
            let mut out = Vec::with_capacity(b * self.cout() * h * w);
            for (g, m) in g.chunks(per).zip(m.chunks(per)) {
                out.extend(self.run(g, Some(m), h, w));
            }
            out
        };
        Ok((CpuStorage::F32(out), Shape::from((b, self.cout(), h, w))))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;
    use crate::util::rng::SplitMix64;

    fn rand(shape: &[usize], seed: u64) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(SplitMix64::new(seed).uniform(n, -1.0, 1.0), shape, &Device::Cpu).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap()
    }

    /// Both kernels checked against candle's own conv2d (im2col) on odd sizes, single rows and
    /// columns, and channel counts; the masked op against masking first.
    #[test]
    fn kernels_match_candle_conv2d() {
        let shapes = [(1, 3, 4, 7, 5), (2, 5, 6, 1, 9), (1, 16, 8, 12, 12), (1, 4, 3, 9, 1), (1, 24, 40, 33, 17)];
        for (b, cin, cout, h, w) in shapes {
            let x = rand(&[b, cin, h, w], 1);
            let k = rand(&[cout, cin, 3, 3], 2);
            let bias = rand(&[cout], 3);
            let reference =
                x.conv2d(&k, 1, 1, 1, 1).unwrap().broadcast_add(&bias.reshape((1, cout, 1, 1)).unwrap()).unwrap();
            for relu in [false, true] {
                let ops = [
                    CpuConv::Direct(TapConv::new(&k, Some(&bias), relu).unwrap()),
                    CpuConv::Winograd(WinogradConv::new(&k, Some(&bias), relu).unwrap()),
                ];
                for op in ops {
                    let got = x.apply_op1_no_bwd(&op).unwrap();
                    let want = if relu { reference.relu().unwrap() } else { reference.clone() };
                    let err = max_abs_diff(&got, &want);
                    // Outputs are sums of up to 9·cin products of values in [-1, 1] (|y| ≲ 15). The
                    // direct sum rounds like im2col; Winograd (F2 at these sizes, F4 checked in
                    // `winograd`) is allowed F4's bound, which amplifies rounding some tenfold.
                    let tolerance = match op {
                        CpuConv::Direct(_) => 2e-5,
                        CpuConv::Winograd(_) => 2e-4,
                    };
                    assert!(
                        err < tolerance,
                        "{}: {b}x{cin}->{cout} {h}x{w} relu={relu}: max error {err}",
                        op.name_of_algorithm()
                    );
                    // Masked: conv(x · (m > 0)), m half negative.
                    let m = rand(&[b, cin, h, w], 4);
                    let masked = x.apply_op2_no_bwd(&m, &op).unwrap();
                    let x_masked = (&x * m.gt(0.0).unwrap().to_dtype(DType::F32).unwrap()).unwrap();
                    let want_masked = x_masked.apply_op1_no_bwd(&op).unwrap();
                    let err = max_abs_diff(&masked, &want_masked);
                    assert!(err < 1e-6, "masked: max error {err}");
                }
            }
        }
    }
}
