//! A frozen 3x3, stride-1, pad-1 convolution with bias, and its input gradient.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// One VGG convolution. The input gradient of a 3x3 stride-1 pad-1 convolution is itself such a
/// convolution of the output gradient, with the kernel flipped spatially and its in/out channels
/// swapped; that kernel is built once here, so backward costs one forward conv and no kernel
/// gradient is ever computed.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    weight: Tensor,
    bias: Tensor,
    weight_for_input_grad: Tensor,
}

impl Conv3x3 {
    /// Reads `weight` `[out,in,3,3]` and `bias` `[out]` from `vb` (e.g. `vb.pp("features.0")`).
    pub fn new(vb: VarBuilder, in_channels: usize, out_channels: usize) -> Result<Self> {
        let weight = vb.get((out_channels, in_channels, 3, 3), "weight")?;
        let bias = vb.get(out_channels, "bias")?.reshape((1, out_channels, 1, 1))?;
        let weight_for_input_grad = weight.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
        Ok(Self { weight, bias, weight_for_input_grad })
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Gradient with respect to this layer's input, given the gradient at its (pre-activation) output.
    pub fn backward_input(&self, grad_out: &Tensor) -> Result<Tensor> {
        grad_out.conv2d(&self.weight_for_input_grad, 1, 1, 1, 1)
    }
}

impl Module for Conv3x3 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv2d(&self.weight, 1, 1, 1, 1)?.broadcast_add(&self.bias)
    }
}
