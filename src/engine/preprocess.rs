//! Turning an RGB image in [0,1] into network input, as the weights file's `preprocess` says, and
//! carrying gradients back through that (affine, per-channel) map.

use candle_core::{Device, Result, Tensor};

use crate::weights::layout::Preprocess;

/// torchvision: (x - mean) / std, RGB.
const TORCHVISION_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
const TORCHVISION_STD: [f64; 3] = [0.229, 0.224, 0.225];
/// caffe: BGR in 0..255 minus this mean (B, G, R).
const CAFFE_MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];

/// The per-channel affine map `input[c] = image[perm[c]] * scale[c] + shift[c]`.
#[derive(Debug, Clone)]
pub struct InputMap {
    swap_rgb_bgr: bool,
    scale: Tensor,
    shift: Tensor,
}

impl InputMap {
    pub fn new(kind: Preprocess, device: &Device, dtype: candle_core::DType) -> Result<Self> {
        let (swap, scale, shift): (bool, [f64; 3], [f64; 3]) = match kind {
            Preprocess::Torchvision => {
                let scale = TORCHVISION_STD.map(|s| 1.0 / s);
                let shift = [0, 1, 2].map(|c| -TORCHVISION_MEAN[c] / TORCHVISION_STD[c]);
                (false, scale, shift)
            }
            Preprocess::Caffe => (true, [255.0; 3], CAFFE_MEAN_BGR.map(|m| -m)),
        };
        let as_tensor =
            |v: [f64; 3]| -> Result<Tensor> { Tensor::new(&v, device)?.to_dtype(dtype)?.reshape((1, 3, 1, 1)) };
        Ok(Self { swap_rgb_bgr: swap, scale: as_tensor(scale)?, shift: as_tensor(shift)? })
    }

    fn swap(&self, x: &Tensor) -> Result<Tensor> {
        if self.swap_rgb_bgr {
            x.contiguous()?.flip(&[1])
        } else {
            Ok(x.clone())
        }
    }

    /// `[1,3,H,W]` RGB in [0,1] to network input.
    pub fn forward(&self, image: &Tensor) -> Result<Tensor> {
        self.swap(image)?.broadcast_mul(&self.scale)?.broadcast_add(&self.shift)
    }

    /// Gradient with respect to the image, given the gradient with respect to the network input.
    pub fn backward(&self, grad_input: &Tensor) -> Result<Tensor> {
        self.swap(&grad_input.broadcast_mul(&self.scale)?)
    }
}
