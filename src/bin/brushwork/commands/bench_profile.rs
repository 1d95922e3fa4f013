//! `brushwork bench --profile`: where one L-BFGS iteration's time goes, by layer and by stage.
//!
//! Runs real L-BFGS iterations (the default settings' line search and history, filled by as many
//! untimed iterations first) on the benchmark's objective, with the engine's stage clock on
//! ([`brushwork::engine::profile`]). Per iteration it prints every convolution's forward and
//! backward time, pooling, losses, cropping and the optimiser's own vector work; what no stage
//! covers (allocation and freeing of results, dispatch between stages) is the "untimed" row. The
//! minor page faults per iteration tell how much of the work touches freshly mapped memory, and
//! the cost of one empty parallel call tells what thread hand-offs cost at this size.

use std::time::Instant;

use candle_core::Tensor;
use rayon::prelude::*;
use serde_json::json;

use crate::cli::BenchArgs;
use brushwork::engine::lbfgs::Lbfgs;
use brushwork::engine::objective::Objective;
use brushwork::engine::profile::{self, KernelPart, Stage, StageTime};
use brushwork::engine::stylize::lbfgs_step;
use brushwork::engine::{Settings, Vgg};
use brushwork::error::Result;

pub fn bench_profile(
    net: &Vgg,
    objective: &Objective,
    settings: &Settings,
    x: &Tensor,
    args: &BenchArgs,
    threads: usize,
) -> Result<()> {
    let mut lbfgs = Lbfgs::new(settings.lbfgs_history);
    let (mut parts, mut grad) = objective.evaluate(x)?;
    let mut x = x.clone();
    // Untimed: fill the curvature history, so the timed iterations do what a run's later ones do.
    for _ in 0..settings.lbfgs_history.max(1) {
        (x, parts, grad, _) = lbfgs_step(objective, &mut lbfgs, settings, &x, parts, &grad)?;
    }
    let n = args.iterations;
    let faults_before = minor_faults();
    let mut evaluations = 0;
    profile::start();
    let begin = Instant::now();
    for _ in 0..n {
        let tries;
        (x, parts, grad, tries) = lbfgs_step(objective, &mut lbfgs, settings, &x, parts, &grad)?;
        evaluations += tries;
    }
    let wall = begin.elapsed().as_secs_f64() / n as f64;
    let times = profile::finish();
    let kernel = profile::kernel_seconds();
    let kernel_total: f64 = kernel.iter().map(|k| k.1).sum();
    let faults = match (faults_before, minor_faults()) {
        (Some(a), Some(b)) => Some((b - a) as f64 / n as f64),
        _ => None,
    };
    let hand_off = empty_parallel_call_seconds();
    let per_iteration = |s: &StageTime| s.seconds / n as f64;
    let timed: f64 = times.iter().map(per_iteration).sum();
    let specs = net.arch().convs();
    let name = |stage: Stage| -> String {
        let conv = |i: usize| specs.get(i).map_or_else(|| format!("conv #{i}"), |s| s.name());
        match stage {
            Stage::InputMap => "input map (and its gradient)".into(),
            Stage::Border => "border (pad, fold)".into(),
            Stage::ConvForward(i) => format!("{} forward", conv(i)),
            Stage::ConvBackward(i) => format!("{} backward", conv(i)),
            Stage::PoolForward(b) => format!("pool{} forward", b - 1),
            Stage::PoolBackward(b) => format!("pool{} backward", b - 1),
            Stage::ContentLoss(i) => format!("content loss {}", conv(i)),
            Stage::StyleLoss(i) => format!("style loss {}", conv(i)),
            Stage::Crop => "crop activations".into(),
            Stage::GradientSum => "gradient sums".into(),
            Stage::ImageLosses => "tv and temporal losses".into(),
            Stage::Optimizer => "L-BFGS direction, step, update".into(),
        }
    };
    let mut rows: Vec<(Stage, f64, f64)> =
        times.iter().map(|s| (s.stage, per_iteration(s), s.calls as f64 / n as f64)).collect();
    rows.sort_by_key(|r| r.0);
    let group = |pick: fn(Stage) -> bool| rows.iter().filter(|r| pick(r.0)).map(|r| r.1).sum::<f64>();
    let groups = [
        ("convolutions, forward", group(|s| matches!(s, Stage::ConvForward(_)))),
        ("convolutions, backward", group(|s| matches!(s, Stage::ConvBackward(_)))),
        ("pooling", group(|s| matches!(s, Stage::PoolForward(_) | Stage::PoolBackward(_)))),
        (
            "losses (Gram, content, tv)",
            group(|s| matches!(s, Stage::StyleLoss(_) | Stage::ContentLoss(_) | Stage::ImageLosses)),
        ),
        (
            "crop, border, input map, sums",
            group(|s| matches!(s, Stage::Crop | Stage::Border | Stage::InputMap | Stage::GradientSum)),
        ),
        ("optimiser", group(|s| s == Stage::Optimizer)),
        ("untimed (allocation, dispatch)", (wall - timed).max(0.0)),
    ];
    let evaluations_per_iteration = evaluations as f64 / n as f64;
    if args.json {
        let line = json!({
            "event": "bench_profile", "arch": net.arch().as_str(), "size": args.size, "threads": threads,
            "iterations": n, "ms_per_iteration": wall * 1e3, "evaluations_per_iteration": evaluations_per_iteration,
            "minor_faults_per_iteration": faults, "empty_parallel_call_us": hand_off * 1e6,
            "winograd_cpu_ms": kernel.iter().map(|(p, s)| json!({"part": part_name(*p), "ms": s * 1e3 / n as f64})).collect::<Vec<_>>(),
            "groups": groups.iter().map(|(g, s)| json!({"group": g, "ms": s * 1e3})).collect::<Vec<_>>(),
            "stages": rows.iter().map(|(s, t, c)| json!({"stage": name(*s), "ms": t * 1e3, "calls": c})).collect::<Vec<_>>(),
        });
        outln!("{line}");
        return Ok(());
    }
    let size = args.size;
    outln!(
        "{} to conv5_1, {size}x{size}, {threads} thread(s), {n} L-BFGS iterations after {} untimed",
        net.arch(),
        settings.lbfgs_history.max(1)
    );
    outln!("  {:>9.1} ms per iteration, {evaluations_per_iteration:.2} evaluations per iteration", wall * 1e3);
    if let Some(f) = faults {
        outln!("  {f:>9.0} minor page faults per iteration");
    }
    outln!("  {:>9.1} µs per empty parallel call (thread hand-off)", hand_off * 1e6);
    outln!("  by group (ms per iteration, share):");
    for (g, s) in groups {
        outln!("    {g:<34} {:>8.2} {:>5.1} %", s * 1e3, 100.0 * s / wall);
    }
    outln!("  inside the convolutions (CPU ms per iteration over all threads, share):");
    for (p, s) in kernel {
        outln!("    {:<34} {:>8.2} {:>5.1} %", part_name(p), s * 1e3 / n as f64, 100.0 * s / kernel_total.max(1e-12));
    }
    outln!("  by stage (ms per iteration, calls per iteration, share):");
    for (s, t, c) in &rows {
        outln!("    {:<34} {:>8.2} {c:>5.1} {:>5.1} %", name(*s), t * 1e3, 100.0 * t / wall);
    }
    Ok(())
}

fn part_name(part: KernelPart) -> &'static str {
    match part {
        KernelPart::InputTransform => "input transform (and ReLU mask)",
        KernelPart::Packing => "BF16 packing of the input",
        KernelPart::Products => "matrix products",
        KernelPart::OutputTransform => "output transform, bias, ReLU",
    }
}

/// Minor page faults of this process so far (field 10 of `/proc/self/stat`), where Linux tells.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

/// The median time of a parallel call over as many empty tasks as threads: what handing work to
/// the pool and waiting for it costs, however little the work.
fn empty_parallel_call_seconds() -> f64 {
    let tasks = 2 * rayon::current_num_threads();
    let mut times: Vec<f64> = (0..201)
        .map(|_| {
            let begin = Instant::now();
            (0..tasks).into_par_iter().for_each(|i| {
                std::hint::black_box(i);
            });
            begin.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
