//! The tiled evaluation (`Objective::with_tiles`) against the whole picture's: the same loss and
//! the same gradient, on tile cores and across their seams, for several core sizes, odd picture
//! sizes, both poolings and both borders, in f64 through candle's ops and in f32 through the CPU
//! kernels. The reference is the untiled evaluation, itself checked against finite differences
//! and candle's autograd in `engine_gradient`.

use crate::net_support::{random, tiny_vgg};

use brushwork::engine::objective::{Objective, StyleTargets};
use brushwork::engine::settings::{Padding, Precision, Settings};
use brushwork::engine::vgg::{Pooling, Vgg};
use brushwork::weights::layout::Preprocess;
use candle_core::{DType, Device, Tensor};

fn tiny_net(pooling: Pooling, dtype: DType) -> Vgg {
    tiny_vgg(&Device::Cpu, dtype, Preprocess::Caffe, pooling).with_precision(Precision::F32)
}

fn random_image(seed: u64, h: usize, w: usize, dtype: DType) -> Tensor {
    random(seed, (1, 3, h, w), &Device::Cpu, dtype)
}

fn settings(padding: Padding, deep: bool) -> Settings {
    let mut s = Settings { content_weight: 2.0, style_weight: 50.0, tv_weight: 0.5, padding, ..Settings::default() };
    s.content_layers = [("conv3_2".to_string(), 1.0)].into_iter().collect();
    let style: &[&str] = if deep { &["conv1_1", "conv3_1", "conv5_1"] } else { &["conv1_1", "conv2_1", "conv4_1"] };
    s.style_layers = style.iter().map(|l| (l.to_string(), 0.3)).collect();
    s
}

/// Relative L2 error of the whole gradient and largest pixel error over the largest pixel.
fn errors(got: &Tensor, want: &Tensor) -> (f64, f64) {
    let (got, want) = (got.to_dtype(DType::F64).unwrap(), want.to_dtype(DType::F64).unwrap());
    let diff = (&got - &want).unwrap();
    let l2: f64 = diff.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
    let norm: f64 = want.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
    let max_diff: f64 = diff.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
    let max_want: f64 = want.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar().unwrap();
    ((l2 / norm).sqrt(), max_diff / max_want)
}

fn check(pooling: Pooling, padding: Padding, deep: bool, dtype: DType, (h, w): (usize, usize), cores: &[usize]) {
    let net = tiny_net(pooling, dtype);
    let s = settings(padding, deep);
    let content = random_image(1, h, w, dtype);
    let style = random_image(2, 40, 36, dtype);
    let targets = StyleTargets::compute(&net, &s, &[(style.clone(), 1.0)]).unwrap();
    let x = random_image(3, h, w, dtype);
    let whole = Objective::new(&net, &s, &content, targets.clone()).unwrap();
    let (want_parts, want) = whole.evaluate(&x).unwrap();
    for &core in cores {
        // The content targets and the style image's Gram matrices tiled too (`tile` in the
        // settings), the evaluation tiled.
        let st = Settings { tile: core as u32, ..s.clone() };
        let tiled_targets = StyleTargets::compute(&net, &st, &[(style.clone(), 1.0)]).unwrap();
        let tiled = Objective::new(&net, &st, &content, tiled_targets).unwrap();
        let (parts, got) = tiled.evaluate(&x).unwrap();
        let label = format!("{pooling:?}/{padding:?}/deep {deep}/{dtype:?} {h}x{w} cores {core}");
        for (a, b, name) in [
            (parts.total, want_parts.total, "total"),
            (parts.content, want_parts.content, "content"),
            (parts.style, want_parts.style, "style"),
        ] {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1e-12), "{label}: {name} loss {a} vs {b}");
        }
        let (l2, max) = errors(&got, &want);
        assert!(l2 < 1e-4 && max < 1e-4, "{label}: gradient relative error {l2:e}, largest {max:e}");
    }
}

#[test]
fn tiled_gradient_equals_the_whole_pictures_in_f64() {
    // 16 px cores are smaller than the halo (48 px to conv4_1 of VGG-16), 32 and 48 px cores
    // put seams through the picture at other places; 67x93 and 81x50 are odd and not multiples
    // of the pooling grid.
    for pooling in [Pooling::Max, Pooling::Avg] {
        for padding in [Padding::Zero, Padding::Reflect] {
            check(pooling, padding, false, DType::F64, (67, 93), &[16, 32, 48]);
        }
    }
    // To conv5_1: the halo is 80 px, cores aligned to 16.
    check(Pooling::Max, Padding::Reflect, true, DType::F64, (181, 150), &[32, 64]);
    check(Pooling::Avg, Padding::Zero, true, DType::F64, (81, 50), &[16]);
}

#[test]
fn tiled_gradient_equals_the_whole_pictures_in_f32_on_the_cpu_kernels() {
    check(Pooling::Max, Padding::Reflect, false, DType::F32, (130, 147), &[32, 64]);
    check(Pooling::Avg, Padding::Zero, true, DType::F32, (177, 141), &[48]);
}
