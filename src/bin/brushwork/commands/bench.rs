//! `brushwork bench`: time one style-transfer iteration on random weights of the real VGG shapes,
//! count its useful FLOPs analytically, and compare with this machine's measured f32 matmul peak.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use serde_json::json;

use crate::cli::BenchArgs;
use brushwork::engine::bf16;
use brushwork::engine::flops::iteration_flops;
use brushwork::engine::objective::{deepest_layer, Objective, StyleTargets};
use brushwork::engine::settings::Precision;
use brushwork::engine::vgg::{Vgg, WeightsHeader};
use brushwork::engine::Settings;
use brushwork::error::{Error, Result};
use brushwork::util::rng::SplitMix64;
use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::random::random_vgg;

pub fn bench(args: &BenchArgs) -> Result<()> {
    let threads = match args.threads {
        Some(0) => return Err(Error::Usage("--threads must be at least 1".into())),
        Some(t) => {
            // candle reads RAYON_NUM_THREADS for its matmul and conv threads; rayon's pool too.
            std::env::set_var("RAYON_NUM_THREADS", t.to_string());
            let _ = rayon::ThreadPoolBuilder::new().num_threads(t).build_global();
            t
        }
        None => rayon::current_num_threads(),
    };
    if args.flow {
        return super::bench_flow::bench_flow(args.iterations.max(1), threads, args.json);
    }
    if !(16..=4096).contains(&args.size) || args.iterations == 0 {
        return Err(Error::Usage("--size must be 16..4096 and --iterations at least 1".into()));
    }
    let arch = Arch::from(args.arch);
    let device = super::overrides::parse_device(&args.device)?;
    let settings = Settings::default(); // gatys layers: content conv4_2, style conv1_1 … conv5_1
    let deepest = deepest_layer(&settings, arch)?;
    let tensors = random_vgg(arch, 1, 1)
        .into_iter()
        .map(|(name, shape, data)| Ok((name, Tensor::from_vec(data, shape, &device)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    let header = WeightsHeader { arch, preprocess: Preprocess::Caffe };
    let precision = Precision::from(args.precision);
    let net =
        Vgg::from_tensors(tensors, &header, Path::new("random"), &device, DType::F32, settings.pooling, Some(deepest))?
            .with_precision(precision);
    // What the CPU convolutions multiply in (CUDA runs candle's f32 conv2d).
    let products = match device.is_cpu() && precision == Precision::Auto && bf16::available() {
        true => "bf16",
        false => "f32",
    };
    let size = args.size as usize;
    let image = |seed| -> Result<Tensor> {
        Ok(Tensor::from_vec(SplitMix64::new(seed).uniform(3 * size * size, 0.0, 1.0), (1, 3, size, size), &device)?)
    };
    let targets = StyleTargets::compute(&net, &settings, &[(image(2)?, 1.0)])?;
    let objective = Objective::new(&net, &settings, &image(1)?, targets)?;
    let x = image(3)?;
    if args.profile {
        if !device.is_cpu() {
            return Err(Error::Usage("--profile times the CPU engine; drop --device".into()));
        }
        return super::bench_profile::bench_profile(&net, &objective, &settings, &x, args, threads);
    }
    // Each iteration ends in reading the loss back, which waits for the GPU.
    let times = time_iterations(args.iterations, || Ok(objective.evaluate(&x)?.0.total))?;
    let median = times[times.len() / 2];
    let gpu_memory = gpu_peak_bytes(&device);
    // The Winograd and tap convolutions are CPU kernels; on CUDA the network runs candle's conv2d.
    let main_variant = match (device.is_cpu(), products) {
        (true, "bf16") => "brushwork: hand-written backward, Winograd, BF16",
        (true, _) => "brushwork: hand-written backward, Winograd",
        (false, _) => "brushwork: hand-written backward, candle conv2d",
    };
    let mut variants = vec![(main_variant, median)];
    if args.compare && products == "bf16" {
        let f32_net = net.with_precision(Precision::F32);
        let targets = StyleTargets::compute(&f32_net, &settings, &[(image(2)?, 1.0)])?;
        let f32_objective = Objective::new(&f32_net, &settings, &image(1)?, targets)?;
        let t = time_iterations(args.iterations, || Ok(f32_objective.evaluate(&x)?.0.total))?;
        variants.push(("hand-written backward, Winograd, f32", t[t.len() / 2]));
    }
    if args.compare {
        let stock_net = net.with_candle_conv();
        let targets = StyleTargets::compute(&stock_net, &settings, &[(image(2)?, 1.0)])?;
        let stock = Objective::new(&stock_net, &settings, &image(1)?, targets)?;
        if device.is_cpu() {
            let direct_net = net.with_direct_cpu_conv()?;
            let targets = StyleTargets::compute(&direct_net, &settings, &[(image(2)?, 1.0)])?;
            let direct = Objective::new(&direct_net, &settings, &image(1)?, targets)?;
            let t = time_iterations(args.iterations, || Ok(direct.evaluate(&x)?.0.total))?;
            variants.push(("hand-written backward, direct tap conv", t[t.len() / 2]));
            let t = time_iterations(args.iterations, || Ok(stock.evaluate(&x)?.0.total))?;
            variants.push(("hand-written backward, candle conv2d", t[t.len() / 2]));
        }
        let t = time_iterations(args.iterations, || Ok(stock.evaluate_autograd(&x)?.0.total))?;
        variants.push(("candle autograd (stock)", t[t.len() / 2]));
    }
    let style_layers: Vec<usize> = settings.style_layers.keys().filter_map(|l| net.layer_index(l)).collect();
    let flops = iteration_flops(arch, deepest, size, size, &style_layers);
    let gflops = flops / median / 1e9;
    let peak = matmul_peak_gflops(&device)?;
    let memory = peak_rss_bytes();
    if args.json {
        let line = json!({
            "event": "bench", "impl": "brushwork", "arch": arch.as_str(), "size": size, "threads": threads,
            "iterations": args.iterations, "median_ms": median * 1e3, "min_ms": times[0] * 1e3,
            "gflop_per_iteration": flops / 1e9, "gflops": gflops, "matmul_peak_gflops": peak,
            "ratio_to_peak": gflops / peak, "peak_rss_bytes": memory, "device": args.device,
            "peak_gpu_bytes": gpu_memory, "products": products,
            "variants": variants.iter().map(|(name, s)| json!({"name": name, "median_ms": s * 1e3})).collect::<Vec<_>>(),
        });
        outln!("{line}");
    } else {
        let on = match device.is_cpu() {
            true => format!("{threads} thread(s)"),
            false => format!("on {}", args.device),
        };
        outln!("{} to conv5_1, {size}x{size}, {on}, {products} products, {} timed iterations", arch, args.iterations);
        outln!("  median          {:>9.1} ms per iteration (min {:.1} ms)", median * 1e3, times[0] * 1e3);
        outln!("  useful work     {:>9.2} GFLOP per iteration", flops / 1e9);
        outln!("  throughput      {:>9.1} GFLOP/s", gflops);
        outln!("  f32 matmul peak {:>9.1} GFLOP/s (measured now, 2048³)", peak);
        outln!("  ratio to peak   {:>9.0} %", 100.0 * gflops / peak);
        if let Some(m) = memory {
            outln!("  peak memory     {:>9.0} MiB (resident, whole process)", m as f64 / (1 << 20) as f64);
        }
        if let Some(m) = gpu_memory {
            outln!("  peak GPU memory {:>9.0} MiB (allocator high-water mark)", m as f64 / (1 << 20) as f64);
        }
        if variants.len() > 1 {
            outln!("  side by side (median ms, GFLOP/s, time relative to brushwork):");
            for (name, s) in &variants {
                outln!("    {:<42} {:>9.1} {:>7.1} {:>6.2}x", name, s * 1e3, flops / s / 1e9, s / median);
            }
        }
    }
    Ok(())
}

/// One warm-up, then `n` timed runs of `step`; the times sorted, in seconds.
fn time_iterations(n: u32, mut step: impl FnMut() -> Result<f64>) -> Result<Vec<f64>> {
    std::hint::black_box(step()?);
    let mut times = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        std::hint::black_box(step()?);
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Best of 3 timed 2048x2048x2048 f32 matmuls, in GFLOP/s.
fn matmul_peak_gflops(device: &Device) -> Result<f64> {
    let n = 2048;
    let a = Tensor::from_vec(SplitMix64::new(7).uniform(n * n, -1.0, 1.0), (n, n), device)?;
    let b = Tensor::from_vec(SplitMix64::new(8).uniform(n * n, -1.0, 1.0), (n, n), device)?;
    a.matmul(&b)?.sum_all()?.to_scalar::<f32>()?;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let c = a.matmul(&b)?;
        c.sum_all()?.to_scalar::<f32>()?; // wait for the device
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(2.0 * (n as f64).powi(3) / best / 1e9)
}

/// The process's peak resident memory (VmHWM), where /proc tells it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The most GPU memory candle has had allocated at once so far: the high-water mark of the device's
/// default memory pool, which candle's stream-ordered allocations (`cuMemAllocAsync`) come from.
/// `None` off CUDA or where the device has no memory pools.
#[cfg(feature = "cuda")]
fn gpu_peak_bytes(device: &Device) -> Option<u64> {
    use candle_core::cuda_backend::cudarc::driver::sys;
    let Device::Cuda(gpu) = device else { return None };
    let stream = gpu.cuda_stream();
    let ctx = stream.context();
    if !ctx.has_async_alloc() {
        return None;
    }
    ctx.bind_to_thread().ok()?;
    let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
    let mut high: u64 = 0;
    // SAFETY: two queries on the context's own device, bound to this thread, with valid out-pointers;
    // CU_MEMPOOL_ATTR_USED_MEM_HIGH is a cuuint64_t.
    unsafe {
        if sys::cuDeviceGetDefaultMemPool(&mut pool, ctx.cu_device()) != sys::CUresult::CUDA_SUCCESS {
            return None;
        }
        let attr = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH;
        if sys::cuMemPoolGetAttribute(pool, attr, (&mut high as *mut u64).cast()) != sys::CUresult::CUDA_SUCCESS {
            return None;
        }
    }
    Some(high)
}

#[cfg(not(feature = "cuda"))]
fn gpu_peak_bytes(_device: &Device) -> Option<u64> {
    None
}
