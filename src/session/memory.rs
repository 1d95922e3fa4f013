//! How much memory a job will need, estimated from the shapes alone before any work starts, so a
//! job that cannot fit (`style_scale = 1000`, a 16384² photo) is refused with one line instead of
//! taking the process (and every other session of a `serve`) down when the allocation fails or
//! the kernel's OOM killer picks it.
//!
//! The estimate is deliberately rough and on the high side: f32 everywhere, the widths of the
//! real VGG (a smaller test network only makes it more conservative), every Winograd kernel
//! transform a layer may use, and the forward activations kept for the backward pass with the
//! backward's own buffers on top (a factor measured on this machine).
//!
//! On CUDA ([`Target::Cuda`]) the budget is the GPU's memory and the estimate counts what lives
//! there: the network, the optimiser's images, the kept activations, the gradients at the loss
//! layers, and the scratch of candle's convolution, an im2col kernel and a cuBLAS product, which
//! unfolds a layer's input nine times over (9 × 64 values a pixel at conv1_2: at 1024x768 alone
//! 1.8 GB). No Winograd transforms there; the decoded pictures and the program stay on the host,
//! which is checked against what it has available.

use std::path::Path;

use crate::engine::border::REFLECT;
use crate::engine::settings::{ArchChoice, ColorMode, Optimizer, Padding};
use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::session::{Kind, SessionSpec};
use crate::weights::layout::{parse_layer_name, Arch};

const F32: f64 = 4.0;
const GIB: f64 = (1u64 << 30) as f64;

/// Kept free besides the estimate: the allocator's slack, the rest of the system (or of the GPU).
const MARGIN_BYTES: f64 = 512.0 * 1024.0 * 1024.0;

/// On CUDA, the GPU memory a process holds before its first tensor: the driver's context, the
/// kernels candle loads and cuBLAS's workspace (a few hundred MB on current GPUs; not measured
/// here, where there is no GPU: `scripts/gpu_memory_check.sh` measures it where there is one).
const CUDA_CONTEXT_BYTES: f64 = 512.0 * 1024.0 * 1024.0;

/// On CUDA, the host memory the CUDA libraries (driver, cuBLAS) add to the program's.
const CUDA_HOST_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// The program itself before any job: code, FFmpeg and the other libraries, thread stacks.
const PROCESS_BYTES: f64 = 150.0 * 1024.0 * 1024.0;

/// Forward activations kept for the backward pass count this many times: the backward pass's
/// gradients, ReLU masks and the loss's temporaries come on top. Measured: 512x384 on the real
/// VGG-16 widths peaked at 857 MiB resident where the estimate with 2 said 763 MiB.
const TRACE_FACTOR: f64 = 1.55;

/// The estimate and its largest part, named for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub bytes: f64,
    pub largest: String,
    /// On CUDA, the host memory besides (`bytes` is the GPU's); `None` on the CPU, where `bytes`
    /// is all of it.
    pub host: Option<f64>,
}

/// Where a job's tensors live, so whose memory the plan budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// The machine's memory (`--device cpu`).
    #[default]
    Cpu,
    /// GPU number N's memory (`--device cuda:N`); the host's is checked besides.
    Cuda(usize),
}

impl Target {
    /// The target of a job's `device` (`cpu`, `cuda`, `cuda:N`); anything else counts as the CPU
    /// (the device itself is checked, and refused, elsewhere).
    pub fn of(device: &str) -> Target {
        crate::engine::device::cuda_ordinal(device).map_or(Target::Cpu, Target::Cuda)
    }

    /// `cpu` or `cuda:N`.
    pub fn name(self) -> String {
        match self {
            Target::Cpu => "cpu".into(),
            Target::Cuda(n) => format!("cuda:{n}"),
        }
    }

    /// Whose memory a budget is, for messages: `` or ` of GPU memory (cuda:0)`.
    fn whose(self) -> String {
        match self {
            Target::Cpu => String::new(),
            Target::Cuda(n) => format!(" of GPU memory (cuda:{n})"),
        }
    }
}

/// Width and height of the images a job reads (from their headers, a clip's from its stream's),
/// when known; what cannot be read counts as square (an upper bound).
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    pub content: Option<(u32, u32)>,
    pub styles: Vec<Option<(u32, u32)>>,
    /// The network the weights hold, when known; else the preset's, and for `auto` VGG-19 (the
    /// larger).
    pub arch: Option<Arch>,
}

/// An image's size from its header. One larger than the loader accepts is left to the loader,
/// which refuses it with a message naming the file.
fn header_dims(path: &Path) -> Option<(u32, u32)> {
    let (w, h) = image::ImageReader::open(path).ok()?.with_guessed_format().ok()?.into_dimensions().ok()?;
    (w <= crate::imageio::MAX_DIMENSION && h <= crate::imageio::MAX_DIMENSION).then_some((w, h))
}

/// A clip's frame size from its headers (upright), when FFmpeg can read them; else unknown,
/// counted as square.
fn video_dims(path: &Path) -> Option<(u32, u32)> {
    #[cfg(feature = "ffmpeg")]
    {
        crate::video::init().ok()?;
        crate::video::decode::display_size(path).ok()
    }
    #[cfg(not(feature = "ffmpeg"))]
    {
        let _ = path;
        None
    }
}

/// The bytes one job needs at its peak, evaluated whole.
pub fn estimate(settings: &Settings, shapes: &Shapes) -> Estimate {
    estimate_with(settings, shapes, Target::Cpu, None, (settings.lbfgs_history, false)).0
}

/// The bytes one job needs at its peak on `target` with the scales larger than `tile` evaluated
/// tile by tile (cores of `tile` pixels a side) and an L-BFGS history of `history.0` pairs (kept
/// in bf16 when `history.1`), and each scale's part.
pub fn estimate_with(
    settings: &Settings,
    shapes: &Shapes,
    target: Target,
    tile: Option<u32>,
    (history, compact): (usize, bool),
) -> (Estimate, Vec<ScalePlan>) {
    let cuda = matches!(target, Target::Cuda(_));
    let arch = shapes.arch.unwrap_or(match settings.arch {
        ArchChoice::Vgg16 => Arch::Vgg16,
        // Auto may find either: VGG-19 is the larger.
        ArchChoice::Vgg19 | ArchChoice::Auto => Arch::Vgg19,
    });
    let layers = Layers::new(arch, settings);
    let halo = crate::engine::tiles::halo(arch, layers.convs.len().saturating_sub(1)) as f64;
    // The picture one pass of the network sees: the whole one, or a tile's core and halo.
    let seen = |w: f64, h: f64| -> (f64, f64, usize) {
        match tile.map(f64::from).filter(|&t| t < w.max(h)) {
            Some(t) => ((t + 2.0 * halo).min(w), (t + 2.0 * halo).min(h), ((w / t).ceil() * (h / t).ceil()) as usize),
            None => (w, h, 1),
        }
    };
    let mut scales = Vec::new();
    let mut parts: Vec<(String, f64)> = Vec::new();
    // Decoded inputs (RGB f32), kept for the whole run. A picture at least twice as large as
    // it is used at is read reduced (`imageio::load_rgb_for`), to under twice that size.
    let decoded = |d: Option<(u32, u32)>, fallback: (u32, u32), need: f64| {
        let (w, h) = d.unwrap_or(fallback);
        let long = w.max(h) as f64;
        let (w, h) = if long >= 2.0 * need { fit_f((w, h), 2.0 * need) } else { (w as f64, h as f64) };
        3.0 * F32 * w * h
    };
    let square = (settings.size, settings.size);
    let content_in = decoded(shapes.content, square, settings.size as f64);
    let style_need = crate::engine::stylize::style_long_side(settings.size, settings.style_scale) as f64;
    let styles_in: f64 = shapes.styles.iter().map(|d| decoded(*d, square, style_need)).sum::<f64>()
        * if settings.color == ColorMode::Histogram { 2.0 } else { 1.0 };
    let inputs = [
        (
            match shapes.content {
                Some((w, h)) => format!("the content image decoded ({w}x{h})"),
                None => "the frames decoded".into(),
            },
            content_in,
        ),
        ("the style images decoded".into(), styles_in),
        ("the program itself".into(), PROCESS_BYTES),
    ];
    if cuda {
        // Each convolution's kernel twice (forward, and flipped for the input gradient).
        parts.push(("the network's weights".into(), 2.0 * layers.weight_bytes()));
        parts.push(("the CUDA context".into(), CUDA_CONTEXT_BYTES));
    } else {
        parts.extend(inputs.iter().cloned());
        parts.push(("the network's weights".into(), layers.weight_bytes()));
    }
    let mut largest_image = 0.0f64;

    // The optimisation at each scale, and before it the style Gram matrices at that scale.
    let mut peak_scale = (String::new(), 0.0f64);
    let mut transforms = TransformSet::default();
    for size in settings.scale_sizes() {
        let (w, h) = fit(shapes.content.unwrap_or(square), size);
        let image = 3.0 * F32 * w as f64 * h as f64;
        // The network sees the picture with its mirrored border when `padding = "reflect"`.
        let border = if settings.padding == Padding::Reflect { 2 * REFLECT as u32 } else { 0 };
        let (nw, nh) = (w + border, h + border);
        let images = match settings.optimizer {
            // Two images a pair, half an image each in bf16, with two widened copies at a time.
            Optimizer::Lbfgs if compact => history as f64 + 10.0,
            Optimizer::Lbfgs => 2.0 * history as f64 + 8.0,
            Optimizer::Adam => 6.0,
        };
        let (tw, th, tiles) = seen(nw as f64, nh as f64);
        // Trace kept for backward (of one tile when tiled), the backward's own buffers, content
        // targets, Grams; tiled, the whole picture's gradient is summed from the tiles' (twice:
        // each tile's sum is a new tensor).
        let tiled_sum = if tiles > 1 { 2.0 * 3.0 * F32 * nw as f64 * nh as f64 } else { 0.0 };
        largest_image = largest_image.max(image);
        // The backward pass: on the CPU a measured factor over the kept activations; on CUDA
        // the activations, the gradients at the loss layers and the largest convolution's scratch.
        let backward = if cuda {
            layers.trace_bytes_f(tw, th) + layers.loss_grad_bytes_f(tw, th) + layers.im2col_bytes_f(tw, th, true)
        } else {
            TRACE_FACTOR * layers.trace_bytes_f(tw, th)
        };
        let optimise = backward + layers.content_bytes(nw, nh) + images * image + 3.0 * layers.gram_bytes() + tiled_sum;
        if !cuda {
            transforms.add_f(&layers, tw, th);
        }
        let long = ((size as f64) * settings.style_scale).round().max(16.0);
        let mut style_phase = layers.gram_bytes();
        for d in &shapes.styles {
            let (sw, sh) = fit_f(d.unwrap_or(square), long);
            let pixels = sw * sh;
            let (tw, th, _) = seen(sw, sh);
            // The resized copy, its tensor and one forward trace (no backward; of one tile when
            // tiled), on CUDA with the convolution's scratch.
            let forward = if cuda {
                layers.trace_bytes_f(tw, th) + layers.im2col_bytes_f(tw, th, false)
            } else {
                transforms.add_f(&layers, tw, th);
                layers.trace_bytes_f(tw, th)
            };
            style_phase = style_phase.max(2.0 * 3.0 * F32 * pixels + forward);
        }
        scales.push(ScalePlan {
            width: w,
            height: h,
            tiles,
            core: (tiles > 1).then(|| tile.unwrap_or(0)),
            bytes: optimise.max(style_phase),
        });
        if style_phase > optimise && style_phase > peak_scale.1 {
            let why = if settings.style_scale > 1.0 {
                format!("the style images at {long:.0} px (`style_scale` {})", settings.style_scale)
            } else {
                format!("the style images at {long:.0} px")
            };
            peak_scale = (why, style_phase);
        } else if optimise > peak_scale.1 {
            peak_scale = (format!("the optimisation at {w}x{h} (`size` {})", settings.size), optimise);
        }
    }
    let peak_bytes = peak_scale.1;
    parts.push(peak_scale);
    if !cuda {
        parts.push(("the Winograd kernel transforms".into(), transforms.bytes(&layers)));
    }
    let bytes: f64 = parts.iter().map(|(_, b)| b).sum();
    let fixed = bytes - peak_bytes;
    for s in &mut scales {
        s.bytes += fixed;
    }
    let largest = parts.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|p| p.0).unwrap_or_default();
    // On CUDA the host keeps the decoded pictures, the program with the CUDA libraries, and a
    // picture or two on its way to a preview or a checkpoint (written a tensor at a time).
    let host = cuda.then(|| inputs.iter().map(|(_, b)| b).sum::<f64>() + CUDA_HOST_BYTES + 2.0 * largest_image);
    (Estimate { bytes, largest, host }, scales)
}

/// One scale of a [`MemoryPlan`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScalePlan {
    pub width: u32,
    pub height: u32,
    /// How many tiles one evaluation runs (1: the whole picture at once).
    pub tiles: usize,
    /// The tiles' core side when tiled.
    pub core: Option<u32>,
    /// The process's predicted peak while this scale is optimised.
    pub bytes: f64,
}

/// How a job fits in memory: the tile size and L-BFGS history it runs with, and the prediction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemoryPlan {
    /// Whose memory: `cpu` (the machine's) or `cuda:N` (that GPU's).
    pub device: String,
    /// The budget it was planned for (`max_memory`, else what is available less a margin); `None`
    /// when neither is known (nothing is then refused or tiled).
    pub budget: Option<f64>,
    /// The predicted peak over the whole run.
    pub bytes: f64,
    /// `tile` for the run: the settings' own, or the one chosen to fit (0: whole pictures).
    pub tile: u32,
    pub lbfgs_history: usize,
    /// The L-BFGS history kept in bf16 (half its memory).
    pub lbfgs_compact: bool,
    pub scales: Vec<ScalePlan>,
    /// What the plan changed from the settings, for the user (`tiles of 512 px …`).
    pub changes: Vec<String>,
    /// On CUDA, the host memory needed besides the GPU's (checked against what is available).
    pub host: Option<f64>,
}

impl MemoryPlan {
    /// The settings the job runs with: each scale tiled only when it does not fit whole.
    pub fn apply(&self, settings: &mut Settings) {
        settings.lbfgs_history = self.lbfgs_history;
        settings.lbfgs_compact = self.lbfgs_compact;
        settings.scale_tiles = self.scales.iter().map(|s| s.core.unwrap_or(0)).collect();
    }
}

/// Core sizes the planner tries, largest first.
const CORES: [u32; 10] = [2048, 1536, 1024, 768, 512, 384, 256, 192, 128, 64];

/// Plans `settings` on `shapes` within `budget` bytes of `target`'s memory: whole pictures when
/// they fit (with the L-BFGS history in bf16 if need be); otherwise the largest tile core that fits
/// (cores under the picture only); otherwise the smallest core with a shorter L-BFGS history. Refused (one line saying what it needs and what
/// to change) when even that does not fit. With `tile` set in the settings, that tile is used and
/// only checked.
pub fn plan(settings: &Settings, shapes: &Shapes, target: Target, budget: Option<f64>) -> Result<MemoryPlan> {
    // With a tile: each scale takes the largest core from `tile` down (whole if it fits whole)
    // that fits the budget, so coarse scales are not slowed by tiles they do not need.
    let make = |tile: Option<u32>, history: (usize, bool), changes: Vec<String>| {
        let (e, mut scales) = estimate_with(settings, shapes, target, tile, history);
        let mut bytes = e.bytes;
        if let (Some(core), 0, Some(b)) = (tile, settings.tile, budget) {
            let (_, whole) = estimate_with(settings, shapes, target, None, history);
            let tried: Vec<Vec<ScalePlan>> = CORES
                .into_iter()
                .filter(|&c| c > core)
                .map(|c| estimate_with(settings, shapes, target, Some(c), history).1)
                .collect();
            for (i, s) in scales.iter_mut().enumerate() {
                // Whole first, then the larger cores, largest first.
                let mut better = std::iter::once(&whole[i]).chain(tried.iter().map(|t| &t[i]));
                if let Some(found) = better.find(|c| c.bytes <= b) {
                    *s = found.clone();
                }
            }
            bytes = scales.iter().map(|s| s.bytes).fold(e.bytes, f64::max);
        }
        let used = scales.iter().any(|s| s.tiles > 1);
        let mut changes = changes;
        if used && settings.tile == 0 {
            let tiled: Vec<String> = scales
                .iter()
                .filter_map(|s| s.core.map(|c| format!("{}x{} in {} tiles of {c} px", s.width, s.height, s.tiles)))
                .collect();
            let budget = budget.map_or(String::new(), |b| format!("{}{}", human(b), target.whose()));
            changes.insert(0, format!("{} to fit {budget}", tiled.join(", ")));
        }
        let plan = MemoryPlan {
            device: target.name(),
            budget,
            bytes,
            tile: if used { tile.unwrap_or(0) } else { settings.tile },
            lbfgs_history: history.0,
            lbfgs_compact: history.1,
            scales,
            changes,
            host: e.host,
        };
        (plan, e.largest)
    };
    let fits = |p: &MemoryPlan| budget.is_none_or(|b| p.bytes <= b);
    let history = settings.lbfgs_history;
    let full = (history, false);
    if settings.tile > 0 {
        let (p, largest) = make(Some(settings.tile), full, Vec::new());
        if fits(&p) {
            return Ok(p);
        }
        return Err(refusal(&p, target, &largest, "a smaller `tile`"));
    }
    let (whole, largest) = make(None, full, Vec::new());
    if fits(&whole) {
        return Ok(whole);
    }
    // The optimiser's state, from the settings' down: the history as it is, kept in bf16 (half
    // the memory, directions rounded a little), then shortened.
    let histories: Vec<(usize, bool)> = match settings.optimizer {
        Optimizer::Lbfgs => [full, (history, true)]
            .into_iter()
            .chain([5, 3, 2, 1].into_iter().filter(|&h| h < history).map(|h| (h, true)))
            .collect(),
        Optimizer::Adam => vec![full],
    };
    let described = |(h, compact): (usize, bool)| -> Vec<String> {
        match (h == history, compact) {
            (true, false) => Vec::new(),
            (true, true) => vec!["the L-BFGS history in bf16 (half its memory)".to_string()],
            (false, _) => vec![format!("an L-BFGS history of {h} in bf16 instead of {history}")],
        }
    };
    // Whole pictures with the history in bf16 before any tile: it costs no time.
    if let Some(&compact) = histories.get(1) {
        let (p, _) = make(None, compact, described(compact));
        if fits(&p) {
            return Ok(p);
        }
    }
    let long = whole.scales.iter().map(|s| s.width.max(s.height)).max().unwrap_or(0);
    // For each history, the largest core that fits. Tiles cost time (each tile's halo is
    // computed again, and the network runs forward twice); a bf16 or shorter history costs
    // little: cores stay at 512 px or more until the history is in bf16, then at 256 or more
    // until it has been shortened as far as it goes.
    let mut best: Option<(u32, MemoryPlan)> = None;
    for &h in &histories {
        let found = CORES.into_iter().filter(|&c| c < long).find_map(|core| {
            let (p, _) = make(Some(core), h, described(h));
            fits(&p).then_some((core, p))
        });
        if let Some((core, p)) = found {
            if core >= 512 || (h.1 && core >= 256) {
                return Ok(p);
            }
            if best.as_ref().is_none_or(|(c, _)| core > *c) {
                best = Some((core, p));
            }
        }
    }
    if let Some((_, p)) = best {
        return Ok(p);
    }
    let smallest = CORES.into_iter().rfind(|&c| c < long).unwrap_or(CORES[CORES.len() - 1]);
    let (p, _) = make(Some(smallest), (1.min(history), true), Vec::new());
    Err(refusal(&p, target, &largest, "a smaller `size` or `style_scale`, fewer `scales`"))
}

fn refusal(p: &MemoryPlan, target: Target, largest: &str, advice: &str) -> Error {
    let budget = p.budget.map_or("?".into(), |b| format!("{}{}", human(b), target.whose()));
    let how = match p.scales.iter().find(|s| s.tiles > 1) {
        Some(s) => format!(" even in tiles of {} px", s.core.unwrap_or(0)),
        None => String::new(),
    };
    Error::Usage(format!(
        "this job needs about {}{how}, mostly {largest}; the budget is {budget}: use {advice} or a larger `max_memory`",
        human(p.bytes)
    ))
}

/// The budget for `settings` on `target`: its `max_memory`, else what is available now less a
/// margin (on CUDA what the GPU has free; unknown, so unbounded, where it cannot be opened, such as
/// a login node planning for GPU machines).
pub fn budget(settings: &Settings, target: Target) -> Result<Option<f64>> {
    match settings.max_memory_bytes().map_err(Error::Usage)? {
        Some(b) => Ok(Some(b as f64)),
        None => Ok(match target {
            Target::Cpu => available_bytes(),
            Target::Cuda(n) => crate::engine::device::gpu_memory(n).map(|(free, _)| free as f64),
        }
        .map(|a| a - MARGIN_BYTES)),
    }
}

/// The memory plan of `spec`: refused when it does not fit in its budget even tiled (see [`plan`]).
pub fn check(spec: &SessionSpec) -> Result<MemoryPlan> {
    plan_job(&spec.job.settings, spec.job.kind, &spec.job.content, spec.job.weights.as_deref(), &spec.job.device)
}

/// [`check`] for a job not yet made into a spec (the CLI, before it decodes anything), with the
/// installed weights.
pub fn check_job(settings: &Settings, kind: Kind, content: &Path, device: &str) -> Result<MemoryPlan> {
    plan_job(settings, kind, content, None, device)
}

/// The plan of a job on `content` with the network in `weights` (`None`: `BRUSHWORK_WEIGHTS`,
/// else the installed weights; their header says which network; where none can be read, the
/// larger is assumed) on `device` (`cpu`, `cuda:N`). On CUDA the host's part is checked too.
pub fn plan_job(
    settings: &Settings,
    kind: Kind,
    content: &Path,
    weights: Option<&Path>,
    device: &str,
) -> Result<MemoryPlan> {
    let content = match kind {
        Kind::Video => video_dims(content),
        Kind::Folder => None,
        Kind::Image | Kind::Watched => header_dims(content),
    };
    let shapes = Shapes {
        content,
        styles: settings.styles.iter().map(|s| header_dims(&s.path)).collect(),
        arch: weights_arch(weights, settings),
    };
    let target = Target::of(device);
    let p = plan(settings, &shapes, target, budget(settings, target)?)?;
    if let (Some(host), Some(available)) = (p.host, available_bytes()) {
        check_host(host, available - MARGIN_BYTES)?;
    }
    Ok(p)
}

/// On CUDA, the host's part against what the host has available.
fn check_host(host: f64, available: f64) -> Result<()> {
    if host <= available {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "this job needs about {} of host memory besides the GPU's, mostly the pictures decoded and the CUDA \
         libraries; {} is available: use a smaller `size` or smaller input pictures",
        human(host),
        human(available)
    )))
}

fn weights_arch(weights: Option<&Path>, settings: &Settings) -> Option<Arch> {
    let path = match weights {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("BRUSHWORK_WEIGHTS").filter(|p| !p.is_empty()) {
            Some(p) => p.into(),
            None => crate::weights::Store::open_default().ok()?.entry_for(settings.arch.required()).ok()??.path,
        },
    };
    crate::engine::vgg::read_header(&path).ok().map(|h| h.arch)
}

/// [`plan`] against a given amount of available memory (less the margin).
pub fn check_against(settings: &Settings, shapes: &Shapes, available: f64) -> Result<MemoryPlan> {
    plan(settings, shapes, Target::Cpu, Some(available - MARGIN_BYTES))
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

pub fn human(bytes: f64) -> String {
    if bytes >= 1024.0 * GIB {
        format!("{:.0} GB", bytes / GIB)
    } else if bytes >= GIB {
        format!("{:.1} GB", bytes / GIB)
    } else {
        format!("{:.0} MB", bytes / (1024.0 * 1024.0))
    }
}

fn fit(d: (u32, u32), long: u32) -> (u32, u32) {
    let (w, h) = fit_f(d, long as f64);
    (w as u32, h as u32)
}

/// `fit_long_side` in f64, so absurd sizes do not overflow.
fn fit_f((w, h): (u32, u32), long: f64) -> (f64, f64) {
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    if w >= h {
        (long, (h * long / w).round().max(1.0))
    } else {
        ((w * long / h).round().max(1.0), long)
    }
}

/// The convolutions up to the deepest layer a loss uses, with the real widths.
struct Layers {
    /// (block, in channels, out channels) per convolution.
    convs: Vec<(usize, f64, f64)>,
    /// (block, channels) per content layer and per style layer.
    content: Vec<(usize, f64)>,
    style: Vec<(usize, f64)>,
}

impl Layers {
    fn new(arch: Arch, settings: &Settings) -> Layers {
        let all = arch.convs();
        let position = |name: &String| {
            let (b, l) = parse_layer_name(name)?;
            all.iter().position(|c| c.block == b && c.layer == l)
        };
        let used: Vec<usize> =
            settings.content_layers.keys().chain(settings.style_layers.keys()).filter_map(position).collect();
        let deepest = used.iter().copied().max().unwrap_or(all.len().saturating_sub(1));
        let convs =
            all.iter().take(deepest + 1).map(|c| (c.block, c.in_channels as f64, c.out_channels as f64)).collect();
        let of = |names: Vec<&String>| -> Vec<(usize, f64)> {
            names.into_iter().filter_map(position).map(|i| (all[i].block, all[i].out_channels as f64)).collect()
        };
        let content = of(settings.content_layers.keys().collect());
        let style = of(settings.style_layers.keys().collect());
        Layers { convs, content, style }
    }

    /// A block's feature map size on a `w`x`h` picture (halved once a block).
    fn side(block: usize, w: f64, h: f64) -> (f64, f64) {
        let f = (1u64 << (block - 1).min(62)) as f64;
        ((w / f).ceil().max(1.0), (h / f).ceil().max(1.0))
    }

    fn weight_bytes(&self) -> f64 {
        self.convs.iter().map(|(_, i, o)| (9.0 * i * o + o) * F32).sum()
    }

    /// Every stage output of one forward pass (each convolution's, each pooling's) and the input.
    fn trace_bytes_f(&self, w: f64, h: f64) -> f64 {
        let side = |b: usize| Layers::side(b, w, h);
        let mut total = 3.0 * w * h * F32;
        let mut last_block = 1;
        for &(block, _, out) in &self.convs {
            if block != last_block {
                let (pw, ph) = side(block);
                total += out.min(512.0) * pw * ph * F32;
                last_block = block;
            }
            let (bw, bh) = side(block);
            total += out * bw * bh * F32;
        }
        total
    }

    fn content_bytes(&self, w: u32, h: u32) -> f64 {
        let (w, h) = (w as f64, h as f64);
        self.content
            .iter()
            .map(|&(block, c)| {
                let f = (1u64 << (block - 1)) as f64;
                c * (w / f).ceil() * (h / f).ceil() * F32
            })
            .sum()
    }

    /// One Gram matrix per style layer.
    fn gram_bytes(&self) -> f64 {
        self.style.iter().map(|(_, c)| c * c * F32).sum()
    }

    /// The losses' gradients with respect to their layers' features, all held while the backward
    /// pass runs (CUDA; the CPU's factor covers them).
    fn loss_grad_bytes_f(&self, w: f64, h: f64) -> f64 {
        self.content
            .iter()
            .chain(&self.style)
            .map(|&(block, c)| {
                let (bw, bh) = Layers::side(block, w, h);
                c * bw * bh * F32
            })
            .sum()
    }

    /// The largest scratch of one convolution on CUDA, where candle's `conv2d` unfolds its input
    /// (im2col: 9 × in values a pixel), multiplies (cuBLAS: out a pixel) and copies the product
    /// into channel-major order (out again). Forward, the layer's `conv2d`; backward, the input
    /// gradient, which also holds the incoming gradient, the ReLU's mask and their product (out
    /// channels each) while a `conv2d` with in and out swapped runs on them.
    fn im2col_bytes_f(&self, w: f64, h: f64, backward: bool) -> f64 {
        self.convs
            .iter()
            .map(|&(block, i, o)| {
                let (bw, bh) = Layers::side(block, w, h);
                let forward = 9.0 * i + 2.0 * o;
                let per_pixel = if backward { forward.max(3.0 * o + 9.0 * o + 2.0 * i) } else { forward };
                per_pixel * bw * bh * F32
            })
            .fold(0.0, f64::max)
    }
}

/// Which Winograd tile sizes each convolution will be transformed for.
#[derive(Default)]
struct TransformSet {
    /// Per convolution: (F2 used, F4 used).
    used: Vec<(bool, bool)>,
}

impl TransformSet {
    fn add_f(&mut self, layers: &Layers, w: f64, h: f64) {
        self.used.resize(layers.convs.len(), (false, false));
        for (slot, &(block, _, _)) in self.used.iter_mut().zip(&layers.convs) {
            let f = (1u64 << (block - 1)) as f64;
            let tiles = ((w / f).ceil() / 4.0).ceil() * ((h / f).ceil() / 4.0).ceil();
            if tiles >= 1024.0 {
                slot.1 = true;
            } else {
                slot.0 = true;
            }
        }
    }

    /// 16 (F2) or 36 (F4) transformed values per kernel, forward and backward.
    fn bytes(&self, layers: &Layers) -> f64 {
        self.used
            .iter()
            .zip(&layers.convs)
            .map(|(&(f2, f4), &(_, i, o))| {
                let positions = if f2 { 16.0 } else { 0.0 } + if f4 { 36.0 } else { 0.0 };
                2.0 * positions * i * o * F32
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(content: (u32, u32), style: (u32, u32)) -> Shapes {
        Shapes { content: Some(content), styles: vec![Some(style)], arch: None }
    }

    #[test]
    fn a_huge_style_scale_is_refused_and_names_it() {
        let settings = Settings { size: 512, style_scale: 1000.0, ..Settings::default() };
        let e = check_against(&settings, &shapes((640, 480), (512, 512)), 64.0 * GIB).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let m = e.to_string();
        assert!(m.contains("(`style_scale` 1000)") && m.contains("the budget is 63.5 GB"), "{m}");
        assert!(!m.contains("--"), "the library names fields, not flags: {m}");
        assert_eq!(m.lines().count(), 1);
    }

    #[test]
    fn an_ordinary_job_fits_in_a_few_gigabytes() {
        let settings = Settings { size: 512, ..Settings::default() };
        let e = estimate(&settings, &shapes((1024, 768), (800, 600)));
        assert!(e.bytes > 200e6 && e.bytes < 4.0 * GIB, "{}", e.bytes / GIB);
        assert!(check_against(&settings, &shapes((1024, 768), (800, 600)), 8.0 * GIB).is_ok());
    }

    #[test]
    fn the_estimate_grows_with_the_size() {
        let small = estimate(&Settings { size: 256, ..Settings::default() }, &shapes((512, 512), (512, 512)));
        let large = estimate(&Settings { size: 1024, ..Settings::default() }, &shapes((512, 512), (512, 512)));
        // 16 times the pixels: several times the memory, the program itself aside.
        assert!(
            large.bytes - PROCESS_BYTES > 5.0 * (small.bytes - PROCESS_BYTES),
            "{} vs {}",
            large.bytes,
            small.bytes
        );
    }

    #[test]
    fn a_huge_content_image_counts_at_the_size_it_is_read() {
        // Read reduced to under twice the working size (128x128 at most for --size 64): 192 KiB
        // as RGB f32, not the 3 GiB of 16384x16384.
        let settings = Settings { size: 64, ..Settings::default() };
        let huge = estimate(&settings, &shapes((16384, 16384), (64, 64)));
        let small = estimate(&settings, &shapes((64, 64), (64, 64)));
        assert!(huge.bytes - small.bytes <= 3.0 * F32 * 128.0 * 128.0, "{} vs {}", huge.bytes, small.bytes);
        // Read whole when under twice the working size: counted in full.
        let big = estimate(&Settings { size: 8192, ..Settings::default() }, &shapes((16384, 16384), (64, 64)));
        assert!(big.bytes > 3.0 * F32 * 16384.0 * 16384.0);
    }

    #[test]
    fn a_reflected_border_counts() {
        let zero = Settings { size: 128, ..Settings::default() };
        let reflect = Settings { padding: Padding::Reflect, ..zero.clone() };
        let (a, b) =
            (estimate(&zero, &shapes((128, 96), (128, 96))), estimate(&reflect, &shapes((128, 96), (128, 96))));
        assert!(b.bytes > a.bytes, "{} vs {}", b.bytes, a.bytes);
    }

    #[test]
    fn a_picture_that_fits_whole_is_not_tiled() {
        let settings = Settings { size: 512, ..Settings::default() };
        let p = plan(&settings, &shapes((1024, 768), (800, 600)), Target::Cpu, Some(8.0 * GIB)).unwrap();
        assert!(p.scales.iter().all(|s| s.tiles == 1 && s.core.is_none()), "{p:?}");
        assert_eq!((p.tile, p.lbfgs_history), (0, 10));
        assert!(p.changes.is_empty());
    }

    #[test]
    fn scales_that_do_not_fit_are_tiled_and_the_coarse_ones_stay_whole() {
        let settings = Settings { size: 2048, scales: 2, ..Settings::default() };
        let budget = 3.0 * GIB;
        let whole = plan(&settings, &shapes((1024, 768), (800, 600)), Target::Cpu, None).unwrap();
        assert!(whole.bytes > budget, "the test needs a job that does not fit: {}", whole.bytes / GIB);
        let p = plan(&settings, &shapes((1024, 768), (800, 600)), Target::Cpu, Some(budget)).unwrap();
        assert!(p.bytes <= budget, "{p:?}");
        assert_eq!(p.scales[0].tiles, 1, "1024 px fits whole: {p:?}");
        let fine = &p.scales[1];
        let core = fine.core.unwrap() as usize;
        assert!(fine.tiles > 1 && core >= 256, "{p:?}");
        assert_eq!(fine.tiles, 2048usize.div_ceil(core) * 1536usize.div_ceil(core));
        assert!(p.scales.iter().all(|s| s.bytes <= budget));
        let mut applied = settings.clone();
        p.apply(&mut applied);
        assert_eq!(applied.scale_tiles, vec![0, core as u32]);
        assert!(p.changes[0].contains("2048x1536") && p.changes[0].contains("3.0 GB"), "{:?}", p.changes);
    }

    #[test]
    fn the_history_is_kept_in_bf16_when_tiles_alone_do_not_fit() {
        // At 4096x3072 an L-BFGS history of 10 alone is 28 images of 151 MB.
        let settings = Settings { size: 4096, ..Settings::default() };
        let p = plan(&settings, &shapes((4096, 3072), (800, 600)), Target::Cpu, Some(4.0 * GIB)).unwrap();
        assert!(p.lbfgs_compact && p.bytes <= 4.0 * GIB, "{p:?}");
        assert!(p.changes.iter().any(|c| c.contains("L-BFGS history") && c.contains("bf16")), "{:?}", p.changes);
        let mut applied = settings.clone();
        p.apply(&mut applied);
        assert!(applied.lbfgs_compact);
    }

    #[test]
    fn a_bf16_history_comes_before_tiles() {
        // A budget between the whole picture's need with the history in bf16 and in f32: whole,
        // with the bf16 history. The difference is 10 pairs of half an image, less two widened
        // copies: (2·10 + 8) − (10 + 10) = 8 images of 2048x1536 RGB f32.
        let settings = Settings { size: 2048, scales: 1, ..Settings::default() };
        let s = shapes((2048, 1536), (800, 600));
        let (full, _) = estimate_with(&settings, &s, Target::Cpu, None, (10, false));
        let (compact, _) = estimate_with(&settings, &s, Target::Cpu, None, (10, true));
        assert!((full.bytes - compact.bytes - 8.0 * 3.0 * 4.0 * 2048.0 * 1536.0).abs() < 1.0);
        let p = plan(&settings, &s, Target::Cpu, Some((full.bytes + compact.bytes) / 2.0)).unwrap();
        assert!(p.lbfgs_compact && p.lbfgs_history == 10 && p.scales[0].tiles == 1, "{p:?}");
        assert_eq!(p.changes, vec!["the L-BFGS history in bf16 (half its memory)".to_string()]);
    }

    #[test]
    fn a_job_that_cannot_fit_even_tiled_is_refused_in_one_line() {
        let settings = Settings { size: 8192, ..Settings::default() };
        let e = plan(&settings, &shapes((8192, 8192), (800, 600)), Target::Cpu, Some(GIB)).unwrap_err();
        let m = e.to_string();
        assert_eq!(e.exit_code(), 2);
        assert!(m.contains("even in tiles of") && m.contains("`max_memory`") && m.contains("1.0 GB"), "{m}");
        assert_eq!(m.lines().count(), 1);
        // A tile the user chose that does not fit: refused naming `tile`.
        let settings = Settings { size: 2048, tile: 2000, ..Settings::default() };
        let m =
            plan(&settings, &shapes((2048, 1536), (800, 600)), Target::Cpu, Some(2.0 * GIB)).unwrap_err().to_string();
        assert!(m.contains("`tile`"), "{m}");
    }
    #[test]
    fn targets_from_device_names() {
        assert_eq!(Target::of("cpu"), Target::Cpu);
        assert_eq!(Target::of("cuda"), Target::Cuda(0));
        assert_eq!(Target::of("cuda:2"), Target::Cuda(2));
        assert_eq!(Target::of("tpu"), Target::Cpu);
        assert_eq!(Target::Cuda(1).name(), "cuda:1");
    }

    #[test]
    fn the_cuda_convolution_scratch_is_that_of_conv1_2_backward() {
        // By hand, VGG-19 to conv5_1: at conv1_2 (64 in, 64 out, full size) the input gradient
        // holds the incoming gradient, the ReLU mask and their product (3 × 64 a pixel), the
        // unfolded product (9 × 64) and the conv2d's result and its copy (2 × 64): 896 values a
        // pixel. conv2_2 (128 in and out, a quarter of the pixels): 14 × 128 / 4 = 448; conv1_1
        // backward: 12 × 64 + 2 × 3 = 774; forward at most 9 × 64 + 2 × 64 = 704.
        let layers = Layers::new(Arch::Vgg19, &Settings::default());
        assert_eq!(layers.im2col_bytes_f(1024.0, 768.0, true), 896.0 * 4.0 * 1024.0 * 768.0);
        assert_eq!(layers.im2col_bytes_f(1024.0, 768.0, false), 704.0 * 4.0 * 1024.0 * 768.0);
    }

    #[test]
    fn on_cuda_the_gpu_is_budgeted_and_the_host_checked_besides() {
        let settings = Settings { size: 1024, scales: 1, ..Settings::default() };
        let s = shapes((1024, 768), (800, 600));
        let (cpu, _) = estimate_with(&settings, &s, Target::Cpu, None, (10, false));
        let (gpu, _) = estimate_with(&settings, &s, Target::Cuda(0), None, (10, false));
        assert_eq!(cpu.host, None);
        // The im2col scratch alone (2.8 GB here) is more than the CPU's Winograd transforms and
        // decoded pictures together.
        assert!(gpu.bytes > cpu.bytes + 1.0 * GIB, "{} vs {}", gpu.bytes / GIB, cpu.bytes / GIB);
        let host = gpu.host.unwrap();
        assert!(host > CUDA_HOST_BYTES && host < 2.0 * GIB, "{}", host / GIB);
        // A 4096x3072 poster in an 8 GB GPU: tiled, the refusal and the changes name the GPU.
        let poster = Settings { size: 4096, ..Settings::default() };
        let s = shapes((4096, 3072), (800, 600));
        let p = plan(&poster, &s, Target::Cuda(1), Some(8.0 * GIB)).unwrap();
        assert_eq!(p.device, "cuda:1");
        assert!(p.bytes <= 8.0 * GIB && p.scales.last().unwrap().tiles > 1, "{p:?}");
        assert!(p.changes[0].contains("of GPU memory (cuda:1)"), "{:?}", p.changes);
        let m = plan(&poster, &s, Target::Cuda(0), Some(GIB)).unwrap_err().to_string();
        assert!(m.contains("the budget is 1.0 GB of GPU memory (cuda:0)"), "{m}");
        assert_eq!(m.lines().count(), 1);
        // The host: refused in one line when the pictures and libraries do not fit.
        let m = check_host(3.0 * GIB, 2.0 * GIB).unwrap_err().to_string();
        assert!(m.contains("3.0 GB of host memory") && m.contains("2.0 GB is available"), "{m}");
        assert_eq!(m.lines().count(), 1);
        assert!(check_host(GIB, 2.0 * GIB).is_ok());
    }

    #[test]
    fn a_budget_on_a_gpu_that_cannot_be_opened_is_unknown_and_max_memory_still_counts() {
        // No GPU 99 anywhere (and none at all in a build without CUDA): nothing to refuse against.
        assert_eq!(budget(&Settings::default(), Target::Cuda(99)).unwrap(), None);
        let s = Settings { max_memory: Some("6G".into()), ..Settings::default() };
        assert_eq!(budget(&s, Target::Cuda(99)).unwrap(), Some(6.0 * GIB));
    }
}
