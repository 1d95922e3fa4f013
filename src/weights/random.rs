//! Randomly initialised VGG weights with the real tensor names: the benchmark's network (real
//! widths) and the tests' tiny networks (widths divided by a common divisor).

use std::path::Path;

use super::layout::{Arch, Preprocess};
use super::{write_weights_file, WeightsError, WeightsMeta};
use crate::util::rng::SplitMix64;

/// `(name, shape, values)` for every conv of `arch`, widths divided by `divisor`, He-uniform
/// kernels (bound `sqrt(6 / fan_in)`) and small uniform biases, from `seed`.
pub fn random_vgg(arch: Arch, divisor: usize, seed: u64) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let divisor = divisor.max(1);
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for spec in arch.convs() {
        let in_c = if spec.in_channels == 3 { 3 } else { (spec.in_channels / divisor).max(1) };
        let out_c = (spec.out_channels / divisor).max(1);
        let bound = (6.0 / (in_c * 9) as f32).sqrt();
        out.push((spec.weight_name(), vec![out_c, in_c, 3, 3], rng.uniform(out_c * in_c * 9, -bound, bound)));
        out.push((spec.bias_name(), vec![out_c], rng.uniform(out_c, -0.05, 0.05)));
    }
    out
}

/// Writes [`random_vgg`] as a contract-format file with `source = "random"`.
pub fn write_random_vgg(
    path: &Path,
    arch: Arch,
    preprocess: Preprocess,
    divisor: usize,
    seed: u64,
) -> Result<(), WeightsError> {
    let meta = WeightsMeta { arch, preprocess, source: format!("random:seed={seed},divisor={divisor}") };
    write_weights_file(path, &meta, &random_vgg(arch, divisor, seed))
}
