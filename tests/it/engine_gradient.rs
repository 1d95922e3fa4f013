//! The hand-written gradient of the full objective against central finite differences and against
//! candle's autograd, on a tiny random network in f64.

use crate::net_support::{random, tiny_vgg};

use std::collections::HashMap;
use std::path::Path;

use brushwork::engine::objective::{Objective, StyleTargets, TemporalTerm};
use brushwork::engine::settings::{Padding, Precision, Settings};
use brushwork::engine::vgg::{Pooling, Vgg, WeightsHeader};
use brushwork::util::rng::SplitMix64;
use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::random::random_vgg;
use candle_core::{DType, Device, Tensor, Var};

fn tiny_net(preprocess: Preprocess, pooling: Pooling) -> Vgg {
    tiny_vgg(&Device::Cpu, DType::F64, preprocess, pooling)
}

fn random_image(seed: u64, h: usize, w: usize) -> Tensor {
    random(seed, (1, 3, h, w), &Device::Cpu, DType::F64)
}

fn settings() -> Settings {
    let mut s = Settings { content_weight: 2.0, style_weight: 50.0, tv_weight: 0.5, ..Settings::default() };
    s.content_layers = [("conv3_2".to_string(), 1.0)].into_iter().collect();
    s.style_layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1"].iter().map(|l| (l.to_string(), 0.25)).collect();
    s
}

fn objective<'a>(net: &'a Vgg, s: &Settings, h: usize, w: usize) -> Objective<'a> {
    let content = random_image(1, h, w);
    let style = random_image(2, 20, 16);
    let targets = StyleTargets::compute(net, s, &[(style, 1.0)]).unwrap();
    Objective::new(net, s, &content, targets).unwrap()
}

/// [`objective`] in f32, for a network loaded in f32 (the CPU kernels).
fn objective_f32<'a>(net: &'a Vgg, s: &Settings, h: usize, w: usize) -> Objective<'a> {
    let content = random_image(1, h, w).to_dtype(DType::F32).unwrap();
    let style = random_image(2, 20, 16).to_dtype(DType::F32).unwrap();
    let targets = StyleTargets::compute(net, s, &[(style, 1.0)]).unwrap();
    Objective::new(net, s, &content, targets).unwrap()
}

fn check_against_finite_differences(preprocess: Preprocess, pooling: Pooling) {
    let net = tiny_net(preprocess, pooling);
    let s = settings();
    // Odd sizes on purpose: pooling drops trailing rows/columns, which must get no gradient.
    let obj = objective(&net, &s, 18, 22);
    assert_fd_gradient(&obj, &random_image(3, 18, 22), &format!("{preprocess:?}/{pooling:?}"));
}

/// With `padding = "reflect"` the image is mirrored outwards before the network and the
/// activations cropped back: the gradient folds the mirrored pixels' share back onto their sources.
/// Odd sizes, both poolings.
#[test]
fn gradient_with_the_reflected_border_matches_finite_differences() {
    for (preprocess, pooling) in [(Preprocess::Caffe, Pooling::Avg), (Preprocess::Torchvision, Pooling::Max)] {
        let net = tiny_net(preprocess, pooling);
        let s = Settings { padding: Padding::Reflect, ..settings() };
        let obj = objective(&net, &s, 19, 22);
        let x = random_image(3, 19, 22);
        assert_fd_gradient(&obj, &x, &format!("reflect {preprocess:?}/{pooling:?}"));
        // The border changes what the losses see: the value differs from zero padding's.
        let zero = objective(&net, &settings(), 19, 22).evaluate(&x).unwrap().0.total;
        let reflect = obj.evaluate(&x).unwrap().0.total;
        assert!((zero - reflect).abs() > 1e-6 * zero.abs(), "{zero} vs {reflect}");
    }
}

/// The temporal term of video frames (two targets: a previous frame and an older one, masks with
/// zeros, ones and a fractional long-term weight) adds its gradient to the network's.
#[test]
fn gradient_with_the_temporal_term_matches_finite_differences() {
    let net = tiny_net(Preprocess::Caffe, Pooling::Avg);
    let s = settings();
    let (h, w) = (18, 22);
    let mask = |seed: u64| {
        let v: Vec<f64> = SplitMix64::new(seed)
            .uniform(h * w, 0.0, 1.0)
            .into_iter()
            .map(|r| {
                if r < 0.3 {
                    0.0
                } else if r < 0.8 {
                    1.0
                } else {
                    0.5
                }
            })
            .collect();
        Tensor::from_vec(v, (1, 1, h, w), &Device::Cpu).unwrap()
    };
    let term = TemporalTerm {
        weight: 30.0,
        targets: vec![(random_image(5, h, w), mask(6)), (random_image(7, h, w), mask(8))],
    };
    let obj = objective(&net, &s, h, w).with_temporal(term);
    let x = random_image(3, h, w);
    let (parts, _) = obj.evaluate(&x).unwrap();
    // The term must weigh enough for a wrong gradient to show.
    assert!(parts.temporal > 0.1 * parts.total, "temporal {} of total {}", parts.temporal, parts.total);
    assert!((parts.content + parts.style + parts.tv + parts.temporal - parts.total).abs() < 1e-9 * parts.total);
    assert_fd_gradient(&obj, &x, "temporal");
}

/// Central finite differences at 24 random pixels against the hand-written gradient.
fn assert_fd_gradient(obj: &Objective, x: &Tensor, label: &str) {
    let (_, grad) = obj.evaluate(x).unwrap();
    let g: Vec<f64> = grad.flatten_all().unwrap().to_vec1().unwrap();
    let base: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
    let h = 1e-5;
    let mut rng = SplitMix64::new(11);
    let (mut err2, mut norm2) = (0.0, 0.0);
    for _ in 0..24 {
        let i = (rng.next_u64() % base.len() as u64) as usize;
        let at = |delta: f64| {
            let mut v = base.clone();
            v[i] += delta;
            let xi = Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap();
            obj.evaluate(&xi).unwrap().0.total
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        err2 += (fd - g[i]).powi(2);
        norm2 += fd.powi(2);
    }
    let rel = (err2 / norm2).sqrt();
    assert!(norm2 > 0.0, "the sampled gradient is all zero: the test would prove nothing");
    assert!(rel < 1e-3, "{label}: relative error {rel:e} against finite differences");
}

#[test]
fn gradient_matches_finite_differences_avg_pool_caffe() {
    check_against_finite_differences(Preprocess::Caffe, Pooling::Avg);
}

#[test]
fn gradient_matches_finite_differences_max_pool_torchvision() {
    check_against_finite_differences(Preprocess::Torchvision, Pooling::Max);
}

/// The same objective written with candle ops on a `Var`, differentiated by candle's autograd.
/// Sizes divisible by 8 here: candle's avg-pool backward spreads gradient onto the rows an odd
/// size drops (candle-core 0.11.1), which is wrong; the finite-difference tests cover odd sizes.
#[test]
fn gradient_matches_candle_autograd() {
    let net = tiny_net(Preprocess::Caffe, Pooling::Avg);
    let s = settings();
    let obj = objective(&net, &s, 24, 32);
    let x = random_image(5, 24, 32);
    let (parts, grad) = obj.evaluate(&x).unwrap();

    let content = random_image(1, 24, 32);
    let style = random_image(2, 20, 16);
    let var = Var::from_tensor(&x).unwrap();
    let trace = net.forward(var.as_tensor()).unwrap();
    let ct = net.forward(&content).unwrap();
    let st = net.forward(&style).unwrap();
    let gram = |a: &Tensor| {
        let (_, c, h, w) = a.dims4().unwrap();
        let f = a.reshape((c, h * w)).unwrap();
        (f.matmul(&f.t().unwrap()).unwrap() / (h * w) as f64).unwrap()
    };
    let mut total = Tensor::new(0f64, &Device::Cpu).unwrap();
    let ci = net.layer_index("conv3_2").unwrap();
    let (a, c) = (trace.activation(ci).unwrap(), ct.activation(ci).unwrap());
    let jc = ((a - c).unwrap().sqr().unwrap().sum_all().unwrap() / (4.0 * a.elem_count() as f64)).unwrap();
    total = (total + (jc * 2.0).unwrap()).unwrap();
    for name in ["conv1_1", "conv2_1", "conv3_1", "conv4_1"] {
        let i = net.layer_index(name).unwrap();
        let a = trace.activation(i).unwrap();
        let nc = a.dims()[1] as f64;
        let d = (gram(a) - gram(st.activation(i).unwrap())).unwrap();
        let js = (d.sqr().unwrap().sum_all().unwrap() / (4.0 * nc * nc)).unwrap();
        total = (total + (js * (50.0 * 0.25)).unwrap()).unwrap();
    }
    let xt = var.as_tensor();
    let (_, _, hh, ww) = xt.dims4().unwrap();
    let dv = (xt.narrow(2, 1, hh - 1).unwrap() - xt.narrow(2, 0, hh - 1).unwrap()).unwrap();
    let dh = (xt.narrow(3, 1, ww - 1).unwrap() - xt.narrow(3, 0, ww - 1).unwrap()).unwrap();
    let tv = ((dv.sqr().unwrap().sum_all().unwrap() + dh.sqr().unwrap().sum_all().unwrap()).unwrap()
        / xt.elem_count() as f64)
        .unwrap();
    total = (total + (tv * 0.5).unwrap()).unwrap();

    let value: f64 = total.to_scalar().unwrap();
    assert!((value - parts.total).abs() <= 1e-9 * value.abs(), "loss {value} vs {}", parts.total);
    let grads = total.backward().unwrap();
    let auto = grads.get(var.as_tensor()).unwrap();
    let diff: f64 = (auto - &grad).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
    let norm: f64 = auto.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
    assert!(norm > 0.0);
    let rel = (diff / norm).sqrt();
    assert!(rel < 1e-6, "relative error {rel:e} against candle autograd");
}

/// The CPU kernels (tap convolution with fused bias/ReLU/mask, parallel pooling) used in f32 give
/// the same loss and gradient as candle's ops in f64.
#[test]
fn cpu_kernels_match_the_f64_reference() {
    let reference = tiny_net(Preprocess::Caffe, Pooling::Avg);
    // f32 products: BF16 (on CPUs with AMX) has its own test below.
    let fast = tiny_vgg(&Device::Cpu, DType::F32, Preprocess::Caffe, Pooling::Avg).with_precision(Precision::F32);
    let s = settings();
    // 19x23 runs every layer with F(2x2,3x3); at 130x133 the first block has enough tiles for
    // F(4x4,3x3) (1122, see `Tile::for_size`), the later ones use F(2x2,3x3).
    for (h, w) in [(19, 23), (130, 133)] {
        let (want_parts, want) = objective(&reference, &s, h, w).evaluate(&random_image(4, h, w)).unwrap();
        let (parts, got) =
            objective_f32(&fast, &s, h, w).evaluate(&random_image(4, h, w).to_dtype(DType::F32).unwrap()).unwrap();
        assert!((parts.total - want_parts.total).abs() < 1e-4 * want_parts.total, "{parts:?} vs {want_parts:?}");
        let got = got.to_dtype(DType::F64).unwrap();
        let diff: f64 = (&got - &want).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        let norm: f64 = want.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!((diff / norm).sqrt() < 1e-4, "{h}x{w}: relative error {:e}", (diff / norm).sqrt());
    }
}

/// With BF16 products (CPUs with AMX only; elsewhere the test says so and checks nothing) the loss
/// and gradient stay within what rounding every product's operands to 8 significant bits allows,
/// against candle's ops in f64, on a network a quarter of VGG-16's width so that every layer from
/// conv2_1 on has the 32 channels a side that BF16 needs. Tolerances: the operands' relative
/// rounding is 2⁻⁹ (0.2 %), a product's at most twice that, and errors of independent sign
/// partly cancel in sums over channels, but the style loss squares its Gram differences, so the
/// noise also adds a little to the loss. Measured here (relative error of loss, of gradient):
/// 19x23 1.0e-3 and 7.4e-3, 130x133 3.6e-3 and 9.0e-3. The bounds allow about 3x that: 1e-2 on
/// the loss, 3e-2 on the gradient, against f32 products' 1e-4 on both above.
#[test]
fn bf16_products_keep_loss_and_gradient_within_their_rounding() {
    if !brushwork::engine::bf16::available() {
        eprintln!("no AMX-BF16 on this CPU: the BF16 products are not tested here");
        return;
    }
    let device = Device::Cpu;
    let tensors = || -> HashMap<String, Tensor> {
        random_vgg(Arch::Vgg16, 4, 3)
            .into_iter()
            .map(|(name, shape, data)| (name, Tensor::from_vec(data, shape, &device).unwrap()))
            .collect()
    };
    let header = WeightsHeader { arch: Arch::Vgg16, preprocess: Preprocess::Caffe };
    let reference =
        Vgg::from_tensors(tensors(), &header, Path::new("quarter"), &device, DType::F64, Pooling::Avg, None).unwrap();
    let fast = Vgg::from_tensors(tensors(), &header, Path::new("quarter"), &device, DType::F32, Pooling::Avg, None)
        .unwrap()
        .with_precision(Precision::Auto);
    let s = settings();
    for (h, w) in [(19, 23), (130, 133)] {
        let (want_parts, want) = objective(&reference, &s, h, w).evaluate(&random_image(4, h, w)).unwrap();
        let (parts, got) =
            objective_f32(&fast, &s, h, w).evaluate(&random_image(4, h, w).to_dtype(DType::F32).unwrap()).unwrap();
        let loss_err = (parts.total - want_parts.total).abs() / want_parts.total;
        let got = got.to_dtype(DType::F64).unwrap();
        let diff: f64 = (&got - &want).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        let norm: f64 = want.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        let grad_err = (diff / norm).sqrt();
        eprintln!("{h}x{w}: BF16 loss error {loss_err:e}, gradient error {grad_err:e}");
        assert!(loss_err < 1e-2, "{h}x{w}: loss {} against {}", parts.total, want_parts.total);
        assert!(grad_err < 3e-2, "{h}x{w}: relative gradient error {grad_err:e}");
        // BF16 really ran: f32 products land far closer to the reference.
        assert!(grad_err > 1e-5, "{h}x{w}: gradient error {grad_err:e} is f32's, not BF16's");
    }
}
