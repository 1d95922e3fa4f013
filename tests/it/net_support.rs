//! The tiny random VGG-16 (real layout, widths / 16) the gradient tests run on, and random
//! pictures, on any device and in any dtype.

use std::collections::HashMap;
use std::path::Path;

use brushwork::engine::vgg::{Pooling, Vgg, WeightsHeader};
use brushwork::util::rng::SplitMix64;
use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::random::random_vgg;
use candle_core::{DType, Device, Tensor};

pub fn tiny_vgg(device: &Device, dtype: DType, preprocess: Preprocess, pooling: Pooling) -> Vgg {
    let tensors: HashMap<String, Tensor> = random_vgg(Arch::Vgg16, 16, 3)
        .into_iter()
        .map(|(name, shape, data)| (name, Tensor::from_vec(data, shape, device).unwrap()))
        .collect();
    let header = WeightsHeader { arch: Arch::Vgg16, preprocess };
    Vgg::from_tensors(tensors, &header, Path::new("tiny"), device, dtype, pooling, None).unwrap()
}

/// Values uniform in [0, 1) from `seed`, of `shape` (e.g. `(1, 3, h, w)`).
pub fn random(seed: u64, shape: (usize, usize, usize, usize), device: &Device, dtype: DType) -> Tensor {
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    Tensor::from_vec(SplitMix64::new(seed).uniform(n, 0.0, 1.0), shape, device).unwrap().to_dtype(dtype).unwrap()
}
