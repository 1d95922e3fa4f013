//! `brushwork run ... --plan`: what each content image's run would need, per scale (size,
//! tiles, predicted memory, predicted time per iteration), without running it.
//!
//! Memory comes from the memory plan ([`brushwork::session::memory::plan`]); time from the
//! iteration's FLOPs ([`brushwork::engine::flops`]) at a rate measured here, now, with the real
//! network on a 256x192 picture (the second of two evaluations). A tiled iteration runs each tile
//! forward twice and backward once: 1.5 times a whole iteration's FLOPs on the tile's crop.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use serde_json::json;

use super::report::{out_line, Reporter};
use super::weights::resolve_for_run;
use crate::cli::RunArgs;
use brushwork::engine::flops::iteration_flops;
use brushwork::engine::objective::{deepest_layer, Objective, StyleTargets};
use brushwork::engine::tiles::halo;
use brushwork::engine::{Settings, Vgg};
use brushwork::error::Result;
use brushwork::session::memory::{human, plan_job, MemoryPlan};
use brushwork::session::network::load_network;
use brushwork::session::Kind;
use brushwork::util::rng::SplitMix64;
use brushwork::util::text::escape_controls;
use brushwork::weights::layout::Arch;

pub fn print_plans(args: &RunArgs, settings: &Settings, preset: &str, device: &Device) -> Result<()> {
    let reporter = Reporter::new(args.json, 0);
    let weights = resolve_for_run(args.weights.as_deref(), settings.arch.required(), &reporter)?;
    reporter.finish();
    let (net, header) = load_network(settings, preset, &weights, device, &|_| {})?;
    let rate = measure_rate(&net, settings, header.arch)?;
    for content in &args.content {
        let plan = plan_job(settings, Kind::Image, content, Some(&weights), &args.device)?;
        let seconds: Vec<f64> = plan
            .scales
            .iter()
            .map(|s| iteration_seconds(settings, header.arch, (s.width, s.height), s.core, rate))
            .collect::<Result<_>>()?;
        if args.json {
            out_line(&plan_json(content, &plan, &seconds).to_string());
        } else {
            print_text(content, &plan, &seconds);
        }
    }
    Ok(())
}

/// FLOP/s of one evaluation of `settings`' losses on a 256x192 picture (after one to warm up).
fn measure_rate(net: &Vgg, settings: &Settings, arch: Arch) -> Result<f64> {
    let (w, h) = (256usize, 192usize);
    let device = net.device();
    let image = |seed| -> Result<Tensor> {
        Ok(Tensor::from_vec(SplitMix64::new(seed).uniform(3 * w * h, 0.0, 1.0), (1, 3, h, w), device)?
            .to_dtype(DType::F32)?)
    };
    let mut s = settings.clone();
    s.tile = 0;
    let targets = StyleTargets::compute(net, &s, &[(image(2)?, 1.0)])?;
    let objective = Objective::new(net, &s, &image(1)?, targets)?;
    let x = image(3)?;
    objective.evaluate(&x)?;
    let start = Instant::now();
    objective.evaluate(&x)?;
    let t = start.elapsed().as_secs_f64().max(1e-6);
    Ok(flops(settings, arch, (w, h))? / t)
}

fn flops(settings: &Settings, arch: Arch, (w, h): (usize, usize)) -> Result<f64> {
    let deepest = deepest_layer(settings, arch)?;
    let convs = arch.convs();
    let style: Vec<usize> = settings
        .style_layers
        .keys()
        .filter_map(|n| brushwork::weights::layout::parse_layer_name(n))
        .filter_map(|(b, l)| convs.iter().position(|c| c.block == b && c.layer == l))
        .collect();
    Ok(iteration_flops(arch, deepest, h, w, &style))
}

fn iteration_seconds(settings: &Settings, arch: Arch, (w, h): (u32, u32), core: Option<u32>, rate: f64) -> Result<f64> {
    let (w, h) = (w as usize, h as usize);
    let total = match core {
        Some(core) => {
            let margin = 2 * halo(arch, deepest_layer(settings, arch)?);
            let core = core as usize;
            let tiles = w.div_ceil(core) * h.div_ceil(core);
            let crop = ((core + margin).min(w), (core + margin).min(h));
            1.5 * tiles as f64 * flops(settings, arch, crop)?
        }
        None => flops(settings, arch, (w, h))?,
    };
    Ok(total / rate)
}

fn plan_json(content: &Path, plan: &MemoryPlan, seconds: &[f64]) -> serde_json::Value {
    json!({
        "event": "plan",
        "content": content,
        "device": plan.device,
        "budget": plan.budget,
        "host_bytes": plan.host,
        "bytes": plan.bytes,
        "tile": plan.tile,
        "lbfgs_history": plan.lbfgs_history,
        "lbfgs_compact": plan.lbfgs_compact,
        "changes": plan.changes,
        "scales": plan.scales.iter().zip(seconds).map(|(s, t)| json!({
            "width": s.width, "height": s.height, "tiles": s.tiles, "core": s.core, "bytes": s.bytes,
            "seconds_per_iteration": t,
        })).collect::<Vec<_>>(),
    })
}

fn print_text(content: &Path, plan: &MemoryPlan, seconds: &[f64]) {
    let whose = if plan.device == "cpu" { String::new() } else { format!(" of {}'s memory", plan.device) };
    let budget =
        plan.budget.map_or(format!("no budget (memory{whose} unknown)"), |b| format!("budget {}{whose}", human(b)));
    println!("{}: {budget}", escape_controls(&content.display().to_string()));
    println!("{:>5}  {:>11}  {:>16}  {:>9}  {:>12}", "scale", "size", "tiles", "memory", "s/iteration");
    for (k, (s, t)) in plan.scales.iter().zip(seconds).enumerate() {
        let tiles = match s.core {
            Some(core) => format!("{} of {core} px", s.tiles),
            None => "whole".into(),
        };
        println!(
            "{:>5}  {:>11}  {:>16}  {:>9}  {:>12.2}",
            k + 1,
            format!("{}x{}", s.width, s.height),
            tiles,
            human(s.bytes),
            t
        );
    }
    let changes = if plan.changes.is_empty() { String::new() } else { format!("; {}", plan.changes.join(", ")) };
    let host = plan.host.map_or(String::new(), |h| format!(" (and {} of host memory)", human(h)));
    println!("peak {}{host}{changes}", human(plan.bytes));
}
