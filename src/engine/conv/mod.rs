//! A frozen 3x3, stride-1, pad-1 convolution with bias, and its input gradient.
//!
//! [`Conv3x3`] (here) dispatches: on the CPU in f32 to [`cpu::CpuConv`], the custom ops that run
//! [`direct::TapConv`] or [`winograd::WinogradConv`] on a [`kernel::HostKernel`]; elsewhere (CUDA,
//! f64) to candle's `conv2d`. The siblings import only `kernel`, never each other or this file.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;

pub mod cpu;
pub mod direct;
pub mod kernel;
pub mod winograd;

use cpu::CpuConv;
use direct::TapConv;
use winograd::WinogradConv;

/// One VGG convolution. The input gradient of a 3x3 stride-1 pad-1 convolution is itself such a
/// convolution of the output gradient, with the kernel flipped spatially and its in/out channels
/// swapped; that kernel is built once here, so backward costs one forward conv and no kernel
/// gradient is ever computed.
///
/// On the CPU in f32 both run as [`WinogradConv`] (bias, ReLU and the backward ReLU mask fused).
/// Elsewhere (CUDA, f64) both run as candle's `conv2d`, with bias, ReLU and mask as separate ops:
/// the Winograd and tap kernels are CPU code with no CUDA version. On CUDA candle's `conv2d` is an
/// im2col kernel and a cuBLAS matrix product (cuDNN only with candle's `cudnn` feature, which
/// brushwork's `cuda` feature does not enable).
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
    weight_for_input_grad: Tensor,
    cpu: Option<(CpuConv, CpuConv)>,
}

impl Conv3x3 {
    /// Reads `weight` `[out,in,3,3]` and `bias` `[out]` from `vb` (e.g. `vb.pp("features.0")`).
    pub fn new(vb: VarBuilder, in_channels: usize, out_channels: usize) -> Result<Self> {
        let weight = vb.get((out_channels, in_channels, 3, 3), "weight")?;
        let bias = vb.get(out_channels, "bias")?;
        let weight_for_input_grad = weight.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
        let cpu = if weight.device().is_cpu() && weight.dtype() == DType::F32 {
            let forward = CpuConv::Winograd(WinogradConv::new(&weight, Some(&bias), true)?);
            let backward = CpuConv::Winograd(WinogradConv::new(&weight_for_input_grad, None, false)?);
            Some((forward, backward))
        } else {
            None
        };
        let bias = bias.reshape((1, out_channels, 1, 1))?;
        Ok(Self { weight, bias, weight_for_input_grad, cpu })
    }

    /// The same layer computed with candle's `conv2d` only (the benchmark's baseline, and what
    /// candle's autograd can differentiate).
    pub fn without_fast_path(&self) -> Self {
        Self { cpu: None, ..self.clone() }
    }

    /// The same layer with the direct CPU convolution ([`TapConv`]) instead of Winograd's: the
    /// benchmark's side-by-side baseline. Unchanged off the CPU.
    pub fn with_direct_cpu_conv(&self) -> Result<Self> {
        let cpu = match &self.cpu {
            Some(_) => {
                let bias = self.bias.flatten_all()?;
                let forward = CpuConv::Direct(TapConv::new(&self.weight, Some(&bias), true)?);
                let backward = CpuConv::Direct(TapConv::new(&self.weight_for_input_grad, None, false)?);
                Some((forward, backward))
            }
            None => None,
        };
        Ok(Self { cpu, ..self.clone() })
    }

    /// The same layer, allowed BF16 products on CPUs with AMX (`true`, the default) or held to
    /// f32 (see [`winograd::Products`]).
    pub fn with_bf16(&self, allowed: bool) -> Self {
        let cpu = self.cpu.as_ref().map(|(f, b)| (f.with_bf16(allowed), b.with_bf16(allowed)));
        Self { cpu, ..self.clone() }
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// `relu(conv(x) + bias)`.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        match &self.cpu {
            Some((forward, _)) => x.contiguous()?.apply_op1_no_bwd(forward),
            None => self.forward(x)?.relu(),
        }
    }

    /// Gradient with respect to this layer's input, given the gradient at its ReLU output and that
    /// output (the ReLU's mask is applied first).
    pub fn backward_through_relu(&self, grad_relu_out: &Tensor, relu_out: &Tensor) -> Result<Tensor> {
        match &self.cpu {
            Some((_, backward)) => grad_relu_out.contiguous()?.apply_op2_no_bwd(&relu_out.contiguous()?, backward),
            None => {
                let mask = relu_out.gt(0.0)?.to_dtype(relu_out.dtype())?;
                (grad_relu_out * mask)?.conv2d(&self.weight_for_input_grad, 1, 1, 1, 1)
            }
        }
    }
}

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, 1, 1, 1, 1)?.broadcast_add(&self.bias)
    }
}
