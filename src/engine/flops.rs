//! The useful floating-point work of one iteration, counted analytically (multiply-adds × 2):
//! every convolution forward and its input-gradient convolution, and each style layer's Gram matrix
//! and its gradient. Pooling, ReLU and element-wise work are not counted.

use crate::weights::layout::Arch;

/// FLOPs of one forward + backward pass on an `h`x`w` image through the convs `0..=deepest` of
/// `arch`, with Gram matrices at the conv indices in `style_layers`.
pub fn iteration_flops(arch: Arch, deepest: usize, h: usize, w: usize, style_layers: &[usize]) -> f64 {
    let (mut h, mut w) = (h, w);
    let mut total = 0.0;
    let convs = arch.convs();
    for (i, c) in convs.iter().enumerate().take(deepest + 1) {
        if i > 0 && c.block != convs[i - 1].block {
            h /= 2;
            w /= 2;
        }
        let pixels = (h * w) as f64;
        let conv = 2.0 * 9.0 * (c.in_channels * c.out_channels) as f64 * pixels;
        total += 2.0 * conv; // forward, and the input gradient (the same convolution shape)
        if style_layers.contains(&i) {
            let gram = 2.0 * (c.out_channels * c.out_channels) as f64 * pixels;
            total += 2.0 * gram; // F·Fᵀ, and (Ĝ − Â)·F
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg19_to_conv5_1_at_256() {
        // By hand, forward convs at 256x256 (GFLOP): conv1_1 0.226, conv1_2 4.832, conv2_1 2.416,
        // conv2_2 4.832, conv3_1 2.416, conv3_2..4 3×4.832, conv4_1 2.416, conv4_2..4 3×4.832,
        // conv5_1 1.208 → 47.339; doubled for the input gradients → 94.678. Grams at conv1_1, 2_1,
        // 3_1, 4_1 (2·C²·M = 0.537 each) and conv5_1 (0.134) → 2.282, doubled → 4.564. Total
        // 99.24 GFLOP, the figure the engine-speed issue quotes (≈ 99).
        let f = iteration_flops(Arch::Vgg19, 12, 256, 256, &[0, 2, 4, 8, 12]);
        assert!((f / 1e9 - 99.24).abs() < 0.01, "{}", f / 1e9);
    }
}
