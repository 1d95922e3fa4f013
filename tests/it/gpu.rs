//! The CUDA build on a GPU (`--features cuda`): the hand-written gradient on CUDA equals the CPU's on
//! a tiny random network, and a session run on `--device cuda`, killed with `kill -9`, resumes
//! exactly. Each test prints "no CUDA device: skipped" and passes where no GPU can be opened, so
//! `cargo test --features cuda` runs on CPU-only machines; `scripts/gpu-check.sh` runs them on a GPU.

use crate::cli_support;
// PRESET: the CPU resume tests' preset (L-BFGS, two scales, a checkpoint every 4 iterations), run
// here on `--device cuda`.
use crate::sessions_cli::{killed_runs_resume_exactly, session_for, sessions_dir, PRESET};

use crate::net_support::{random, tiny_vgg as tiny_net};

use brushwork::engine::objective::{Objective, StyleTargets, TemporalTerm};
use brushwork::engine::settings::{Padding, Settings};
use brushwork::engine::vgg::Pooling;
use brushwork::weights::layout::Preprocess;
use candle_core::{DType, Device, Tensor};
use cli_support::Fixture;

/// The first GPU, or `None` (with the message) where there is none or no driver.
fn cuda() -> Option<Device> {
    match Device::new_cuda(0) {
        Ok(d) => Some(d),
        Err(e) => {
            println!("no CUDA device: skipped ({})", e.to_string().lines().next().unwrap_or_default());
            None
        }
    }
}

/// The tiny VGG-16 of the gradient tests (widths / 16), on `device` in `dtype`.
struct Case {
    dtype: DType,
    preprocess: Preprocess,
    pooling: Pooling,
    padding: Padding,
    temporal: bool,
    /// On CUDA, evaluate tile by tile with cores of this many pixels (the CPU's stays whole).
    gpu_tile: Option<usize>,
    tolerance: f64,
}

/// Total loss and its gradient (on the CPU, in f64) of the objective of `case` evaluated on `device`.
fn evaluate(device: &Device, case: &Case, h: usize, w: usize) -> (f64, Tensor) {
    let net = tiny_net(device, case.dtype, case.preprocess, case.pooling);
    let mut s = Settings { content_weight: 2.0, style_weight: 50.0, tv_weight: 0.5, ..Settings::default() };
    s.padding = case.padding;
    s.content_layers = [("conv3_2".to_string(), 1.0)].into_iter().collect();
    s.style_layers = ["conv1_1", "conv2_1", "conv3_1", "conv4_1"].iter().map(|l| (l.to_string(), 0.25)).collect();
    let content = random(1, (1, 3, h, w), device, case.dtype);
    let style = random(2, (1, 3, 20, 16), device, case.dtype);
    let targets = StyleTargets::compute(&net, &s, &[(style, 1.0)]).unwrap();
    let mut obj = Objective::new(&net, &s, &content, targets).unwrap();
    if case.temporal {
        let mask = random(6, (1, 1, h, w), device, case.dtype);
        obj = obj.with_temporal(TemporalTerm {
            weight: 30.0,
            targets: vec![(random(5, (1, 3, h, w), device, case.dtype), mask)],
        });
    }
    if device.is_cuda() {
        obj = obj.with_tiles(case.gpu_tile);
    }
    let (parts, grad) = obj.evaluate(&random(3, (1, 3, h, w), device, case.dtype)).unwrap();
    assert_eq!(grad.device().is_cuda(), device.is_cuda(), "the gradient left the device");
    (parts.total, grad.to_device(&Device::Cpu).unwrap().to_dtype(DType::F64).unwrap())
}

/// On CUDA the convolutions and pooling are candle's ops (the CPU's Winograd/tap kernels and
/// parallel pooling have no CUDA version); the losses, border and backward pass are the same code.
/// Odd sizes, both poolings, both preprocessings, the reflected border, the temporal term, and
/// tiles (the exact tiled evaluation on the GPU against the whole picture on the CPU).
#[test]
fn cuda_gradient_matches_the_cpu_gradient() {
    let Some(gpu) = cuda() else { return };
    let f32_case = |preprocess, pooling, padding, temporal| Case {
        dtype: DType::F32,
        preprocess,
        pooling,
        padding,
        temporal,
        gpu_tile: None,
        tolerance: 1e-3,
    };
    let cases = [
        f32_case(Preprocess::Caffe, Pooling::Avg, Padding::Zero, false),
        f32_case(Preprocess::Torchvision, Pooling::Max, Padding::Reflect, false),
        f32_case(Preprocess::Caffe, Pooling::Avg, Padding::Reflect, true),
        // Cores of 16 px on the GPU (each read with its halo) against the whole picture on the CPU.
        Case { gpu_tile: Some(16), ..f32_case(Preprocess::Torchvision, Pooling::Max, Padding::Reflect, true) },
        // In f64 both devices run candle's ops in the same order: agreement to rounding.
        Case { dtype: DType::F64, tolerance: 1e-9, ..f32_case(Preprocess::Caffe, Pooling::Avg, Padding::Zero, false) },
    ];
    for case in &cases {
        let label = format!(
            "{:?} {:?} {:?} {:?} temporal={} tile={:?}",
            case.dtype, case.preprocess, case.pooling, case.padding, case.temporal, case.gpu_tile
        );
        let tolerance = case.tolerance;
        for (h, w) in [(37, 45), (64, 48)] {
            let (cpu_total, cpu_grad) = evaluate(&Device::Cpu, case, h, w);
            let (gpu_total, gpu_grad) = evaluate(&gpu, case, h, w);
            assert!(
                (gpu_total - cpu_total).abs() <= tolerance * cpu_total.abs(),
                "{label} {h}x{w}: loss {gpu_total} on CUDA, {cpu_total} on the CPU"
            );
            let diff: f64 = (&gpu_grad - &cpu_grad).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
            let norm: f64 = cpu_grad.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
            assert!(norm > 0.0, "{label}: zero gradient, the test would prove nothing");
            let rel = (diff / norm).sqrt();
            println!("{label} {h}x{w}: relative gradient error CUDA vs CPU {rel:e}");
            assert!(rel < tolerance, "{label} {h}x{w}: relative gradient error {rel:e} between CUDA and the CPU");
        }
    }
}

fn run_args(out: &str) -> Vec<String> {
    let args = ["run", "content.png", "--style", "style.png", "--weights", "tiny.safetensors", "--preset", "ck.toml"];
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend(["--device", "cuda", "--json", "-o", out].iter().map(|s| s.to_string()));
    v
}

/// `run --device cuda`, `kill -9` after a checkpoint and across the scale change, then `sessions
/// resume`: it continues from the checkpoint on the GPU and ends with the uninterrupted run's loss
/// curve and pixels.
#[test]
fn cuda_run_killed_with_sigkill_resumes_exactly() {
    if cuda().is_none() {
        return;
    }
    let fx = Fixture::new("gpu-kill");
    std::fs::write(fx.join("ck.toml"), PRESET).unwrap();
    let resumes = killed_runs_resume_exactly(&fx, &run_args, &[9, 31]);
    let record =
        std::fs::read_to_string(sessions_dir(&fx).join(session_for(&fx, "ref.png")).join("session.toml")).unwrap();
    assert!(record.contains("device = \"cuda\""), "the session does not record its device: {record}");
    assert!(resumes > 0, "every run finished before its kill: the test proved nothing");
}
